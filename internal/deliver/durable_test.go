package deliver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/handoff"
)

func TestDurableDeliversEveryEventInBatches(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig("web", Durable)
	cfg.MaxEvents = 40
	cfg.MaxBytes = 20 << 10 // 1 KiB bodies: about 19 per batch
	rec := newRecorder()
	w, err := New(context.Background(), cfg, rec, b, m)
	if err != nil {
		t.Fatal(err)
	}
	ds := deliveries("ev", 500, 1024)
	enqueueAll(t, w, ds)
	stop := running(t, w)
	waitFor(t, "500 deliveries", func() bool { return rec.distinct() == 500 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got, _ := rec.snapshot()
	for _, d := range ds {
		if got[d.ID] != 1 {
			t.Errorf("%s delivered %d times", d.ID, got[d.ID])
		}
		if rec.bodies[d.ID] != string(d.Body) {
			t.Errorf("%s: body changed in the store", d.ID)
		}
	}
	if rec.maxSize > cfg.MaxBytes {
		t.Errorf("a batch carried %d body bytes, limit %d", rec.maxSize, cfg.MaxBytes)
	}
	for _, n := range rec.batches {
		if n > cfg.MaxEvents {
			t.Errorf("batch of %d, limit %d", n, cfg.MaxEvents)
		}
	}
	if len(rec.batches) >= 500 {
		t.Errorf("%d Send calls for 500 events: not batching", len(rec.batches))
	}
	s := w.Stats()
	if s.Enqueued != 500 || s.Delivered != 500 || s.Failed != 0 || s.DroppedTotal() != 0 {
		t.Errorf("stats %+v", s)
	}
	if v := testutil.ToFloat64(m.delivered.WithLabelValues("web")); v != 500 {
		t.Errorf("delivered metric %v", v)
	}
	if n := testutil.CollectAndCount(m.latency); n != 1 {
		t.Errorf("latency series %d", n)
	}
	if rec.closed != 1 {
		t.Errorf("target closed %d times", rec.closed)
	}
	if _, err := w.Enqueue(context.Background(), ds[:1]); !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after Run: %v, want ErrClosed", err)
	}
}

func TestDurableDeduplicatesByEventID(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	rec := newRecorder()
	w := newWorker(t, fastConfig("dedupe", Durable), rec, b)
	ds := deliveries("same", 20, 10)
	enqueueAll(t, w, ds)
	enqueueAll(t, w, ds) // the pipeline retried an enqueue: same ids, stored as the same message
	enqueueAll(t, w, ds[:1])
	enqueueAll(t, w, ds[:1]) // one delivery alone: "<id>/<target>"
	msgs, ids := streamContents(t, b)
	if want := append(idsOf(ds), ds[0].ID); msgs != 2 || fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("stream holds %d messages with %v, want 2 with %v", msgs, ids, want)
	}
}

