package tcpreasm

import (
	"bytes"
	"maps"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// recConn records what the reassembler delivers.
type recConn struct {
	data  [2]bytes.Buffer
	gaps  [2][]uint32
	fins  [2]bool
	ended bool
	why   EndReason
	mid   bool
}

func (c *recConn) Data(s Side, b []byte) { c.data[s].Write(b) }
func (c *recConn) Gap(s Side, n uint32)  { c.gaps[s] = append(c.gaps[s], n) }
func (c *recConn) Fin(s Side)            { c.fins[s] = true }
func (c *recConn) End(r EndReason)       { c.ended, c.why = true, r }
func (c *recConn) stream(s Side) string  { return c.data[s].String() }
func (c *recConn) gapTotal(s Side) (n uint32) {
	for _, g := range c.gaps[s] {
		n += g
	}
	return n
}

var (
	cli = netip.MustParseAddrPort("10.0.0.1:40000")
	srv = netip.MustParseAddrPort("10.0.0.2:80")
	t0  = time.Unix(1_700_000_000, 0)
)

type harness struct {
	r     *Reassembler
	conns []*recConn
}

func newHarness(lim Limits) *harness {
	h := &harness{}
	h.r = New(lim, func(k FlowKey, mid bool) Conn {
		c := &recConn{mid: mid}
		h.conns = append(h.conns, c)
		return c
	})
	return h
}

func cseg(seq uint32, flags uint16, data string) Segment {
	return Segment{Tunnel: true, VNI: 42, Src: cli, Dst: srv, Seq: seq, Flags: flags | packet.TCPAck, Payload: []byte(data), Time: t0}
}

func sseg(seq uint32, flags uint16, data string) Segment {
	s := cseg(seq, flags, data)
	s.Src, s.Dst = srv, cli
	return s
}

const syn, fin, rst = packet.TCPSyn, packet.TCPFin, packet.TCPRst

func TestReassembler(t *testing.T) {
	const isn = 1000
	tests := []struct {
		name      string
		lim       Limits
		segs      []Segment
		tick      time.Duration // Tick at t0+tick after the segments (0: none)
		client    string
		server    string
		gaps      uint32 // client bytes reported missing
		ended     bool
		why       EndReason
		flows     int
		retrans   uint64
		clientFin bool
	}{
		{name: "in order", segs: []Segment{
			{Src: cli, Dst: srv, Seq: isn, Flags: syn, Tunnel: true, VNI: 42, Time: t0},
			sseg(5000, syn, ""), cseg(isn+1, 0, "GET / HTTP/1.1\r\n"), cseg(isn+17, 0, "\r\n"), sseg(5001, 0, "HTTP/1.1 200 OK"),
		}, client: "GET / HTTP/1.1\r\n\r\n", server: "HTTP/1.1 200 OK", flows: 1},
		{name: "reordered", segs: []Segment{
			{Src: cli, Dst: srv, Seq: isn, Flags: syn, Tunnel: true, VNI: 42, Time: t0},
			cseg(isn+7, 0, "ghi"), cseg(isn+4, 0, "def"), cseg(isn+1, 0, "abc"),
		}, client: "abcdefghi", flows: 1},
		{name: "duplicates and overlaps", segs: []Segment{
			{Src: cli, Dst: srv, Seq: isn, Flags: syn, Tunnel: true, VNI: 42, Time: t0},
			cseg(isn+1, 0, "abc"), cseg(isn+1, 0, "abc"), cseg(isn+2, 0, "bcdef"), cseg(isn+8, 0, "hij"), cseg(isn+5, 0, "efgh"), cseg(isn+1, 0, "abcdefghij"),
		}, client: "abcdefghij", flows: 1, retrans: 3 + 2 + 2 + 1 + 10},
		{name: "sequence wraparound", segs: []Segment{
			{Src: cli, Dst: srv, Seq: 0xFFFFFFFD, Flags: syn, Tunnel: true, VNI: 42, Time: t0},
			cseg(0xFFFFFFFE, 0, "ab"), cseg(2, 0, "ef"), cseg(0, 0, "cd"),
		}, client: "abcdef", flows: 1},
		{name: "gap skipped after the wait", lim: Limits{GapWait: time.Second}, segs: []Segment{
			{Src: cli, Dst: srv, Seq: isn, Flags: syn, Tunnel: true, VNI: 42, Time: t0},
			cseg(isn+1, 0, "abc"), cseg(isn+7, 0, "ghi"),
		}, tick: 2 * time.Second, client: "abcghi", gaps: 3, flows: 1},
		{name: "gap waits before the deadline", lim: Limits{GapWait: time.Second}, segs: []Segment{
			{Src: cli, Dst: srv, Seq: isn, Flags: syn, Tunnel: true, VNI: 42, Time: t0},
			cseg(isn+1, 0, "abc"), cseg(isn+7, 0, "ghi"),
		}, tick: 500 * time.Millisecond, client: "abc", flows: 1},
		{name: "gap aborts", lim: Limits{GapWait: time.Second, Policy: GapAbort}, segs: []Segment{
			{Src: cli, Dst: srv, Seq: isn, Flags: syn, Tunnel: true, VNI: 42, Time: t0},
			cseg(isn+1, 0, "abc"), cseg(isn+7, 0, "ghi"),
		}, tick: 2 * time.Second, client: "abc", ended: true, why: EndGap, flows: 1},
		{name: "gap bytes bound", lim: Limits{GapWait: time.Hour, GapBytes: 4}, segs: []Segment{
			{Src: cli, Dst: srv, Seq: isn, Flags: syn, Tunnel: true, VNI: 42, Time: t0},
			cseg(isn+1, 0, "a"), cseg(isn+3, 0, "cde"), cseg(isn+6, 0, "fg"),
		}, client: "acdefg", gaps: 1, flows: 1},
		{name: "lost last segment before FIN", lim: Limits{GapWait: time.Second}, segs: []Segment{
			{Src: cli, Dst: srv, Seq: isn, Flags: syn, Tunnel: true, VNI: 42, Time: t0},
			cseg(isn+1, 0, "abc"), cseg(isn+7, fin, ""),
		}, tick: 2 * time.Second, client: "abc", gaps: 3, flows: 1, clientFin: true},
		{name: "FIN both ways ends the flow", segs: []Segment{
			{Src: cli, Dst: srv, Seq: isn, Flags: syn, Tunnel: true, VNI: 42, Time: t0},
			sseg(5000, syn, ""), cseg(isn+1, fin, "bye"), sseg(5001, fin, "ok"),
		}, client: "bye", server: "ok", ended: true, why: EndFin, flows: 1, clientFin: true},
		{name: "RST ends the flow", segs: []Segment{
			{Src: cli, Dst: srv, Seq: isn, Flags: syn, Tunnel: true, VNI: 42, Time: t0},
			cseg(isn+1, 0, "abc"), sseg(0, rst, ""), cseg(isn+4, 0, "late"),
		}, client: "late", ended: false, flows: 2}, // the late segment starts a mid-stream flow
		{name: "idle timeout", lim: Limits{IdleTimeout: time.Minute}, segs: []Segment{
			cseg(isn+1, 0, "abc"),
		}, tick: 2 * time.Minute, client: "abc", ended: true, why: EndIdle, flows: 1},
		{name: "mid-stream join", segs: []Segment{
			cseg(77, 0, "xyz"), cseg(80, 0, "w"),
		}, client: "xyzw", flows: 1},
		{name: "port reuse with a new ISN", segs: []Segment{
			{Src: cli, Dst: srv, Seq: isn, Flags: syn, Tunnel: true, VNI: 42, Time: t0},
			cseg(isn+1, 0, "one"),
			{Src: cli, Dst: srv, Seq: 90000, Flags: syn, Tunnel: true, VNI: 42, Time: t0},
			cseg(90001, 0, "two"),
		}, client: "two", flows: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(tc.lim)
			for _, s := range tc.segs {
				h.r.Add(s)
			}
			if tc.tick > 0 {
				h.r.Tick(t0.Add(tc.tick))
			}
			if len(h.conns) != tc.flows {
				t.Fatalf("flows = %d, want %d", len(h.conns), tc.flows)
			}
			c := h.conns[len(h.conns)-1]
			if got := c.stream(Client); got != tc.client {
				t.Errorf("client stream = %q, want %q", got, tc.client)
			}
			if got := c.stream(Server); got != tc.server {
				t.Errorf("server stream = %q, want %q", got, tc.server)
			}
			if got := c.gapTotal(Client); got != tc.gaps {
				t.Errorf("client gap bytes = %d, want %d", got, tc.gaps)
			}
			if c.ended != tc.ended || (tc.ended && c.why != tc.why) {
				t.Errorf("ended = %v (%v), want %v (%v)", c.ended, c.why, tc.ended, tc.why)
			}
			if c.fins[Client] != tc.clientFin {
				t.Errorf("client fin = %v, want %v", c.fins[Client], tc.clientFin)
			}
			st := h.r.Stats()
			if tc.retrans > 0 && st.Retransmitted != tc.retrans {
				t.Errorf("retransmitted = %d, want %d", st.Retransmitted, tc.retrans)
			}
			if st.Buffered < 0 || (c.ended && st.Buffered != 0) {
				t.Errorf("buffered = %d", st.Buffered)
			}
		})
	}
}

