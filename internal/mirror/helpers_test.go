package mirror

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/event"
)

// fakeProvider is an in-memory Provider for the reconcile logic's tests:
// endpoints appear and go as a test says, sessions are what Create made,
// and failures are injected per endpoint. Its operations are idempotent as
// the contract asks, and it counts what they did.
type fakeProvider struct {
	mu       sync.Mutex
	desired  map[string]bool
	sessions map[string]*Session
	// fail[id] is how many of the next operations on id fail; permanent
	// makes them ErrPermanent.
	fail      map[string]int
	permanent bool
	// made counts the sessions Create made per endpoint; calls its calls.
	made, calls map[string]int
	deleted     map[string]int
	triggers    chan Trigger
	cleaned     bool
	// hold, when set, makes Create wait for a value (a test stops a
	// controller in the middle of a reconcile).
	hold chan struct{}
	// vanish[id]: the endpoint disappears while Create runs (an interface
	// deleted while its trigger was queued): Create fails permanently and
	// Desired no longer lists it.
	vanish map[string]bool
}

func newFake(ids ...string) *fakeProvider {
	p := &fakeProvider{desired: map[string]bool{}, sessions: map[string]*Session{}, fail: map[string]int{},
		made: map[string]int{}, calls: map[string]int{}, deleted: map[string]int{}, triggers: make(chan Trigger, 64)}
	for _, id := range ids {
		p.desired[id] = true
	}
	return p
}

func (p *fakeProvider) set(id string, want bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if want {
		p.desired[id] = true
	} else {
		delete(p.desired, id)
	}
}

func (p *fakeProvider) Desired(context.Context) ([]Endpoint, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Endpoint
	for id := range p.desired {
		out = append(out, Endpoint{ID: id, Attrs: map[string]string{"kind": "fake"}})
	}
	return out, nil
}

func (p *fakeProvider) Actual(context.Context) ([]Session, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Session
	for _, s := range p.sessions {
		out = append(out, *s)
	}
	return out, nil
}

var errTransient = errors.New("injected transient failure")

func (p *fakeProvider) failing(id string) error {
	if p.fail[id] > 0 {
		p.fail[id]--
		if p.permanent {
			return fmt.Errorf("operate on %s: %w: injected", id, ErrPermanent)
		}
		return errTransient
	}
	return nil
}

func (p *fakeProvider) Create(ctx context.Context, e Endpoint) (Session, bool, error) {
	if p.hold != nil {
		select {
		case <-p.hold:
		case <-ctx.Done():
			return Session{}, false, ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[e.ID]++
	if p.vanish[e.ID] {
		delete(p.desired, e.ID)
		return Session{}, false, fmt.Errorf("create on %s: %w: no such interface", e.ID, ErrPermanent)
	}
	if err := p.failing(e.ID); err != nil {
		return Session{}, false, err
	}
	if s, ok := p.sessions[e.ID]; ok && s.Complete {
		return *s, false, nil
	}
	s, ok := p.sessions[e.ID]
	if !ok {
		// Check, then act, as a provider talking to a kernel or an API does:
		// two creates that overlap both make a session (a duplicate), which
		// only the controllers' claims prevent.
		p.mu.Unlock()
		time.Sleep(time.Millisecond)
		p.mu.Lock()
		s = &Session{EndpointID: e.ID, ID: "s-" + e.ID}
		p.sessions[e.ID] = s
		p.made[e.ID]++
	}
	s.Complete = true
	return *s, true, nil
}

func (p *fakeProvider) Delete(_ context.Context, s Session) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.failing(s.EndpointID); err != nil {
		return err
	}
	if _, ok := p.sessions[s.EndpointID]; ok {
		p.deleted[s.EndpointID]++
	}
	delete(p.sessions, s.EndpointID)
	return nil
}

func (p *fakeProvider) Watch(ctx context.Context, out chan<- Trigger) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case t := <-p.triggers:
			out <- t
		}
	}
}

func (p *fakeProvider) Close() error { return nil }

func (p *fakeProvider) Cleanup(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleaned = true
	return nil
}

// breakSession marks id's session incomplete (a hand-deleted filter) or,
// with gone, removes it behind the controller's back.
func (p *fakeProvider) breakSession(id string, gone bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gone {
		delete(p.sessions, id)
	} else if s := p.sessions[id]; s != nil {
		s.Complete = false
	}
}

func (p *fakeProvider) addSession(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sessions[id] = &Session{EndpointID: id, ID: "s-" + id, Complete: true}
}

func (p *fakeProvider) counts(id string) (made, calls, deleted int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.made[id], p.calls[id], p.deleted[id]
}

func (p *fakeProvider) sessionIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for id := range p.sessions {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// testBus opens an embedded bus in a temporary directory.
func testBus(t *testing.T) *bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir(), MaxStorage: 64 << 20})
	if err != nil {
		t.Fatalf("open the bus: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func mirrorKV(t *testing.T, b *bus.Bus) jetstream.KeyValue {
	t.Helper()
	kv, err := b.Mirror(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// events collects what a controller publishes.
type events struct {
	mu  sync.Mutex
	got []event.Event
}

func (e *events) publish(ev event.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

// states lists the state changes of endpoint id, in order.
func (e *events) states(id string) []State {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []State
	for _, ev := range e.got {
		if d := ev.Detail.(*StateChange); d.Endpoint == id {
			out = append(out, d.State)
		}
	}
	return out
}

// newController returns a controller on kv for p with quick retries.
func newController(t *testing.T, kv jetstream.KeyValue, p Provider, ev *events, mod func(*Config)) *Controller {
	t.Helper()
	cfg := Config{
		Name: "test", ProviderName: "fake", Provider: p, KV: kv,
		ScanInterval: time.Hour, MaxAttempts: 3,
		Backoff: Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond, Multiplier: 2},
		Metrics: NewMetrics(),
	}
	if ev != nil {
		cfg.Publish = ev.publish
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// records returns the entry's records by endpoint.
func records(t *testing.T, kv jetstream.KeyValue, name string) map[string]Record {
	t.Helper()
	rs, err := List(context.Background(), kv, name)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Record{}
	for _, r := range rs {
		out[r.Endpoint] = r
	}
	return out
}