// TestDurableAtLeastOnceAcrossRestart: deliveries are accepted while the
// target fails, then the process "crashes" (no acks, no drain: the client
// connection is dropped and the server stopped) while a Send is in flight;
// on the same data dir with a healthy target every accepted id arrives.
func TestDurableAtLeastOnceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	const n = 300
	ds := deliveries("crash", n, 256)

	b := openBus(t, dir)
	failing := newRecorder()
	failing.whole = func() error { return errUnavailable }
	cfg := fastConfig("hook", Durable)
	w := newWorker(t, cfg, failing, b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(ctx) }()
	for i := 0; i < n; i += 30 {
		enqueueAll(t, w, ds[i:min(i+30, n)])
	}
	waitFor(t, "retries while the target is down", func() bool { return w.Stats().Retried >= 2*n })

	// The target comes back but hangs mid-Send: received, never acknowledged.
	hang := make(chan struct{})
	failing.set(func(r *recorder) { r.whole = nil; r.block = hang })
	waitFor(t, "a send in flight", func() bool { return failing.distinct() > 0 })

	// Crash.
	b.Conn().Close()
	b.Server().Shutdown()
	b.Server().WaitForShutdown()
	close(hang)
	select {
	case <-runDone:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not notice the crash")
	}

	// Restart on the same store with a healthy target.
	b2 := openBus(t, dir)
	defer b2.Close()
	healthy := newRecorder()
	w2 := newWorker(t, cfg, healthy, b2)
	stop := running(t, w2)
	waitFor(t, "every accepted id", func() bool { return healthy.distinct() == n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got, _ := healthy.snapshot()
	dups := 0
	for _, d := range ds {
		if got[d.ID] == 0 {
			t.Errorf("%s lost", d.ID)
		}
		dups += got[d.ID] - 1
	}
	before, _ := failing.snapshot()
	t.Logf("%d ids; %d reached the target before the crash unacknowledged; %d duplicates after restart",
		n, len(before), dups)
	// Acks are applied by the server asynchronously: the stream empties soon after.
	waitFor(t, "an empty delivery stream", func() bool {
		info, err := b2.Delivery().Info(context.Background())
		return err == nil && info.State.Msgs == 0
	})
}

func TestDurableMaxAttemptsDeadLettersAndReplay(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	rec := newRecorder()
	rec.whole = func() error { return errors.New("dial tcp 127.0.0.1:9: connection refused") }
	cfg := fastConfig("api", Durable)
	cfg.MaxAttempts = 3
	w := newWorker(t, cfg, rec, b)
	ds := deliveries("dl", 5, 100)
	ds[0].Frame = []byte{1, 2, 3, 4}
	ds[0].Capture.Length = 4
	ds[0].Capture.CaptureLength = 4
	enqueueAll(t, w, ds)
	stop := running(t, w)
	waitFor(t, "5 dead letters", func() bool { return w.Stats().DeadLettered == 5 })

	_, tried := rec.snapshot()
	for _, d := range ds {
		if tried[d.ID] != 3 {
			t.Errorf("%s tried %d times, want 3", d.ID, tried[d.ID])
		}
	}
	q := NewDLQ(b)
	entries, err := q.List(context.Background(), "api", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 5 {
		t.Fatalf("%d entries", len(entries))
	}
	for i := 1; i < len(entries); i++ {
		if entries[i].Seq <= entries[i-1].Seq {
			t.Errorf("entries not in stream order: %d after %d", entries[i].Seq, entries[i-1].Seq)
		}
	}
	byID := append([]Entry(nil), entries...)
	slices.SortFunc(byID, func(a, b Entry) int { return strings.Compare(a.Delivery.ID, b.Delivery.ID) })
	for i, e := range byID {
		if e.Delivery.ID != ds[i].ID || string(e.Delivery.Body) != string(ds[i].Body) || e.Delivery.Rule != "r1" {
			t.Errorf("entry %d: %+v", i, e.Delivery)
		}
		if !strings.Contains(e.Error, "connection refused") || e.Reason != ReasonMaxAttempts ||
			e.Attempts != 3 || e.Subject != bus.DeliverySubject("api") || e.FailedAt.IsZero() {
			t.Errorf("entry %d: error %q reason %q attempts %d subject %q failed at %v",
				i, e.Error, e.Reason, e.Attempts, e.Subject, e.FailedAt)
		}
	}
	if string(byID[0].Delivery.Frame) != "\x01\x02\x03\x04" || byID[0].Delivery.Capture.Length != 4 {
		t.Errorf("frame not kept: %+v", byID[0].Delivery)
	}
	if two, err := q.List(context.Background(), "api", 2); err != nil || len(two) != 2 || two[1].Seq != entries[1].Seq {
		t.Errorf("List limit 2: %d entries, %v", len(two), err)
	}
	if other, err := q.List(context.Background(), "other", 0); err != nil || len(other) != 0 {
		t.Errorf("List of another target: %d entries, %v", len(other), err)
	}

	waitFor(t, "depth 0 with everything dead-lettered", func() bool { return w.Stats().QueueDepth == 0 })

	// Fix the target and replay; while the target holds the replayed
	// deliveries, they count in the queue depth.
	block := make(chan struct{})
	rec.set(func(r *recorder) { r.whole, r.block = nil, block })
	moved, err := q.Replay(context.Background(), "api")
	if err != nil || moved != 5 {
		t.Fatalf("Replay: moved %d, %v", moved, err)
	}
	waitFor(t, "depth 5 while the replayed deliveries are held", func() bool { return w.Stats().QueueDepth == 5 })
	rec.set(func(r *recorder) { r.block = nil })
	close(block)
	waitFor(t, "depth 0 once delivered", func() bool { return w.Stats().QueueDepth == 0 })
	waitFor(t, "replayed deliveries", func() bool { return rec.distinct() == 5 })
	got, _ := rec.snapshot()
	for _, d := range ds {
		if got[d.ID] != 1 {
			t.Errorf("%s delivered %d times after replay", d.ID, got[d.ID])
		}
	}
	if left, err := q.List(context.Background(), "api", 0); err != nil || len(left) != 0 {
		t.Errorf("after replay: %d entries, %v", len(left), err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestDurablePermanentErrorGoesStraightToDLQ(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	rec := newRecorder()
	rec.whole = func() error { return permErr{"400 bad request: unknown field"} }
	w := newWorker(t, fastConfig("strict", Durable), rec, b)
	ds := deliveries("p", 4, 10)
	enqueueAll(t, w, ds)
	running(t, w)
	waitFor(t, "dead letters", func() bool { return w.Stats().DeadLettered == 4 })
	_, tried := rec.snapshot()
	for _, d := range ds {
		if tried[d.ID] != 1 {
			t.Errorf("%s tried %d times, want 1", d.ID, tried[d.ID])
		}
	}
	entries, err := NewDLQ(b).List(context.Background(), "strict", 0)
	if err != nil || len(entries) != 4 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	for _, e := range entries {
		if e.Reason != ReasonPermanent || e.Attempts != 1 || e.Error != "400 bad request: unknown field" {
			t.Errorf("entry %+v", e)
		}
	}
	if s := w.Stats(); s.Retried != 0 || s.Failed != 4 {
		t.Errorf("stats %+v", s)
	}
}

func TestDurableRetryAfterHonoured(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	rec := newRecorder()
	const after = 300 * time.Millisecond
	rec.decide = func(d handoff.Delivery) error {
		if d.Attempt == 1 {
			return retryAfterErr{after}
		}
		return nil
	}
	cfg := fastConfig("throttled", Durable)
	// Backoff alone would wait 20-40s: only Retry-After can bring the retry in.
	cfg.BackoffMin, cfg.BackoffMax = 40*time.Second, 40*time.Second
	w := newWorker(t, cfg, rec, b)
	enqueueAll(t, w, deliveries("ra", 3, 10))
	running(t, w)
	waitFor(t, "deliveries after Retry-After", func() bool { return rec.distinct() == 3 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for id, ts := range rec.times {
		if len(ts) != 2 {
			t.Errorf("%s: %d attempts", id, len(ts))
			continue
		}
		if gap := ts[1].Sub(ts[0]); gap < after {
			t.Errorf("%s retried after %v, before Retry-After %v", id, gap, after)
		}
	}
}

func TestDurableBatchErrorPerItem(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	rec := newRecorder()
	// Odd-numbered deliveries fail transiently on their first attempt; #3
	// fails permanently; the others succeed at once.
	rec.decide = func(d handoff.Delivery) error {
		var n int
		for _, c := range d.ID[len(d.ID)-2:] {
			n = n*10 + int(c-'0')
		}
		switch {
		case n == 3:
			return permErr{"413 payload too large"}
		case n%2 == 1 && d.Attempt == 1:
			return errUnavailable
		}
		return nil
	}
	cfg := fastConfig("partial", Durable)
	cfg.Linger = 50 * time.Millisecond
	w := newWorker(t, cfg, rec, b)
	ds := deliveries("b", 10, 10)
	enqueueAll(t, w, ds)
	running(t, w)
	waitFor(t, "9 deliveries and 1 dead letter", func() bool {
		s := w.Stats()
		return s.Delivered == 9 && s.DeadLettered == 1
	})
	got, tried := rec.snapshot()
	for i, d := range ds {
		wantTried, wantGot := 1, 1
		switch {
		case i == 3:
			wantGot = 0
		case i%2 == 1:
			wantTried = 2
		}
		if tried[d.ID] != wantTried || got[d.ID] != wantGot {
			t.Errorf("%s: tried %d got %d, want %d and %d", d.ID, tried[d.ID], got[d.ID], wantTried, wantGot)
		}
	}
	entries, err := NewDLQ(b).List(context.Background(), "partial", 0)
	if err != nil || len(entries) != 1 || entries[0].Delivery.ID != ds[3].ID || entries[0].Error != "413 payload too large" {
		t.Fatalf("DLQ %+v, %v", entries, err)
	}
	// The ten were stored as one message; the four to retry as a second.
	waitFor(t, "an empty delivery stream", func() bool {
		info, err := b.Delivery().Info(context.Background())
		return err == nil && info.State.Msgs == 0 && info.State.LastSeq == 2
	})
}

// TestDurableRetryOfPartOfAStoredMessage: three of six deliveries stored
// together fail until their third attempt. The three that succeeded are not
// sent again, the others are retried with attempt numbers 1, 2, 3 and only
// after the backoff, and a delivery that runs out of attempts is
// dead-lettered with the right count.
func TestDurableRetryOfPartOfAStoredMessage(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	rec := newRecorder()
	var mu sync.Mutex
	seen := map[string][]int{}
	rec.decide = func(d handoff.Delivery) error {
		mu.Lock()
		seen[d.ID] = append(seen[d.ID], d.Attempt)
		mu.Unlock()
		n := int(d.ID[len(d.ID)-1] - '0')
		switch {
		case n == 5:
			return errUnavailable // never succeeds: dead-lettered after MaxAttempts
		case n >= 3 && d.Attempt < 3:
			return errUnavailable
		}
		return nil
	}
	cfg := fastConfig("part", Durable)
	cfg.MaxAttempts = 4
	cfg.BackoffMin, cfg.BackoffMax = 100*time.Millisecond, 100*time.Millisecond // no jitter
	w := newWorker(t, cfg, rec, b)
	ds := deliveries("x", 6, 10)
	enqueueAll(t, w, ds)
	if msgs, _ := streamContents(t, b); msgs != 1 {
		t.Fatalf("stored as %d messages, want 1", msgs)
	}
	running(t, w)
	waitFor(t, "5 deliveries and 1 dead letter", func() bool {
		s := w.Stats()
		return s.Delivered == 5 && s.DeadLettered == 1
	})
	mu.Lock()
	defer mu.Unlock()
	for i, d := range ds {
		want := []int{1}
		switch {
		case i == 5:
			want = []int{1, 2, 3, 4}
		case i >= 3:
			want = []int{1, 2, 3}
		}
		if fmt.Sprint(seen[d.ID]) != fmt.Sprint(want) {
			t.Errorf("%s: attempts %v, want %v", d.ID, seen[d.ID], want)
		}
	}
	rec.mu.Lock()
	for _, id := range []string{ds[3].ID, ds[5].ID} {
		ts := rec.times[id]
		for k := 1; k < len(ts); k++ {
			if gap := ts[k].Sub(ts[k-1]); gap < cfg.BackoffMin {
				t.Errorf("%s: attempt %d came %v after the one before, before the %v backoff", id, k+1, gap, cfg.BackoffMin)
			}
		}
	}
	rec.mu.Unlock()
	entries, err := NewDLQ(b).List(context.Background(), "part", 0)
	if err != nil || len(entries) != 1 || entries[0].Delivery.ID != ds[5].ID || entries[0].Attempts != 4 ||
		entries[0].Reason != ReasonMaxAttempts {
		t.Fatalf("DLQ %+v, %v", entries, err)
	}
	if s := w.Stats(); s.Retried != 3*2+1 || s.Failed != 3*2+1+1 {
		t.Errorf("stats %+v", s)
	}
}

func TestDurableMaxAgeDeadLetters(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	rec := newRecorder()
	rec.whole = func() error { return errUnavailable }
	cfg := fastConfig("old", Durable)
	cfg.MaxAge = time.Hour
	w := newWorker(t, cfg, rec, b)
	ds := deliveries("age", 2, 10)
	ds[0].Accepted = time.Now().Add(-2 * time.Hour) // accepted long ago (e.g. before an outage)
	enqueueAll(t, w, ds)
	running(t, w)
	waitFor(t, "the old delivery dead-lettered", func() bool { return w.Stats().DeadLettered == 1 })
	entries, err := NewDLQ(b).List(context.Background(), "old", 0)
	if err != nil || len(entries) != 1 || entries[0].Delivery.ID != ds[0].ID || entries[0].Reason != ReasonMaxAge ||
		entries[0].Error != errUnavailable.Error() {
		t.Fatalf("DLQ %+v, %v", entries, err)
	}
}

// TestDurableShutdownReleasesFetched: a graceful stop releases fetched but
// unsent messages at once, so a restart delivers them without waiting for
// the (here very long) ack wait.
func TestDurableShutdownReleasesFetched(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	cfg := fastConfig("slow", Durable)
	cfg.AckWait = 10 * time.Minute
	cfg.MaxEvents = 5
	hang := make(chan struct{})
	rec := newRecorder()
	rec.block = hang
	rec.whole = func() error { return errUnavailable }
	w := newWorker(t, cfg, rec, b)
	enqueueAll(t, w, deliveries("s", 50, 10))
	stop := running(t, w)
	waitFor(t, "a send in flight", func() bool {
		_, tried := rec.snapshot()
		return len(tried) > 0
	})
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	close(hang)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	rec2 := newRecorder()
	w2 := newWorker(t, cfg, rec2, b)
	running(t, w2)
	waitFor(t, "all 50 after restart", func() bool { return rec2.distinct() == 50 })
}

func TestDLQBadTargetName(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	q := NewDLQ(b)
	if _, err := q.List(context.Background(), "a.b", 0); err == nil {
		t.Error("List accepted a.b")
	}
	if _, err := q.Replay(context.Background(), "*"); err == nil {
		t.Error("Replay accepted *")
	}
	if n, err := q.Replay(context.Background(), "empty"); err != nil || n != 0 {
		t.Errorf("Replay of an empty DLQ: %d, %v", n, err)
	}
}

func TestDurableQueueDepth(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	rec := newRecorder()
	rec.whole = func() error { return errUnavailable }
	w := newWorker(t, fastConfig("depth", Durable), rec, b)
	enqueueAll(t, w, deliveries("q", 20, 10))
	running(t, w)
	waitFor(t, "depth 20 while the target is down", func() bool { return w.Stats().QueueDepth == 20 })
	rec.set(func(r *recorder) { r.whole = nil })
	waitFor(t, "depth 0 once delivered", func() bool { return w.Stats().QueueDepth == 0 })
	if s := w.Stats(); s.Delivered != 20 {
		t.Errorf("stats %+v", s)
	}
}

// TestDurableQueueDepthExactWithBatches: stored messages holding very
// different numbers of deliveries (one batch of 50, then 10 alone); the
// gauge is the number of deliveries stored and not yet delivered, exactly,
// at every point where that is known: all stored with the target down,
// after part of them were delivered, in a new worker started on the same
// store, and when all are delivered.
func TestDurableQueueDepthExactWithBatches(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	rec := newRecorder()
	rec.whole = func() error { return errUnavailable }
	cfg := fastConfig("depthx", Durable)
	w := newWorker(t, cfg, rec, b)
	enqueueAll(t, w, deliveries("big", 50, 10)) // one stored message of 50
	for i := range 10 {
		enqueueAll(t, w, deliveries(fmt.Sprintf("one%d", i), 1, 10)) // ten of 1
	}
	if msgs, ids := streamContents(t, b); msgs != 11 || len(ids) != 60 {
		t.Fatalf("stored %d messages holding %d deliveries, want 11 holding 60", msgs, len(ids))
	}
	depth := func(want int64) func() bool {
		return func() bool { return w.Stats().QueueDepth == want }
	}
	// steady: the gauge reaches want and stays there over more than two
	// of the server's refreshes while nothing is delivered.
	steady := func(what string, want int64) {
		t.Helper()
		waitFor(t, what, depth(want))
		for end := time.Now().Add(2*depthInterval + time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if got := w.Stats().QueueDepth; got != want {
				t.Fatalf("%s: depth %d, want %d", what, got, want)
			}
		}
	}
	stop := running(t, w)
	steady("depth 60 while the target is down", 60)

	// The singles get through, the batch does not.
	rec.set(func(r *recorder) {
		r.whole = nil
		r.decide = func(d handoff.Delivery) error {
			if strings.HasPrefix(d.ID, "big") {
				return errUnavailable
			}
			return nil
		}
	})
	waitFor(t, "the ten singles delivered", func() bool { return rec.distinct() == 10 })
	steady("depth 50 with the batch left", 50)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// A new worker on the same store counts what it finds there.
	w = newWorker(t, cfg, rec, b)
	running(t, w)
	steady("depth 50 in a new worker", 50)
	rec.set(func(r *recorder) { r.decide = nil })
	waitFor(t, "all delivered", func() bool { return rec.distinct() == 60 })
	waitFor(t, "depth 0", depth(0))
}