func TestReassemblerKeysByVNIAndTuple(t *testing.T) {
	h := newHarness(Limits{})
	a := cseg(1, 0, "vni42")
	b := cseg(1, 0, "vni43")
	b.VNI = 43
	c := cseg(1, 0, "otherport")
	c.Src = netip.MustParseAddrPort("10.0.0.1:40001")
	d := cseg(1, 0, "v6")
	d.Src, d.Dst = netip.MustParseAddrPort("[2001:db8::1]:40000"), netip.MustParseAddrPort("[2001:db8::2]:80")
	for _, s := range []Segment{a, b, c, d} {
		h.r.Add(s)
	}
	if len(h.conns) != 4 {
		t.Fatalf("flows = %d, want 4", len(h.conns))
	}
	for i, want := range []string{"vni42", "vni43", "otherport", "v6"} {
		if got := h.conns[i].stream(Client); got != want {
			t.Errorf("flow %d = %q, want %q", i, got, want)
		}
	}
}

func TestReassemblerLimits(t *testing.T) {
	t.Run("max flows evicts the least recently active", func(t *testing.T) {
		h := newHarness(Limits{MaxFlows: 2})
		for i := range 3 {
			s := cseg(1, 0, "x")
			s.Src = netip.AddrPortFrom(cli.Addr(), uint16(40000+i))
			h.r.Add(s)
		}
		st := h.r.Stats()
		if st.Open != 2 || st.Evictions["flows"] != 1 || !h.conns[0].ended || h.conns[0].why != EndEvicted {
			t.Errorf("open %d evictions %v first ended %v %v", st.Open, st.Evictions, h.conns[0].ended, h.conns[0].why)
		}
	})
	t.Run("total buffer", func(t *testing.T) {
		h := newHarness(Limits{TotalBuffer: segCost(6) + 5, GapWait: time.Hour}) // room for one segment
		for i := range 2 {
			s := cseg(1, syn, "")
			s.Src = netip.AddrPortFrom(cli.Addr(), uint16(40000+i))
			h.r.Add(s)
			s.Flags, s.Seq, s.Payload = packet.TCPAck, 10, []byte("123456")
			h.r.Add(s)
		}
		st := h.r.Stats()
		if st.Buffered > segCost(6)+5 || st.Evictions["memory"] != 1 || st.Gaps != 1 {
			t.Errorf("buffered %d evictions %v gaps %d", st.Buffered, st.Evictions, st.Gaps)
		}
	})
}

