package pipeline

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/rule"
)

// diffEvent is an internal event shaped like a ReplayDiff, numbered n.
func diffEvent(n int) event.Event {
	return event.NewEvent("wirebridge.replay", "ReplayDiff", []string{"shadow"},
		map[string]any{"Index": n, "URI": fmt.Sprintf("/item/%d", n)})
}

// TestEventIngressRouting: an internal event is matched as JSON by the same
// rules as packets and handed to the same deliverers: the event JSON or the
// rule's transformed input to body targets, to a target that wants frames
// without one, and to none that requires one or names no target (counted).
func TestEventIngressRouting(t *testing.T) {
	const diffs = `{"source":["wirebridge.replay"],"detail-type":["ReplayDiff"]}`
	tests := []struct {
		name          string
		rules         []rule.Spec
		wantBody      map[string]string // target -> body of its one delivery ("" means the event JSON)
		wantMatched   uint64
		wantDelivered uint64
		wantDropped   map[string]uint64
	}{
		{
			name:          "body target gets the event JSON",
			rules:         []rule.Spec{cfgRule("r", diffs, "file")},
			wantBody:      map[string]string{"file": ""},
			wantMatched:   1,
			wantDelivered: 1,
		},
		{
			name:          "a target that wants frames gets the event without one",
			rules:         []rule.Spec{cfgRule("r", diffs, "live-frames")},
			wantBody:      map[string]string{"live-frames": ""},
			wantMatched:   1,
			wantDelivered: 1,
		},
		{
			name:          "a target that requires frames is skipped and counted",
			rules:         []rule.Spec{cfgRule("r", diffs, "pcap", "file")},
			wantBody:      map[string]string{"file": ""},
			wantMatched:   1,
			wantDelivered: 1,
			wantDropped:   map[string]uint64{DropNoFrame: 1},
		},
		{
			name: "input transformer",
			rules: []rule.Spec{{Name: "r", Pattern: []byte(diffs), Targets: []string{"file"}, Enabled: true,
				InputPath: "$.detail.URI"}},
			wantBody:      map[string]string{"file": `"/item/7"`},
			wantMatched:   1,
			wantDelivered: 1,
		},
		{
			name:        "unknown target",
			rules:       []rule.Spec{cfgRule("r", diffs, "gone")},
			wantMatched: 1,
			wantDropped: map[string]uint64{DropUnknownTarget: 1},
		},
		{
			name:  "no rule matches",
			rules: []rule.Spec{cfgRule("r", `{"detail-type":["Other"]}`, "file")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs := map[string]*recorder{"file": {}, "live-frames": {}, "pcap": {}}
			p, err := New(Config{Rules: table(t, tc.rules...), Workers: 2, Targets: []Target{
				{Name: "file", Deliverer: recs["file"], NeedsBody: true},
				{Name: "live-frames", Deliverer: recs["live-frames"], NeedsBody: true, NeedsFrame: true},
				{Name: "pcap", Deliverer: recs["pcap"], NeedsFrame: true, RequiresFrame: true},
			}})
			if err != nil {
				t.Fatal(err)
			}
			publish, err := p.EventIngress(IngressInfo{Name: "shadow", EventSource: "wirebridge.replay"})
			if err != nil {
				t.Fatal(err)
			}
			stop := start(t, p)
			e := diffEvent(7)
			if !publish(e) {
				t.Fatal("publish refused the event")
			}
			res := stop()
			if res.err != nil {
				t.Fatal(res.err)
			}
			want, _ := event.AppendEvent(nil, &e)
			for name, r := range recs {
				got := r.deliveries()
				body, ok := tc.wantBody[name]
				if !ok {
					if len(got) != 0 {
						t.Errorf("%s got %d deliveries, want none", name, len(got))
					}
					continue
				}
				if len(got) != 1 {
					t.Fatalf("%s got %d deliveries, want 1", name, len(got))
				}
				d := got[0]
				if body == "" {
					body = string(want)
				}
				if string(d.Body) != body || d.ID != e.ID || d.Rule != "r" || d.Target != name || d.Frame != nil || d.Accepted.IsZero() {
					t.Errorf("%s got %+v (body %s), want body %s, id %s", name, d, d.Body, body, e.ID)
				}
			}
			st := res.stats.Events["shadow"]
			if st.EventSource != "wirebridge.replay" || st.Published != 1 || st.Queued != 1 || st.Processed != 1 ||
				st.Matched != tc.wantMatched || st.Delivered != tc.wantDelivered {
				t.Errorf("stats %+v", st)
			}
			for _, r := range EventDropReasons {
				if st.Dropped[r] != tc.wantDropped[r] {
					t.Errorf("dropped %s = %d, want %d", r, st.Dropped[r], tc.wantDropped[r])
				}
			}
		})
	}
}

