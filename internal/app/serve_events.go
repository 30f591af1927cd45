package app

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirebridge/wirebridge/internal/delivery"
	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/pipeline"
	"github.com/wirebridge/wirebridge/internal/rule"
)

// Events that do not come from a packet — ReplayDiff events, published by
// replay targets comparing replayed responses with the mirrored originals —
// enter the event path here, beside the pipeline: an internal source
// (source "wirebridge.replay") whose events are matched as JSON against the
// same rule table (rule.Set.MatchJSON, input transformers included) and handed
// to the same deliverers as packet events.
//
//	replay target ──OnDiff──► eventRouter.publish ──► [bounded queue] ──► route: MatchJSON ──► Deliverer.Enqueue
//
// publish never blocks the producer: when the queue is full the event is
// dropped and counted. Targets that need a frame (pcap, replay) cannot send
// an event without a packet; deliveries to them are skipped and counted.
// Targets that only want one (live with frames: true) get the event alone.

// replayEventSource is the "source" of ReplayDiff events.
const replayEventSource = "wirebridge.replay"

// eventQueueSize bounds the events waiting to be routed.
const eventQueueSize = 4096

// Reasons an internal event (or one of its deliveries) was not delivered.
const (
	evDropQueueFull = "queue_full"     // the router's queue had no room
	evDropEncode    = "encode"         // the event could not be encoded as JSON
	evDropNoFrame   = "no_frame"       // the rule names a target that needs a frame (pcap, replay)
	evDropUnknown   = "unknown_target" // the rule names a target that is not running
	evDropRefused   = "refused"        // the target's deliverer did not accept it
	evDropShutdown  = "shutdown"       // published after the router stopped
)

var evDropReasons = []string{evDropQueueFull, evDropEncode, evDropNoFrame, evDropUnknown, evDropRefused, evDropShutdown}

type eventRouter struct {
	table     *rule.Table
	targets   map[string]pipeline.Target
	noFrameOK map[string]bool
	now       func() time.Time

	q       chan event.Event
	mu      sync.RWMutex // publish holds it shared; stop exclusively
	stopped bool

	published, matched, delivered atomic.Uint64
	dmu                           sync.Mutex
	dropped                       map[string]uint64
}

// newEventRouter returns a router; bind gives it the rule table and the
// deliverers once they exist (targets are built before both).
func newEventRouter() *eventRouter {
	return &eventRouter{q: make(chan event.Event, eventQueueSize), now: time.Now, dropped: map[string]uint64{}}
}

// noFrameOK names the targets that can send an event that did not come from
// a packet (registry.go: targetCaps.takesEventsWithoutFrame).
func (r *eventRouter) bind(table *rule.Table, targets []pipeline.Target, noFrameOK map[string]bool) {
	r.table = table
	r.targets = make(map[string]pipeline.Target, len(targets))
	for _, t := range targets {
		r.targets[t.Name] = t
	}
	r.noFrameOK = noFrameOK
}

func (r *eventRouter) drop(reason string, n uint64) {
	r.dmu.Lock()
	r.dropped[reason] += n
	r.dmu.Unlock()
}

// publish queues e for routing without blocking. Safe for concurrent use.
func (r *eventRouter) publish(e event.Event) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	r.published.Add(1)
	if r.stopped {
		r.drop(evDropShutdown, 1)
		return
	}
	select {
	case r.q <- e:
	default:
		r.drop(evDropQueueFull, 1)
	}
}

// run routes queued events until ctx ends, then routes what is still queued
// (the deliverers are still running: the server stops them after the router)
// and refuses later events.
func (r *eventRouter) run(ctx context.Context) {
	for {
		select {
		case e := <-r.q:
			r.route(ctx, &e)
		case <-ctx.Done():
			r.mu.Lock()
			r.stopped = true
			r.mu.Unlock()
			flush := context.WithoutCancel(ctx)
			for {
				select {
				case e := <-r.q:
					r.route(flush, &e)
				default:
					return
				}
			}
		}
	}
}

// route matches one event against the current rules and enqueues a delivery
// per matching rule and target.
func (r *eventRouter) route(ctx context.Context, e *event.Event) {
	body, err := event.AppendEvent(nil, e)
	if err != nil {
		r.drop(evDropEncode, 1)
		return
	}
	var m rule.Matches
	if err := r.table.Current().MatchJSON(body, &m); err != nil {
		r.drop(evDropEncode, 1)
		return
	}
	if len(m.Rules) == 0 {
		return
	}
	r.matched.Add(1)
	now := r.now()
	for _, rl := range m.Rules {
		b := body
		if rl.Transform != nil {
			b = rl.Transform.Append(nil, &rule.Input{Event: body, Rule: rl.Name, IngestionTime: now})
		}
		for _, name := range rl.Targets {
			t, ok := r.targets[name]
			switch {
			case !ok:
				r.drop(evDropUnknown, 1)
				continue
			case !r.noFrameOK[name]:
				r.drop(evDropNoFrame, 1)
				continue
			}
			n, _ := t.Deliverer.Enqueue(ctx, []delivery.Delivery{{ID: e.ID, Rule: rl.Name, Target: name, Body: b, Accepted: now}})
			if n == 1 {
				r.delivered.Add(1)
			} else {
				r.drop(evDropRefused, 1)
			}
		}
	}
}

// eventStats is a snapshot of the router's counters.
type eventStats struct {
	Published, Matched, Delivered uint64
	Dropped                       map[string]uint64
}

func (r *eventRouter) stats() eventStats {
	s := eventStats{Published: r.published.Load(), Matched: r.matched.Load(), Delivered: r.delivered.Load(), Dropped: map[string]uint64{}}
	r.dmu.Lock()
	for k, v := range r.dropped {
		s.Dropped[k] = v
	}
	r.dmu.Unlock()
	return s
}
