package deliver

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
// leaves the stream). What was stored before the worker was built (by an
// earlier run) is counted once, when Run starts, by reading the messages up
// to the stream's last sequence at that time; Run consumes only after that
// count, and later publishes carry later sequences, so nothing is counted
// twice or missed.
//
// This is exact while this process is the only one storing and consuming
// the target's deliveries, which the embedded server guarantees (one
// process per data_dir). On an external cluster other wirebridge processes
// may share a target's consumer; there the gauge stays the server's count
// of pending messages times the mean deliveries per message lately seen
// (perMsgEstimate), an estimate.
type depthCount struct {
	mu     sync.Mutex
	n      int64
	scanTo uint64 // stream's last sequence when the worker was built (0: nothing to count)
}

// depthWorkers finds the worker of a target on a bus, for DLQ.Replay.
var depthWorkers sync.Map // depthKey -> *durableWorker

type depthKey struct {
	b      *bus.Bus
	target string
}

// addDepth moves the exact gauge by n deliveries.
func (w *durableWorker) addDepth(n int) {
	if !w.exact || n == 0 {
		return
	}
	w.depth.mu.Lock()
	w.depth.n += int64(n)
	w.m.setDepth(max(w.depth.n, 0))
	w.depth.mu.Unlock()
}

// ackCounted acks m; the exact gauge loses its deliveries.
func (w *durableWorker) ackCounted(m jetstream.Msg) error {
	if err := m.Ack(); err != nil {
		return err
	}
	w.addDepth(-storedCount(m.Data()))
	return nil
}

// initDepth prepares the exact count: it notes the stream's last sequence,
// up to which Run counts what is stored already.
func (w *durableWorker) initDepth(ctx context.Context) error {
	w.exact = w.b != nil && w.b.Embedded()
	if !w.exact {
		return nil
	}
	info, err := w.b.Delivery().Info(ctx)
	if err != nil {
		return fmt.Errorf("deliver: target %s: stream info: %w", w.cfg.Target, err)
	}
	w.depth.scanTo = info.State.LastSeq
	depthWorkers.Store(depthKey{w.b, w.cfg.Target}, w)
	return nil
}

// countStored adds the deliveries of the messages stored on the target's
// subject up to scanTo (Run calls it before consuming).
func (w *durableWorker) countStored(ctx context.Context) error {
	if !w.exact || w.depth.scanTo == 0 {
		w.addDepth(0)
		return nil
	}
	n := 0
	for seq := uint64(1); seq <= w.depth.scanTo; {
		m, err := w.b.Delivery().GetMsg(ctx, seq, jetstream.WithGetMsgSubject(w.subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return fmt.Errorf("deliver: target %s: count stored deliveries at seq %d: %w", w.cfg.Target, seq, err)
		}
		if m.Sequence > w.depth.scanTo {
			break
		}
		n += storedCount(m.Data)
		seq = m.Sequence + 1
	}
	w.depth.scanTo = 0
	w.addDepth(n)
	return nil
}

// replayedDepth tells target's worker on b, if any, that n deliveries were
// stored for it from outside the worker (DLQ.Replay).
func replayedDepth(b *bus.Bus, target string, n int) {
	if v, ok := depthWorkers.Load(depthKey{b, target}); ok {
		v.(*durableWorker).addDepth(n)
	}
}
