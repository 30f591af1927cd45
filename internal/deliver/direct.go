package deliver

import (
	"context"
	"fmt"
	"math/bits"
	"slices"
	"sync"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
)

// directWorker queues deliveries in memory and sends them from Run.
//
// The queue holds chunks: each Enqueue call's deliveries, their bodies and
// frames copied, go in as one chunk (one channel operation per call).
// queued and queuedBytes count the deliveries in the queue and their bytes,
// bounded by QueueSize and QueueBytes; as each chunk holds at least one
// delivery, the channel (capacity QueueSize) is never full when Enqueue has
// room. Run takes deliveries from the chunks in order and batches up to
// MaxEvents/MaxBytes across chunk boundaries.
//
// The chunks and their delivery slices are pooled. For a target whose Send
// keeps nothing of the batch once it returns (see batchCopier: the file
// target) a call's copies go into one buffer from a pool of size classes
// (at most twice the call's bytes, so memory follows QueueBytes), which goes
// back to its pool with the chunk once every delivery in the chunk is
// settled: the Send of the batch that took its last delivery returned. At
// 100,000s of events a second the bodies then cost no allocation and no
// garbage collection. For other targets the copies go into blocks freed by
// the collector.
type directWorker struct {
	cfg   Config
	t     Target
	m     *meter
	q     chan *chunk
	reuse bool // the target is a batchCopier: chunk buffers are reused

	// The deliveries in q and in Run's partly taken chunk, and their Body
	// and Frame bytes: bounded by QueueSize and QueueBytes.
	qmu         sync.Mutex
	queued      int
	queuedBytes int

	mu     sync.RWMutex // Enqueue holds it shared; stopIntake exclusively
	closed bool
}

// batchCopier is implemented by targets whose Send keeps no reference to
// the batch's Body or Frame bytes once it returns (a file appends them, for
// example, where an HTTP client's transport may still read a request body
// after the call gave up): their worker reuses the bytes' buffers.
type batchCopier interface{ CopiesBatch() }

// Reused chunk buffers come in size classes, powers of two from
// minPooledBuf to maxPooledBuf, one pool each: a call gets a buffer of the
// smallest class its bytes fit, at most twice their size (or minPooledBuf).
// A call of more than maxPooledBuf bytes gets a buffer of its own.
const (
	minPooledBuf = 512
	maxPooledBuf = 1 << 20
	bufClasses   = 12 // 512 B << 11 = 1 MiB
)

var bufPools [bufClasses]sync.Pool

// chunkBuf is a reused chunk buffer (a pointer, so that pooling it does
// not allocate).
type chunkBuf struct{ b []byte }

// bufClass returns the class of a buffer for size bytes, or false when
// size is larger than every class.
func bufClass(size int) (int, bool) {
	switch {
	case size > maxPooledBuf:
		return 0, false
	case size <= minPooledBuf:
		return 0, true
	}
	return bits.Len(uint(size-1)) - bits.Len(minPooledBuf-1), true
}

// getBuf returns an empty buffer of at least size bytes.
func getBuf(size int) *chunkBuf {
	k, ok := bufClass(size)
	if !ok {
		return &chunkBuf{b: make([]byte, 0, size)}
	}
	if cb, _ := bufPools[k].Get().(*chunkBuf); cb != nil {
		return cb
	}
	return &chunkBuf{b: make([]byte, 0, minPooledBuf<<k)}
}

// putBuf returns a buffer nothing points into any more to its class's pool.
func putBuf(cb *chunkBuf) {
	if k, ok := bufClass(cap(cb.b)); ok && cap(cb.b) == minPooledBuf<<k {
		cb.b = cb.b[:0]
		bufPools[k].Put(cb)
	}
}

// chunkBlock is the largest block the copies of a chunk whose buffer is
// not reused are allocated in.
const chunkBlock = 4 << 10

// chunkPool recycles chunks and their delivery slices (which hold
// pointers: allocating one per call made the collector scan each).
var chunkPool = sync.Pool{New: func() any { return new(chunk) }}

// chunk is the deliveries of one Enqueue call. Their bodies and frames
// point into buf when the target allows reuse, into blocks of up to
// chunkBlock bytes otherwise (a delivery larger than that gets its own; one
// buffer for a call of up to 512 events would be a large allocation each
// time: over 32 KiB, the heap lock, zeroed whole).
type chunk struct {
	ds   []handoff.Delivery
	buf  *chunkBuf // nil unless reused: back to its pool with the chunk
	next int       // the first delivery Run has not taken yet
}

// release returns c (and its buffer) to the pool once every delivery in it
// is settled.
func (c *chunk) release() {
	clear(c.ds)
	c.ds, c.next = c.ds[:0], 0
	if c.buf != nil {
		putBuf(c.buf)
		c.buf = nil
	}
	chunkPool.Put(c)
}

func newDirect(cfg Config, t Target, m *meter) *directWorker {
	_, reuse := t.(batchCopier)
	return &directWorker{cfg: cfg, t: t, m: m, q: make(chan *chunk, cfg.QueueSize), reuse: reuse}
}

func (w *directWorker) Target() string { return w.cfg.Target }
func (w *directWorker) Mode() Mode     { return Direct }
func (w *directWorker) Stats() Stats   { return w.m.stats() }

