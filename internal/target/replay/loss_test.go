package replay

import (
	"context"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
)

// mirrorConn builds the VXLAN-mirrored segments of one TCP connection with
// the repository's packet builder. Each call returns the segment and moves
// that side's sequence number on; a segment that is built and never sent is
// a hole.
type mirrorConn struct {
	cli, srv   netip.AddrPort
	cseq, sseq uint32
}

func newMirrorConn(port uint16) *mirrorConn {
	return &mirrorConn{cli: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.7"), port),
		srv: netip.MustParseAddrPort("10.0.0.9:80"), cseq: 0xFFFFFF00, sseq: 77}
}

func (c *mirrorConn) seg(fromClient bool, flags uint16, payload string) handoff.Delivery {
	src, dst, seq, ack := c.cli, c.srv, &c.cseq, c.sseq
	if !fromClient {
		src, dst, seq, ack = c.srv, c.cli, &c.sseq, c.cseq
	}
	inner := packet.Build(packet.Eth{}, packet.IPv4{Src: src.Addr(), Dst: dst.Addr()},
		packet.TCP{Src: src.Port(), Dst: dst.Port(), Seq: *seq, Ack: ack, Flags: flags | packet.TCPAck, Window: 65535},
		packet.Payload([]byte(payload)))
	n := uint32(len(payload))
	if flags&(packet.TCPSyn|packet.TCPFin) != 0 {
		n++
	}
	*seq += n
	return handoff.Delivery{Frame: encapsulate(inner, 42, src.Port()), Capture: packet.CaptureInfo{LinkType: packet.LinkEthernet}}
}

// open is the handshake (the SYN without ACK, the SYN-ACK).
func (c *mirrorConn) open() []handoff.Delivery {
	syn := c.seg(true, packet.TCPSyn, "")
	// a SYN carries no ACK flag: rebuild it without
	inner := packet.Build(packet.Eth{}, packet.IPv4{Src: c.cli.Addr(), Dst: c.srv.Addr()},
		packet.TCP{Src: c.cli.Port(), Dst: c.srv.Port(), Seq: c.cseq - 1, Flags: packet.TCPSyn, Window: 65535})
	syn.Frame = encapsulate(inner, 42, c.cli.Port())
	return []handoff.Delivery{syn, c.seg(false, packet.TCPSyn, "")}
}

func (c *mirrorConn) req(s string) handoff.Delivery { return c.seg(true, packet.TCPPsh, s) }

func get(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: shop.example\r\n\r\n" }

// t0 is where a test's clock starts.
var t0 = time.Unix(1_700_000_000, 0)

// clock is a settable Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// step sends deliveries, then moves the clock by wait and applies the time limits.
type step struct {
	send []handoff.Delivery
	wait time.Duration
}

func uris(rs []shadowReq) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Method+" "+r.URI)
	}
	return out
}

