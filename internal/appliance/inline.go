package appliance

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/pattern"
)

var be = binary.BigEndian

// Tee is one packet handed to the tee callback: a matching rule lists
// targets. Frame is the packet as received, before any rewrite: an IPv4
// packet (packet.LinkIPv4) whose outer IPv4 and UDP headers the appliance
// rebuilt from the socket's addresses (the UDP destination port reads 6081,
// the Geneve port the decoder recognises), then Geneve and the inner packet.
// Frame is valid only during the call: copy what you keep.
type Tee struct {
	Rule     string
	Targets  []string
	Outcome  Outcome
	Frame    []byte
	LinkType packet.LinkType // always packet.LinkIPv4
	Time     time.Time       // when the datagram's batch was read
}

// TeeFunc receives teed packets. It runs on the reader goroutine, inline:
// it must not block (hand the frame to a queue, drop and count when full).
type TeeFunc func(*Tee)

// worker is one reader's inline state: the decoded packet, its event
// View, matching memory and rewrite scratch, reused for every packet.
type worker struct {
	a     *Appliance
	st    *readerStats
	pkt   packet.Packet
	view  event.View
	mst   pattern.State
	names []string
	hit   []bool
	spans []int  // modify: start, end pairs in the payload
	tmp   []byte // modify: copy of the payload and what follows it
	tee   Tee
}

func newWorker(a *Appliance, st *readerStats) *worker {
	return &worker{
		a: a, st: st,
		names: make([]string, 0, len(a.rules)),
		hit:   make([]bool, len(a.rules)),
		spans: make([]int, 0, 64),
		tmp:   make([]byte, a.mtu),
	}
}

// process handles one datagram. buf is its whole slot: buf[:outerLen] is
// room for the outer IPv4 and UDP headers, the datagram (Geneve header and
// inner packet, n bytes) follows, and the slot continues to the MTU so a
// modify can grow the packet in place. from is the sender, local the
// address it was sent to. process returns the length of the outer IPv4
// packet to send back from buf[0], or 0 to send nothing.
func (w *worker) process(buf []byte, n int, from, local netip.AddrPort, now time.Time, overloaded bool) int {
	a, st := w.a, w.st
	total := outerLen + n
	if total > len(buf) || n < 0 {
		st.oversizeRecv.Add(1)
		return 0
	}
	writeOuter(buf[:total], from, local.Addr())
	p := &w.pkt
	err := packet.Decode(p, buf[:total], packet.CaptureInfo{Timestamp: now, LinkType: packet.LinkIPv4})
	if err != nil || p.NumFrames < 2 || p.Tunnels[0].Type != packet.TunnelGeneve {
		k := p.Err
		if k == packet.OK {
			k = packet.ErrUnsupported
		}
		st.undecodable[int(k)%numKinds].Add(1)
		if a.undecodableDrop {
			return 0
		}
		return reply(buf, total, from, local, false)
	}
	if a.isProbe(p) {
		// The probe goes through the rule match (its verdict is not
		// applied or counted) and the reply path, to the prober's port.
		st.probes.Add(1)
		w.firstMatch()
		return reply(buf, total, from, local, true)
	}
	if overloaded {
		st.overload.Add(1)
		if a.failClosed {
			return 0
		}
		return reply(buf, total, from, local, false)
	}
	r := w.firstMatch()
	drop, modify := r.decide(monoNow(a.start, now), w.flowKey(r))
	outcome := OutcomePass
	delta := 0
	switch {
	case drop:
		outcome = OutcomeDrop
	case modify:
		var ok bool
		if delta, ok = w.findSpans(r); ok && len(w.spans) > 0 {
			outcome = OutcomeModify
			if total+delta > len(buf) {
				st.oversizeModify.Add(1)
				if a.oversizeDrop {
					outcome = OutcomeDrop
				} else {
					outcome = OutcomePass
				}
			}
		}
	}
	if len(r.tee) > 0 && a.tee != nil {
		r.tees.Add(1)
		w.tee = Tee{Rule: r.name, Targets: r.tee, Outcome: outcome, Frame: buf[:total], LinkType: packet.LinkIPv4, Time: now}
		a.tee(&w.tee)
		w.tee = Tee{}
	}
	r.outcomes[outcome].Add(1)
	switch outcome {
	case OutcomeDrop:
		return 0
	case OutcomeModify:
		total = w.rewrite(buf, total, r.repl, delta)
	}
	return reply(buf, total, from, local, false)
}