// TestReassemblerMemoryAbort: with the abort policy, a flow whose hole the
// memory limit forces open ends as memory (not gap), and the bytes it held
// are counted as discarded.
func TestReassemblerMemoryAbort(t *testing.T) {
	h := newHarness(Limits{TotalBuffer: segCost(6) + 5, GapWait: time.Hour, Policy: GapAbort})
	for i := range 2 {
		s := cseg(1, syn, "")
		s.Src = netip.AddrPortFrom(cli.Addr(), uint16(40000+i))
		h.r.Add(s)
		s.Flags, s.Seq, s.Payload = packet.TCPAck, 10, []byte("123456")
		h.r.Add(s)
	}
	st := h.r.Stats()
	if !h.conns[1].ended || h.conns[1].why != EndMemory || st.Ended["memory"] != 1 || st.Evictions["memory"] != 1 {
		t.Errorf("second flow ended %v (%v); ended %v evictions %v", h.conns[1].ended, h.conns[1].why, st.Ended, st.Evictions)
	}
	h.r.CloseAll(EndClosed)
	if st := h.r.Stats(); st.Discarded["closed"] != 6 || st.Buffered != 0 {
		t.Errorf("discarded %v buffered %d, want closed:6, 0", st.Discarded, st.Buffered)
	}
}

