// Package tcpreasm reassembles TCP streams from captured segments. It sits
// inside the last stage of the data path, under the replay target
// (internal/target/replay), which feeds it the innermost TCP segment of each
// delivered frame and consumes the reassembled byte streams:
//
//	packet (inner TCP) ──► Segment ──► Reassembler ──► Conn (Data, Gap, Fin, End)
//
// A Reassembler keys flows by the tunnel's VNI and the inner 5-tuple, tracks
// both directions with sequence arithmetic modulo 2^32, trims retransmissions
// and overlaps, holds out-of-order segments within per-flow and total bounds
// (Limits), and applies the gap policy to holes (wait up to GapWait /
// GapBytes, then skip with a counted gap or abort the flow). SYN, FIN, RST,
// idle timeouts and the flow limit end flows; a flow first seen without its
// SYN is joined mid-stream. It knows nothing of the protocol carried in the
// streams, nor of targets.
package tcpreasm

import (
	"container/list"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// Side is one direction of a TCP connection.
type Side uint8

// Sides.
const (
	Client Side = iota // the side that opened the connection (client to server bytes)
	Server             // server to client bytes
)

func (s Side) String() string {
	if s == Client {
		return "client"
	}
	return "server"
}

// EndReason says why a flow ended.
type EndReason uint8

// End reasons; their String values are metric label values.
const (
	EndFin     EndReason = iota // both sides finished (or the client did and the server went idle)
	EndReset                    // an RST was seen
	EndIdle                     // no segment for IdleTimeout
	EndGap                      // a gap with GapAbort
	EndEvicted                  // pushed out by MaxFlows
	EndMemory                   // pushed out by the buffer limits with GapAbort
	EndClosed                   // the owner closed every flow (CloseAll)
	EndError                    // reserved: the consumer gave up (no consumer does today)
)

var endNames = [...]string{"fin", "reset", "idle", "gap", "evicted", "memory", "closed", "error"}

func (r EndReason) String() string {
	if int(r) < len(endNames) {
		return endNames[r]
	}
	return fmt.Sprintf("reason(%d)", r)
}

// GapPolicy is what happens when a hole in a stream is not filled in time.
type GapPolicy uint8

// Gap policies.
const (
	GapSkip  GapPolicy = iota // count the gap, tell the consumer how many bytes are missing, carry on after it
	GapAbort                  // count the gap and end the flow
)

// FlowKey identifies a flow: the VNI of its tunnel (0 and Tunnel false when
// not tunnelled) and the inner 5-tuple (TCP), with Client the endpoint that
// opened the connection.
type FlowKey struct {
	Tunnel bool
	VNI    uint32
	Client netip.AddrPort
	Server netip.AddrPort
}

func (k FlowKey) String() string {
	s := k.Client.String() + " > " + k.Server.String()
	if k.Tunnel {
		s = fmt.Sprintf("vni %d %s", k.VNI, s)
	}
	return s
}

// Segment is one TCP segment as the reassembler sees it.
type Segment struct {
	Tunnel   bool
	VNI      uint32
	Src, Dst netip.AddrPort
	Seq      uint32
	Ack      uint32
	Flags    uint16
	Payload  []byte // captured payload; a truncated capture leaves a hole after it
	Time     time.Time
}

// SegmentFromPacket extracts the innermost TCP segment of a decoded packet.
// It reports false when the packet carries no complete TCP header.
func SegmentFromPacket(p *packet.Packet) (Segment, bool) {
	f := p.Inner()
	if !f.Layers.Has(packet.LayerTCP) || f.L4Partial || f.Fragment {
		return Segment{}, false
	}
	s := Segment{
		Src:     netip.AddrPortFrom(f.Src.Unmap(), f.SrcPort),
		Dst:     netip.AddrPortFrom(f.Dst.Unmap(), f.DstPort),
		Seq:     f.TCPSeq,
		Ack:     f.TCPAck,
		Flags:   f.TCPFlags,
		Payload: p.Data[f.PayloadOff : f.PayloadOff+f.PayloadLen],
		Time:    p.Info.Timestamp,
	}
	if t := p.Tunnel(); t != nil {
		s.Tunnel, s.VNI = true, t.VNI
	}
	return s, true
}

// Conn consumes the reassembled bytes of one flow. The reassembler calls it
// synchronously, in stream order; b is valid only during the call.
type Conn interface {
	Data(side Side, b []byte)
	// Gap reports n bytes missing from side's stream at this point (GapSkip).
	Gap(side Side, n uint32)
	// Fin reports that side's stream ended cleanly (FIN, every byte before it delivered).
	Fin(side Side)
	// End is the last call: the flow is gone.
	End(reason EndReason)
}

// Opener creates the consumer of a new flow.
type Opener func(key FlowKey, midstream bool) Conn

// Limits bound the reassembler.
type Limits struct {
	MaxFlows      int           // open flows; the least recently active is evicted beyond it
	FlowBuffer    int           // out-of-order bytes held per flow and side (and FlowBuffer/256 segments)
	TotalBuffer   int           // out-of-order bytes held in all
	GapWait       time.Duration // how long a hole may block a stream
	GapBytes      int           // how many bytes may wait behind a hole (at most FlowBuffer)
	Policy        GapPolicy
	IdleTimeout   time.Duration
	ServerPorts   []uint16 // mid-stream flows: the side on one of these ports is the server
	HalfCloseIdle time.Duration
}

// Stats are the reassembler's counters. Read them with the lock that
// serialises Add and Tick held, or from a copy.
type Stats struct {
	FlowsOpened, FlowsClosed uint64
	Segments, Bytes          uint64 // segments seen, payload bytes delivered in order
	Retransmitted            uint64 // payload bytes already delivered (duplicates, overlaps)
	OutOfOrder               uint64 // segments buffered ahead of a hole
	Gaps, GapBytes           uint64
	Evictions                map[string]uint64 // by reason: flows, memory, segments
	Ended                    map[string]uint64 // by EndReason
	// Discarded are bytes never delivered: held behind a hole when a flow
	// ended with the abort policy (by EndReason), or sent after a FIN
	// (after_fin).
	Discarded map[string]uint64
	// Buffered is what the out-of-order segments held now count against
	// TotalBuffer: their bytes plus segOverhead each.
	Buffered    int
	BufferedMax int // the highest Buffered seen
	Open        int
}

type seg struct {
	seq  uint32
	at   int64 // when it was buffered (UnixNano)
	data []byte
}

// segOverhead is what one buffered segment costs besides its bytes (the seg
// entry, its share of the sorted slice's spare capacity, the allocation's
// rounding), counted against TotalBuffer so that a flood of tiny out-of-order
// segments cannot hold more memory than the bound says.
const segOverhead = 96

// At most FlowBuffer/segCapDiv segments (at least minSegCap) wait per flow
// and side: inserting into the sorted list moves its entries, so the count
// bounds the work a segment costs (a flood of tiny segments in descending
// order was quadratic). 4,096 at the default FlowBuffer of 1 MiB: more than
// a 1 MiB window of full-sized segments needs.
const (
	segCapDiv = 256
	minSegCap = 64
)

// segCost is what a buffered segment of n bytes counts against TotalBuffer.
func segCost(n int) int { return n + segOverhead }

type half struct {
	init     bool
	next     uint32
	ooo      []seg // sorted by distance from next
	oooBytes int   // payload bytes in ooo (FlowBuffer, GapBytes)
	oooCost  int   // what ooo counts against TotalBuffer (bytes plus overhead)
	gapSince time.Time
	fin      bool
	finSeq   uint32
	finAt    time.Time
	done     bool
}

type flow struct {
	key   FlowKey
	conn  Conn
	sides [2]half
	last  time.Time
	elem  *list.Element
}

// Reassembler reassembles TCP streams. It is not safe for concurrent use.
type Reassembler struct {
	lim     Limits
	maxSegs int // segments waiting per flow and side: FlowBuffer/segCapDiv, at least minSegCap
	open    Opener
	flows   map[FlowKey]*flow
	lru     *list.List // front: most recently active
	st      Stats
}

// New returns a reassembler calling open for each new flow.
func New(lim Limits, open Opener) *Reassembler {
	if lim.MaxFlows <= 0 {
		lim.MaxFlows = 10000
	}
	if lim.FlowBuffer <= 0 {
		lim.FlowBuffer = 1 << 20
	}
	if lim.TotalBuffer <= 0 {
		lim.TotalBuffer = 64 << 20
	}
	if lim.GapBytes <= 0 || lim.GapBytes > lim.FlowBuffer {
		lim.GapBytes = lim.FlowBuffer
	}
	if lim.GapWait <= 0 {
		lim.GapWait = 2 * time.Second
	}
	if lim.IdleTimeout <= 0 {
		lim.IdleTimeout = 2 * time.Minute
	}
	return &Reassembler{lim: lim, maxSegs: max(minSegCap, lim.FlowBuffer/segCapDiv), open: open, flows: map[FlowKey]*flow{}, lru: list.New(),
		st: Stats{Evictions: map[string]uint64{}, Ended: map[string]uint64{}, Discarded: map[string]uint64{}}}
}

// Stats returns a copy of the counters.
func (r *Reassembler) Stats() Stats {
	s := r.st
	s.Evictions, s.Ended, s.Discarded = maps.Clone(r.st.Evictions), maps.Clone(r.st.Ended), maps.Clone(r.st.Discarded)
	s.Open = len(r.flows)
	return s
}

// diff is a-b in sequence space (mod 2^32), as a signed distance.
func diff(a, b uint32) int32 { return int32(a - b) }

func (r *Reassembler) lookup(s *Segment) (*flow, Side) {
	k := FlowKey{Tunnel: s.Tunnel, VNI: s.VNI, Client: s.Src, Server: s.Dst}
	if f := r.flows[k]; f != nil {
		return f, Client
	}
	k.Client, k.Server = s.Dst, s.Src
	if f := r.flows[k]; f != nil {
		return f, Server
	}
	return nil, Client
}

// clientIsSrc decides which endpoint opened a flow first seen with s.
func (r *Reassembler) clientIsSrc(s *Segment) bool {
	syn, ack := s.Flags&packet.TCPSyn != 0, s.Flags&packet.TCPAck != 0
	switch {
	case syn && !ack:
		return true
	case syn && ack:
		return false
	case slices.Contains(r.lim.ServerPorts, s.Dst.Port()):
		return true
	case slices.Contains(r.lim.ServerPorts, s.Src.Port()):
		return false
	}
	return s.Src.Port() >= s.Dst.Port()
}

// Add processes one segment.
func (r *Reassembler) Add(s Segment) {
	r.st.Segments++
	f, side := r.lookup(&s)
	if f == nil {
		if s.Flags&packet.TCPRst != 0 {
			return // nothing to reset
		}
		if s.Flags&(packet.TCPSyn|packet.TCPFin) == 0 && len(s.Payload) == 0 {
			return // a bare ACK starts nothing
		}
		k := FlowKey{Tunnel: s.Tunnel, VNI: s.VNI, Client: s.Src, Server: s.Dst}
		side = Client
		if !r.clientIsSrc(&s) {
			k.Client, k.Server = s.Dst, s.Src
			side = Server
		}
		for len(r.flows) >= r.lim.MaxFlows {
			old := r.lru.Back().Value.(*flow)
			r.st.Evictions["flows"]++
			r.end(old, EndEvicted)
		}
		f = &flow{key: k}
		midstream := s.Flags&packet.TCPSyn == 0
		f.conn = r.open(k, midstream)
		f.elem = r.lru.PushFront(f)
		r.flows[k] = f
		r.st.FlowsOpened++
	} else {
		r.lru.MoveToFront(f.elem)
	}
	if s.Time.After(f.last) {
		f.last = s.Time
	}
	if s.Flags&packet.TCPRst != 0 {
		r.end(f, EndReset)
		return
	}
	h := &f.sides[side]
	start := s.Seq
	if s.Flags&packet.TCPSyn != 0 {
		if h.init && h.next != s.Seq+1 {
			// A SYN with another ISN (a retransmitted SYN has the same one):
			// a new connection reusing the ports ends the old flow.
			r.end(f, EndReset)
			r.Add(s)
			return
		}
		start = s.Seq + 1
	}
	if !h.init {
		h.init, h.next = true, start
	}
	if len(s.Payload) > 0 {
		r.insert(f, side, start, s.Payload, s.Time)
		if r.flows[f.key] != f {
			return // ended by a forced gap
		}
	}
	if s.Flags&packet.TCPFin != 0 && !h.fin {
		h.fin, h.finSeq, h.finAt = true, start+uint32(len(s.Payload)), s.Time
		if diff(h.finSeq, h.next) > 0 && h.gapSince.IsZero() {
			h.gapSince = s.Time
		}
	}
	r.checkDone(f, side)
}

// insert delivers or buffers payload starting at seq.
func (r *Reassembler) insert(f *flow, side Side, seq uint32, data []byte, now time.Time) {
	h := &f.sides[side]
	off := diff(seq, h.next)
	if off < 0 {
		if int64(-off) >= int64(len(data)) {
			r.st.Retransmitted += uint64(len(data))
			return
		}
		r.st.Retransmitted += uint64(-off)
		data = data[-off:]
		seq, off = h.next, 0
	}
	if h.fin && diff(seq, h.finSeq) >= 0 {
		r.st.Discarded["after_fin"] += uint64(len(data)) // bytes after the FIN: not part of the stream
		return
	}
	if off == 0 {
		r.deliver(f, side, data)
		r.drain(f, side)
		return
	}
	// Ahead of a hole: buffer a copy, within the limits.
	cost := segCost(len(data))
	for {
		overGap := h.oooBytes+len(data) > r.lim.GapBytes
		overMem := r.st.Buffered+cost > r.lim.TotalBuffer
		overSegs := len(h.ooo) >= r.maxSegs
		if !overGap && !overMem && !overSegs {
			break
		}
		why := EndGap // with GapAbort: the flow's end reason
		if overMem {
			why = EndMemory
		}
		if len(h.ooo) == 0 {
			if overMem {
				r.st.Evictions["memory"]++
			}
			// nothing of ours to give up: the hole is resolved at this segment
			r.skipTo(f, side, seq, why)
			if r.flows[f.key] != f {
				return
			}
			r.deliver(f, side, data)
			r.drain(f, side)
			return
		}
		switch {
		case overGap: // the gap.bytes rule, not an eviction
		case overMem:
			r.st.Evictions["memory"]++
		default:
			r.st.Evictions["segments"]++
		}
		r.resolveGap(f, side, why)
		if r.flows[f.key] != f {
			return
		}
		if off = diff(seq, h.next); off <= 0 {
			r.insert(f, side, seq, data, now)
			return
		}
	}
	r.st.OutOfOrder++
	cp := make([]byte, len(data))
	copy(cp, data)
	i, _ := slices.BinarySearchFunc(h.ooo, off, func(e seg, o int32) int { return int(diff(e.seq, h.next)) - int(o) })
	h.ooo = slices.Insert(h.ooo, i, seg{seq: seq, at: now.UnixNano(), data: cp})
	h.oooBytes += len(cp)
	h.oooCost += cost
	r.st.Buffered += cost
	r.st.BufferedMax = max(r.st.BufferedMax, r.st.Buffered)
	if h.gapSince.IsZero() {
		h.gapSince = now
	}
}

func (r *Reassembler) deliver(f *flow, side Side, b []byte) {
	h := &f.sides[side]
	h.next += uint32(len(b))
	r.st.Bytes += uint64(len(b))
	f.conn.Data(side, b)
}

// drain delivers the buffered segments that have become contiguous.
func (r *Reassembler) drain(f *flow, side Side) {
	h := &f.sides[side]
	n := 0
	for _, s := range h.ooo {
		off := diff(s.seq, h.next)
		if off > 0 {
			break
		}
		n++
		h.oooBytes -= len(s.data)
		h.oooCost -= segCost(len(s.data))
		r.st.Buffered -= segCost(len(s.data))
		if int64(-off) >= int64(len(s.data)) {
			r.st.Retransmitted += uint64(len(s.data))
			continue
		}
		r.st.Retransmitted += uint64(-off)
		r.deliver(f, side, s.data[-off:])
	}
	if n == 0 && len(h.ooo) > 0 {
		return // the same first hole, with the same bytes behind it: its wait goes on
	}
	h.ooo = slices.Delete(h.ooo, 0, n)
	// Give back a backing array the list has outgrown: its spare capacity
	// is not counted in Buffered beyond segOverhead (at most one spare entry
	// per live one).
	switch {
	case len(h.ooo) == 0:
		h.ooo = nil
	case cap(h.ooo) > 16 && len(h.ooo) < cap(h.ooo)/2:
		h.ooo = slices.Clone(h.ooo)
	}
	r.rearm(h)
}

// rearm starts the wait of side's first hole by the one rule every hole
// follows: it waits from when the oldest byte behind it was buffered (a
// hole before a FIN from when the FIN was seen). Called whenever the first
// hole changes (filled, skipped), so a second hole is resolved like the first.
func (r *Reassembler) rearm(h *half) {
	switch {
	case len(h.ooo) > 0:
		oldest := h.ooo[0].at
		for _, s := range h.ooo[1:] {
			oldest = min(oldest, s.at)
		}
		h.gapSince = time.Unix(0, oldest)
	case h.fin && diff(h.finSeq, h.next) > 0:
		h.gapSince = h.finAt
	default:
		h.gapSince = time.Time{}
	}
}

// resolveGap applies the gap policy to side's first hole.
// With GapAbort the flow ends with why.
func (r *Reassembler) resolveGap(f *flow, side Side, why EndReason) {
	h := &f.sides[side]
	to := h.finSeq
	if len(h.ooo) > 0 {
		to = h.ooo[0].seq
	} else if !h.fin || diff(h.finSeq, h.next) <= 0 {
		h.gapSince = time.Time{} // nothing to resolve
		return
	}
	r.skipTo(f, side, to, why)
	if r.flows[f.key] == f {
		r.drain(f, side)
		r.checkDone(f, side)
	}
}

// skipTo counts the hole [next, to) and applies the policy (GapAbort: the
// flow ends with why).
func (r *Reassembler) skipTo(f *flow, side Side, to uint32, why EndReason) {
	h := &f.sides[side]
	n := uint32(diff(to, h.next))
	r.st.Gaps++
	r.st.GapBytes += uint64(n)
	if r.lim.Policy == GapAbort {
		r.end(f, why)
		return
	}
	h.next = to
	h.gapSince = time.Time{}
	f.conn.Gap(side, n)
	r.rearm(h)
}

func (r *Reassembler) checkDone(f *flow, side Side) {
	if r.flows[f.key] != f {
		return
	}
	h := &f.sides[side]
	if h.fin && !h.done && h.next == h.finSeq {
		h.done = true
		f.conn.Fin(side)
	}
	if f.sides[Client].done && f.sides[Server].done {
		r.end(f, EndFin)
	}
}

// end ends a flow. What waits behind holes is not dropped silently: with
// GapSkip every remaining hole is resolved (counted) and the bytes behind it
// delivered before End, so a complete message behind a hole still
// reaches the consumer; with GapAbort the held bytes are counted as Discarded.
func (r *Reassembler) end(f *flow, reason EndReason) {
	if r.flows[f.key] != f {
		return
	}
	for i := range f.sides {
		h := &f.sides[i]
		if r.lim.Policy == GapSkip {
			for len(h.ooo) > 0 && r.flows[f.key] == f {
				r.skipTo(f, Side(i), h.ooo[0].seq, EndGap) // GapSkip: never ends the flow
				r.drain(f, Side(i))
			}
		} else if h.oooBytes > 0 {
			r.st.Discarded[reason.String()] += uint64(h.oooBytes)
		}
		r.st.Buffered -= h.oooCost
		h.ooo, h.oooBytes, h.oooCost = nil, 0, 0
	}
	if r.flows[f.key] != f {
		return
	}
	delete(r.flows, f.key)
	r.lru.Remove(f.elem)
	r.st.FlowsClosed++
	r.st.Ended[reason.String()]++
	f.conn.End(reason)
}

// Tick applies the time limits: holes older than GapWait are resolved, flows
// idle for IdleTimeout end (after their holes are resolved). A client-closed
// flow whose server side stays silent for HalfCloseIdle also ends.
func (r *Reassembler) Tick(now time.Time) {
	for e := r.lru.Back(); e != nil; {
		prev := e.Prev()
		f := e.Value.(*flow)
		for side := range f.sides {
			h := &f.sides[side]
			for r.flows[f.key] == f && !h.gapSince.IsZero() && now.Sub(h.gapSince) >= r.lim.GapWait {
				r.resolveGap(f, Side(side), EndGap)
			}
		}
		if r.flows[f.key] == f {
			idle := now.Sub(f.last)
			switch {
			case idle >= r.lim.IdleTimeout:
				r.end(f, EndIdle)
			case r.lim.HalfCloseIdle > 0 && f.sides[Client].done && idle >= r.lim.HalfCloseIdle:
				r.end(f, EndFin)
			}
		}
		e = prev
	}
}

// CloseAll ends every flow with reason.
func (r *Reassembler) CloseAll(reason EndReason) {
	for e := r.lru.Back(); e != nil; {
		prev := e.Prev()
		r.end(e.Value.(*flow), reason)
		e = prev
	}
}
