package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/rule"
)

// Events produced inside the process — ReplayDiff events published by replay
// targets today; appliance verdicts and mirror state changes next — enter the
// pipeline through an event ingress, the way packets enter through a
// source's Emitter:
//
//	producer ──publish──► [the same bounded queue] ──► worker: encode ──► MatchJSON ──► Deliverer.Enqueue
//
// An ingress is registered per producer (EventIngress). Its publish function
// never blocks: an event that does not fit (the producer's QueueSize, or the
// queue's batches) is dropped and counted (reason queue_full); one published
// after intake closed is dropped and counted (reason shutdown). Queued events
// take their turn with the packet batches, so one producer's events reach
// each target in the order it published them. A worker encodes each event
// once, matches the JSON against the same rule table (input transformers
// included) and hands the deliveries to the same deliverers. An event has no
// frame: a target that requires one (Target.RequiresFrame), or has nothing to
// send but frames (NeedsBody false), is skipped and counted (reason
// no_frame); a target that only wants frames (NeedsFrame alone) gets the
// event without one.
//
// At shutdown, CloseSources stops the sources' intake and drains their
// batches while ingresses stay open, so that what a producer publishes while
// it flushes (a replay target comparing its last responses) is still
// delivered; Run's context ending then closes the ingresses and drains them.

// Drop reasons of internal events, besides DropQueueFull and DropShutdown.
const (
	DropEncode        = "encode"         // the event could not be encoded or matched as JSON
	DropNoFrame       = "no_frame"       // the rule names a target that cannot send an event without a frame
	DropUnknownTarget = "unknown_target" // the rule names a target the pipeline does not have
	DropRefused       = "refused"        // the target's deliverer did not take the delivery
)

// EventDropReasons are the reasons an internal event, or one of its
// deliveries, is counted in EventStats.Dropped.
var EventDropReasons = []string{DropQueueFull, DropEncode, DropNoFrame, DropUnknownTarget, DropRefused, DropShutdown}

// Indexes of EventDropReasons, for the counters.
const (
	evQueueFull = iota
	evEncode
	evNoFrame
	evUnknownTarget
	evRefused
	evShutdown
	numEventDrops
)

// DefaultIngressQueue bounds a producer's queued events when
// IngressInfo.QueueSize is zero.
const DefaultIngressQueue = 4096

// IngressInfo describes a producer of events that do not come from packets.
type IngressInfo struct {
	// Name identifies the producer (a replay target's name); unique among
	// ingresses.
	Name string
	// EventSource is the "source" of the events it publishes
	// ("wirebridge.replay"): the label its counters are reported under.
	EventSource string
	// QueueSize bounds its queued events (default DefaultIngressQueue).
	QueueSize int
}

// EventStats are one producer's counters. Published = Queued + dropped
// before queueing (queue_full, shutdown); Delivered counts deliveries (one
// event may have several).
type EventStats struct {
	EventSource string
	Published   uint64 // events handed to the ingress
	Queued      uint64 // events accepted into the queue
	Processed   uint64 // events encoded and matched
	Matched     uint64 // events matching at least one rule
	Delivered   uint64 // deliveries a target's deliverer took
	// Dropped counts events (queue_full, shutdown, encode) and deliveries
	// (no_frame, unknown_target, refused) by reason: EventDropReasons.
	Dropped map[string]uint64
}

type ingressState struct {
	info      IngressInfo
	limit     int64
	pending   atomic.Int64
	published atomic.Uint64
	queued    atomic.Uint64
	processed atomic.Uint64
	matched   atomic.Uint64
	delivered atomic.Uint64
	dropped   [numEventDrops]atomic.Uint64
}

func (g *ingressState) drop(reason int, n uint64) { g.dropped[reason].Add(n) }

func (g *ingressState) stats() EventStats {
	st := EventStats{
		EventSource: g.info.EventSource,
		Published:   g.published.Load(),
		Queued:      g.queued.Load(),
		Processed:   g.processed.Load(),
		Matched:     g.matched.Load(),
		Delivered:   g.delivered.Load(),
		Dropped:     make(map[string]uint64, numEventDrops),
	}
	for i, r := range EventDropReasons {
		st.Dropped[r] = g.dropped[i].Load()
	}
	return st
}