// TestReassemblerReleasesDrainedBuffers: the out-of-order list of a flow
// whose holes were filled does not keep its grown backing array (memory no
// longer counted in Buffered): flows that each buffered many segments once
// hold nothing after their holes are filled.
func TestReassemblerReleasesDrainedBuffers(t *testing.T) {
	h := newHarness(Limits{GapWait: time.Hour})
	for i := range 20 {
		src := netip.AddrPortFrom(cli.Addr(), uint16(40000+i))
		add := func(s Segment) { s.Src = src; h.r.Add(s) }
		add(Segment{Tunnel: true, VNI: 42, Dst: srv, Seq: 0, Flags: syn, Time: t0})
		for j := range 1000 {
			add(cseg(uint32(2+j), 0, "x")) // all behind the hole at 1
		}
		add(cseg(1, 0, "y")) // fills it: everything drains
	}
	spare := 0
	for _, f := range h.r.flows {
		for _, side := range f.sides {
			spare += cap(side.ooo)
		}
	}
	if st := h.r.Stats(); st.Buffered != 0 || spare > 0 {
		t.Errorf("buffered %d, out-of-order list capacity kept %d entries, want 0 and 0", st.Buffered, spare)
	}
}

// TestReassemblerBytesAfterFin: bytes after a side's FIN are never
// delivered, and counted; a retransmission of bytes before it is not.
func TestReassemblerBytesAfterFin(t *testing.T) {
	h := newHarness(Limits{})
	h.r.Add(Segment{Tunnel: true, VNI: 42, Src: cli, Dst: srv, Seq: 100, Flags: syn, Time: t0})
	h.r.Add(cseg(101, fin, "abc"))
	h.r.Add(cseg(104, 0, "late"))
	h.r.Add(cseg(101, 0, "abc"))
	st := h.r.Stats()
	if got := h.conns[0].stream(Client); got != "abc" || st.Discarded["after_fin"] != 4 || st.Retransmitted != 3 {
		t.Errorf("client %q discarded %v retransmitted %d, want abc, after_fin:4, 3", got, st.Discarded, st.Retransmitted)
	}
}

// TestReassemblerSegmentCap: at most flow_buffer/256 segments wait per flow
// and direction, so a flood of tiny segments in descending order (each one
// inserted at the front of the sorted list) costs a bounded amount of work
// per segment; beyond the cap the hole is resolved early, counted.
func TestReassemblerSegmentCap(t *testing.T) {
	const flowBuffer = 64 << 10 // cap: 256 segments
	h := newHarness(Limits{GapWait: time.Hour, FlowBuffer: flowBuffer})
	h.r.Add(Segment{Tunnel: true, VNI: 42, Src: cli, Dst: srv, Seq: 0, Flags: syn, Time: t0})
	most := 0
	for j := 3000; j > 0; j-- {
		h.r.Add(cseg(uint32(2+j), 0, "x"))
		for _, f := range h.r.flows {
			most = max(most, len(f.sides[Client].ooo))
		}
	}
	st := h.r.Stats()
	if most > flowBuffer/256 || st.Evictions["segments"] == 0 || st.Gaps == 0 {
		t.Errorf("at most %d segments waited (cap %d); evictions %v gaps %d", most, flowBuffer/256, st.Evictions, st.Gaps)
	}
}

// TestReassemblerEndFlushes: a flow that ends (idle, evicted, reset,
// closed) with bytes waiting behind holes delivers them after counted gaps
// (skip), or counts them as discarded (abort); nothing stays buffered.
func TestReassemblerEndFlushes(t *testing.T) {
	tests := []struct {
		name      string
		policy    GapPolicy
		end       func(h *harness)
		why       EndReason
		client    string
		gaps      uint64
		discarded map[string]uint64
	}{
		{"idle, skip", GapSkip, func(h *harness) { h.r.Tick(t0.Add(time.Hour)) }, EndIdle, "abde", 2, map[string]uint64{}},
		{"reset, skip", GapSkip, func(h *harness) { h.r.Add(sseg(0, rst, "")) }, EndReset, "abde", 2, map[string]uint64{}},
		{"closed, skip", GapSkip, func(h *harness) { h.r.CloseAll(EndClosed) }, EndClosed, "abde", 2, map[string]uint64{}},
		{"idle, abort", GapAbort, func(h *harness) { h.r.Tick(t0.Add(time.Hour)) }, EndIdle, "abd", 0, map[string]uint64{"idle": 2}},
		{"evicted, abort", GapAbort, func(h *harness) {
			s := cseg(1, 0, "x")
			s.Src = netip.MustParseAddrPort("10.0.0.1:40001")
			h.r.Add(s)
		}, EndEvicted, "abd", 0, map[string]uint64{"evicted": 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(Limits{GapWait: 2 * time.Hour, IdleTimeout: time.Minute, MaxFlows: 1, Policy: tc.policy})
			h.r.Add(Segment{Tunnel: true, VNI: 42, Src: cli, Dst: srv, Seq: 100, Flags: syn, Time: t0})
			h.r.Add(cseg(101, 0, "a"))
			h.r.Add(cseg(105, 0, "e"))
			h.r.Add(cseg(103, 0, "d"))
			h.r.Add(cseg(102, 0, "b"))
			h.r.Add(cseg(107, 0, "g"))
			// "abd" delivered; "e" and "g" wait behind the holes at 104 and 106
			tc.end(h)
			c := h.conns[0]
			want := tc.client
			if tc.policy == GapSkip {
				want = "abdeg"
			}
			if c.stream(Client) != want || !c.ended || c.why != tc.why {
				t.Errorf("client %q ended %v (%v), want %q, %v", c.stream(Client), c.ended, c.why, want, tc.why)
			}
			st := h.r.Stats()
			if st.Buffered != 0 || st.Gaps != tc.gaps || !maps.Equal(st.Discarded, tc.discarded) {
				t.Errorf("buffered %d gaps %d discarded %v, want 0, %d, %v", st.Buffered, st.Gaps, st.Discarded, tc.gaps, tc.discarded)
			}
		})
	}
}

