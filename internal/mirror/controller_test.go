package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/wirebridge/wirebridge/internal/event"
)

// samples is how many observations a histogram has.
func samples(t *testing.T, o prometheus.Observer) int {
	t.Helper()
	var m dto.Metric
	if err := o.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return int(m.GetHistogram().GetSampleCount())
}

func ops(m *Metrics, kind, result string) int {
	return int(testutil.ToFloat64(m.ops.WithLabelValues("test", kind, result)))
}

// TestReconcile: one reconcile brings the provider's sessions and the
// records to what the selectors want, whatever state it starts from.
func TestReconcile(t *testing.T) {
	tests := []struct {
		name string
		// setup prepares the provider (desired endpoints, sessions already
		// there) before the reconcile.
		desired  []string
		sessions []string
		broken   []string // sessions made incomplete
		// want: the sessions after, and the metrics.
		wantSessions             []string
		created, present, delete int
		repairs                  int
	}{
		{name: "nothing", wantSessions: nil},
		{name: "new endpoints are created", desired: []string{"a", "b"}, wantSessions: []string{"a", "b"}, created: 2},
		{name: "existing sessions are adopted", desired: []string{"a"}, sessions: []string{"a"}, wantSessions: []string{"a"}},
		{name: "an orphan session is deleted", desired: []string{"a"}, sessions: []string{"a", "z"}, wantSessions: []string{"a"}, delete: 1, repairs: 1},
		{name: "an incomplete session is completed", desired: []string{"a"}, sessions: []string{"a"}, broken: []string{"a"},
			wantSessions: []string{"a"}, created: 1, repairs: 1},
	}
	b := testBus(t)
	kv := mirrorKV(t, b)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFake(tt.desired...)
			for _, id := range tt.sessions {
				p.addSession(id)
			}
			for _, id := range tt.broken {
				p.breakSession(id, false)
			}
			ev := &events{}
			c := newController(t, kv, p, ev, func(c *Config) { c.Name = fmt.Sprintf("case%d", i) })
			if _, err := c.reconcile(context.Background(), nil, "scan"); err != nil {
				t.Fatal(err)
			}
			if got := p.sessionIDs(); !slices.Equal(got, tt.wantSessions) {
				t.Errorf("sessions %v, want %v", got, tt.wantSessions)
			}
			recs := records(t, kv, c.Name())
			if len(recs) != len(tt.desired) {
				t.Errorf("records %v, want one per desired endpoint %v", recs, tt.desired)
			}
			for _, id := range tt.desired {
				if r := recs[id]; r.State != Active || r.Session != "s-"+id || r.Owner != "" || r.Mirror != c.Name() {
					t.Errorf("record of %s: %+v", id, r)
				}
			}
			m := c.cfg.Metrics
			name := c.Name()
			got := func(kind, result string) int {
				return int(testutil.ToFloat64(m.ops.WithLabelValues(name, kind, result)))
			}
			if got("create", "created") != tt.created || got("create", "already-present") != tt.present ||
				got("delete", "deleted") != tt.delete || int(testutil.ToFloat64(m.repairs.WithLabelValues(name))) != tt.repairs {
				t.Errorf("created %d already-present %d deleted %d repairs %d, want %d %d %d %d",
					got("create", "created"), got("create", "already-present"), got("delete", "deleted"),
					int(testutil.ToFloat64(m.repairs.WithLabelValues(name))), tt.created, tt.present, tt.delete, tt.repairs)
			}
			if n := samples(t, m.scanH.WithLabelValues(name)); n != 1 {
				t.Errorf("scan duration observed %d times, want 1", n)
			}
		})
	}
}

