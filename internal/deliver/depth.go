package deliver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirebridge/wirebridge/internal/bus"
)

// The durable queue-depth gauge: deliveries stored for the target and not
// yet delivered or dead-lettered.
//
// The server counts messages, and a stored message holds one delivery or a
// batch of them, so the gauge is counted here, in deliveries: plus the
// deliveries of every message stored on the target's subject (Enqueue's
// publishes, stores-again of part of a batch, dead letters replayed), minus
// those of every message acked (work-queue retention: an acked message
// leaves the stream).
//
// The count is (re)established by reading the subject's messages up to the
// stream's last sequence L, with Run between batches (so nothing is acked
// meanwhile): when Run starts (what an earlier run left), and after the bus
// reopened the store (an ack sent while the store was being reopened may
// have been lost, and its message comes back). Messages stored while the
// count runs are added afterwards if their sequence is above L (the count
// has the others), so nothing is counted twice or missed.
//
// This is exact while this process is the only one storing and consuming
// the target's deliveries, which the embedded server guarantees (one
// process per data_dir). On an external cluster other wirebridge processes
// may share a target's consumer; there the gauge stays the server's count
// of pending messages times the mean deliveries per message lately seen
// (perMsgEstimate), an estimate.
type depthCount struct {
	mu       sync.Mutex
	n        int64
	counting bool        // a count runs: stored messages go to during
	during   []storedMsg // messages stored while the count runs
	repairs  int         // the bus's StoreRepairs at the last count
	counted  bool        // a count was made
	retry    time.Time   // a failed count is tried again after this
}

type storedMsg struct {
	seq uint64
	n   int
}

// depthWorkers finds the worker of a target on a bus, for DLQ.Replay.
var depthWorkers sync.Map // depthKey -> *durableWorker

type depthKey struct {
	b      *bus.Bus
	target string
}

// storedDepth records a message of n deliveries stored at stream sequence
// seq (0: unknown, counted at once).
func (w *durableWorker) storedDepth(seq uint64, n int) {
	if !w.exact {
		return
	}
	w.depth.mu.Lock()
	defer w.depth.mu.Unlock()
	if w.depth.counting && seq != 0 {
		w.depth.during = append(w.depth.during, storedMsg{seq, n})
		return
	}
	w.depth.n += int64(n)
	w.m.setDepth(max(w.depth.n, 0))
}

// ackCounted acks m; the exact gauge loses its deliveries. While the store
// has failed a write, the stream cannot remove an acked message (it would
// stay stored, never delivered again): m is released instead, to be
// delivered again once the store is reopened.
func (w *durableWorker) ackCounted(m jetstream.Msg) error {
	if errors.Is(w.b.StoreErr(), bus.ErrStoreWriteFailed) {
		return m.NakWithDelay(storeWait)
	}
	if err := m.Ack(); err != nil {
		return err
	}
	if w.exact {
		w.depth.mu.Lock()
		w.depth.n -= int64(storedCount(m.Data()))
		w.m.setDepth(max(w.depth.n, 0))
		w.depth.mu.Unlock()
	}
	return nil
}

// initDepth decides how the gauge is kept (see depthCount).
func (w *durableWorker) initDepth() {
	w.exact = w.b != nil && w.b.Embedded()
	if w.exact {
		depthWorkers.Store(depthKey{w.b, w.cfg.Target}, w)
	}
}

// maybeCount counts the stored deliveries when Run starts and after each
// reopening of the store; Run calls it between batches. A count that fails
// (the store being reopened, say) keeps the running count and is tried
// again a second later; delivery does not wait for it.
func (w *durableWorker) maybeCount(ctx context.Context) {
	if !w.exact {
		return
	}
	repairs := w.b.StoreRepairs()
	if w.depth.counted && repairs == w.depth.repairs || time.Now().Before(w.depth.retry) {
		return
	}
	if w.depth.counted {
		// Reopened: acks that reached the store after its write failed
		// were recorded by the consumer, but their messages stayed.
		if err := w.purgeAcked(ctx); err != nil {
			w.depth.retry = time.Now().Add(time.Second)
			return
		}
	}
	if err := w.count(ctx); err != nil {
		w.depth.retry = time.Now().Add(time.Second)
		return
	}
	w.depth.counted, w.depth.repairs = true, repairs
}

// purgeAcked removes the target's messages at or below the consumer's ack
// floor: all acked, they would otherwise stay stored.
func (w *durableWorker) purgeAcked(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	defer cancel()
	info, err := w.cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("deliver: target %s: consumer info: %w", w.cfg.Target, err)
	}
	if floor := info.AckFloor.Stream; floor > 0 {
		if err := w.b.Delivery().Purge(ctx, jetstream.WithPurgeSubject(w.subject), jetstream.WithPurgeSequence(floor+1)); err != nil {
			return fmt.Errorf("deliver: target %s: purge acked messages: %w", w.cfg.Target, err)
		}
	}
	return nil
}

// count sets the gauge to the deliveries of the messages stored on the
// target's subject (nothing is acked while it runs).
func (w *durableWorker) count(ctx context.Context) error {
	w.depth.mu.Lock()
	w.depth.counting, w.depth.during = true, nil
	w.depth.mu.Unlock()
	n, last, err := w.countStream(ctx)
	w.depth.mu.Lock()
	defer w.depth.mu.Unlock()
	during := w.depth.during
	w.depth.counting, w.depth.during = false, nil
	if err != nil {
		// Keep the running count, with what was stored meanwhile.
		for _, s := range during {
			w.depth.n += int64(s.n)
		}
	} else {
		w.depth.n = int64(n)
		for _, s := range during {
			if s.seq > last {
				w.depth.n += int64(s.n)
			}
		}
	}
	w.m.setDepth(max(w.depth.n, 0))
	return err
}

// countStream reads the target's messages up to the stream's last
// sequence and returns the deliveries they hold and that sequence.
func (w *durableWorker) countStream(ctx context.Context) (int, uint64, error) {
	// Acks sent before are processed before what follows on the connection.
	fctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	err := w.b.Conn().FlushWithContext(fctx)
	cancel()
	if err != nil {
		return 0, 0, fmt.Errorf("deliver: target %s: count stored deliveries: %w", w.cfg.Target, err)
	}
	info, err := w.b.Delivery().Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("deliver: target %s: count stored deliveries: %w", w.cfg.Target, err)
	}
	last := info.State.LastSeq
	n := 0
	for seq := uint64(1); seq <= last; {
		m, err := w.b.Delivery().GetMsg(ctx, seq, jetstream.WithGetMsgSubject(w.subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return 0, 0, fmt.Errorf("deliver: target %s: count stored deliveries at seq %d: %w", w.cfg.Target, seq, err)
		}
		if m.Sequence > last {
			break
		}
		n += storedCount(m.Data)
		seq = m.Sequence + 1
	}
	return n, last, nil
}

// replayedDepth tells target's worker on b, if any, that a message of n
// deliveries was stored for it at seq from outside the worker (DLQ.Replay).
func replayedDepth(b *bus.Bus, target string, seq uint64, n int) {
	if v, ok := depthWorkers.Load(depthKey{b, target}); ok {
		v.(*durableWorker).storedDepth(seq, n)
	}
}