// chop cuts stream (starting at seq isn+1) into segments of random sizes.
func chop(rng *rand.Rand, stream []byte, isn uint32) []Segment {
	var out []Segment
	for off := 0; off < len(stream); {
		n := 1 + rng.IntN(min(64, len(stream)-off))
		out = append(out, cseg(isn+1+uint32(off), 0, string(stream[off:off+n])))
		off += n
	}
	return out
}

// TestReassemblerShuffled: any order of any segmentation, with duplicates
// and overlapping re-segmentations, yields the stream exactly (no loss).
func TestReassemblerShuffled(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		stream := make([]byte, 1+rng.IntN(2000))
		for i := range stream {
			stream[i] = byte(rng.IntN(256))
		}
		isn := rng.Uint32()
		segs := chop(rng, stream, isn)
		dup := chop(rng, stream, isn) // duplicates with other boundaries: overlaps
		segs = append(segs, dup[:rng.IntN(len(dup)+1)]...)
		rng.Shuffle(len(segs), func(i, j int) { segs[i], segs[j] = segs[j], segs[i] })
		h := newHarness(Limits{GapWait: time.Hour})
		h.r.Add(Segment{Tunnel: true, VNI: 42, Src: cli, Dst: srv, Seq: isn, Flags: syn, Time: t0})
		for _, s := range segs {
			h.r.Add(s)
		}
		if got := h.conns[0].data[Client].Bytes(); !bytes.Equal(got, stream) {
			t.Fatalf("seed %d: got %d bytes, want %d (equal prefix %d)", seed, len(got), len(stream), commonPrefix(got, stream))
		}
		if st := h.r.Stats(); st.Buffered != 0 || st.Gaps != 0 {
			t.Fatalf("seed %d: buffered %d gaps %d", seed, st.Buffered, st.Gaps)
		}
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// FuzzReassembler feeds arbitrary segments: no panic, and what is delivered
// plus the reported gaps never exceed the sequence space covered.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint32(1000))
	f.Add([]byte{0xff, 0xff, 0xff, 0xfd, 2, 0, 0, 0, 1, 3}, uint32(0xFFFFFFF0))
	f.Fuzz(func(t *testing.T, ops []byte, isn uint32) {
		h := newHarness(Limits{GapWait: time.Second, FlowBuffer: 256, TotalBuffer: 512, MaxFlows: 3})
		now := t0
		for len(ops) >= 4 {
			op := ops[0]
			off := uint32(ops[1]) | uint32(ops[2])<<8
			n := int(ops[3]) % 64
			ops = ops[4:]
			s := cseg(isn+off, uint16(op)&(syn|fin|rst), string(bytes.Repeat([]byte{op}, n)))
			if op&0x80 != 0 {
				s.Src, s.Dst = s.Dst, s.Src
			}
			if op&0x40 != 0 {
				s.VNI = uint32(op & 3)
			}
			now = now.Add(time.Duration(op&0x30) * 100 * time.Millisecond)
			s.Time = now
			h.r.Add(s)
			if op&0x08 != 0 {
				h.r.Tick(now)
			}
		}
		h.r.Tick(now.Add(time.Hour))
		st := h.r.Stats()
		if st.Buffered != 0 || st.Open != 0 {
			t.Fatalf("after the idle timeout: buffered %d open %d", st.Buffered, st.Open)
		}
	})
}
