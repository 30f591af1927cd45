// Package pipeline connects the stages of the wirebridge data path: it takes
// the batches sources emit, decodes each packet, matches it against the
// current rule set on the in-memory packet view, and hands one Delivery per
// matching rule and target to that target's deliverer.
//
//	source ──► [bounded queue] ──► workers: decode ──► match ──► encode ──► Deliverer.Enqueue
//	internal/source                 packet      rule/pattern  event        internal/deliver
//
// The queue between sources and workers is bounded in packets per source
// and in bytes overall. A source's emit never blocks: a batch that does not
// fit is dropped whole and counted (reason queue_full) in the pipeline's
// Stats and in the source's own counters. Each worker reuses one
// packet.Packet and one event.View; an event's JSON is encoded at most once,
// only when it matched and some target needs a body (or a rule's input
// transformer reads the event). The original frame rides along, uncopied,
// only for targets that archive frames; deliverers copy what they keep.
//
// Order: the queue is one FIFO of batches, each numbered as it is queued.
// Workers take batches from it and decode, match and encode in parallel,
// but hand deliveries to the deliverers strictly in queue order: a worker
// waits, before its batch's first Enqueue, until every earlier batch has
// been handed over, and then passes the turn on (a batch that matched
// nothing passes it on without waiting). So every target receives
// the packets of one source (and so of each flow) in the order the source
// emitted them, which the sources keep equal to the order of arrival. The
// wait is only for the hand-over, not for the decoding of earlier batches
// to start; a Deliverer's Enqueue never blocks.
//
// Events produced inside the process (ReplayDiff, ...) enter through an
// event ingress into the same queue, rules and deliverers (ingress.go).
//
// Run stops intake when its context ends, then finishes the queued batches
// within Config.DrainTimeout; what is left after that is dropped and counted
// (reason shutdown). CloseSources, called before, stops only the sources'
// intake and drains their batches, leaving the event ingresses open.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/rule"
	"github.com/wirebridge/wirebridge/internal/source"
)

// Deliverer accepts a target's deliveries. deliver.Worker implements it.
// Enqueue must not block (a worker waiting on one target would hold up
// every target and, through the queue, the sources), must not keep ds, and
// must copy any Body or Frame it keeps: the pipeline reuses those buffers
// once Enqueue returns. It returns how many deliveries it took (a durable
// target stores them in JetStream afterwards); the others are counted as
// refused.
type Deliverer interface {
	Enqueue(ctx context.Context, ds []handoff.Delivery) (int, error)
}

// Target is a delivery destination as the pipeline sees it.
type Target struct {
	Name      string
	Deliverer Deliverer
	// NeedsBody: the target sends Delivery.Body (the event JSON, or the
	// rule's transformed input). False for targets that only archive frames.
	NeedsBody bool
	// NeedsFrame: the target wants the original captured frame (pcap, live
	// with frames), when the event has one.
	NeedsFrame bool
	// RequiresFrame: the target has nothing to send without a frame (pcap
	// archives frames, replay reassembles them): events that did not come
	// from a packet are not delivered to it (counted, reason no_frame).
	RequiresFrame bool
}

// Drop reasons counted by the pipeline.
const (
	DropQueueFull = "queue_full" // the queue had no room for the batch
	DropShutdown  = "shutdown"   // emitted after intake stopped, or still queued when the drain deadline passed
)

// Defaults for Config fields left zero.
const (
	DefaultQueueBatches = 4096
	DefaultQueueBytes   = 64 << 20
	DefaultSourceQueue  = 4096 // packets
	DefaultDrainTimeout = 5 * time.Second
	// flushDeliveries and flushBytes bound what a worker accumulates before
	// it hands deliveries to the deliverers in the middle of a batch.
	flushDeliveries = 512
	flushBytes      = 1 << 20
)

// Config configures a Pipeline.
type Config struct {
	// Rules is the rule table; Table.Reload takes effect from the next batch.
	Rules *rule.Table
	// Targets are the delivery destinations rules name.
	Targets []Target
	// Workers is the number of decode/match goroutines (default GOMAXPROCS).
	Workers int
	// QueueBatches bounds the batches queued (default DefaultQueueBatches).
	QueueBatches int
	// QueueBytes bounds the frame bytes queued, over all sources
	// (default DefaultQueueBytes).
	QueueBytes int64
	// DrainTimeout bounds the drain after Run's context ends (default
	// DefaultDrainTimeout).
	DrainTimeout time.Duration
	// Encoder builds events (ids, clock); nil uses the zero Encoder.
	Encoder *event.Encoder
	// Now is the clock for Delivery.Accepted and the transformers'
	// ingestion time; nil means time.Now.
	Now func() time.Time
}