// reserve takes room in the queue for the longest prefix of ds that fits
// (QueueSize deliveries, QueueBytes bytes of Body and Frame; a delivery
// larger than QueueBytes fits an empty queue alone) and returns its length
// and bytes.
func (w *directWorker) reserve(ds []handoff.Delivery) (n, bytes int) {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	for n < len(ds) && w.queued+n < w.cfg.QueueSize {
		b := len(ds[n].Body) + len(ds[n].Frame)
		if w.queuedBytes+bytes+b > w.cfg.QueueBytes && w.queued+n > 0 {
			break
		}
		bytes += b
		n++
	}
	w.queued += n
	w.queuedBytes += bytes
	return n, bytes
}

// taken gives back the room of n deliveries of the given bytes and returns
// the deliveries still queued.
func (w *directWorker) taken(n, bytes int) int {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	w.queued -= n
	w.queuedBytes -= bytes
	return w.queued
}

// Enqueue copies the deliveries' Body and Frame (the caller's buffers may be
// reused once it returns) into one chunk and queues it without blocking.
// What does not fit in the queue is dropped and counted (queue_full).
func (w *directWorker) Enqueue(_ context.Context, ds []handoff.Delivery) (int, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.m.addDropped(ReasonShutdown, len(ds))
		return 0, ErrClosed
	}
	n, size := w.reserve(ds)
	if n < len(ds) {
		w.m.addDropped(ReasonQueueFull, len(ds)-n)
	}
	if n == 0 {
		return 0, nil
	}
	now := time.Now()
	c := chunkPool.Get().(*chunk)
	var buf []byte
	if w.reuse {
		c.buf = getBuf(size)
		buf = c.buf.b // room for every copy
	}
	left := size
	c.ds = slices.Grow(c.ds[:0], n)[:n]
	for i := range ds[:n] {
		d := ds[i]
		need := len(d.Body) + len(d.Frame)
		if len(buf)+need > cap(buf) {
			buf = make([]byte, 0, max(need, min(left, chunkBlock)))
		}
		left -= need
		off := len(buf)
		buf = append(buf, d.Body...)
		d.Body = buf[off:len(buf):len(buf)]
		if d.Frame != nil {
			off = len(buf)
			buf = append(buf, d.Frame...)
			d.Frame = buf[off:len(buf):len(buf)]
		}
		d.Target = w.cfg.Target
		if d.Accepted.IsZero() {
			d.Accepted = now
		}
		c.ds[i] = d
	}
	select {
	case w.q <- c:
	default:
		// Unreachable: q has room for QueueSize chunks and queued bounds
		// the deliveries in them. Counted, never silent.
		w.taken(n, size)
		w.m.addDropped(ReasonQueueFull, n)
		c.release()
		return 0, nil
	}
	w.m.addEnqueued(n)
	w.m.setDepth(int64(w.taken(0, 0)))
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

	batch := make([]handoff.Delivery, 0, w.cfg.MaxEvents)
	out := make([]outcome, w.cfg.MaxEvents)
	var cur *chunk // the chunk deliveries are taken from
	// spent holds the chunks whose last delivery went into batch: they
	// are reused once the batch is settled (send returned).
	var spent []*chunk
	// linger waits for more deliveries to fill a batch (Linger from the
	// first one taken): one Send (one write, one request) per batch rather
	// than one per trickle of a few events, which at high rates saves a
	// wakeup and a system call per handful of events.
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		if cur == nil {
			var ok bool
			if cur, ok = w.next(ctx); !ok {
				w.m.setDepth(0)
				return nil
			}
		}
		if flush.Err() != nil {
			w.stopIntake()
			w.qmu.Lock()
			left := w.queued
			w.queued, w.queuedBytes = 0, 0
			w.qmu.Unlock()
			w.m.addDropped(ReasonShutdown, left)
			w.m.setDepth(0)
			return nil
		}
		batch = batch[:0]
		size, bytes := 0, 0
		lingering := false
	fill:
		for len(batch) < w.cfg.MaxEvents {
			if cur.next == len(cur.ds) {
				spent = append(spent, cur)
				cur = nil
				select {
				case cur = <-w.q:
				default:
					if ctx.Err() != nil {
						break fill
					}
					if !lingering {
						lingering = true
						linger.Reset(w.cfg.Linger)
					}
					select {
					case cur = <-w.q:
					case <-linger.C:
						lingering = false
						break fill
					case <-ctx.Done():
						break fill
					}
				}
			}
			d := &cur.ds[cur.next]
			if len(batch) > 0 && size+batchBytes(d) > w.cfg.MaxBytes {
				break
			}
			batch = append(batch, *d)
			size += batchBytes(d)
			bytes += len(d.Body) + len(d.Frame)
			cur.next++
		}
		if lingering {
			linger.Stop()
		}
		if cur != nil && cur.next == len(cur.ds) {
			spent = append(spent, cur)
			cur = nil
		}
		w.m.setDepth(int64(w.taken(len(batch), bytes)))
		w.send(flush, batch, out[:len(batch)])
		clear(batch)
		for i, c := range spent {
			c.release()
			spent[i] = nil
		}
		spent = spent[:0]
	}
}

// next waits for a chunk. Once ctx ends it stops intake and returns only
// what is still queued.
func (w *directWorker) next(ctx context.Context) (*chunk, bool) {
	select {
	case c := <-w.q:
		return c, true
	case <-ctx.Done():
	}
	w.stopIntake()
	select {
	case c := <-w.q:
		return c, true
	default:
		return nil, false
	}
}

// send delivers batch, retrying failed deliveries in memory.
func (w *directWorker) send(ctx context.Context, batch []handoff.Delivery, out []outcome) {
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
