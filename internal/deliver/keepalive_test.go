package deliver

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wirebridge/wirebridge/internal/handoff"
)

// attemptsSeen records the Attempt of every delivery a target is sent.
type attemptsSeen struct {
	*recorder
	attempts chan [2]any // id, attempt
}

func (a attemptsSeen) Send(ctx context.Context, batch []handoff.Delivery) error {
	for _, d := range batch {
		select {
		case a.attempts <- [2]any{d.ID, d.Attempt}:
		default:
		}
	}
	return a.recorder.Send(ctx, batch)
}

// TestDurableSlowSendNotRedelivered: worker A holds a fetched batch (and the
// messages fetched for its next batch) in a Send that lasts three AckWaits;
// worker B, a second replica on the same consumer, is idle and pulling all
// along. The server must give B nothing: A keeps every held message in
// progress, and each delivery is sent exactly once. The control case turns
// A's progress reports off and shows that the scenario does expose the
// redelivery.
func TestDurableSlowSendNotRedelivered(t *testing.T) {
	cases := []struct {
		name       string
		keepAlive  bool
		wantStolen bool // B is sent some of A's messages
	}{
		{"in progress reports", true, false},
		{"control: no reports", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := openBus(t, t.TempDir())
			defer b.Close()
			const ackWait = time.Second
			cfg := fastConfig("slow", Durable)
			cfg.AckWait = ackWait
			cfg.MaxEvents = 10
			cfg.MaxBytes = 700 // two ~300-byte stored deliveries per Send: the other four wait as the next batch
			cfg.SendTimeout = time.Minute

			slow := newRecorder()
			hang := make(chan struct{})
			slow.block = hang
			wa, err := newDurable(context.Background(), cfgDefaults(t, cfg), slow, b, b.Conn(), (*Metrics)(nil).forTarget("slow"))
			if err != nil {
				t.Fatal(err)
			}
			if !c.keepAlive {
				wa.every = time.Hour
			}
			ds := deliveries("held", 6, 256)
			enqueueAll(t, wa, ds)
			stopA := running(t, wa)
			waitFor(t, "A's first Send in flight", func() bool {
				_, tried := slow.snapshot()
				return len(tried) > 0
			})
			if _, tried := slow.snapshot(); len(tried) != 2 {
				t.Fatalf("A's first Send carries %d deliveries, want 2", len(tried))
			}

			fast := newRecorder()
			wb := newWorker(t, cfg, fast, b)
			stopB := running(t, wb)
			time.AfterFunc(3*ackWait, func() { close(hang) })
			waitFor(t, "every delivery made", func() bool {
				got, _ := slow.snapshot()
				other, _ := fast.snapshot()
				for _, d := range ds {
					if got[d.ID]+other[d.ID] == 0 {
						return false
					}
				}
				return true
			})
			if err := stopA(); err != nil {
				t.Fatal(err)
			}
			if err := stopB(); err != nil {
				t.Fatal(err)
			}
			_, byA := slow.snapshot()
			_, byB := fast.snapshot()
			if (len(byB) > 0) != c.wantStolen {
				t.Errorf("B was sent %d of A's deliveries (%v), want stolen: %v", len(byB), byB, c.wantStolen)
			}
			if c.wantStolen {
				return
			}
			for _, d := range ds {
				if n := byA[d.ID] + byB[d.ID]; n != 1 {
					t.Errorf("%s sent %d times, want once", d.ID, n)
				}
			}
		})
	}
}

// TestDurableCrashRedeliversWithinAckWait: a process holding a batch in a
// hung Send dies (its connection drops: no ack, no nak, no progress
// report). Another process on the same consumer gets the batch once AckWait
// has passed since the dead one last reported progress.
func TestDurableCrashRedeliversWithinAckWait(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	const ackWait = time.Second
	cfg := fastConfig("crash", Durable)
	cfg.AckWait = ackWait
	cfg.SendTimeout = time.Minute

	nc, err := nats.Connect("", nats.InProcessServer(b.Server()))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hung := newRecorder()
	hang := make(chan struct{})
	defer close(hang)
	hung.block = hang
	wa, err := newDurable(context.Background(), cfgDefaults(t, cfg), hung, b, nc, (*Metrics)(nil).forTarget("crash"))
	if err != nil {
		t.Fatal(err)
	}
	ds := deliveries("dead", 20, 64)
	enqueueAll(t, wa, ds)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = wa.Run(ctx) }()
	waitFor(t, "the batch in flight", func() bool {
		_, tried := hung.snapshot()
		return len(tried) == len(ds)
	})

	// B pulls all along; while A lives and reports progress, B gets nothing.
	healthy := newRecorder()
	seen := attemptsSeen{healthy, make(chan [2]any, 100)}
	wb := newWorker(t, cfg, seen, b)
	running(t, wb)
	time.Sleep(3 * ackWait)
	if n := healthy.distinct(); n != 0 {
		t.Fatalf("B was sent %d deliveries while A was alive and holding them", n)
	}
	nc.Close() // A crashes
	crashed := time.Now()
	waitFor(t, "every delivery on B", func() bool { return healthy.distinct() == len(ds) })
	took := time.Since(crashed)
	t.Logf("redelivered %v after the crash (AckWait %v)", took.Round(10*time.Millisecond), ackWait)
	// Lenient: the point is "about AckWait", not the seconds (or the minute
	// of the old 2*SendTimeout+10s default) a crash used to cost.
	if took > 10*ackWait {
		t.Errorf("redelivery took %v, want about AckWait %v", took, ackWait)
	}
	close(seen.attempts)
	for p := range seen.attempts {
		if p[1].(int) != 2 {
			t.Errorf("%s reached B at attempt %d, want 2 (a redelivery)", p[0], p[1])
		}
	}
}

// cfgDefaults applies Config defaults as New does (for tests that call
// newDurable directly).
func cfgDefaults(t *testing.T, cfg Config) Config {
	t.Helper()
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	return cfg
}
