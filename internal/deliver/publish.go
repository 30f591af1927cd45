package deliver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/handoff"
)

// Durable intake: Enqueue never waits for JetStream.
//
//	Enqueue ──► [storeQueue: QueueSize deliveries] ──► publisher ──► PublishMsgAsync ──► JetStream
//	 (copies, never blocks;                           (one goroutine while   (at most MaxInFlight
//	  full: dropped queue_full)                         there is work)         unacknowledged)
//
// The publisher stores what is waiting together: one message holds up to
// MaxEvents deliveries (a batch, see the package documentation) within
// min(MaxBytes, storedMaxBytes), so that under load a JetStream publish,
// acknowledgement, fetch and ack are shared by many deliveries; a delivery
// that arrives alone is stored alone, at once.
//
// The server's acknowledgement of a publish is what "accepted" (stored,
// survives a kill -9) means: it is counted in Stats.Enqueued by the ack
// handler, for every delivery the message holds. A refused publish (stream
// full, timeout, connection closed) counts its deliveries dropped (refused).
// A delivery taken by Enqueue but not yet stored is in process memory only,
// like a datagram in a socket buffer: a kill -9 loses it. Flush waits until everything taken before the call is settled.

// staged is one delivery taken by Enqueue, encoded, waiting to be published.
type staged struct {
	id   string // the event id (the stored message's Nats-Msg-Id starts with the first one's)
	data []byte // the stored envelope
}

// storeQueue is the bounded buffer between Enqueue and the publisher, with
// the counters Flush waits on.
type storeQueue struct {
	q      chan staged
	active atomic.Bool // a publisher goroutine is running

	taken   atomic.Uint64 // deliveries Enqueue put in q
	settled atomic.Uint64 // of those: stored, refused or abandoned
	refused atomic.Uint64 // of those: refused
	lastErr atomic.Pointer[error]

	waitMu sync.Mutex
	waitCh chan struct{} // closed when settled moves; nil when nobody waits

	// gaugeMu serialises computing and setting the StorePending gauge, so
	// the last update after the last change sets the right value (without
	// it an Enqueue's stale reading could land after the last ack's).
	gaugeMu sync.Mutex
}

// report sets m's StorePending gauge to the current pending count.
func (s *storeQueue) report(m *meter) {
	s.gaugeMu.Lock()
	m.setStorePending(s.pending())
	s.gaugeMu.Unlock()
}

func (s *storeQueue) init(size int) { s.q = make(chan staged, size) }

// put buffers p unless the buffer is full.
func (s *storeQueue) put(p staged) bool {
	select {
	case s.q <- p:
		return true
	default:
		return false
	}
}

// pending is how many taken deliveries are not settled yet.
func (s *storeQueue) pending() int64 {
	settled := s.settled.Load() // first: settled never passes taken for long
	return max(int64(s.taken.Load())-int64(settled), 0)
}

// settle records n settled deliveries, updates m's StorePending gauge and
// then wakes Flush callers (so a caller woken by the last settle reads the
// final gauge).
func (s *storeQueue) settle(n int, m *meter) {
	s.settled.Add(uint64(n))
	s.report(m)
	s.waitMu.Lock()
	if s.waitCh != nil {
		close(s.waitCh)
		s.waitCh = nil
	}
	s.waitMu.Unlock()
}

// wait returns a channel closed at the next settle.
func (s *storeQueue) wait() <-chan struct{} {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	if s.waitCh == nil {
		s.waitCh = make(chan struct{})
	}
	return s.waitCh
}

// abandon drops what is still buffered (counted as shutdown): used when
// Run's flush deadline passed.
func (s *storeQueue) abandon(m *meter) {
	n := 0
	for {
		select {
		case <-s.q:
			n++
			continue
		default:
		}
		break
	}
	m.addDropped(ReasonShutdown, n)
	s.settle(n, m)
}