// SourceInfo describes a source feeding the pipeline.
type SourceInfo struct {
	// Name is the source's configured name: detail.Listener, unless a
	// batch names another.
	Name string
	// Type is the source type ("udp", "raw", ...): the default event source
	// is "wirebridge.<Type>".
	Type string
	// EventSource is the event "source" field, unless a batch sets one.
	EventSource string
	// QueueSize bounds this source's queued packets (default DefaultSourceQueue).
	QueueSize int
	// Stats, when set, also receives this source's queue_full drops
	// (source.Stats.Drop), so the source's counters add up.
	Stats *source.Stats
}

// Pipeline moves packets from sources to deliverers.
type Pipeline struct {
	cfg     Config
	now     func() time.Time
	enc     *event.Encoder
	targets []*targetState
	byName  map[string]int

	q           chan *qbatch
	mu          sync.RWMutex // emit holds it shared around sends; stopIntake exclusively
	seqMu       sync.Mutex   // numbers batches in the order they enter q
	nextSeq     uint64       // the next queued batch's number (under seqMu)
	turnMu      sync.Mutex
	turnCond    *sync.Cond
	turn        uint64        // the number of the batch whose deliveries are handed over next
	finished    []bool        // by number modulo its length: a later batch that finished early
	closed      bool          // no more intake at all (Run's context ended)
	srcClosed   bool          // no more intake from sources (CloseSources)
	expireBelow atomic.Uint64 // batches numbered below it are dropped, not processed (drain deadline passed)
	queuedBytes atomic.Int64
	queuedPkts  atomic.Int64
	unknownTgt  atomic.Uint64
	pool        sync.Pool

	smu       sync.Mutex
	sources   map[string]*sourceState
	ingresses map[string]*ingressState

	started atomic.Bool
}

type targetState struct {
	Target
	enqueued, refused, errors atomic.Uint64
}

type sourceState struct {
	info      SourceInfo
	limit     int64
	pending   atomic.Int64 // packets queued
	received  atomic.Uint64
	queued    atomic.Uint64
	processed atomic.Uint64
	matched   atomic.Uint64
	dropQFull atomic.Uint64
	dropShut  atomic.Uint64
	decodeErr [numKinds]atomic.Uint64
}

const numKinds = len(packet.Kinds) + 1

// qbatch is a queued copy of a source batch, or queued internal events
// (src nil, ing and events set).
type qbatch struct {
	src         *sourceState
	ing         *ingressState
	events      []event.Event
	listener    string
	eventSource string
	frames      []source.Frame
	buf         []byte
	seq         uint64 // position in the queue (see the package comment: Order)
}