// TestEndpointLifecycle: an endpoint created, broken by hand, repaired,
// removed; every state change is an event with its details.
func TestEndpointLifecycle(t *testing.T) {
	kv := mirrorKV(t, testBus(t))
	p := newFake("eth0")
	ev := &events{}
	c := newController(t, kv, p, ev, nil)
	ctx := context.Background()
	step := func(what string) {
		t.Helper()
		if _, err := c.reconcile(ctx, nil, what); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	step("start")
	first := records(t, kv, "test")["eth0"]
	p.breakSession("eth0", true) // deleted behind the controller's back
	step("scan")
	if made, _, _ := p.counts("eth0"); made != 2 {
		t.Errorf("sessions made %d, want 2 (the first, and the repair)", made)
	}
	if r := records(t, kv, "test")["eth0"]; r.State != Active || !r.Since.After(first.Since) {
		t.Errorf("after the repair: %+v (first active since %v)", r, first.Since)
	}
	p.set("eth0", false)
	step("link-removed")
	if s := p.sessionIDs(); len(s) != 0 {
		t.Errorf("sessions left: %v", s)
	}
	if r := records(t, kv, "test"); len(r) != 0 {
		t.Errorf("records left: %v", r)
	}
	want := []State{Creating, Active, Creating, Active, Deleting, Removed}
	if got := ev.states("eth0"); !slices.Equal(got, want) {
		t.Errorf("state changes %v, want %v", got, want)
	}
	if n := testutil.ToFloat64(c.cfg.Metrics.repairs.WithLabelValues("test")); n != 1 {
		t.Errorf("drift repairs %v, want 1", n)
	}
	// The event is EventBridge-shaped and carries the details.
	ev.mu.Lock()
	e := ev.got[1]
	ev.mu.Unlock()
	b, err := event.AppendEvent(nil, &e)
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Source     string   `json:"source"`
		DetailType string   `json:"detail-type"`
		Resources  []string `json:"resources"`
		Detail     map[string]any
	}
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	d := j.Detail
	if j.Source != "wirebridge.mirror" || j.DetailType != "MirrorStateChange" || !slices.Equal(j.Resources, []string{"test"}) ||
		d["Mirror"] != "test" || d["Provider"] != "fake" || d["Endpoint"] != "eth0" || d["State"] != "active" ||
		d["PreviousState"] != "creating" || d["Session"] != "s-eth0" || d["Reason"] != "start" || d["Controller"] != c.Owner() ||
		d["Attrs"].(map[string]any)["kind"] != "fake" {
		t.Errorf("event %s", b)
	}
}

// TestRetries: transient failures are retried with backoff; exhausted or
// permanent ones are given up into the dead-letter stream with their error,
// the record failed; the next reconcile tries again.
func TestRetries(t *testing.T) {
	b := testBus(t)
	kv := mirrorKV(t, b)
	tests := []struct {
		name      string
		fail      int
		permanent bool
		// want
		calls   int
		state   State
		retries int
		dead    bool
	}{
		{name: "two failures then success", fail: 2, calls: 3, state: Active, retries: 2},
		{name: "failures exhaust the attempts", fail: 10, calls: 3, state: Failed, retries: 2, dead: true},
		{name: "a permanent error is not retried", fail: 1, permanent: true, calls: 1, state: Failed, dead: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFake("eth0")
			p.fail["eth0"], p.permanent = tt.fail, tt.permanent
			name := fmt.Sprintf("retry%d", i)
			c := newController(t, kv, p, &events{}, func(c *Config) { c.Name, c.DLQ = name, b.JetStream() })
			if _, err := c.reconcile(context.Background(), nil, "scan"); err != nil {
				t.Fatal(err)
			}
			_, calls, _ := p.counts("eth0")
			r := records(t, kv, name)["eth0"]
			if calls != tt.calls || r.State != tt.state || r.Attempts != tt.calls {
				t.Errorf("calls %d, record %+v; want %d calls, state %s", calls, r, tt.calls, tt.state)
			}
			if tt.fail > 0 && !strings.Contains(r.LastError, "injected") {
				t.Errorf("last error %q", r.LastError)
			}
			m := c.cfg.Metrics
			if n := int(testutil.ToFloat64(m.retries.WithLabelValues(name, "create"))); n != tt.retries {
				t.Errorf("retries %d, want %d", n, tt.retries)
			}
			msg, err := b.DLQ().GetLastMsgForSubject(context.Background(), DLQSubject(name))
			if !tt.dead {
				if err == nil {
					t.Errorf("a dead letter: %s", msg.Data)
				}
				return
			}
			if err != nil {
				t.Fatalf("no dead letter on %s: %v", DLQSubject(name), err)
			}
			var dl DeadLetter
			if err := json.Unmarshal(msg.Data, &dl); err != nil {
				t.Fatal(err)
			}
			if dl.Mirror != name || dl.Operation != "create" || dl.Endpoint != "eth0" || dl.Attempts != tt.calls ||
				dl.Permanent != tt.permanent || !strings.Contains(dl.Error, "injected") || msg.Header.Get(headerError) == "" {
				t.Errorf("dead letter %+v headers %v", dl, msg.Header)
			}
			if int(testutil.ToFloat64(m.ops.WithLabelValues(name, "create", "failed"))) != 1 {
				t.Error("failed operations not counted")
			}
			// Failing again the same way at the next scan: no second letter.
			p.mu.Lock()
			p.fail["eth0"] = 10
			p.mu.Unlock()
			if _, err := c.reconcile(context.Background(), nil, "scan"); err != nil {
				t.Fatal(err)
			}
			info, err := b.DLQ().Info(context.Background(), jetstream.WithSubjectFilter(DLQSubject(name)))
			if err != nil {
				t.Fatal(err)
			}
			if n := info.State.Subjects[DLQSubject(name)]; n != 1 {
				t.Errorf("%d dead letters after failing twice the same way, want 1", n)
			}
			// The next reconcile tries again, and succeeds once the fault is gone.
			p.mu.Lock()
			p.fail["eth0"] = 0
			p.mu.Unlock()
			if _, err := c.reconcile(context.Background(), nil, "scan"); err != nil {
				t.Fatal(err)
			}
			if r := records(t, kv, name)["eth0"]; r.State != Active {
				t.Errorf("after the fault: %+v", r)
			}
		})
	}
}