// TestEventIngressOrder: with several workers and packet batches in
// between, each producer's events reach the target in the order published.
func TestEventIngressOrder(t *testing.T) {
	const producers, perProducer = 3, 400
	rec := &recorder{}
	p, err := New(Config{Rules: table(t,
		cfgRule("diffs", `{"detail-type":["ReplayDiff"]}`, "t"),
		cfgRule("all", `{"detail-type":["UdpPacket"]}`, "t"),
	), Workers: 4, Targets: []Target{{Name: "t", Deliverer: rec, NeedsBody: true}}})
	if err != nil {
		t.Fatal(err)
	}
	frames := loadFrames(t, "tcpdump_syslog_udp.pcap")
	emit, err := p.Emitter(SourceInfo{Name: "syslog", Type: "pcap"})
	if err != nil {
		t.Fatal(err)
	}
	var pubs []func(event.Event) bool
	for i := range producers {
		pub, err := p.EventIngress(IngressInfo{Name: fmt.Sprint("p", i), EventSource: "wirebridge.replay"})
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, pub)
	}
	stop := start(t, p)
	done := make(chan struct{})
	for i, pub := range pubs {
		go func() {
			defer func() { done <- struct{}{} }()
			for n := range perProducer {
				e := diffEvent(n)
				e.Resources = []string{fmt.Sprint("p", i)}
				if !pub(e) {
					t.Errorf("producer %d: event %d refused", i, n)
				}
			}
		}()
	}
	for range 20 {
		emitAll(emit, "syslog", "", frames, 8)
	}
	for range pubs {
		<-done
	}
	res := stop()
	if res.err != nil {
		t.Fatal(res.err)
	}
	next := make([]int, producers)
	for _, d := range rec.deliveries() {
		if d.Rule != "diffs" {
			continue
		}
		var ev struct {
			Resources []string
			Detail    struct{ Index int }
		}
		if err := json.Unmarshal(d.Body, &ev); err != nil {
			t.Fatal(err)
		}
		var i int
		fmt.Sscanf(ev.Resources[0], "p%d", &i)
		if ev.Detail.Index != next[i] {
			t.Fatalf("producer %d: event %d delivered when %d was next", i, ev.Detail.Index, next[i])
		}
		next[i]++
	}
	for i, n := range next {
		if n != perProducer {
			t.Errorf("producer %d: %d events delivered, want %d", i, n, perProducer)
		}
	}
}

