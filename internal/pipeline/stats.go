package pipeline

import "github.com/wirebridge/wirebridge/internal/packet"

// Stats is a snapshot of the pipeline's counters, for the periodic log line
// and the metrics endpoint.
type Stats struct {
	Sources map[string]SourceStats
	Targets map[string]TargetStats
	// Events are the event ingresses' counters, by producer name.
	Events map[string]EventStats
	// Queued is what waits between sources and workers right now.
	QueuedBatches, QueuedPackets int
	QueuedBytes                  int64
	// UnknownTarget counts deliveries for target names no Target has
	// (a rule naming a target that was not configured).
	UnknownTarget uint64
}

// SourceStats are one source's counters. Received = Queued + dropped before
// queueing; Queued = Processed + dropped at shutdown + still queued.
type SourceStats struct {
	Received  uint64 // packets emitted to the pipeline
	Queued    uint64 // packets accepted into the queue
	Processed uint64 // packets decoded and matched
	Matched   uint64 // packets matching at least one rule
	// Dropped counts packets by reason (DropQueueFull, DropShutdown).
	Dropped map[string]uint64
	// DecodeErrors counts packets whose decoding stopped early, by
	// packet.Kind name (truncated, bad length, ...). They are still matched.
	DecodeErrors map[string]uint64
}

// DroppedTotal sums Dropped.
func (s SourceStats) DroppedTotal() uint64 {
	var t uint64
	for _, n := range s.Dropped {
		t += n
	}
	return t
}

// TargetStats are one target's counters on the pipeline side.
type TargetStats struct {
	Enqueued uint64 // deliveries the deliverer took (durable: buffered for the store, see deliver's own counters)
	Refused  uint64 // deliveries it did not take (its queue full, closed)
	Errors   uint64 // Enqueue calls that returned an error
}

// Workers returns the number of decode/match workers Run starts.
func (p *Pipeline) Workers() int { return p.cfg.Workers }

// Stats returns a snapshot of the counters.
func (p *Pipeline) Stats() Stats {
	st := Stats{
		Sources:       map[string]SourceStats{},
		Targets:       make(map[string]TargetStats, len(p.targets)),
		Events:        map[string]EventStats{},
		QueuedBatches: len(p.q),
		QueuedPackets: int(p.queuedPkts.Load()),
		QueuedBytes:   p.queuedBytes.Load(),
		UnknownTarget: p.unknownTgt.Load(),
	}
	p.smu.Lock()
	for name, s := range p.sources {
		ss := SourceStats{
			Received:  s.received.Load(),
			Queued:    s.queued.Load(),
			Processed: s.processed.Load(),
			Matched:   s.matched.Load(),
			Dropped: map[string]uint64{
				DropQueueFull: s.dropQFull.Load(),
				DropShutdown:  s.dropShut.Load(),
			},
			DecodeErrors: make(map[string]uint64, len(packet.Kinds)),
		}
		for _, k := range packet.Kinds {
			ss.DecodeErrors[k.String()] = s.decodeErr[k].Load()
		}
		st.Sources[name] = ss
	}
	for name, g := range p.ingresses {
		st.Events[name] = g.stats()
	}
	p.smu.Unlock()
	for _, t := range p.targets {
		st.Targets[t.Name] = TargetStats{
			Enqueued: t.enqueued.Load(),
			Refused:  t.refused.Load(),
			Errors:   t.errors.Load(),
		}
	}
	return st
}
