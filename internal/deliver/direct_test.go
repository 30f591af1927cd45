package deliver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/wirebridge/wirebridge/internal/handoff"
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
		decide       func(d handoff.Delivery) error
		maxAttempts  int
		wantGot      bool
		wantTried    int
		wantDropped  string
		wantRetried  uint64
		wantDelivers uint64
	}{
		{"transient then ok", func(d handoff.Delivery) error {
			if d.Attempt < 3 {
				return errUnavailable
			}
			return nil
		}, 5, true, 3, "", 2, 1},
		{"exhausted", func(handoff.Delivery) error { return errUnavailable }, 4, false, 4, ReasonMaxAttempts, 3, 0},
		{"permanent", func(handoff.Delivery) error { return permErr{"400"} }, 5, false, 1, ReasonPermanent, 0, 0},
		{"retry-after", func(d handoff.Delivery) error {
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

// TestDirectQueueBounds: the queue takes the longest prefix of a call that
// fits both QueueSize and QueueBytes, counts the rest dropped, and a
// delivery larger than QueueBytes is taken only into an empty queue.
func TestDirectQueueBounds(t *testing.T) {
	body := func(n int) handoff.Delivery { return handoff.Delivery{ID: "x", Body: make([]byte, n)} }
	tests := []struct {
		name       string
		size, byts int
		calls      [][]handoff.Delivery
		took       []int
		depth      int64
	}{
		{"count bound", 5, 1 << 20, [][]handoff.Delivery{{body(10), body(10), body(10)}, {body(10), body(10), body(10)}}, []int{3, 2}, 5},
		{"byte bound within a call", 100, 100, [][]handoff.Delivery{{body(40), body(40), body(40), body(1)}}, []int{2}, 2},
		{"byte bound across calls", 100, 100, [][]handoff.Delivery{{body(60)}, {body(50)}, {body(40)}}, []int{1, 0, 1}, 2},
		{"frames count too", 100, 100, [][]handoff.Delivery{{{ID: "f", Body: make([]byte, 30), Frame: make([]byte, 30)}, {ID: "g", Body: make([]byte, 30), Frame: make([]byte, 30)}}}, []int{1}, 1},
		{"outsized into an empty queue", 100, 100, [][]handoff.Delivery{{body(500)}, {body(1)}}, []int{1, 0}, 1},
		{"outsized behind others", 100, 100, [][]handoff.Delivery{{body(10)}, {body(500)}}, []int{1, 0}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fastConfig("file", Direct)
			cfg.QueueSize, cfg.QueueBytes = tt.size, tt.byts
			w := newWorker(t, cfg, newRecorder(), nil) // Run not started: nothing drains
			offered, took := 0, 0
			for i, ds := range tt.calls {
				n, err := w.Enqueue(context.Background(), ds)
				if err != nil || n != tt.took[i] {
					t.Fatalf("call %d: took %d, %v; want %d", i, n, err, tt.took[i])
				}
				offered += len(ds)
				took += n
			}
			s := w.Stats()
			if s.Enqueued != uint64(took) || s.Dropped[ReasonQueueFull] != uint64(offered-took) || s.QueueDepth != tt.depth {
				t.Errorf("stats %+v; want enqueued %d, queue_full %d, depth %d", s, took, offered-took, tt.depth)
			}
		})
	}
}

// TestDirectBatchesAcrossCalls: deliveries enqueued by many small calls
// reach the target in order, in batches filled across the calls (up to
// MaxEvents), each intact although the caller reused its buffers.
func TestDirectBatchesAcrossCalls(t *testing.T) {
	rec := newRecorder()
	cfg := fastConfig("file", Direct)
	cfg.MaxEvents = 64
	cfg.Linger = time.Second // long: the batches must fill up, not time out
	var mu sync.Mutex
	var order []string
	rec.decide = func(d handoff.Delivery) error {
		mu.Lock()
		order = append(order, d.ID)
		mu.Unlock()
		return nil
	}
	w := newWorker(t, cfg, rec, nil)
	ds := deliveries("c", 640, 32)
	want := make([]string, len(ds))
	for i := range ds {
		want[i] = string(ds[i].Body)
	}
	stop := running(t, w)
	buf := make([]handoff.Delivery, 0, 5)
	for i := 0; i < len(ds); i += 5 { // calls of 5, as a pipeline worker's small flushes
		buf = buf[:0]
		for _, d := range ds[i : i+5] {
			d.Body = append([]byte(nil), d.Body...)
			buf = append(buf, d)
		}
		if n, err := w.Enqueue(context.Background(), buf); n != 5 || err != nil {
			t.Fatalf("Enqueue: %d, %v", n, err)
		}
		for _, d := range buf {
			clear(d.Body) // the caller's buffers are reused
		}
	}
	waitFor(t, "640 deliveries", func() bool { return rec.distinct() == 640 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, d := range ds {
		if order[i] != d.ID {
			t.Fatalf("delivery %d is %s, want %s", i, order[i], d.ID)
		}
		if rec.bodies[d.ID] != want[i] {
			t.Fatalf("%s: body %q, want %q", d.ID, rec.bodies[d.ID], want[i])
		}
	}
	full := 0
	for _, n := range rec.batches {
		if n > 64 {
			t.Errorf("batch of %d > MaxEvents", n)
		}
		if n == 64 {
			full++
		}
	}
	if full < 9 { // 640 = 10 x 64; the first Send may start before its batch filled
		t.Errorf("batches %v: want them filled to 64 across calls of 5", rec.batches)
	}
}

// TestDirectLingerFillsBatches: deliveries arriving one after another
// within Linger of the first go out in one batch; a batch that does not
// fill is sent once Linger has passed, not held for more.
func TestDirectLingerFillsBatches(t *testing.T) {
	rec := newRecorder()
	cfg := fastConfig("file", Direct)
	cfg.MaxEvents = 100
	cfg.Linger = 2 * time.Second // far longer than the gaps below, however slow the machine
	w := newWorker(t, cfg, rec, nil)
	stop := running(t, w)
	ds := deliveries("l", 3, 8)
	for i := range ds {
		enqueueAll(t, w, ds[i:i+1])
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, "3 deliveries", func() bool { return rec.distinct() == 3 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(rec.batches) != 1 || rec.batches[0] != 3 {
		t.Errorf("batches %v, want one of 3", rec.batches)
	}
}

// copyingRecorder is a recorder that declares it keeps nothing of a batch
// after Send (as the file target does): its worker reuses chunk buffers.
type copyingRecorder struct{ *recorder }

func (copyingRecorder) CopiesBatch() {}

// TestDirectReusedBuffersOutliveTheirBatch: with a target whose worker
// reuses chunk buffers, a delivery's body stays intact until its Send is
// settled, retries included, while later calls fill reused buffers. Calls of
// varied sizes against batches of 7 put deliveries of one call into several
// batches and one batch across several calls.
func TestDirectReusedBuffersOutliveTheirBatch(t *testing.T) {
	cases := []struct {
		name  string
		retry bool // every fifth delivery fails once and is retried
	}{
		{"delivered at once", false},
		{"with retries", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			if tc.retry {
				rec.decide = func(d handoff.Delivery) error {
					// r.mu is held: tried already counts this attempt.
					if d.Body[len(d.Body)-3]%5 == 0 && rec.tried[d.ID] == 1 {
						return errors.New("once")
					}
					return nil
				}
			}
			cfg := fastConfig("file", Direct)
			cfg.MaxEvents = 7
			cfg.BackoffMin, cfg.BackoffMax = time.Millisecond, 2*time.Millisecond
			w := newWorker(t, cfg, copyingRecorder{rec}, nil)
			if !w.(*directWorker).reuse {
				t.Fatal("the worker of a batchCopier does not reuse its buffers")
			}
			stop := running(t, w)
			const total = 3000
			want := make(map[string]string, total)
			var call []handoff.Delivery
			body := make([]byte, 0, 4096)
			for i, size := 0, 1; i < total; size = size%23 + 1 {
				call, body = call[:0], body[:0]
				for j := 0; j < size && i < total; j, i = j+1, i+1 {
					start := len(body)
					body = fmt.Appendf(body, `{"n":%d,"pad":"%s","k":"%c"}`, i, strings.Repeat("x", i%97), '0'+byte(i%10))
					d := handoff.Delivery{ID: fmt.Sprintf("r-%05d", i), Body: body[start:len(body):len(body)]}
					want[d.ID] = string(d.Body)
					call = append(call, d)
				}
				if n, err := w.Enqueue(context.Background(), call); n != len(call) || err != nil {
					t.Fatalf("Enqueue: %d of %d, %v", n, len(call), err)
				}
				clear(body[:cap(body)]) // the caller reuses its buffer
			}
			waitFor(t, "every delivery", func() bool { return rec.distinct() == total })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for id, b := range want {
				if rec.bodies[id] != b {
					t.Fatalf("%s: body %q, want %q", id, rec.bodies[id], b)
				}
			}
		})
	}
}

func TestBufClass(t *testing.T) {
	cases := []struct {
		name   string
		size   int
		want   int // capacity of the class
		pooled bool
	}{
		{"empty", 0, 512, true},
		{"one byte", 1, 512, true},
		{"smallest class exactly", 512, 512, true},
		{"just over", 513, 1024, true},
		{"a worker's flush", 64 * 450, 32 << 10, true},
		{"largest class exactly", 1 << 20, 1 << 20, true},
		{"larger than every class", 1<<20 + 1, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, ok := bufClass(tc.size)
			if ok != tc.pooled {
				t.Fatalf("bufClass(%d) pooled %v, want %v", tc.size, ok, tc.pooled)
			}
			if !ok {
				return
			}
			if k < 0 || k >= bufClasses || minPooledBuf<<k != tc.want {
				t.Errorf("bufClass(%d) = %d (%d bytes), want %d bytes", tc.size, k, minPooledBuf<<k, tc.want)
			}
			if cb := getBuf(tc.size); cap(cb.b) != tc.want || len(cb.b) != 0 {
				t.Errorf("getBuf(%d): len %d cap %d, want an empty buffer of %d", tc.size, len(cb.b), cap(cb.b), tc.want)
			}
		})
	}
}
