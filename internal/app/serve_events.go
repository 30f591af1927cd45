package app

import (
	"fmt"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/pipeline"
	"github.com/wirebridge/wirebridge/internal/target/replay"
)

// Events that do not come from a packet — ReplayDiff events, published by
// replay targets comparing replayed responses with the mirrored originals,
// and ApplianceVerdict events, published by the appliance for the packets
// its tee rules match (serve_appliance.go); mirror state changes next —
// enter the event path through the pipeline's event ingress
// (internal/pipeline, ingress.go), one per producer: matched by the same rules, handed to the same
// deliverers, counted in the pipeline's stats.
//
//	replay target ──OnDiff──► eventInputs slot ──► pipeline.EventIngress ──► [queue] ──► rules ──► deliverers
//
// Producers are built before the pipeline (they are targets, and the
// pipeline needs every target's deliverer), so a producer gets its publish
// function from eventInputs at construction, and bind connects each to
// its ingress once the pipeline exists, before anything runs.

// replayEventSource is the "source" of ReplayDiff events (the replay kind's).
const replayEventSource = replay.EventSource

// internalEventSources are the event sources of the producers this binary
// has: their metrics are reported (at zero) even when none is configured.
var internalEventSources = []string{replayEventSource}

// eventInputs hands producers their publish functions before the
// pipeline exists.
type eventInputs struct {
	slots []*producerSlot
}

type producerSlot struct {
	info    pipeline.IngressInfo
	publish func(event.Event) bool // set by bind, before anything runs
}

// producer registers a producer named name (unique) publishing events with
// "source" eventSource, and returns its publish function. Events published
// before bind are dropped (nothing runs before it).
func (e *eventInputs) producer(name, eventSource string) func(event.Event) {
	slot := &producerSlot{info: pipeline.IngressInfo{Name: name, EventSource: eventSource}}
	e.slots = append(e.slots, slot)
	return func(ev event.Event) {
		if slot.publish != nil {
			slot.publish(ev)
		}
	}
}

// bind gives every registered producer its ingress into p.
func (e *eventInputs) bind(p *pipeline.Pipeline) error {
	for _, s := range e.slots {
		pub, err := p.EventIngress(s.info)
		if err != nil {
			return fmt.Errorf("event producer %s: %w", s.info.Name, err)
		}
		s.publish = pub
	}
	return nil
}