// waitFor polls (bounded) until the shadow has n requests.
func waitFor(sh *shadow, n int) {
	for deadline := time.Now().Add(10 * time.Second); len(sh.received()) < n && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNothingLostSilently: every request of the mirrored traffic is either
// replayed or counted in requests_dropped_total{reason}.
func TestNothingLostSilently(t *testing.T) {
	a, b := newMirrorConn(40001), newMirrorConn(40002)
	tests := []struct {
		name  string
		cfg   func(*Config)
		steps func() []step
		// wantOpen: requests the shadow has before Close (the time limits
		// alone replayed them), in order; wantAll: after Close (sorted when
		// sorted is set: several flows).
		wantOpen []string
		wantAll  []string
		sorted   bool
		dropped  map[string]uint64
		// buffered0: nothing is held for out-of-order bytes after the steps.
		buffered0 bool
	}{
		{name: "second hole is resolved like the first",
			cfg: func(c *Config) { c.Limits.GapWait = time.Second },
			steps: func() []step {
				c := newMirrorConn(40000)
				hs := c.open()
				r1, _, r3, _, r5 := c.req(get("/1")), c.req(get("/2")), c.req(get("/3")), c.req(get("/4")), c.req(get("/5"))
				return []step{{send: append(hs, r1, r3, r5), wait: 2 * time.Second}, {wait: 2 * time.Second}}
			},
			wantOpen: []string{"GET /1", "GET /3", "GET /5"}, wantAll: []string{"GET /1", "GET /3", "GET /5"},
			dropped: map[string]uint64{"gap": 2}, buffered0: true},
		{name: "idle eviction replays the request behind a hole",
			cfg: func(c *Config) { c.Limits.GapWait, c.Limits.IdleTimeout = time.Hour, time.Minute },
			steps: func() []step {
				c := newMirrorConn(40000)
				hs := c.open()
				r1, _, r3 := c.req(get("/1")), c.req(get("/2")), c.req(get("/3"))
				return []step{{send: append(hs, r1, r3), wait: 2 * time.Minute}}
			},
			wantOpen: []string{"GET /1", "GET /3"}, wantAll: []string{"GET /1", "GET /3"},
			dropped: map[string]uint64{"gap": 1}, buffered0: true},
		{name: "max_flows eviction replays the request behind a hole",
			cfg: func(c *Config) { c.Limits.GapWait, c.Limits.MaxFlows = time.Hour, 1 },
			steps: func() []step {
				hs := a.open()
				r1, _, r3 := a.req(get("/a1")), a.req(get("/a2")), a.req(get("/a3"))
				return []step{{send: append(hs, r1, r3)}, {send: append(b.open(), b.req(get("/b1")))}}
			},
			wantOpen: []string{"GET /a1", "GET /a3", "GET /b1"}, wantAll: []string{"GET /a1", "GET /a3", "GET /b1"}, sorted: true,
			dropped: map[string]uint64{"gap": 1}},
		{name: "close replays the request behind a hole",
			cfg: func(c *Config) { c.Limits.GapWait = time.Hour },
			steps: func() []step {
				c := newMirrorConn(40000)
				hs := c.open()
				r1, _, r3 := c.req(get("/1")), c.req(get("/2")), c.req(get("/3"))
				return []step{{send: append(hs, r1, r3)}}
			},
			wantOpen: []string{"GET /1"}, wantAll: []string{"GET /1", "GET /3"},
			dropped: map[string]uint64{"gap": 1}},
		{name: "request cut by RST is counted",
			steps: func() []step {
				c := newMirrorConn(40000)
				hs := c.open()
				return []step{{send: append(hs, c.req(get("/1")), c.req("POST /cut HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"),
					c.seg(false, packet.TCPRst, ""))}}
			},
			wantOpen: []string{"GET /1"}, wantAll: []string{"GET /1"}, dropped: map[string]uint64{"reset": 1}},
		{name: "request cut by the client's FIN is counted",
			steps: func() []step {
				c := newMirrorConn(40000)
				hs := c.open()
				return []step{{send: append(hs, c.req(get("/1")), c.req("GET /half HTTP/1.1\r\nHost: x\r\n"),
					c.seg(true, packet.TCPFin, ""), c.seg(false, packet.TCPFin, ""))}}
			},
			wantOpen: []string{"GET /1"}, wantAll: []string{"GET /1"}, dropped: map[string]uint64{"fin": 1}},
		{name: "any RFC 9110 method token is replayed",
			steps: func() []step {
				c := newMirrorConn(40000)
				hs := c.open()
				return []step{{send: append(hs, c.req(get("/1")), c.req("QUERY /q HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"),
					c.req("CCM_POST /c HTTP/1.1\r\nHost: x\r\n\r\n"), c.req("M-SEARCH /m HTTP/1.1\r\nHost: x\r\n\r\n"),
					c.req("LINK /l HTTP/1.1\r\nHost: x\r\n\r\n"), c.req("X!#$%&'*+.^_`|~9 /t HTTP/1.1\r\nHost: x\r\n\r\n"))}}
			},
			wantOpen: []string{"GET /1", "QUERY /q", "CCM_POST /c", "M-SEARCH /m", "LINK /l", "X!#$%&'*+.^_`|~9 /t"},
			wantAll:  []string{"GET /1", "QUERY /q", "CCM_POST /c", "M-SEARCH /m", "LINK /l", "X!#$%&'*+.^_`|~9 /t"}},
		{name: "content-length with transfer-encoding stops the connection",
			steps: func() []step {
				c := newMirrorConn(40000)
				hs := c.open()
				return []step{{send: append(hs, c.req(get("/1")),
					c.req("POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+get("/smuggled")),
					c.req(get("/after")))}}
			},
			wantOpen: []string{"GET /1"}, wantAll: []string{"GET /1"}, dropped: map[string]uint64{"parse_error": 3}},
		{name: "a bad chunk stops the connection",
			steps: func() []step {
				c := newMirrorConn(40000)
				hs := c.open()
				return []step{{send: append(hs, c.req("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"+get("/smuggled")))}}
			},
			wantAll: nil, dropped: map[string]uint64{"parse_error": 2}},
		{name: "a flow joined mid-request counts the request it cut",
			steps: func() []step {
				c := newMirrorConn(40000)
				return []step{{send: []handoff.Delivery{c.req("ue\r\nHost: x\r\n\r\n"), c.req(get("/2"))}}}
			},
			wantOpen: []string{"GET /2"}, wantAll: []string{"GET /2"}, dropped: map[string]uint64{"midstream": 1}},
		{name: "a flow joined between requests counts nothing",
			steps: func() []step {
				c := newMirrorConn(40000)
				return []step{{send: []handoff.Delivery{c.req(get("/1")), c.req(get("/2"))}}}
			},
			wantOpen: []string{"GET /1", "GET /2"}, wantAll: []string{"GET /1", "GET /2"}},
		{name: "resync (configured) replays the smuggled request",
			cfg: func(c *Config) { c.ResyncOnParseError = true },
			steps: func() []step {
				c := newMirrorConn(40000)
				hs := c.open()
				return []step{{send: append(hs, c.req("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"+get("/smuggled")))}}
			},
			wantOpen: []string{"GET /smuggled"}, wantAll: []string{"GET /smuggled"}, dropped: map[string]uint64{"parse_error": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sh := newShadow(t)
			clk := &clock{now: t0}
			cfg := Config{Name: "shadow", URL: sh.URL, Now: clk.Now, Tick: time.Hour}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			tg, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			for _, s := range tc.steps() {
				if len(s.send) > 0 {
					if err := tg.Send(context.Background(), s.send); err != nil {
						t.Fatal(err)
					}
				}
				clk.add(s.wait)
				tg.Flush()
			}
			waitFor(sh, len(tc.wantOpen))
			got := uris(sh.received())
			if tc.sorted {
				slices.Sort(got)
			}
			if strings.Join(got, ",") != strings.Join(tc.wantOpen, ",") {
				t.Errorf("before close: shadow got %q, want %q", got, tc.wantOpen)
			}
			if st := tg.Stats(); tc.buffered0 && st.Reasm.Buffered != 0 {
				t.Errorf("before close: buffered %d, want 0", st.Reasm.Buffered)
			}
			tg.Close()
			got = uris(sh.received())
			if tc.sorted {
				slices.Sort(got)
			}
			if strings.Join(got, ",") != strings.Join(tc.wantAll, ",") {
				t.Errorf("after close: shadow got %q, want %q", got, tc.wantAll)
			}
			st := tg.Stats()
			if tc.dropped == nil {
				tc.dropped = map[string]uint64{}
			}
			if !maps.Equal(st.Dropped, tc.dropped) {
				t.Errorf("dropped = %v, want %v", st.Dropped, tc.dropped)
			}
			// The books balance: every request parsed was replayed or dropped.
			if st.RequestsForwarded != uint64(len(tc.wantAll)) {
				t.Errorf("forwarded %d, want %d", st.RequestsForwarded, len(tc.wantAll))
			}
		})
	}
}

// TestTCPFlowNotReplayedIsCounted: in tcp mode a flow whose bytes do not
// reach the shadow is counted as dropped.
func TestTCPFlowNotReplayedIsCounted(t *testing.T) {
	// A port nobody listens on: bind one, note it, close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name    string
		address string
		dropped map[string]uint64
	}{
		{"shadow refuses the connection", refused, map[string]uint64{"target_error": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := New(Config{Name: "tcp", Protocol: ProtocolTCP, Address: tc.address, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			c := newMirrorConn(40000)
			sendAll(t, tg, append(c.open(), c.req(get("/1")), c.seg(true, packet.TCPFin, ""), c.seg(false, packet.TCPFin, "")))
			if err := tg.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			tg.Close()
			if st := tg.Stats(); !maps.Equal(st.Dropped, tc.dropped) {
				t.Errorf("dropped = %v, want %v", st.Dropped, tc.dropped)
			}
		})
	}
}