// TestEndpointGoneDuringCreate: an endpoint that disappears while its
// Create runs (an interface deleted while its trigger was queued) is not a
// failure: no dead letter, no failed record; the endpoint is removed.
func TestEndpointGoneDuringCreate(t *testing.T) {
	b := testBus(t)
	kv := mirrorKV(t, b)
	p := newFake("eth0", "eth1")
	p.vanish = map[string]bool{"eth1": true}
	ev := &events{}
	c := newController(t, kv, p, ev, func(c *Config) { c.Name, c.DLQ = "gone", b.JetStream() })
	if _, err := c.reconcile(context.Background(), nil, "scan"); err != nil {
		t.Fatal(err)
	}
	recs := records(t, kv, "gone")
	if recs["eth0"].State != Active {
		t.Errorf("eth0: %+v", recs["eth0"])
	}
	if r, ok := recs["eth1"]; ok {
		t.Errorf("eth1 left a record: %+v", r)
	}
	if msg, err := b.DLQ().GetLastMsgForSubject(context.Background(), DLQSubject("gone")); err == nil {
		t.Errorf("a dead letter for an endpoint that went away: %s", msg.Data)
	}
	if st := ev.states("eth1"); len(st) == 0 || st[len(st)-1] != Removed {
		t.Errorf("eth1 state events %v, want ending in %s", st, Removed)
	}
	if n := int(testutil.ToFloat64(c.cfg.Metrics.ops.WithLabelValues("gone", "create", "failed"))); n != 0 {
		t.Errorf("%d failed creates counted", n)
	}
}

// TestClaims: an endpoint claimed by another controller is left alone while
// the claim holds; a lapsed claim (its controller died mid-operation) is
// taken over, and the operation it left finished: a create completed, a
// delete not lost.
func TestClaims(t *testing.T) {
	kv := mirrorKV(t, testBus(t))
	ctx := context.Background()
	now := time.Now()
	claim := func(id string, state State, until time.Time) {
		t.Helper()
		st := &store{kv: kv, mirror: "test"}
		_, rev, err := st.get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		r := &Record{Mirror: "test", Endpoint: id, State: state, Since: now, Updated: now, Owner: "dead:1:x", ClaimUntil: until}
		if _, err := st.put(ctx, r, rev); err != nil {
			t.Fatal(err)
		}
	}
	p := newFake("live", "stale", "create-left")
	p.addSession("delete-left")
	claim("live", Creating, now.Add(time.Hour))
	claim("stale", Creating, now.Add(-time.Second))
	claim("create-left", Creating, now.Add(-time.Second))
	claim("delete-left", Deleting, now.Add(-time.Second))
	c := newController(t, kv, p, nil, nil)
	if _, err := c.reconcile(ctx, nil, "start"); err != nil {
		t.Fatal(err)
	}
	recs := records(t, kv, "test")
	if r := recs["live"]; r.State != Creating || r.Owner != "dead:1:x" {
		t.Errorf("a live claim was not respected: %+v", r)
	}
	if _, calls, _ := p.counts("live"); calls != 0 {
		t.Errorf("created %d times under another's claim", calls)
	}
	for _, id := range []string{"stale", "create-left"} {
		if r := recs[id]; r.State != Active || r.Owner != "" {
			t.Errorf("%s: a lapsed claim was not taken over: %+v", id, r)
		}
	}
	if _, ok := recs["delete-left"]; ok || slices.Contains(p.sessionIDs(), "delete-left") {
		t.Errorf("the delete a dead controller left was lost: record %+v, sessions %v", recs["delete-left"], p.sessionIDs())
	}
}

