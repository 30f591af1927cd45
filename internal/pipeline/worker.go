package pipeline

import (
	"context"
	"time"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/rule"
)

// worker decodes, matches and builds deliveries for queued batches. Each
// worker owns its packet, view, match scratch and buffers.
type worker struct {
	p     *Pipeline
	pkt   packet.Packet
	view  event.View
	m     rule.Matches
	arena []byte               // bodies of the deliveries not yet flushed
	pend  [][]handoff.Delivery // per target index
	npend int
	// Event ids of the pending deliveries, as text: one string is made of
	// them per flush (one allocation) and each Delivery.ID is a substring.
	ids    []byte
	idOffs [][]int32 // per target index, parallel to pend

	seq     uint64        // the number of the batch being processed
	hasTurn bool          // its turn to hand over deliveries has come
	ing     *ingressState // the producer of the events being processed, nil for packets

	set         *rule.Set
	ruleTargets [][]int // per rule index: target indexes (-1: unknown target)
	ruleBody    []bool  // per rule index: some target needs a body
}

func newWorker(p *Pipeline) *worker {
	return &worker{p: p, pend: make([][]handoff.Delivery, len(p.targets)), idOffs: make([][]int32, len(p.targets))}
}

// bind caches, for a new rule set, each rule's target indexes.
func (w *worker) bind(s *rule.Set) {
	w.set = s
	rules := s.Rules()
	w.ruleTargets = make([][]int, len(rules))
	w.ruleBody = make([]bool, len(rules))
	for i, r := range rules {
		idx := make([]int, len(r.Targets))
		for j, name := range r.Targets {
			ti, ok := w.p.byName[name]
			if !ok {
				ti = -1
			} else if w.p.targets[ti].NeedsBody {
				w.ruleBody[i] = true
			}
			idx[j] = ti
		}
		w.ruleTargets[i] = idx
	}
}

func (w *worker) process(ctx context.Context, qb *qbatch) {
	p := w.p
	p.dequeued(qb)
	w.seq, w.hasTurn = qb.seq, false
	// One rule set for the whole batch: a reload takes effect between
	// batches, and every event is matched by exactly one complete set.
	if s := p.cfg.Rules.Current(); s != w.set {
		w.bind(s)
	}
	now := p.now()
	meta := event.Meta{Listener: qb.listener, SourceType: qb.src.info.Type, Source: qb.eventSource}
	var decodeErr [numKinds]uint64
	var matched uint64
	for i := range qb.frames {
		f := &qb.frames[i]
		if err := packet.Decode(&w.pkt, f.Data, f.Info); err != nil {
			if k := int(w.pkt.Err); k < numKinds {
				decodeErr[k]++
			}
		}
		w.view.Reset(p.enc, &w.pkt, meta)
		w.set.Match(&w.view, &w.m)
		if len(w.m.Rules) == 0 {
			continue
		}
		matched++
		w.build(f.Data, now)
		if w.npend >= flushDeliveries || len(w.arena) >= flushBytes {
			w.flush(ctx)
		}
	}
	w.flush(ctx)
	p.done(w.seq)
	s := qb.src
	s.processed.Add(uint64(len(qb.frames)))
	if matched > 0 {
		s.matched.Add(matched)
	}
	for k, n := range decodeErr {
		if n > 0 {
			s.decodeErr[k].Add(n)
		}
	}
	p.release(qb)
}

// build appends the deliveries of the event in w.view to the pending lists.
func (w *worker) build(frame []byte, now time.Time) {
	p := w.p
	idOff := int32(len(w.ids))
	w.ids = w.view.ID().AppendText(w.ids)
	var ev []byte // the event JSON, encoded on first need
	encode := func() []byte {
		if ev == nil {
			start := len(w.arena)
			w.arena = w.view.AppendJSON(w.arena)
			ev = w.arena[start:len(w.arena):len(w.arena)]
		}
		return ev
	}
	for _, r := range w.m.Rules {
		targets := w.ruleTargets[r.Index]
		var body []byte
		bodyJSON := false // body is the event JSON: one JSON value, no line break
		if w.ruleBody[r.Index] {
			if r.Transform == nil {
				body, bodyJSON = encode(), true
			} else {
				in := rule.Input{Rule: r.Name, IngestionTime: now}
				if r.Transform.NeedsEvent() {
					in.Event = encode()
				}
				start := len(w.arena)
				w.arena = r.Transform.Append(w.arena, &in)
				body = w.arena[start:len(w.arena):len(w.arena)]
			}
		}
		for _, ti := range targets {
			if ti < 0 {
				p.unknownTgt.Add(1)
				continue
			}
			t := p.targets[ti]
			d := handoff.Delivery{Rule: r.Name, Target: t.Name, Accepted: now}
			if t.NeedsBody {
				d.Body, d.BodyJSON = body, bodyJSON
			}
			if t.NeedsFrame {
				d.Frame = frame
				d.Capture = w.pkt.Info
			}
			w.pend[ti] = append(w.pend[ti], d)
			w.idOffs[ti] = append(w.idOffs[ti], idOff)
			w.npend++
		}
	}
}

// flush hands the pending deliveries to their deliverers, once the batch's
// turn has come (see the package comment: Order), and resets the buffers
// they point into.
func (w *worker) flush(ctx context.Context) {
	if w.npend == 0 {
		w.arena, w.ids = w.arena[:0], w.ids[:0]
		return
	}
	if !w.hasTurn {
		w.p.waitTurn(w.seq)
		w.hasTurn = true
	}
	ids := string(w.ids)
	for ti, ds := range w.pend {
		if len(ds) == 0 {
			continue
		}
		for j, off := range w.idOffs[ti] {
			if off != keepID {
				ds[j].ID = ids[off : off+idLen]
			}
		}
		w.idOffs[ti] = w.idOffs[ti][:0]
		t := w.p.targets[ti]
		n, err := t.Deliverer.Enqueue(ctx, ds)
		if n < 0 {
			n = 0
		}
		if n > len(ds) {
			n = len(ds)
		}
		t.enqueued.Add(uint64(n))
		if n < len(ds) {
			t.refused.Add(uint64(len(ds) - n))
		}
		if w.ing != nil {
			w.ing.delivered.Add(uint64(n))
			if n < len(ds) {
				w.ing.drop(evRefused, uint64(len(ds)-n))
			}
		}
		if err != nil {
			t.errors.Add(1)
		}
		clear(ds)
		w.pend[ti] = ds[:0]
	}
	w.npend = 0
	w.arena, w.ids = w.arena[:0], w.ids[:0]
}

// idLen is the length of an event id's text form.
const idLen = 36
