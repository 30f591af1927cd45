package deliver

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/wirebridge/wirebridge/internal/delivery"
)

// directWorker queues deliveries in memory and sends them from Run.
//
// The queue holds chunks: each Enqueue call's deliveries, their bodies and
// frames copied into blocks of up to 4 KiB, go in as one chunk (one channel
// operation per call, and an allocation per block rather than per
// delivery). queued and queuedBytes count the deliveries in the queue and
// their bytes, bounded by QueueSize and QueueBytes; as each chunk holds at
// least one delivery, the channel (capacity QueueSize) is never full when
// Enqueue has room. Run takes deliveries from the chunks in order and
// batches up to MaxEvents/MaxBytes across chunk boundaries. The chunks and
// their delivery slices are pooled; the blocks are not (a pool would keep
// each at its largest, and memory would not follow QueueBytes): they are
// freed once every delivery in them is settled.
type directWorker struct {
	cfg Config
	t   Target
	m   *meter
	q   chan *chunk

	// The deliveries in q and in Run's partly taken chunk, and their Body
	// and Frame bytes: bounded by QueueSize and QueueBytes.
	qmu         sync.Mutex
	queued      int
	queuedBytes int

	mu     sync.RWMutex // Enqueue holds it shared; stopIntake exclusively
	closed bool
}

// chunkBlock is the largest block a chunk's copies are allocated in.
const chunkBlock = 4 << 10

// chunkPool recycles chunks and their delivery slices (which hold
// pointers: allocating one per call made the collector scan each); the
// bytes they point to are not pooled.
var chunkPool = sync.Pool{New: func() any { return new(chunk) }}

// release returns c to the pool once Run has taken every delivery in it.
func (c *chunk) release() {
	clear(c.ds)
	c.ds, c.next = c.ds[:0], 0
	chunkPool.Put(c)
}

// chunk is the deliveries of one Enqueue call, whose bodies and frames
// point into blocks of up to chunkBlock bytes.
type chunk struct {
	ds   []delivery.Delivery
	next int // the first delivery Run has not taken yet
}

func newDirect(cfg Config, t Target, m *meter) *directWorker {
	return &directWorker{cfg: cfg, t: t, m: m, q: make(chan *chunk, cfg.QueueSize)}
}

func (w *directWorker) Target() string { return w.cfg.Target }
func (w *directWorker) Mode() Mode     { return Direct }
func (w *directWorker) Stats() Stats   { return w.m.stats() }

// reserve takes room in the queue for the longest prefix of ds that fits
// (QueueSize deliveries, QueueBytes bytes of Body and Frame; a delivery
// larger than QueueBytes fits an empty queue alone) and returns its length
// and bytes.
func (w *directWorker) reserve(ds []delivery.Delivery) (n, bytes int) {
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
func (w *directWorker) Enqueue(_ context.Context, ds []delivery.Delivery) (int, error) {
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
	// The copies go into blocks of at most chunkBlock bytes (a delivery
	// larger than that gets its own): one buffer for a call of up to 512
	// events would be a large allocation (over 32 KiB: the heap lock, zeroed
	// whole, kept alive by any one unsent event in it); blocks are ordinary
	// small allocations, several events each.
	var buf []byte
	left := size
	c := chunkPool.Get().(*chunk)
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

	batch := make([]delivery.Delivery, 0, w.cfg.MaxEvents)
	out := make([]outcome, w.cfg.MaxEvents)
	var cur *chunk // the chunk deliveries are taken from
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
				cur.release() // batch holds copies of its deliveries
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
			cur.release()
			cur = nil
		}
		w.m.setDepth(int64(w.taken(len(batch), bytes)))
		w.send(flush, batch, out[:len(batch)])
		clear(batch) // the chunks' memory goes once nothing points into it
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
func (w *directWorker) send(ctx context.Context, batch []delivery.Delivery, out []outcome) {
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