// New returns a pipeline. Targets must have unique, non-empty names and a
// Deliverer.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Rules == nil {
		return nil, errors.New("pipeline: no rule table")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.QueueBatches <= 0 {
		cfg.QueueBatches = DefaultQueueBatches
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	p := &Pipeline{
		cfg:       cfg,
		now:       cfg.Now,
		enc:       cfg.Encoder,
		byName:    map[string]int{},
		q:         make(chan *qbatch, cfg.QueueBatches),
		sources:   map[string]*sourceState{},
		ingresses: map[string]*ingressState{},
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.enc == nil {
		p.enc = &event.Encoder{}
	}
	for _, t := range cfg.Targets {
		if t.Name == "" || t.Deliverer == nil {
			return nil, fmt.Errorf("pipeline: target %q: name and deliverer are required", t.Name)
		}
		if _, dup := p.byName[t.Name]; dup {
			return nil, fmt.Errorf("pipeline: target %q listed twice", t.Name)
		}
		p.byName[t.Name] = len(p.targets)
		p.targets = append(p.targets, &targetState{Target: t})
	}
	p.pool.New = func() any { return new(qbatch) }
	p.turnCond = sync.NewCond(&p.turnMu)
	p.finished = make([]bool, 2*(cfg.QueueBatches+cfg.Workers))
	return p, nil
}

// Emitter registers a source and returns the function it emits batches
// with. The function is safe for concurrent use and never blocks for long.
func (p *Pipeline) Emitter(info SourceInfo) (source.Emit, error) {
	if info.Name == "" {
		return nil, errors.New("pipeline: source name required")
	}
	if info.QueueSize <= 0 {
		info.QueueSize = DefaultSourceQueue
	}
	p.smu.Lock()
	defer p.smu.Unlock()
	if _, dup := p.sources[info.Name]; dup {
		return nil, fmt.Errorf("pipeline: source %q registered twice", info.Name)
	}
	s := &sourceState{info: info, limit: int64(info.QueueSize)}
	p.sources[info.Name] = s
	return func(b source.Batch) { p.emit(s, b) }, nil
}

func (p *Pipeline) emit(s *sourceState, b source.Batch) {
	n := len(b.Frames)
	if n == 0 {
		return
	}
	s.received.Add(uint64(n))
	size := 0
	for i := range b.Frames {
		size += len(b.Frames[i].Data)
	}
	if s.pending.Add(int64(n)) > s.limit {
		s.pending.Add(-int64(n))
		p.drop(s, DropQueueFull, n)
		return
	}
	if p.queuedBytes.Add(int64(size)) > p.cfg.QueueBytes {
		p.queuedBytes.Add(-int64(size))
		s.pending.Add(-int64(n))
		p.drop(s, DropQueueFull, n)
		return
	}
	qb := p.pool.Get().(*qbatch)
	qb.src = s
	qb.listener, qb.eventSource = b.Source, b.EventSource
	if qb.listener == "" {
		qb.listener = s.info.Name
	}
	if qb.eventSource == "" {
		qb.eventSource = s.info.EventSource
	}
	qb.buf = slices.Grow(qb.buf[:0], size)
	qb.frames = slices.Grow(qb.frames[:0], n)
	for i := range b.Frames {
		f := &b.Frames[i]
		off := len(qb.buf)
		qb.buf = append(qb.buf, f.Data...)
		qb.frames = append(qb.frames, source.Frame{Data: qb.buf[off:len(qb.buf):len(qb.buf)], Info: f.Info})
	}
	reason := ""
	p.mu.RLock()
	if p.closed || p.srcClosed {
		reason = DropShutdown
	} else {
		p.seqMu.Lock()
		qb.seq = p.nextSeq
		select {
		case p.q <- qb:
			p.nextSeq++
			p.queuedPkts.Add(int64(n))
		default:
			reason = DropQueueFull
		}
		p.seqMu.Unlock()
	}
	p.mu.RUnlock()
	if reason != "" {
		p.queuedBytes.Add(-int64(size))
		s.pending.Add(-int64(n))
		p.release(qb)
		p.drop(s, reason, n)
		return
	}
	s.queued.Add(uint64(n))
}

func (p *Pipeline) drop(s *sourceState, reason string, n int) {
	switch reason {
	case DropQueueFull:
		s.dropQFull.Add(uint64(n))
		if s.info.Stats != nil {
			s.info.Stats.Drop(source.DropQueueFull, uint64(n))
		}
	default:
		s.dropShut.Add(uint64(n))
	}
}

func (p *Pipeline) release(qb *qbatch) {
	qb.src, qb.ing = nil, nil
	clear(qb.events)
	qb.events = qb.events[:0]
	if cap(qb.buf) > 4<<20 { // do not keep rare huge buffers
		qb.buf = nil
	}
	clear(qb.frames)
	qb.frames = qb.frames[:0]
	p.pool.Put(qb)
}

// Run starts the workers and runs until ctx ends; then it stops intake,
// drains the queue within DrainTimeout and returns. It returns an error if
// the drain deadline passed with batches still queued (they are dropped and
// counted). Run may be called once.
func (p *Pipeline) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("pipeline: Run called twice")
	}
	// Deliverers get a context that survives ctx for the drain and ends at
	// the drain deadline.
	dctx, dcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer dcancel()
	var wg sync.WaitGroup
	for range p.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(p)
			for qb := range p.q {
				if qb.seq < p.expireBelow.Load() {
					p.finish(qb, DropShutdown)
					continue
				}
				if qb.ing != nil {
					w.processEvents(dctx, qb)
				} else {
					w.process(dctx, qb)
				}
			}
		}()
	}
	<-ctx.Done()
	p.mu.Lock()
	p.closed = true
	last := p.nextSeq // nothing is queued after this
	close(p.q)
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if !p.drainUntil(last, done, dcancel) {
		return fmt.Errorf("pipeline: drain did not finish within %v: %w", p.cfg.DrainTimeout, context.DeadlineExceeded)
	}
	return nil
}

