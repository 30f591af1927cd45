package pipeline

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/rule"
	"github.com/wirebridge/wirebridge/internal/source"
)

type runResult struct {
	err   error
	stats Stats
}

// start runs p until the returned stop function is called; stop cancels,
// waits for Run and returns its result.
func start(t *testing.T, p *Pipeline) func() runResult {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() runResult {
		cancel()
		select {
		case err := <-done:
			return runResult{err: err, stats: p.Stats()}
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return")
			return runResult{}
		}
	}
}

type packetEvent struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	Detail struct {
		Listener    string
		Source      struct{ IP string }
		Destination struct{ Port int }
		Payload     []byte
	} `json:"detail"`
}

// TestSeedRuleEndToEnd sends the syslog captures through the pipeline as a
// raw source with event_source udp.raw and checks that the seed rule
// delivers exactly their port-514 packets, with the event JSON to a body
// target, the original frame to a frame target, and the transformed input to
// a third.
func TestSeedRuleEndToEnd(t *testing.T) {
	syslogA := loadFrames(t, "tcpdump_syslog_udp.pcap")
	syslogB := loadFrames(t, "ndpi_syslog.pcap")
	dns := loadFrames(t, "tcpdump_dns_udp.pcap")
	wantA, wantB := port514(t, syslogA), port514(t, syslogB)
	if wantA == 0 || wantB == 0 || wantA == len(syslogA) && wantB == len(syslogB) {
		t.Fatalf("captures do not exercise the rule: %d/%d and %d/%d frames to port 514", wantA, len(syslogA), wantB, len(syslogB))
	}
	want := wantA + wantB
	t.Logf("port-514 frames: %d of %d (tcpdump), %d of %d (ndpi)", wantA, len(syslogA), wantB, len(syslogB))

	tr := cfgRule("syslog-text", seedPattern, "hook")
	tr.InputPaths = map[string]string{"src": "$.detail.Source.IP", "payload": "$.detail.Payload"}
	tr.InputTemplate = `{"rule": <aws.events.rule-name>, "from": <src>, "text": "<src> says <payload>"}`
	tab := table(t,
		cfgRule("syslog", seedPattern, "archive", "pcap"),
		tr,
		cfgRule("dns", `{"detail":{"Destination":{"Port":[53]}},"source":["udp.raw"]}`, "ghost"),
	)
	archive, pcap, hook := &recorder{}, &recorder{}, &recorder{}
	p, err := New(Config{
		Rules: tab,
		Targets: []Target{
			{Name: "archive", Deliverer: archive, NeedsBody: true},
			{Name: "pcap", Deliverer: pcap, NeedsFrame: true},
			{Name: "hook", Deliverer: hook, NeedsBody: true},
		},
		Workers: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	var rawStats, otherStats source.Stats
	emitRaw, err := p.Emitter(SourceInfo{Name: "raw", Type: "raw", EventSource: "udp.raw", Stats: &rawStats})
	if err != nil {
		t.Fatal(err)
	}
	emitOther, err := p.Emitter(SourceInfo{Name: "udp", Type: "udp", Stats: &otherStats})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Emitter(SourceInfo{Name: "raw"}); err == nil {
		t.Error("a second source with the same name was accepted")
	}
	stop := start(t, p)
	emitAll(emitRaw, "raw", "udp.raw", syslogA, 3)
	emitAll(emitRaw, "raw", "", syslogB, 16) // event source from SourceInfo
	emitAll(emitRaw, "raw", "udp.raw", dns, 5)
	emitAll(emitOther, "udp", "", syslogA, 2) // source wirebridge.udp: no match
	res := stop()
	if res.err != nil {
		t.Fatalf("Run: %v", res.err)
	}

	byID := map[string]packetEvent{}
	for _, d := range archive.deliveries() {
		if d.Rule != "syslog" || d.Target != "archive" || d.Frame != nil || d.Accepted.IsZero() {
			t.Fatalf("archive delivery %+v", d)
		}
		var ev packetEvent
		if err := json.Unmarshal(d.Body, &ev); err != nil {
			t.Fatalf("body is not JSON: %v: %s", err, d.Body)
		}
		if ev.ID != d.ID || ev.Source != "udp.raw" || ev.Detail.Destination.Port != 514 || ev.Detail.Listener != "raw" {
			t.Fatalf("event %+v for delivery id %s", ev, d.ID)
		}
		if _, dup := byID[d.ID]; dup {
			t.Fatalf("id %s delivered twice", d.ID)
		}
		byID[d.ID] = ev
	}
	if len(byID) != want {
		t.Errorf("archive got %d events, want %d", len(byID), want)
	}

	// The frame target gets the original frames of the same events: the
	// port-514 frames of both captures, byte for byte, and no body.
	wantFrames := map[string]int{}
	for _, f := range append(append([]source.Frame(nil), syslogA...), syslogB...) {
		if dstPort(f) == 514 {
			wantFrames[string(f.Data)]++
		}
	}
	for _, d := range pcap.deliveries() {
		if _, ok := byID[d.ID]; !ok || d.Body != nil || d.Capture.CaptureLength != len(d.Frame) {
			t.Fatalf("pcap delivery id %s body %q capture %+v", d.ID, d.Body, d.Capture)
		}
		if wantFrames[string(d.Frame)] == 0 {
			t.Fatalf("pcap got a frame that is not a port-514 frame of the captures: % x", d.Frame)
		}
		wantFrames[string(d.Frame)]--
	}
	if n := len(pcap.deliveries()); n != want {
		t.Errorf("pcap got %d frames, want %d", n, want)
	}

	// The transformer's output, per event.
	for _, d := range hook.deliveries() {
		ev, ok := byID[d.ID]
		if !ok || d.Rule != "syslog-text" {
			t.Fatalf("hook delivery for unknown event %s (rule %s)", d.ID, d.Rule)
		}
		var got struct{ Rule, From, Text string }
		if err := json.Unmarshal(d.Body, &got); err != nil {
			t.Fatalf("transformed body is not JSON: %v: %s", err, d.Body)
		}
		wantText := ev.Detail.Source.IP + " says " + base64.StdEncoding.EncodeToString(ev.Detail.Payload)
		if got.Rule != "syslog-text" || got.From != ev.Detail.Source.IP || got.Text != wantText {
			t.Fatalf("transformed body %s, want from %s text %q", d.Body, ev.Detail.Source.IP, wantText)
		}
	}
	if n := len(hook.deliveries()); n != want {
		t.Errorf("hook got %d deliveries, want %d", n, want)
	}

	raw, other := res.stats.Sources["raw"], res.stats.Sources["udp"]
	total := len(syslogA) + len(syslogB) + len(dns)
	if raw.Received != uint64(total) || raw.Processed != uint64(total) || raw.DroppedTotal() != 0 {
		t.Errorf("raw source stats %+v, want %d received and processed", raw, total)
	}
	wantDNS := 0
	for _, f := range dns {
		if dstPort(f) == 53 {
			wantDNS++
		}
	}
	if raw.Matched != uint64(want+wantDNS) {
		t.Errorf("raw matched %d, want %d (syslog) + %d (dns)", raw.Matched, want, wantDNS)
	}
	if res.stats.UnknownTarget != uint64(wantDNS) {
		t.Errorf("unknown-target deliveries %d, want %d", res.stats.UnknownTarget, wantDNS)
	}
	if other.Processed != uint64(len(syslogA)) || other.Matched != 0 {
		t.Errorf("udp source stats %+v", other)
	}
	if got := tab.Current().Rule("syslog").Matched(); got != uint64(want) {
		t.Errorf("rule syslog matched %d, want %d", got, want)
	}
	for name, ts := range res.stats.Targets {
		if ts.Refused != 0 || ts.Errors != 0 || ts.Enqueued != uint64(want) {
			t.Errorf("target %s stats %+v, want %d enqueued", name, ts, want)
		}
	}
	if rawStats.Dropped(source.DropQueueFull) != 0 {
		t.Error("queue_full drops on the source")
	}
	if res.stats.QueuedPackets != 0 || res.stats.QueuedBytes != 0 || res.stats.QueuedBatches != 0 {
		t.Errorf("queue not empty after drain: %+v", res.stats)
	}
}

// TestQueueFull blocks the only deliverer so the worker stalls, and checks
// that emit does not block, that the excess batches are dropped as
// queue_full in both the pipeline's and the source's counters, and that
// everything queued is delivered once the deliverer resumes.
func TestQueueFull(t *testing.T) {
	frames := loadFrames(t, "tcpdump_syslog_udp.pcap")
	gate := make(chan struct{})
	slow := &recorder{gate: gate}
	p, err := New(Config{
		Rules:        table(t, cfgRule("all", `{"source":["udp.raw"]}`, "slow")),
		Targets:      []Target{{Name: "slow", Deliverer: slow, NeedsBody: true}},
		Workers:      1,
		QueueBatches: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	var ss source.Stats
	emit, err := p.Emitter(SourceInfo{Name: "raw", EventSource: "udp.raw", QueueSize: 1 << 20, Stats: &ss})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, p)
	const batches = 60
	emitted := make(chan struct{})
	go func() {
		for range batches {
			emitAll(emit, "raw", "", frames[:1], 1)
		}
		close(emitted)
	}()
	select {
	case <-emitted:
	case <-time.After(10 * time.Second):
		t.Fatal("emit blocked on a stalled pipeline")
	}
	mid := p.Stats().Sources["raw"]
	// At most one batch is in the worker and QueueBatches in the queue.
	if mid.Dropped[DropQueueFull] < batches-5 {
		t.Errorf("queue_full drops %d, want at least %d", mid.Dropped[DropQueueFull], batches-5)
	}
	close(gate)
	res := stop()
	if res.err != nil {
		t.Fatal(res.err)
	}
	st := res.stats.Sources["raw"]
	if st.Received != batches || st.Queued+st.Dropped[DropQueueFull] != st.Received || st.Processed != st.Queued {
		t.Errorf("stats do not add up: %+v", st)
	}
	if got := ss.Dropped(source.DropQueueFull); got != st.Dropped[DropQueueFull] {
		t.Errorf("source counted %d queue_full drops, pipeline %d", got, st.Dropped[DropQueueFull])
	}
	if n := len(slow.deliveries()); uint64(n) != st.Processed {
		t.Errorf("delivered %d, processed %d", n, st.Processed)
	}
}

// TestSourceQueueLimit: a source's queue_size bounds its packets in the
// queue, whatever room the shared queue has.
func TestSourceQueueLimit(t *testing.T) {
	frames := loadFrames(t, "ndpi_syslog.pcap")
	gate := make(chan struct{})
	p, err := New(Config{
		Rules:   table(t, cfgRule("all", `{"source":["udp.raw"]}`, "t")),
		Targets: []Target{{Name: "t", Deliverer: &recorder{gate: gate}, NeedsBody: true}},
		Workers: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	emit, err := p.Emitter(SourceInfo{Name: "raw", EventSource: "udp.raw", QueueSize: 20})
	if err != nil {
		t.Fatal(err)
	}
	// Not running yet: nothing leaves the queue.
	emitAll(emit, "raw", "", frames, 8) // 94 frames: 11 batches of 8 and one of 6
	st := p.Stats().Sources["raw"]
	if st.Queued != 16 || st.Dropped[DropQueueFull] != uint64(len(frames)-16) {
		t.Errorf("queued %d dropped %d, want 16 and %d", st.Queued, st.Dropped[DropQueueFull], len(frames)-16)
	}
	close(gate)
	stop := start(t, p)
	if res := stop(); res.err != nil || res.stats.Sources["raw"].Processed != 16 {
		t.Errorf("Run: %v, processed %d", res.err, res.stats.Sources["raw"].Processed)
	}
}

// TestDrainDeadline: batches still queued when the drain deadline passes
// are dropped and counted as shutdown, and Run says so; emits after the
// shutdown are counted too.
func TestDrainDeadline(t *testing.T) {
	frames := loadFrames(t, "tcpdump_syslog_udp.pcap")
	stuck := &recorder{gate: make(chan struct{})} // never opens; honours ctx
	p, err := New(Config{
		Rules:        table(t, cfgRule("all", `{"source":["udp.raw"]}`, "stuck")),
		Targets:      []Target{{Name: "stuck", Deliverer: stuck, NeedsBody: true}},
		Workers:      1,
		DrainTimeout: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	emit, err := p.Emitter(SourceInfo{Name: "raw", EventSource: "udp.raw"})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, p)
	emitAll(emit, "raw", "", frames, 1) // 4 batches
	res := stop()
	if !errors.Is(res.err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want a drain deadline error", res.err)
	}
	emitAll(emit, "raw", "", frames, 2)
	st := p.Stats().Sources["raw"]
	// The batch in the worker is processed (its Enqueue failed at the
	// deadline); the queued ones are dropped; the late ones too.
	if st.Received != 8 || st.Processed+st.Dropped[DropShutdown] != 8 || st.Dropped[DropShutdown] < 4 {
		t.Errorf("stats %+v", st)
	}
	ts := p.Stats().Targets["stuck"]
	if ts.Enqueued != 0 || ts.Refused != st.Processed || (st.Processed > 0) != (ts.Errors > 0) {
		t.Errorf("target stats %+v for %d processed", ts, st.Processed)
	}
}

// TestReloadWhileRunning swaps the rule set while packets flow: each set
// routes the seed rule's matches to the archive (under the same rule name),
// so no event may be lost or doubled across the swaps.
func TestReloadWhileRunning(t *testing.T) {
	frames := loadFrames(t, "ndpi_syslog.pcap")
	want := port514(t, frames)
	setA := []rule.Spec{cfgRule("syslog", seedPattern, "archive")}
	setB := []rule.Spec{
		cfgRule("syslog", `{"source":[{"prefix":"udp."}],"detail":{"Destination":{"Port":[{"numeric":["=",514]}]}}}`, "archive"),
		cfgRule("other", `{"detail":{"Destination":{"Port":[9]}}}`, "archive"),
	}
	tab := table(t, setA...)
	archive := &recorder{}
	p, err := New(Config{Rules: tab, Targets: []Target{{Name: "archive", Deliverer: archive, NeedsBody: true}}, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	emit, err := p.Emitter(SourceInfo{Name: "raw", EventSource: "udp.raw", QueueSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, p)
	const rounds = 40
	quit := make(chan struct{})
	reloaded := make(chan int)
	go func() {
		n := 0
		defer func() { reloaded <- n }()
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			next := setA
			if i%2 == 0 {
				next = setB
			}
			if _, err := tab.Reload(next); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	for r := range rounds {
		emitAll(emit, "raw", "", frames, 1+r%7)
		// Let the workers keep up so the queue never overflows.
		for p.Stats().QueuedPackets > 2000 {
			time.Sleep(time.Millisecond)
		}
	}
	res := stop()
	close(quit)
	t.Logf("%d reloads while %d packets went through", <-reloaded, rounds*len(frames))
	if res.err != nil {
		t.Fatal(res.err)
	}
	st := res.stats.Sources["raw"]
	if st.DroppedTotal() != 0 {
		t.Fatalf("drops: %+v", st)
	}
	if got := len(archive.deliveries()); got != want*rounds {
		t.Errorf("archive got %d events, want %d", got, want*rounds)
	}
	if got := tab.Current().Rule("syslog").Matched(); got != uint64(want*rounds) {
		t.Errorf("rule counter %d, want %d", got, want*rounds)
	}
}

func TestNewErrors(t *testing.T) {
	tab := table(t, cfgRule("r", `{"source":["a"]}`, "t"))
	cases := []struct {
		name string
		cfg  Config
	}{
		{"no rules", Config{}},
		{"unnamed target", Config{Rules: tab, Targets: []Target{{Deliverer: &recorder{}}}}},
		{"no deliverer", Config{Rules: tab, Targets: []Target{{Name: "t"}}}},
		{"duplicate target", Config{Rules: tab, Targets: []Target{{Name: "t", Deliverer: &recorder{}}, {Name: "t", Deliverer: &recorder{}}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := New(c.cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
	p, err := New(Config{Rules: tab})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Emitter(SourceInfo{}); err == nil {
		t.Error("unnamed source accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(ctx); err == nil {
		t.Error("second Run accepted")
	}
}

// TestDecodeErrorsCounted: malformed frames are counted per kind and still
// matched (their events carry detail.DecodeError).
func TestDecodeErrorsCounted(t *testing.T) {
	frames := loadFrames(t, "tcpdump_syslog_udp.pcap")
	var bad []source.Frame
	for _, f := range frames {
		cut := f
		cut.Data = f.Data[:20] // Ethernet + 6 bytes of IPv4: truncated
		cut.Info.CaptureLength, cut.Info.Length = 20, 20
		bad = append(bad, cut)
	}
	rec := &recorder{}
	p, err := New(Config{
		Rules:   table(t, cfgRule("errs", `{"detail":{"DecodeError":[{"exists":true}]}}`, "t")),
		Targets: []Target{{Name: "t", Deliverer: rec, NeedsBody: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	emit, _ := p.Emitter(SourceInfo{Name: "s"})
	stop := start(t, p)
	emitAll(emit, "s", "", append(bad, frames...), 3)
	res := stop()
	st := res.stats.Sources["s"]
	var total uint64
	for _, n := range st.DecodeErrors {
		total += n
	}
	if total != uint64(len(bad)) || st.DecodeErrors["truncated"] != uint64(len(bad)) {
		t.Errorf("decode errors %v, want %d truncated", st.DecodeErrors, len(bad))
	}
	if got := len(rec.deliveries()); got != len(bad) {
		t.Errorf("%d events with DecodeError delivered, want %d", got, len(bad))
	}
	for _, d := range rec.deliveries() {
		if !bytes.Contains(d.Body, []byte(`"DecodeError"`)) {
			t.Errorf("body lacks DecodeError: %s", d.Body)
		}
	}
}
