package deliver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/handoff"
)

// recorder is a Target double: it records every delivery it is sent and
// fails on command. Real targets are tested in internal/target.
type recorder struct {
	mu      sync.Mutex
	decide  func(d handoff.Delivery) error // nil: success; per-delivery failure
	whole   func() error                   // if set and non-nil: the whole Send fails
	block   chan struct{}                  // if set: Send records, then waits for it to close (or ctx)
	got     map[string]int                 // successful deliveries by id
	tried   map[string]int                 // Send calls by id
	bodies  map[string]string
	times   map[string][]time.Time
	batches []int
	maxSize int
	calls   int
	closed  int
	arrived chan struct{} // receives after each Send (non-blocking)
}

func newRecorder() *recorder {
	return &recorder{got: map[string]int{}, tried: map[string]int{}, bodies: map[string]string{},
		times: map[string][]time.Time{}, arrived: make(chan struct{}, 1)}
}

func (r *recorder) Send(ctx context.Context, batch []handoff.Delivery) error {
	r.mu.Lock()
	r.calls++
	r.batches = append(r.batches, len(batch))
	size := 0
	now := time.Now()
	for _, d := range batch {
		r.tried[d.ID]++
		r.times[d.ID] = append(r.times[d.ID], now)
		size += len(d.Body)
	}
	r.maxSize = max(r.maxSize, size)
	var err error
	if r.whole != nil {
		err = r.whole()
	}
	var be handoff.BatchError
	if err == nil {
		for i, d := range batch {
			if r.decide != nil {
				if e := r.decide(d); e != nil {
					if be.Failed == nil {
						be.Failed = map[int]error{}
					}
					be.Failed[i] = e
					continue
				}
			}
			r.got[d.ID]++
			r.bodies[d.ID] = string(d.Body)
		}
	}
	block := r.block
	r.mu.Unlock()
	select {
	case r.arrived <- struct{}{}:
	default:
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
		}
	}
	if err != nil {
		return err
	}
	if be.Failed != nil {
		return fmt.Errorf("send: %w", &be)
	}
	return nil
}

func (r *recorder) Close() error {
	r.mu.Lock()
	r.closed++
	r.mu.Unlock()
	return nil
}

func (r *recorder) set(f func(r *recorder)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
}

// snapshot returns a copy of got and tried.
func (r *recorder) snapshot() (got, tried map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	got, tried = map[string]int{}, map[string]int{}
	for k, v := range r.got {
		got[k] = v
	}
	for k, v := range r.tried {
		tried[k] = v
	}
	return got, tried
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

type permErr struct{ msg string }

func (e permErr) Error() string   { return e.msg }
func (e permErr) Permanent() bool { return true }

type retryAfterErr struct{ d time.Duration }

func (e retryAfterErr) Error() string {
	return fmt.Sprintf("429 too many requests, retry after %s", e.d)
}
func (e retryAfterErr) RetryAfter() time.Duration { return e.d }

var errUnavailable = errors.New("503 service unavailable")

func openBus(t testing.TB, dir string) *bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Config{DataDir: dir, MaxStorage: 512 << 20, MaxMemory: 16 << 20})
	if err != nil {
		t.Fatalf("bus.Open: %v", err)
	}
	return b
}

// fastConfig retries quickly so that tests finish in seconds.
func fastConfig(target string, mode Mode) Config {
	return Config{
		Target: target, Mode: mode,
		MaxEvents: 50, BackoffMin: 10 * time.Millisecond, BackoffMax: 40 * time.Millisecond,
		SendTimeout: 5 * time.Second, AckWait: 2 * time.Second, ShutdownTimeout: 5 * time.Second,
		MaxAttempts: 1000,
	}
}

func newWorker(t testing.TB, cfg Config, tg Target, b *bus.Bus) Worker {
	t.Helper()
	w, err := New(context.Background(), cfg, tg, b, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return w
}

// running starts w.Run and returns a stop function that cancels it and
// returns Run's error.
func running(t testing.TB, w Worker) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = errors.New("Run did not return within 30s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func deliveries(prefix string, n, bodySize int) []handoff.Delivery {
	ds := make([]handoff.Delivery, n)
	body := make([]byte, bodySize)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	for i := range ds {
		ds[i] = handoff.Delivery{
			ID:   fmt.Sprintf("%s-%05d", prefix, i),
			Rule: "r1",
			Body: append([]byte(fmt.Sprintf(`{"n":%d,"pad":"`, i)), append(body, '"', '}')...),
		}
	}
	return ds
}

// enqueueAll enqueues ds and waits until they are accepted: in durable
// mode, stored in JetStream (Flush), every one of them.
func enqueueAll(t testing.TB, w Worker, ds []handoff.Delivery) {
	t.Helper()
	before := w.Stats()
	n, err := w.Enqueue(context.Background(), ds)
	if err != nil || n != len(ds) {
		t.Fatalf("Enqueue: took %d of %d: %v", n, len(ds), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	after := w.Stats()
	if got := after.Enqueued - before.Enqueued; got != uint64(len(ds)) || after.DroppedTotal() != before.DroppedTotal() {
		t.Fatalf("accepted %d of %d; dropped %v", got, len(ds), after.Dropped)
	}
}

// streamContents reads every message in the delivery stream and returns how
// many there are and the ids of the deliveries they hold, in order.
func streamContents(t testing.TB, b *bus.Bus) (msgs int, ids []string) {
	t.Helper()
	ctx := context.Background()
	info, err := b.Delivery().Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := b.Delivery().GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("stream seq %d: %v", seq, err)
		}
		items, err := storedItems(m.Data)
		if err != nil {
			t.Fatalf("stream seq %d: %v", seq, err)
		}
		if len(items) != storedCount(m.Data) {
			t.Errorf("stream seq %d: %d items, storedCount says %d", seq, len(items), storedCount(m.Data))
		}
		for _, it := range items {
			d, err := decodeEnvelope(it)
			if err != nil {
				t.Fatalf("stream seq %d: %v", seq, err)
			}
			ids = append(ids, d.ID)
		}
		msgs++
	}
	return msgs, ids
}

func idsOf(ds []handoff.Delivery) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}