// Enqueue copies each delivery into the target's store buffer (encoded as
// the stored envelope) and returns at once; a publisher goroutine stores
// them in JetStream. When the buffer is full the rest are dropped and
// counted (queue_full). The return value counts deliveries taken, not yet
// stored: Stats.Enqueued counts those the server acknowledged, and Flush
// waits for them.
func (w *durableWorker) Enqueue(_ context.Context, ds []handoff.Delivery) (int, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.m.addDropped(ReasonShutdown, len(ds))
		return 0, ErrClosed
	}
	now := time.Now()
	n := 0
	for i := range ds {
		if len(w.store.q) == cap(w.store.q) { // full: no encoding for nothing
			w.m.addDropped(ReasonQueueFull, len(ds)-i)
			break
		}
		d := ds[i]
		if d.Accepted.IsZero() {
			d.Accepted = now
		}
		p := staged{id: d.ID, data: appendEnvelope(make([]byte, 0, envelopeSize(&d)), &d)}
		if !w.store.put(p) { // another producer took the last slot
			w.m.addDropped(ReasonQueueFull, len(ds)-i)
			break
		}
		n++
	}
	if n > 0 {
		w.store.taken.Add(uint64(n))
		w.store.report(w.m)
		w.startPublisher()
	}
	return n, nil
}

// startPublisher runs publish unless it is running already.
func (w *durableWorker) startPublisher() {
	if w.store.active.CompareAndSwap(false, true) {
		go w.publish()
	}
}

// publish stores buffered deliveries until the buffer is empty, then ends:
// what is waiting goes into one message, up to MaxEvents deliveries and
// min(MaxBytes, storedMaxBytes) bytes. PublishMsgAsync waits here (never in
// Enqueue) while MaxInFlight publishes are unacknowledged; the ack and error
// handlers settle each message's deliveries.
func (w *durableWorker) publish() {
	limit := min(w.cfg.MaxBytes, storedMaxBytes)
	var (
		batch []staged
		items [][]byte
		carry *staged // taken from the buffer, did not fit the last message
	)
	for {
		batch = batch[:0]
		if carry != nil {
			batch, carry = append(batch, *carry), nil
		}
		size := 0
		if len(batch) > 0 {
			size = len(batch[0].data)
		}
	fill:
		for len(batch) < w.cfg.MaxEvents {
			select {
			case p := <-w.store.q:
				if len(batch) > 0 && size+len(p.data) > limit {
					carry = &p
					break fill
				}
				batch = append(batch, p)
				size += len(p.data)
			default:
				break fill
			}
		}
		if len(batch) > 0 {
			w.publishBatch(batch, &items)
			continue
		}
		w.store.active.Store(false)
		// An Enqueue that saw active==true just before it was cleared left
		// its deliveries for this goroutine: look again.
		if len(w.store.q) == 0 || !w.store.active.CompareAndSwap(false, true) {
			return
		}
	}
}

// publishBatch stores batch as one message: a plain envelope for one
// delivery, a batch for more. Its Nats-Msg-Id is "<first event id>/<target>"
// or "<first event id>+<count>/<target>"; items is scratch space.
func (w *durableWorker) publishBatch(batch []staged, items *[][]byte) {
	msg := &nats.Msg{Subject: w.subject, Data: batch[0].data}
	id := batch[0].id + "/" + w.cfg.Target
	if len(batch) > 1 {
		*items = (*items)[:0]
		size := 0
		for _, p := range batch {
			*items = append(*items, p.data)
			size += len(p.data) + binary.MaxVarintLen32
		}
		msg.Data = compressBatch(appendBatch(make([]byte, 0, 3+binary.MaxVarintLen32+size), *items))
		id = batch[0].id + "+" + strconv.Itoa(len(batch)) + "/" + w.cfg.Target
	}
	for start := time.Now(); ; {
		if err := w.b.StoreErr(); err != nil {
			// The store takes no writes (file system full): a publish
			// would wait SendTimeout for an answer that may not come.
			w.releaseUnanswered(err)
			w.refused(w.js, msg, err)
			return
		}
		// While MaxInFlight publishes wait for their answer, wait for one
		// (at most SendTimeout in all), looking at the store in between.
		_, err := w.js.PublishMsgAsync(msg, jetstream.WithMsgID(id),
			jetstream.WithStallWait(min(stallStep, w.cfg.SendTimeout)))
		if errors.Is(err, jetstream.ErrTooManyStalledMsgs) && time.Since(start) < w.cfg.SendTimeout {
			continue
		}
		if err != nil {
			w.refused(w.js, msg, err)
		}
		return
	}
}

