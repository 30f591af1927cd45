package deliver

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wirebridge/wirebridge/internal/event"
)

func TestDirectDeliversAndCopies(t *testing.T) {
	rec := newRecorder()
	cfg := fastConfig("file", Direct)
	cfg.MaxEvents = 16
	w := newWorker(t, cfg, rec, nil)
	ds := deliveries("d", 100, 64)
	want := make([]string, len(ds))
	for i := range ds {
		want[i] = string(ds[i].Body)
	}
	enqueueAll(t, w, ds)
	for i := range ds { // the caller reuses its buffers after Enqueue
		clear(ds[i].Body)
	}
	stop := running(t, w)
	waitFor(t, "100 deliveries", func() bool { return rec.distinct() == 100 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for i, d := range ds {
		if rec.bodies[d.ID] != want[i] {
			t.Errorf("%s: body %q, want %q", d.ID, rec.bodies[d.ID], want[i])
		}
	}
	for _, n := range rec.batches {
		if n > 16 {
			t.Errorf("batch of %d", n)
		}
	}
	if s := w.Stats(); s.Delivered != 100 || s.Enqueued != 100 || s.QueueDepth != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestDirectQueueFullDropsAreCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig("stdout", Direct)
	cfg.QueueSize = 10
	rec := newRecorder()
	w, err := New(context.Background(), cfg, rec, nil, m)
	if err != nil {
		t.Fatal(err)
	}
	// Run is not started: nothing drains the queue. Enqueue must not block.
	done := make(chan struct{})
	var n int
	go func() {
		defer close(done)
		n, err = w.Enqueue(context.Background(), deliveries("q", 25, 8))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Enqueue blocked on a full queue")
	}
	if err != nil || n != 10 {
		t.Fatalf("accepted %d, %v; want 10", n, err)
	}
	if n, _ := w.Enqueue(context.Background(), deliveries("more", 3, 8)); n != 0 {
		t.Fatalf("accepted %d into a full queue", n)
	}
	s := w.Stats()
	if s.Dropped[ReasonQueueFull] != 18 || s.QueueDepth != 10 {
		t.Fatalf("stats %+v", s)
	}
	if v := testutil.ToFloat64(m.dropped.WithLabelValues("stdout", ReasonQueueFull)); v != 18 {
		t.Errorf("dropped metric %v", v)
	}
	if v := testutil.ToFloat64(m.depth.WithLabelValues("stdout")); v != 10 {
		t.Errorf("depth metric %v", v)
	}
	stop := running(t, w)
	waitFor(t, "queued deliveries", func() bool { return rec.distinct() == 10 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestDirectRetries(t *testing.T) {
	cases := []struct {
		name         string
		decide       func(d event.Delivery) error
		maxAttempts  int
		wantGot      bool
		wantTried    int
		wantDropped  string
		wantRetried  uint64
		wantDelivers uint64
	}{
		{"transient then ok", func(d event.Delivery) error {
			if d.Attempt < 3 {
				return errUnavailable
			}
			return nil
		}, 5, true, 3, "", 2, 1},
		{"exhausted", func(event.Delivery) error { return errUnavailable }, 4, false, 4, ReasonMaxAttempts, 3, 0},
		{"permanent", func(event.Delivery) error { return permErr{"400"} }, 5, false, 1, ReasonPermanent, 0, 0},
		{"retry-after", func(d event.Delivery) error {
			if d.Attempt == 1 {
				return retryAfterErr{20 * time.Millisecond}
			}
			return nil
		}, 5, true, 2, "", 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder()
			rec.decide = c.decide
			cfg := fastConfig("t", Direct)
			cfg.MaxAttempts = c.maxAttempts
			w := newWorker(t, cfg, rec, nil)
			enqueueAll(t, w, deliveries("x", 1, 4))
			stop := running(t, w)
			waitFor(t, "settled", func() bool {
				s := w.Stats()
				return s.Delivered+s.DroppedTotal() == 1
			})
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			got, tried := rec.snapshot()
			s := w.Stats()
			if (got["x-00000"] == 1) != c.wantGot || tried["x-00000"] != c.wantTried {
				t.Errorf("got %d tried %d", got["x-00000"], tried["x-00000"])
			}
			if c.wantDropped != "" && s.Dropped[c.wantDropped] != 1 {
				t.Errorf("dropped %v, want 1 %s", s.Dropped, c.wantDropped)
			}
			if s.Retried != c.wantRetried || s.Delivered != c.wantDelivers {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestDirectShutdownFlushesThenRefuses(t *testing.T) {
	rec := newRecorder()
	cfg := fastConfig("archive", Direct)
	cfg.MaxEvents = 7
	w := newWorker(t, cfg, rec, nil)
	enqueueAll(t, w, deliveries("f", 200, 32))
	stop := running(t, w)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := rec.distinct(); n != 200 {
		t.Fatalf("flushed %d of 200 at shutdown", n)
	}
	if rec.closed != 1 {
		t.Errorf("target closed %d times", rec.closed)
	}
	n, err := w.Enqueue(context.Background(), deliveries("late", 2, 1))
	if n != 0 || !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after shutdown: %d, %v", n, err)
	}
	if s := w.Stats(); s.Dropped[ReasonShutdown] != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestDirectShutdownDeadline(t *testing.T) {
	rec := newRecorder()
	rec.whole = func() error { return errUnavailable } // never succeeds
	cfg := fastConfig("stuck", Direct)
	cfg.ShutdownTimeout = 200 * time.Millisecond
	cfg.MaxEvents = 1
	w := newWorker(t, cfg, rec, nil)
	enqueueAll(t, w, deliveries("z", 5, 1))
	stop := running(t, w)
	waitFor(t, "a failed attempt", func() bool { return w.Stats().Failed > 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Dropped[ReasonShutdown] != 5 || s.Delivered != 0 {
		t.Errorf("stats %+v", s)
	}
}