// TestTwoControllers: two controllers of one entry on one bus, reconciling
// at once over and over, create every session exactly once.
func TestTwoControllers(t *testing.T) {
	kv := mirrorKV(t, testBus(t))
	var ids []string
	for i := range 20 {
		ids = append(ids, fmt.Sprintf("veth%d", i))
	}
	p := newFake(ids...)
	var a, b *Controller
	a = newController(t, kv, p, nil, nil)
	b = newController(t, kv, p, nil, nil)
	var wg sync.WaitGroup
	for _, c := range []*Controller{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				c.reconcile(context.Background(), nil, "scan")
			}
		}()
	}
	wg.Wait()
	// A last pass settles whatever a lost race left (a record a conflict skipped).
	a.reconcile(context.Background(), nil, "scan")
	recs := records(t, kv, "test")
	for _, id := range ids {
		if made, _, _ := p.counts(id); made != 1 {
			t.Errorf("%s: %d sessions made, want 1", id, made)
		}
		if recs[id].State != Active {
			t.Errorf("%s: %+v", id, recs[id])
		}
	}
	total := 0
	for _, c := range []*Controller{a, b} {
		total += ops(c.cfg.Metrics, "create", "created")
	}
	if total != len(ids) {
		t.Errorf("%d creates counted, want %d", total, len(ids))
	}
}

// TestRunTriggersEnsureRemove: Run reconciles on a provider's trigger
// without waiting for the scan, Ensure and Wait report an endpoint active
// (or not selected), and remove_on_exit leaves nothing behind.
func TestRunTriggersEnsureRemove(t *testing.T) {
	kv := mirrorKV(t, testBus(t))
	p := newFake("eth0")
	ev := &events{}
	c := newController(t, kv, p, ev, func(c *Config) { c.RemoveOnExit = true })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	wait := func(id string) (*Record, error) {
		wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer wcancel()
		return Wait(wctx, kv, "test", id)
	}
	if r, err := wait("eth0"); err != nil || r.Session != "s-eth0" {
		t.Fatalf("eth0 at start: %+v, %v", r, err)
	}
	// A trigger: the scan is an hour away.
	p.set("veth9", true)
	p.triggers <- Trigger{EndpointID: "veth9", Reason: "link-added", Seen: time.Now()}
	if r, err := wait("veth9"); err != nil || r.State != Active {
		t.Fatalf("veth9 after its trigger: %+v, %v", r, err)
	}
	if n := samples(t, c.cfg.Metrics.setupH.WithLabelValues("test")); n != 2 {
		t.Errorf("setup latency observed %d times, want 2 (eth0 from the start scan, veth9 from its trigger)", n)
	}
	// Ensure: a selected endpoint, then one nobody selects.
	ectx, ecancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer ecancel()
	p.set("veth10", true)
	if sel, err := c.Ensure(ectx, "veth10"); !sel || err != nil {
		t.Fatalf("ensure veth10: %v %v", sel, err)
	}
	if r, err := wait("veth10"); err != nil || r.State != Active {
		t.Fatalf("veth10: %+v %v", r, err)
	}
	if sel, err := c.Ensure(ectx, "nope"); sel || err != nil {
		t.Errorf("ensure nope: selected %v, %v", sel, err)
	}
	// A failing endpoint: Wait ends with the reason.
	p.mu.Lock()
	p.fail["bad0"], p.permanent = 1, true
	p.mu.Unlock()
	p.set("bad0", true)
	if sel, err := c.Ensure(ectx, "bad0"); !sel || err != nil {
		t.Fatalf("ensure bad0: %v %v", sel, err)
	}
	if _, err := wait("bad0"); !errors.Is(err, ErrNotActive) || !strings.Contains(err.Error(), "injected") {
		t.Errorf("wait bad0: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := p.sessionIDs(); len(s) != 0 {
		t.Errorf("remove_on_exit left sessions %v", s)
	}
	if r := records(t, kv, "test"); len(r) != 0 {
		t.Errorf("remove_on_exit left records %v", r)
	}
	if !p.cleaned {
		t.Error("Cleanup not called")
	}
}

// TestKeys: every endpoint id maps to one KV token and back.
func TestKeys(t *testing.T) {
	tests := []struct{ name, id, key string }{
		{"plain", "eth0", "m.eth0"},
		{"vlan dot", "eth0.100", "m.eth0=2E100"},
		{"eni", "eni-0a1b2c3d4e5f", "m.eni-0a1b2c3d4e5f"},
		{"escape char", "a=b", "m.a=3Db"},
		{"utf-8 and space", "ü x", "m.=C3=BC=20x"},
		{"empty", "", "m.="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := Key("m", tt.id)
			if k != tt.key {
				t.Errorf("Key = %q, want %q", k, tt.key)
			}
			back, err := unescapeID(strings.TrimPrefix(k, "m."))
			if err != nil || back != tt.id {
				t.Errorf("unescape %q = %q, %v", k, back, err)
			}
		})
	}
	for _, bad := range []string{"=", "=4", "=ZZ", "a=G0"} {
		if bad == "=" {
			continue
		}
		if _, err := unescapeID(bad); err == nil {
			t.Errorf("unescape %q accepted", bad)
		}
	}
}

