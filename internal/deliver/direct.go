package deliver

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/wirebridge/wirebridge/internal/event"
)

// directWorker queues deliveries in memory and sends them from Run.
type directWorker struct {
	cfg Config
	t   Target
	m   *meter
	q   chan event.Delivery

	mu     sync.RWMutex // Enqueue holds it shared; stopIntake exclusively
	closed bool
}

func newDirect(cfg Config, t Target, m *meter) *directWorker {
	return &directWorker{cfg: cfg, t: t, m: m, q: make(chan event.Delivery, cfg.QueueSize)}
}

func (w *directWorker) Target() string { return w.cfg.Target }
func (w *directWorker) Mode() Mode     { return Direct }
func (w *directWorker) Stats() Stats   { return w.m.stats() }

// Enqueue copies each delivery's Body and Frame (the caller's buffers may be
// reused once it returns) and queues it without blocking.
func (w *directWorker) Enqueue(_ context.Context, ds []event.Delivery) (int, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.m.addDropped(ReasonShutdown, len(ds))
		return 0, ErrClosed
	}
	now := time.Now()
	n := 0
enqueue:
	for i := range ds {
		d := ds[i]
		buf := make([]byte, len(d.Body)+len(d.Frame))
		copy(buf, d.Body)
		copy(buf[len(d.Body):], d.Frame)
		d.Body = buf[:len(d.Body):len(d.Body)]
		if d.Frame != nil {
			d.Frame = buf[len(d.Body):]
		}
		d.Target = w.cfg.Target
		if d.Accepted.IsZero() {
			d.Accepted = now
		}
		select {
		case w.q <- d:
			n++
		default:
			w.m.addDropped(ReasonQueueFull, len(ds)-i)
			break enqueue
		}
	}
	w.m.addEnqueued(n)
	w.m.setDepth(int64(len(w.q)))
	return n, nil
}

// Flush returns at once: a direct delivery is accepted when Enqueue queues it.
func (w *directWorker) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("deliver: target %s: flush: %w", w.cfg.Target, err)
	}
	return nil
}

func (w *directWorker) stopIntake() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// Run sends queued deliveries until ctx ends, then flushes the queue for up
// to ShutdownTimeout (retrying as usual); what is left is dropped as shutdown.
func (w *directWorker) Run(ctx context.Context) error {
	// flush lives until ShutdownTimeout after ctx ends: sends and backoff
	// waits in progress at shutdown continue until then.
	flush, cancelFlush := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelFlush()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(w.cfg.ShutdownTimeout, cancelFlush)
		context.AfterFunc(flush, func() { t.Stop() })
	})
	defer stop()
	defer w.t.Close()

	batch := make([]event.Delivery, 0, w.cfg.MaxEvents)
	out := make([]outcome, w.cfg.MaxEvents)
	var carry *event.Delivery
	for {
		var first event.Delivery
		if carry != nil {
			first, carry = *carry, nil
		} else {
			var ok bool
			if first, ok = w.next(ctx); !ok {
				w.m.setDepth(0)
				return nil
			}
		}
		if flush.Err() != nil {
			w.stopIntake()
			w.m.addDropped(ReasonShutdown, 1+len(w.q))
			w.m.setDepth(0)
			return nil
		}
		batch = append(batch[:0], first)
		size := batchBytes(&first)
	fill:
		for len(batch) < w.cfg.MaxEvents {
			select {
			case d := <-w.q:
				if size+batchBytes(&d) > w.cfg.MaxBytes {
					carry = &d
					break fill
				}
				batch = append(batch, d)
				size += batchBytes(&d)
			default:
				break fill
			}
		}
		w.m.setDepth(int64(len(w.q)))
		w.send(flush, batch, out[:len(batch)])
	}
}

// next waits for a delivery. Once ctx ends it stops intake and returns only
// what is still queued.
func (w *directWorker) next(ctx context.Context) (event.Delivery, bool) {
	select {
	case d := <-w.q:
		return d, true
	case <-ctx.Done():
	}
	w.stopIntake()
	select {
	case d := <-w.q:
		return d, true
	default:
		return event.Delivery{}, false
	}
}

// send delivers batch, retrying failed deliveries in memory.
func (w *directWorker) send(ctx context.Context, batch []event.Delivery, out []outcome) {
	for attempt := 1; len(batch) > 0; attempt++ {
		for i := range batch {
			batch[i].Attempt = attempt
		}
		sctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
		err := w.t.Send(sctx, batch)
		cancel()
		out = out[:len(batch)]
		classify(err, out)
		now := time.Now()
		retry := batch[:0]
		var delay time.Duration
		delivered, failed := 0, 0
		for i := range batch {
			o := out[i]
			if o.err == nil {
				delivered++
				w.m.observeLatency(batch[i].Accepted, now)
				continue
			}
			failed++
			d := w.cfg.retryDelay(o, attempt)
			if reason, stop := w.cfg.giveUp(o, attempt, batch[i].Accepted, d, now); stop {
				w.m.addDropped(reason, 1)
				continue
			}
			delay = max(delay, d)
			retry = append(retry, batch[i]) // in place: index <= i
		}
		w.m.addDelivered(delivered)
		w.m.addFailed(failed)
		if len(retry) == 0 {
			return
		}
		w.m.addRetried(len(retry))
		if !sleep(ctx, delay) {
			w.m.addDropped(ReasonShutdown, len(retry))
			return
		}
		batch = retry
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
