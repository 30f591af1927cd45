//go:build integration

package deliver

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/disktest"
	"github.com/wirebridge/wirebridge/internal/handoff"
)

// randomDeliveries are deliveries with incompressible bodies, so that they
// fill the store as fast as their size says.
func randomDeliveries(prefix string, from, n, bodySize int) []handoff.Delivery {
	ds := make([]handoff.Delivery, n)
	for i := range ds {
		body := make([]byte, bodySize)
		rand.Read(body)
		ds[i] = handoff.Delivery{ID: fmt.Sprintf("%s-%06d", prefix, from+i), Rule: "r1", Body: body}
	}
	return ds
}

// TestDurableResumesAfterDiskFull: the store's file system fills up while
// the target is down; once space is freed and the target is back, every
// accepted delivery is delivered without a restart, and every delivery not
// accepted is counted dropped.
func TestDurableResumesAfterDiskFull(t *testing.T) {
	dir := disktest.Tmpfs(t, "size=8m")
	// A reserve of 1 byte: the store is written to until a write fails
	// (ENOSPC), which is the failure this test is about.
	octx, ocancel := context.WithTimeout(context.Background(), 20*time.Second)
	b, err := bus.Open(octx, bus.Config{DataDir: filepath.Join(dir, "nats"), MaxStorage: 512 << 20,
		MaxMemory: 16 << 20, StoreReserve: 1, StoreCheckInterval: 200 * time.Millisecond})
	ocancel()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec := newRecorder()
	rec.whole = func() error { return errUnavailable }
	cfg := fastConfig("full", Durable)
	cfg.SendTimeout = 2 * time.Second
	w := newWorker(t, cfg, rec, b)
	stop := running(t, w)

	// A filler leaves about 3 MiB for the store.
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	sent := 0
	deadline := time.Now().Add(60 * time.Second)
	for w.Stats().DroppedTotal() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no drop after %d deliveries: %+v", sent, w.Stats())
		}
		ds := randomDeliveries("f", sent, 20, 2000)
		n, err := w.Enqueue(context.Background(), ds)
		if err != nil {
			t.Fatal(err)
		}
		sent += len(ds)
		_ = n
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = w.Flush(ctx)
		cancel()
	}
	// A little more while full.
	for i := 0; i < 5; i++ {
		ds := randomDeliveries("f", sent, 20, 2000)
		w.Enqueue(context.Background(), ds)
		sent += len(ds)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	_ = w.Flush(ctx)
	cancel()
	s := w.Stats()
	t.Logf("full: sent %d, stats %+v", sent, s)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitForLong(t, 10*time.Second, "the bus to report the store unavailable", func() bool { return b.StoreErr() != nil })
	t.Logf("while full: %v", b.StoreErr())
	rec.set(func(r *recorder) { r.whole = nil })
	accepted := s.Enqueued
	waitForLong(t, 60*time.Second, "every accepted delivery delivered", func() bool {
		return uint64(rec.distinct()) >= accepted && w.Stats().Enqueued == uint64(rec.distinct())
	})
	waitForLong(t, 30*time.Second, "the store writable again", func() bool { return b.StoreErr() == nil })
	if b.StoreRepairs() == 0 {
		t.Error("the store was not reopened after its write error")
	}
	// New deliveries are stored and delivered too.
	more := randomDeliveries("g", 0, 50, 100)
	enqueueAll(t, w, more)
	waitForLong(t, 30*time.Second, "deliveries after the episode", func() bool {
		got, _ := rec.snapshot()
		for _, d := range more {
			if got[d.ID] == 0 {
				return false
			}
		}
		return true
	})
	waitForLong(t, 10*time.Second, "queue depth 0", func() bool { return w.Stats().QueueDepth == 0 })
	s = w.Stats()
	if s.Enqueued+s.DroppedTotal() != uint64(sent+len(more)) {
		t.Errorf("accepted %d + dropped %d != %d sent", s.Enqueued, s.DroppedTotal(), sent+len(more))
	}
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
}

func waitForLong(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