// EventIngress registers a producer of events and returns the function it
// publishes them with. The function is safe for concurrent use, never
// blocks, and reports whether the event was queued (a dropped one is
// counted).
func (p *Pipeline) EventIngress(info IngressInfo) (func(event.Event) bool, error) {
	if info.Name == "" {
		return nil, errors.New("pipeline: event ingress name required")
	}
	if info.QueueSize <= 0 {
		info.QueueSize = DefaultIngressQueue
	}
	p.smu.Lock()
	defer p.smu.Unlock()
	if _, dup := p.ingresses[info.Name]; dup {
		return nil, fmt.Errorf("pipeline: event ingress %q registered twice", info.Name)
	}
	g := &ingressState{info: info, limit: int64(info.QueueSize)}
	p.ingresses[info.Name] = g
	return func(e event.Event) bool { return p.publish(g, e) }, nil
}

func (p *Pipeline) publish(g *ingressState, e event.Event) bool {
	g.published.Add(1)
	if g.pending.Add(1) > g.limit {
		g.pending.Add(-1)
		g.drop(evQueueFull, 1)
		return false
	}
	qb := p.pool.Get().(*qbatch)
	qb.ing = g
	qb.events = append(qb.events[:0], e)
	reason := -1
	p.mu.RLock()
	if p.closed {
		reason = evShutdown
	} else {
		p.seqMu.Lock()
		qb.seq = p.nextSeq
		select {
		case p.q <- qb:
			p.nextSeq++
		default:
			reason = evQueueFull
		}
		p.seqMu.Unlock()
	}
	p.mu.RUnlock()
	if reason >= 0 {
		g.pending.Add(-1)
		p.release(qb)
		g.drop(reason, 1)
		return false
	}
	g.queued.Add(1)
	return true
}

// processEvents encodes, matches and delivers a batch of internal events.
func (w *worker) processEvents(ctx context.Context, qb *qbatch) {
	p := w.p
	p.dequeued(qb)
	w.seq, w.hasTurn, w.ing = qb.seq, false, qb.ing
	defer func() { w.ing = nil }()
	if s := p.cfg.Rules.Current(); s != w.set {
		w.bind(s)
	}
	g := qb.ing
	now := p.now()
	var matched uint64
	for i := range qb.events {
		e := &qb.events[i]
		start := len(w.arena)
		b, err := event.AppendEvent(w.arena, e)
		if err != nil {
			g.drop(evEncode, 1)
			continue
		}
		w.arena = b
		ev := w.arena[start:len(w.arena):len(w.arena)]
		if err := w.set.MatchJSON(ev, &w.m); err != nil {
			g.drop(evEncode, 1)
			continue
		}
		if len(w.m.Rules) == 0 {
			continue
		}
		matched++
		w.buildEvent(e.ID, ev, now)
		if w.npend >= flushDeliveries || len(w.arena) >= flushBytes {
			w.flush(ctx)
		}
	}
	w.flush(ctx)
	p.done(w.seq)
	g.processed.Add(uint64(len(qb.events)))
	if matched > 0 {
		g.matched.Add(matched)
	}
	p.release(qb)
}

// buildEvent appends the deliveries of one matched internal event (its JSON
// in ev) to the pending lists.
func (w *worker) buildEvent(id string, ev []byte, now time.Time) {
	p, g := w.p, w.ing
	for _, r := range w.m.Rules {
		body := ev
		if r.Transform != nil {
			start := len(w.arena)
			w.arena = r.Transform.Append(w.arena, &rule.Input{Event: ev, Rule: r.Name, IngestionTime: now})
			body = w.arena[start:len(w.arena):len(w.arena)]
		}
		for _, ti := range w.ruleTargets[r.Index] {
			if ti < 0 {
				p.unknownTgt.Add(1)
				g.drop(evUnknownTarget, 1)
				continue
			}
			t := p.targets[ti]
			if t.RequiresFrame || !t.NeedsBody {
				g.drop(evNoFrame, 1)
				continue
			}
			w.pend[ti] = append(w.pend[ti], handoff.Delivery{ID: id, Rule: r.Name, Target: t.Name, Body: body, Accepted: now})
			w.idOffs[ti] = append(w.idOffs[ti], keepID)
			w.npend++
		}
	}
}

// keepID in worker.idOffs marks a delivery whose ID is already set.
const keepID = -1