// CloseSources stops the intake from sources (later batches are dropped and
// counted, reason shutdown) and waits until the batches queued before have
// been handed to the deliverers, within DrainTimeout; what is left then is
// dropped and counted (a batch in a deliverer's Enqueue may still be handed
// over), and CloseSources returns an error. Event ingresses
// stay open until Run's context ends. Call it while Run runs (its workers
// drain the queue); after Run's context ended it does nothing.
func (p *Pipeline) CloseSources() error {
	p.mu.Lock()
	if p.closed || p.srcClosed {
		p.mu.Unlock()
		return nil
	}
	p.srcClosed = true
	last := p.nextSeq
	p.mu.Unlock()
	if !p.drainUntil(last, nil, nil) {
		return fmt.Errorf("pipeline: drain of the sources' packets did not finish within %v: %w", p.cfg.DrainTimeout, context.DeadlineExceeded)
	}
	return nil
}

// drainUntil waits until every batch numbered below last has been handed
// over (and, when finished is set, until it is closed), within
// DrainTimeout. When the deadline passes it has the workers drop those
// batches instead and returns false; with finished set, it first calls
// expire and waits for finished (the workers are done).
func (p *Pipeline) drainUntil(last uint64, finished <-chan struct{}, expire func()) bool {
	reached := make(chan struct{})
	go func() {
		p.turnMu.Lock()
		for p.turn < last {
			p.turnCond.Wait()
		}
		p.turnMu.Unlock()
		if finished != nil {
			<-finished
		}
		close(reached)
	}()
	timer := time.NewTimer(p.cfg.DrainTimeout)
	defer timer.Stop()
	select {
	case <-reached:
		return true
	case <-timer.C:
		p.expireBelow.Store(last)
		if finished != nil {
			expire()
			<-reached
		}
		return false
	}
}

// waitTurn blocks until the batch numbered seq may hand over deliveries.
func (p *Pipeline) waitTurn(seq uint64) {
	p.turnMu.Lock()
	for p.turn != seq {
		p.turnCond.Wait()
	}
	p.turnMu.Unlock()
}

// done records that the batch numbered seq has handed over all its
// deliveries: after its turn, or at once when it had none to hand over (a
// batch matching nothing does not wait for the batches before it). The turn
// moves past every batch done so far. Batches done early are remembered in
// a ring; in the unlikely case that one is more than a ring's length ahead
// of the turn, it waits until it fits.
func (p *Pipeline) done(seq uint64) {
	n := uint64(len(p.finished))
	p.turnMu.Lock()
	if seq != p.turn {
		for seq-p.turn >= n {
			p.turnCond.Wait()
		}
		if seq != p.turn {
			p.finished[seq%n] = true
			p.turnMu.Unlock()
			return
		}
	}
	p.turn++
	for p.finished[p.turn%n] {
		p.finished[p.turn%n] = false
		p.turn++
	}
	p.turnMu.Unlock()
	p.turnCond.Broadcast()
}

// finish accounts for a batch leaving the queue unprocessed.
func (p *Pipeline) finish(qb *qbatch, reason string) {
	p.done(qb.seq)
	p.dequeued(qb)
	if qb.ing != nil {
		qb.ing.drop(evShutdown, uint64(len(qb.events)))
	} else {
		p.drop(qb.src, reason, len(qb.frames))
	}
	p.release(qb)
}

func (p *Pipeline) dequeued(qb *qbatch) {
	if qb.ing != nil {
		qb.ing.pending.Add(-int64(len(qb.events)))
		return
	}
	n := int64(len(qb.frames))
	qb.src.pending.Add(-n)
	p.queuedPkts.Add(-n)
	p.queuedBytes.Add(-int64(len(qb.buf)))
}