// TestStoreCAS: writes are revision-checked against the real bucket.
func TestStoreCAS(t *testing.T) {
	kv := mirrorKV(t, testBus(t))
	ctx := context.Background()
	st := &store{kv: kv, mirror: "cas"}
	r := &Record{Mirror: "cas", Endpoint: "eth0", State: Creating}
	rev, err := st.put(ctx, r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.put(ctx, r, 0); !errors.Is(err, errConflict) {
		t.Errorf("a second create: %v", err)
	}
	r.State = Active
	rev2, err := st.put(ctx, r, rev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.put(ctx, r, rev); !errors.Is(err, errConflict) {
		t.Errorf("an update from a stale revision: %v", err)
	}
	if err := st.drop(ctx, "eth0", rev); !errors.Is(err, errConflict) {
		t.Errorf("a delete from a stale revision: %v", err)
	}
	if err := st.drop(ctx, "eth0", rev2); err != nil {
		t.Fatal(err)
	}
	got, delRev, err := st.get(ctx, "eth0")
	if err != nil || got != nil {
		t.Fatalf("after the delete: %+v %v", got, err)
	}
	_ = delRev
	if _, err := st.put(ctx, r, 0); err != nil {
		t.Errorf("create after a delete: %v", err)
	}
	if _, err := kv.Put(ctx, Key("cas", "junk"), []byte("not json")); err != nil {
		t.Fatal(err)
	}
	m, err := st.list(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := m["junk"]; !ok || e.rec != nil || e.rev == 0 {
		t.Errorf("an unreadable record: %+v", m["junk"])
	}
	var _ jetstream.KeyValue = kv
}

// FuzzKeyToken: escaping any endpoint id gives one KV token that unescapes
// to it; unescaping any token never panics.
func FuzzKeyToken(f *testing.F) {
	for _, s := range []string{"eth0", "eth0.100", "", "=", "=4", "a=3Db", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := escapeID(s)
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '=') {
				t.Fatalf("token %q of %q has byte %q", tok, s, c)
			}
		}
		if back, err := unescapeID(tok); err != nil || back != s {
			t.Fatalf("round trip of %q: %q, %v", s, back, err)
		}
		unescapeID(s)
	})
}

// TestLapsedClaimRechecked: an endpoint held by another controller's claim
// is looked at again when the claim lapses (its owner died), without
// waiting for a scan or a trigger; and a controller takes its own claims
// (the same Owner restarted) over at once.
func TestLapsedClaimRechecked(t *testing.T) {
	kv := mirrorKV(t, testBus(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := &store{kv: kv, mirror: "test"}
	now := time.Now()
	for id, owner := range map[string]string{"eth0": "dead:1:x", "eth1": "me"} {
		r := &Record{Mirror: "test", Endpoint: id, State: Creating, Since: now, Updated: now, Owner: owner,
			ClaimUntil: now.Add(500 * time.Millisecond)}
		if owner == "me" {
			r.ClaimUntil = now.Add(time.Hour)
		}
		if _, err := st.put(ctx, r, 0); err != nil {
			t.Fatal(err)
		}
	}
	p := newFake("eth0", "eth1")
	c := newController(t, kv, p, nil, func(c *Config) { c.Owner = "me" })
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for _, id := range []string{"eth1", "eth0"} {
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		r, err := Wait(wctx, kv, "test", id)
		wcancel()
		if err != nil || r.State != Active {
			t.Errorf("%s: %+v, %v", id, r, err)
		}
	}
	cancel()
	<-done
}