// firstMatch returns the first rule whose pattern and payload conditions
// hold for the decoded packet, or the default rule.
func (w *worker) firstMatch() *rule {
	a := w.a
	if a.matcher != nil {
		w.view.Reset(nil, &w.pkt, a.meta)
		w.names = a.matcher.MatchState(&w.mst, &w.view, w.names[:0])
		clear(w.hit)
		for _, nm := range w.names {
			if i := atoi(nm); i >= 0 && i < len(w.hit) {
				w.hit[i] = true
			}
		}
	}
	payload := w.pkt.Payload()
	for i, r := range a.rules {
		if r.pat != nil && !w.hit[i] {
			continue
		}
		if r.payloadMatches(payload) {
			return r
		}
	}
	return a.def
}

// atoi parses the decimal rule index the matcher knows rules by; -1 if it
// is not one.
func atoi(s string) int {
	if s == "" {
		return -1
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || n > 1<<24 {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// flowKey hashes the inner packet's 5-tuple, the same in both directions;
// 0 when r has no per-flow state.
func (w *worker) flowKey(r *rule) uint64 {
	if r.flows == nil {
		return 0
	}
	f := w.pkt.Inner()
	a := hashEnd(f.Src, f.SrcPort)
	b := hashEnd(f.Dst, f.DstPort)
	h := (a + b) ^ uint64(f.Protocol)*0x9E3779B97F4A7C15
	h ^= h >> 29
	h *= 0xBF58476D1CE4E5B9
	return h ^ h>>32
}

func hashEnd(a netip.Addr, port uint16) uint64 {
	b := a.As16()
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= uint64(port)
	h *= 1099511628211
	return h
}

// modifiable returns the inner frame a modify may rewrite: directly in the
// Geneve tunnel, UDP or TCP, whole (not a fragment, not cut short), with
// lengths the decoder took from the headers; nil otherwise.
func (w *worker) modifiable() *packet.Frame {
	p := &w.pkt
	if p.NumFrames != 2 || p.Err != packet.OK {
		return nil
	}
	f := &p.Frames[1]
	if f.IPOff < 0 || f.L4Off < 0 || f.Fragment || f.L4Partial || f.IPLenFromCapture ||
		f.IPv6Ext&packet.IPv6ExtRouting != 0 || f.PayloadLen != f.PayloadWireLen ||
		f.Layers&(packet.LayerUDP|packet.LayerTCP) == 0 {
		return nil
	}
	end := f.IPOff + f.IPTotalLen
	if end > len(p.Data) || f.PayloadOff+f.PayloadLen > end {
		return nil
	}
	return f
}

// findSpans finds what r's modify replaces in the inner payload: w.spans
// holds start, end pairs (payload offsets), delta how much the packet's
// length changes. ok is false when the packet cannot be modified (not
// UDP/TCP, nested tunnel, fragment, or a TCP length change).
func (w *worker) findSpans(r *rule) (delta int, ok bool) {
	w.spans = w.spans[:0]
	f := w.modifiable()
	if f == nil {
		return 0, false
	}
	payload := w.pkt.Data[f.PayloadOff : f.PayloadOff+f.PayloadLen]
	if r.modRe != nil {
		for _, m := range r.modRe.FindAllIndex(payload, -1) {
			w.spans = append(w.spans, m[0], m[1])
			delta += len(r.repl) - (m[1] - m[0])
		}
	} else {
		for off := 0; off <= len(payload)-len(r.find); {
			i := bytes.Index(payload[off:], r.find)
			if i < 0 {
				break
			}
			s := off + i
			w.spans = append(w.spans, s, s+len(r.find))
			delta += len(r.repl) - len(r.find)
			off = s + len(r.find)
		}
	}
	if delta != 0 && f.Layers.Has(packet.LayerTCP) {
		w.spans = w.spans[:0]
		return 0, false
	}
	return delta, true
}

// rewrite replaces w.spans in the inner payload by repl, in place, and
// fixes every length and checksum the change touches. It returns the new
// outer packet length.
func (w *worker) rewrite(buf []byte, total int, repl []byte, delta int) int {
	f := &w.pkt.Frames[1]
	start := f.PayloadOff
	tail := w.tmp[:total-start]
	copy(tail, buf[start:total])
	wp, prev := start, 0
	for i := 0; i+1 < len(w.spans); i += 2 {
		wp += copy(buf[wp:], tail[prev:w.spans[i]])
		wp += copy(buf[wp:], repl)
		prev = w.spans[i+1]
	}
	wp += copy(buf[wp:], tail[prev:])
	ipEnd := f.IPOff + f.IPTotalLen + delta
	if f.IPVersion == 4 {
		be.PutUint16(buf[f.IPOff+2:], uint16(f.IPTotalLen+delta))
		be.PutUint16(buf[f.IPOff+10:], 0)
		be.PutUint16(buf[f.IPOff+10:], packet.IPv4HeaderChecksum(buf[f.IPOff:f.IPOff+f.IPHeaderLen]))
	} else {
		be.PutUint16(buf[f.IPOff+4:], uint16(f.IPTotalLen+delta-40))
	}
	if f.Layers.Has(packet.LayerUDP) {
		ul := int(f.UDPLength) + delta
		be.PutUint16(buf[f.L4Off+4:], uint16(ul))
		if f.IPVersion == 6 || f.UDPChecksum != 0 {
			seg := buf[f.L4Off : f.L4Off+ul]
			be.PutUint16(seg[6:], 0)
			be.PutUint16(seg[6:], packet.TransportChecksum(f.Src, f.Dst, packet.ProtoUDP, seg))
		}
	} else {
		seg := buf[f.L4Off:ipEnd]
		be.PutUint16(seg[16:], 0)
		be.PutUint16(seg[16:], packet.TransportChecksum(f.Src, f.Dst, packet.ProtoTCP, seg))
	}
	return wp
}

// writeOuter writes the outer IPv4 and UDP headers the kernel stripped in
// front of the datagram in pkt[outerLen:], as the decoder needs them: from
// the sender to local, UDP destination port 6081 (where the decoder looks
// for Geneve).
func writeOuter(pkt []byte, from netip.AddrPort, local netip.Addr) {
	ipHeader(pkt, from.Addr(), local)
	be.PutUint16(pkt[20:], from.Port())
	be.PutUint16(pkt[22:], packet.PortGeneve)
	be.PutUint16(pkt[24:], uint16(len(pkt)-20))
	be.PutUint16(pkt[26:], 0)
}

// ipHeader writes a 20-byte IPv4 header (UDP, TTL 64, DF) for pkt.
func ipHeader(pkt []byte, src, dst netip.Addr) {
	pkt[0] = 0x45
	pkt[1] = 0
	be.PutUint16(pkt[2:], uint16(len(pkt)))
	be.PutUint32(pkt[4:], 0x00004000) // id 0 (the kernel picks one), DF
	pkt[8] = 64
	pkt[9] = packet.ProtoUDP
	be.PutUint16(pkt[10:], 0)
	s, d := src.As4(), dst.As4()
	copy(pkt[12:16], s[:])
	copy(pkt[16:20], d[:])
	be.PutUint16(pkt[10:], packet.IPv4HeaderChecksum(pkt[:20]))
}

// reply turns buf[:total] into the packet that goes back: outer IPv4 from
// local to the sender (addresses swapped), the same UDP ports (source the
// sender's, destination ours), the Geneve header and options untouched,
// IPv4 and UDP checksums computed. A probe goes back to the prober's port.
func reply(buf []byte, total int, from, local netip.AddrPort, probe bool) int {
	pkt := buf[:total]
	ipHeader(pkt, local.Addr(), from.Addr())
	sport, dport := from.Port(), local.Port()
	if probe {
		sport, dport = local.Port(), from.Port()
	}
	be.PutUint16(pkt[20:], sport)
	be.PutUint16(pkt[22:], dport)
	be.PutUint16(pkt[24:], uint16(total-20))
	be.PutUint16(pkt[26:], 0)
	be.PutUint16(pkt[26:], packet.TransportChecksum(local.Addr(), from.Addr(), packet.ProtoUDP, pkt[20:]))
	return total
}