// stallStep is how long publishBatch waits at a time for a free slot in
// the async-publish window.
const stallStep = 250 * time.Millisecond

// releaseUnanswered, when err says a stream's store failed a write (the
// server leaves publishes to it unanswered), settles every publish still
// waiting for its answer as refused, at once rather than after
// SendTimeout. Had one been stored after all, it is delivered though
// counted dropped, as for a timeout.
func (w *durableWorker) releaseUnanswered(err error) {
	if errors.Is(err, bus.ErrStoreWriteFailed) {
		w.js.CleanupPublisher() // calls refused for each
	}
}

// stored is the async-publish ack handler: the message's deliveries are
// accepted.
func (w *durableWorker) stored(_ jetstream.JetStream, msg *nats.Msg, ack *jetstream.PubAck) {
	n := storedCount(msg.Data)
	w.perMsg.observe(n)
	if ack != nil && !ack.Duplicate { // a duplicate is stored (and counted) once
		w.storedDepth(ack.Sequence, n)
	}
	w.m.addEnqueued(n)
	w.store.settle(n, w.m)
}

// refused is the async-publish error handler (and publish's, for a publish
// that did not leave): the message's deliveries are not known to be stored.
// They may yet be (an ack that timed out), in which case they are delivered
// though counted dropped; never the other way round.
func (w *durableWorker) refused(_ jetstream.JetStream, msg *nats.Msg, err error) {
	n := storedCount(msg.Data)
	w.m.addDropped(ReasonRefused, n)
	w.store.lastErr.Store(&err)
	w.store.refused.Add(uint64(n))
	w.store.settle(n, w.m)
}

// Flush waits until every delivery Enqueue took before the call is stored
// in JetStream or counted dropped, or until ctx ends. It reports publishes
// refused while it waited (they are counted dropped, reason refused).
func (w *durableWorker) Flush(ctx context.Context) error {
	want := w.store.taken.Load()
	refused := w.store.refused.Load()
	if err := w.waitSettled(ctx, want, nil, nil); err != nil {
		return fmt.Errorf("deliver: target %s: flush: %w", w.cfg.Target, err)
	}
	// The loop can see the last settle before that settle's gauge update.
	w.store.report(w.m)
	if n := w.store.refused.Load() - refused; n > 0 {
		var last error = errors.New("unknown error")
		if e := w.store.lastErr.Load(); e != nil {
			last = *e
		}
		return fmt.Errorf("deliver: target %s: %d publishes refused: %w", w.cfg.Target, n, last)
	}
	return nil
}

// waitSettled waits until want deliveries are settled (stored or counted
// dropped) or ctx ends (its error); onTick runs at every tick (a nil tick
// never comes).
func (w *durableWorker) waitSettled(ctx context.Context, want uint64, tick <-chan time.Time, onTick func()) error {
	for w.store.settled.Load() < want {
		ch := w.store.wait()
		if w.store.settled.Load() >= want {
			break
		}
		select {
		case <-ch:
		case <-tick:
			onTick()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// flushAtStop waits, within ctx, until everything Enqueue took is stored or
// counted dropped. While the store takes no writes, publishes in flight are
// not waited for: they are counted dropped (refused).
func (w *durableWorker) flushAtStop(ctx context.Context) error {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	return w.waitSettled(ctx, w.store.taken.Load(), t.C, func() { w.releaseUnanswered(w.b.StoreErr()) })
}