// TestEventIngressDrops: a producer's queue bound, the shared queue bound,
// and publishing after intake closed are counted by reason; duplicate and
// empty names are refused.
func TestEventIngressDrops(t *testing.T) {
	tests := []struct {
		name       string
		queue      int // the producer's QueueSize
		batches    int // the pipeline's QueueBatches
		publish    int
		afterClose bool
		want       map[string]uint64
		wantQueued uint64
	}{
		{name: "producer queue full", queue: 2, batches: 100, publish: 5, want: map[string]uint64{DropQueueFull: 3}, wantQueued: 2},
		{name: "pipeline queue full", queue: 100, batches: 3, publish: 5, want: map[string]uint64{DropQueueFull: 2}, wantQueued: 3},
		{name: "after shutdown", queue: 100, batches: 100, publish: 4, afterClose: true, want: map[string]uint64{DropShutdown: 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(Config{Rules: table(t, cfgRule("r", `{"source":["x"]}`, "t")), QueueBatches: tc.batches,
				Targets: []Target{{Name: "t", Deliverer: &recorder{}, NeedsBody: true}}})
			if err != nil {
				t.Fatal(err)
			}
			pub, err := p.EventIngress(IngressInfo{Name: "x", EventSource: "x", QueueSize: tc.queue})
			if err != nil {
				t.Fatal(err)
			}
			if tc.afterClose {
				start(t, p)()
			}
			accepted := 0
			for n := range tc.publish { // Run has not started: nothing leaves the queue
				if pub(diffEvent(n)) {
					accepted++
				}
			}
			st := p.Stats().Events["x"]
			if st.Published != uint64(tc.publish) || st.Queued != tc.wantQueued || uint64(accepted) != tc.wantQueued {
				t.Errorf("published %d, queued %d, accepted %d; want %d, %d, %d", st.Published, st.Queued, accepted, tc.publish, tc.wantQueued, tc.wantQueued)
			}
			for _, r := range EventDropReasons {
				if st.Dropped[r] != tc.want[r] {
					t.Errorf("dropped %s = %d, want %d", r, st.Dropped[r], tc.want[r])
				}
			}
		})
	}
	p, err := New(Config{Rules: table(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.EventIngress(IngressInfo{}); err == nil {
		t.Error("an ingress without a name was accepted")
	}
	if _, err := p.EventIngress(IngressInfo{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.EventIngress(IngressInfo{Name: "a"}); err == nil {
		t.Error("an ingress registered twice was accepted")
	}
}

// TestCloseSourcesKeepsIngressOpen: after CloseSources the sources' queued
// packets have been delivered and later ones are dropped (shutdown), while
// events published afterwards (a producer flushing) are still delivered
// until Run's context ends.
func TestCloseSourcesKeepsIngressOpen(t *testing.T) {
	rec := &recorder{}
	p, err := New(Config{Rules: table(t,
		cfgRule("diffs", `{"detail-type":["ReplayDiff"]}`, "t"),
		cfgRule("all", `{"detail-type":["UdpPacket"]}`, "t"),
	), Workers: 2, Targets: []Target{{Name: "t", Deliverer: rec, NeedsBody: true}}})
	if err != nil {
		t.Fatal(err)
	}
	frames := loadFrames(t, "tcpdump_syslog_udp.pcap")
	emit, err := p.Emitter(SourceInfo{Name: "syslog", Type: "pcap"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := p.EventIngress(IngressInfo{Name: "shadow", EventSource: "wirebridge.replay"})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, p)
	emitAll(emit, "syslog", "", frames, 4)
	if err := p.CloseSources(); err != nil {
		t.Fatal(err)
	}
	packets := len(rec.deliveries())
	if packets != len(frames) {
		t.Fatalf("%d packets delivered when CloseSources returned, want all %d", packets, len(frames))
	}
	emitAll(emit, "syslog", "", frames[:3], 1)
	for n := range 10 {
		if !pub(diffEvent(n)) {
			t.Fatalf("event %d refused after CloseSources", n)
		}
	}
	res := stop()
	if res.err != nil {
		t.Fatal(res.err)
	}
	if got := len(rec.deliveries()); got != packets+10 {
		t.Errorf("%d deliveries, want %d packets + 10 events", got, packets)
	}
	if d := res.stats.Sources["syslog"].Dropped[DropShutdown]; d != 3 {
		t.Errorf("%d packets dropped at shutdown, want 3", d)
	}
	if pub(diffEvent(99)) {
		t.Error("an event published after Run returned was queued")
	}
	if d := p.Stats().Events["shadow"].Dropped[DropShutdown]; d != 1 {
		t.Errorf("%d events dropped at shutdown, want 1", d)
	}
}

// TestDrainDeadlineSparesLaterEvents: when the sources' drain passes its
// deadline, their queued packets are dropped and counted, and events queued
// after CloseSources are still delivered.
func TestDrainDeadlineSparesLaterEvents(t *testing.T) {
	gate := make(chan struct{})
	slow := &recorder{gate: gate}
	fast := &recorder{}
	p, err := New(Config{Rules: table(t,
		cfgRule("diffs", `{"detail-type":["ReplayDiff"]}`, "fast"),
		cfgRule("all", `{"detail-type":["UdpPacket"]}`, "slow"),
	), Workers: 1, DrainTimeout: 50 * time.Millisecond, Targets: []Target{
		{Name: "slow", Deliverer: slow, NeedsBody: true},
		{Name: "fast", Deliverer: fast, NeedsBody: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	frames := loadFrames(t, "tcpdump_syslog_udp.pcap")
	emit, _ := p.Emitter(SourceInfo{Name: "syslog", Type: "pcap"})
	pub, _ := p.EventIngress(IngressInfo{Name: "shadow", EventSource: "wirebridge.replay"})
	stop := start(t, p)
	emitAll(emit, "syslog", "", frames, 1)
	closed := make(chan error, 1)
	go func() { closed <- p.CloseSources() }()
	// The one worker is held in the first batch's Enqueue; CloseSources
	// gives up at its deadline (the gate opens only after it returned).
	err = <-closed
	close(gate)
	if err == nil {
		t.Fatal("CloseSources did not report the passed deadline")
	}
	for n := range 3 {
		if !pub(diffEvent(n)) {
			t.Fatalf("event %d refused", n)
		}
	}
	res := stop()
	if res.err != nil {
		t.Fatal(res.err)
	}
	if got := len(fast.deliveries()); got != 3 {
		t.Errorf("%d events delivered, want 3", got)
	}
	src := res.stats.Sources["syslog"]
	if got := uint64(len(slow.deliveries())); got+src.Dropped[DropShutdown] != uint64(len(frames)) || src.Dropped[DropShutdown] == 0 {
		t.Errorf("%d packets delivered, %d dropped at shutdown, of %d", got, src.Dropped[DropShutdown], len(frames))
	}
}
