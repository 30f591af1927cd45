package deliver

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wirebridge/wirebridge/internal/bus"
)

// TestDurableFullBufferRefusesAndCounts: Enqueue takes what fits in the
// store buffer and drops the rest as queue_full; what it took is stored.
func TestDurableFullBufferRefusesAndCounts(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	cfg := fastConfig("small", Durable)
	cfg.QueueSize = 5
	w := newWorker(t, cfg, newRecorder(), b)
	ds := deliveries("f", 20, 10)
	// The publisher starts once Enqueue has filled the buffer, so exactly
	// QueueSize are taken from one call on a fresh worker.
	n, err := w.Enqueue(context.Background(), ds)
	if err != nil || n != 5 {
		t.Fatalf("Enqueue took %d of 20 (%v), want the buffer's 5", n, err)
	}
	if s := w.Stats(); s.Dropped[ReasonQueueFull] != 15 {
		t.Errorf("dropped %v, want queue_full 15", s.Dropped)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := w.Stats()
	if s.Enqueued != 5 || s.StorePending != 0 || s.DroppedTotal() != 15 {
		t.Errorf("after Flush: %+v", s)
	}
	// The five waited together: one stored message holds them.
	if msgs, ids := streamContents(t, b); msgs != 1 || fmt.Sprint(ids) != fmt.Sprint(idsOf(ds[:5])) {
		t.Fatalf("stream holds %d messages with %v, want 1 with %v", msgs, ids, idsOf(ds[:5]))
	}
	// The buffer is free again.
	enqueueAll(t, w, deliveries("g", 5, 10))
}

// TestDurableEnqueueDoesNotWaitForTheStore: with the store not answering
// (a subscriber stands in for the stream and never acknowledges), Enqueue
// keeps returning at once: it fills the buffer, then counts queue_full.
func TestDurableEnqueueDoesNotWaitForTheStore(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	cfg := fastConfig("stuck", Durable)
	cfg.QueueSize = 50
	cfg.MaxInFlight = 1
	cfg.MaxEvents = 5             // deliveries per stored message
	cfg.SendTimeout = time.Minute // no publish times out during the test
	w := newWorker(t, cfg, newRecorder(), b)
	if err := b.JetStream().DeleteStream(context.Background(), bus.DeliveryStream); err != nil {
		t.Fatal(err)
	}
	got := make(chan *nats.Msg, 100)
	sub, err := b.Conn().ChanSubscribe(bus.DeliverySubject("stuck"), got)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	done := make(chan int)
	go func() {
		total := 0
		for i := range 10 {
			n, _ := w.Enqueue(context.Background(), deliveries("s"+itoa(i), 20, 10))
			total += n
		}
		done <- total
	}()
	var took int
	select {
	case took = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Enqueue blocked while the store did not answer")
	}
	select {
	case <-got: // the one publish in flight reached the "store"
	case <-time.After(20 * time.Second):
		t.Fatal("nothing was published")
	}
	// 50 buffered, plus what the publisher took out of the buffer before
	// the last Enqueue: the one message in flight (MaxInFlight) and the one
	// it is stalled on, each of 1 to MaxEvents deliveries.
	if took < 50 || took > 50+2*cfg.MaxEvents {
		t.Errorf("took %d of 200, want the buffer and the in-flight window (50 + 0 to %d)", took, 2*cfg.MaxEvents)
	}
	s := w.Stats()
	if s.Enqueued != 0 || s.Dropped[ReasonQueueFull] != uint64(200-took) || s.StorePending != int64(took) {
		t.Errorf("stats %+v: want nothing accepted, %d queue_full, %d pending", s, 200-took, took)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := w.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with nothing stored: %v, want the deadline", err)
	}
}

// TestDurableRunStoresBufferedAtShutdown: deliveries taken just before Run
// stops are stored before it returns (within ShutdownTimeout), and
// delivered by the next run.
func TestDurableRunStoresBufferedAtShutdown(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	cfg := fastConfig("late", Durable)
	rec := newRecorder()
	rec.whole = func() error { return errUnavailable } // nothing leaves before the restart
	w := newWorker(t, cfg, rec, b)
	stop := running(t, w)
	const n = 3000
	ds := deliveries("l", n, 100)
	for i := 0; i < n; i += 500 {
		if k, err := w.Enqueue(context.Background(), ds[i:i+500]); err != nil || k != 500 {
			t.Fatalf("Enqueue took %d of 500: %v", k, err)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Enqueued != n || s.StorePending != 0 || s.DroppedTotal() != 0 {
		t.Fatalf("after Run returned: %+v, want all %d stored", s, n)
	}
	rec2 := newRecorder()
	running(t, newWorker(t, cfg, rec2, b))
	waitFor(t, "every delivery after the restart", func() bool { return rec2.distinct() == n })
}
