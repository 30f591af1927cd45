package gwlb

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

var (
	client  = netip.MustParseAddr("10.0.1.2")
	server  = netip.MustParseAddr("10.0.2.2")
	client6 = netip.MustParseAddr("fd00:1::2")
	server6 = netip.MustParseAddr("fd00:2::2")
	local   = netip.MustParseAddr("10.0.3.1")
	app1    = netip.MustParseAddrPort("10.0.3.2:6081")
	app2    = netip.MustParseAddrPort("10.0.3.3:6081")
)

// newTest returns a GWLB with two appliances, no health checks, and the
// local ports 50000..50007, without opening anything.
func newTest(t testing.TB, mut func(*Config)) *GWLB {
	t.Helper()
	cfg := Config{Appliances: []netip.AddrPort{app1, app2}, EndpointID: 0x1122334455667788, AttachmentID: 0x99aabbccddeeff00,
		Listen: netip.AddrPortFrom(local, 50000)}
	if mut != nil {
		mut(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g.src = local
	for i := range g.cfg.Ports {
		g.ports = append(g.ports, uint16(50000+i))
	}
	return g
}

func udp4(src, dst netip.Addr, sp, dp uint16, payload string) []byte {
	return packet.Build(packet.IPv4{Src: src, Dst: dst, TTL: 64}, packet.UDP{Src: sp, Dst: dp}, packet.Payload(payload))
}

func udp6(src, dst netip.Addr, sp, dp uint16, payload string) []byte {
	return packet.Build(packet.IPv6{Src: src, Dst: dst, HopLimit: 64}, packet.UDP{Src: sp, Dst: dp}, packet.Payload(payload))
}

func tcp4(src, dst netip.Addr, sp, dp uint16, payload string) []byte {
	return packet.Build(packet.IPv4{Src: src, Dst: dst, TTL: 64}, packet.TCP{Src: sp, Dst: dp, Flags: packet.TCPAck}, packet.Payload(payload))
}

func icmp4(src, dst netip.Addr, seq uint16) []byte {
	return packet.Build(packet.IPv4{Src: src, Dst: dst, TTL: 64}, packet.ICMPv4{Type: 8, ID: 7, Seq: seq}, packet.Payload("ping"))
}

// out runs inner through the outgoing path and returns the Geneve packet
// (outer IPv4 on) and the appliance index.
func out(t testing.TB, g *GWLB, inner []byte) ([]byte, int) {
	t.Helper()
	b := append(make([]byte, Headroom), inner...)
	var p packet.Packet
	i, ok := g.prepare(b, &p, time.Now())
	if !ok {
		t.Fatalf("prepare dropped the packet: %+v", g.Stats().Drops)
	}
	return b, i
}

// TestEncapsulation: the packet sent is what AWS GWLB sends: outer IPv4
// (DF, right checksum) and UDP (right checksum) from a per-flow port to the
// appliance, Geneve version 0 with the inner protocol, VNI 0 and the three
// AWS options, then the inner packet unchanged; it decodes as such.
func TestEncapsulation(t *testing.T) {
	tests := []struct {
		name  string
		inner []byte
		proto uint16
	}{
		{"udp over ipv4", udp4(client, server, 40000, 3000, "weakly typed"), packet.EtherTypeIPv4},
		{"tcp over ipv4", tcp4(client, server, 40001, 80, "GET / HTTP/1.1\r\n\r\n"), packet.EtherTypeIPv4},
		{"icmp echo", icmp4(client, server, 1), packet.EtherTypeIPv4},
		{"udp over ipv6", udp6(client6, server6, 40000, 3000, "six"), packet.EtherTypeIPv6},
		{"jumbo 8500-byte inner", udp4(client, server, 40002, 3000, string(bytes.Repeat([]byte{'j'}, 8500-28))), packet.EtherTypeIPv4},
		{"odd length", udp4(client, server, 40003, 3000, "odd"), packet.EtherTypeIPv4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newTest(t, nil)
			b, i := out(t, g, tt.inner)
			var p packet.Packet
			if err := packet.Decode(&p, b, packet.CaptureInfo{LinkType: packet.LinkIPv4}); err != nil {
				t.Fatalf("decode: %v", err)
			}
			o := p.Outer()
			if o.Src != local || o.Dst != g.apps[i].addr.Addr() || o.DstPort != 6081 || !o.DontFrag || o.IPTotalLen != len(b) {
				t.Errorf("outer %s:%d -> %s:%d DF %v len %d", o.Src, o.SrcPort, o.Dst, o.DstPort, o.DontFrag, o.IPTotalLen)
			}
			if o.SrcPort < 50000 || o.SrcPort >= 50008 {
				t.Errorf("outer source port %d, want one of the GWLB's 50000..50007", o.SrcPort)
			}
			if s := p.VerifyIPv4Checksum(0); s != packet.ChecksumGood {
				t.Errorf("outer IPv4 checksum %s", s)
			}
			if s := p.VerifyTransportChecksum(0); s != packet.ChecksumGood {
				t.Errorf("outer UDP checksum %s", s)
			}
			tn := p.Tunnel()
			if tn == nil || tn.Type != packet.TunnelGeneve || tn.GeneveProto != tt.proto || tn.VNI != 0 || tn.NumOptions != 3 || tn.GeneveCrit || tn.GeneveOAM {
				t.Fatalf("tunnel %+v", tn)
			}
			want := packet.GWLB{EndpointID: 0x1122334455667788, AttachmentID: 0x99aabbccddeeff00, Has: 7}
			want.FlowCookie = tn.GWLB.FlowCookie
			if tn.GWLB != want || tn.GWLB.FlowCookie == 0 {
				t.Errorf("GWLB options %+v", tn.GWLB)
			}
			if !bytes.Equal(b[Headroom:], tt.inner) {
				t.Error("inner packet changed")
			}
			// The same bytes through the builder (the decoder's test helper).
			built := packet.Build(packet.IPv4{Src: local, Dst: g.apps[i].addr.Addr(), TTL: 64, ID: binary.BigEndian.Uint16(b[4:6]), DF: true},
				packet.UDP{Src: o.SrcPort, Dst: 6081},
				packet.Geneve{Proto: tt.proto, Options: packet.GWLBOptions(want.EndpointID, want.AttachmentID, tn.GWLB.FlowCookie)},
				packet.Payload(tt.inner))
			if !bytes.Equal(built, b) {
				t.Errorf("encapsulated packet differs from the builder's\n got %x\nwant %x", b[:Headroom], built[:min(len(built), Headroom)])
			}
		})
	}
}

// TestFlowSymmetry: both directions of a flow get the same flow cookie,
// outer source port and appliance; different flows get different cookies.
func TestFlowSymmetry(t *testing.T) {
	tests := []struct {
		name      string
		fwd, back []byte
	}{
		{"udp", udp4(client, server, 40000, 3000, "a"), udp4(server, client, 3000, 40000, "b")},
		{"tcp", tcp4(client, server, 40000, 80, "a"), tcp4(server, client, 80, 40000, "b")},
		{"udp over ipv6", udp6(client6, server6, 5353, 53, "a"), udp6(server6, client6, 53, 5353, "b")},
		{"icmp echo and reply", icmp4(client, server, 1),
			packet.Build(packet.IPv4{Src: server, Dst: client, TTL: 64}, packet.ICMPv4{Type: 0, ID: 7, Seq: 1}, packet.Payload("ping"))},
		{"same address both ends", udp4(client, client, 1, 2, "a"), udp4(client, client, 2, 1, "b")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newTest(t, nil)
			fb, fi := out(t, g, tt.fwd)
			bb, bi := out(t, g, tt.back)
			if fi != bi {
				t.Errorf("appliance %d one way, %d the other", fi, bi)
			}
			if !bytes.Equal(fb[20:22], bb[20:22]) {
				t.Errorf("outer source port %x one way, %x the other", fb[20:22], bb[20:22])
			}
			if c1, c2 := fb[Headroom-4:Headroom], bb[Headroom-4:Headroom]; !bytes.Equal(c1, c2) {
				t.Errorf("flow cookie %x one way, %x the other", c1, c2)
			}
			if n := g.flows.len(); n != 1 {
				t.Errorf("%d flows, want 1", n)
			}
		})
	}
	g := newTest(t, nil)
	seen := map[string]bool{}
	for port := range uint16(100) {
		b, _ := out(t, g, udp4(client, server, 40000+port, 3000, "x"))
		c := string(b[Headroom-4 : Headroom])
		if seen[c] {
			t.Fatalf("flow %d: cookie %x already given to another flow", port, c)
		}
		seen[c] = true
	}
}

// TestFlowHashSpread: flows spread over the appliances and the local ports
// (a hash that always picked one would fail), and a flow keeps its
// appliance and port.
func TestFlowHashSpread(t *testing.T) {
	g := newTest(t, nil)
	perApp := map[int]int{}
	perPort := map[uint16]int{}
	for port := range uint16(400) {
		inner := udp4(client, server, 20000+port, 3000, "x")
		b, i := out(t, g, inner)
		perApp[i]++
		perPort[binary.BigEndian.Uint16(b[20:22])]++
		if b2, i2 := out(t, g, inner); i2 != i || !bytes.Equal(b2[20:22], b[20:22]) {
			t.Fatalf("flow %d moved from appliance %d to %d", port, i, i2)
		}
	}
	if len(perApp) != 2 || perApp[0] < 100 || perApp[1] < 100 {
		t.Errorf("400 flows over 2 appliances: %v", perApp)
	}
	if len(perPort) != 8 {
		t.Errorf("400 flows over 8 ports: %v", perPort)
	}
}

// TestFailover: when a flow's appliance stops serving, the flow (both
// directions) moves to a healthy one; with none healthy the packet is
// dropped and counted, or sent anyway under fail-open.
func TestFailover(t *testing.T) {
	for _, policy := range []Policy{PolicyDrop, PolicyFailOpen} {
		t.Run(string(policy), func(t *testing.T) {
			g := newTest(t, func(c *Config) { c.AllUnhealthy = policy })
			fwd, back := udp4(client, server, 40000, 3000, "a"), udp4(server, client, 3000, 40000, "b")
			_, first := out(t, g, fwd)
			g.apps[first].serving.Store(false)
			g.rebuildHealthy()
			if _, i := out(t, g, back); i != 1-first {
				t.Errorf("after appliance %d failed, the reply went to %d", first, i)
			}
			if _, i := out(t, g, fwd); i != 1-first {
				t.Errorf("after appliance %d failed, the flow went to %d", first, i)
			}
			g.apps[1-first].serving.Store(false)
			g.rebuildHealthy()
			b := append(make([]byte, Headroom), fwd...)
			var p packet.Packet
			_, ok := g.prepare(b, &p, time.Now())
			s := g.Stats()
			switch policy {
			case PolicyDrop:
				if ok || s.Drops["no_healthy_appliance"] != 1 {
					t.Errorf("none healthy, drop: sent %v, drops %v", ok, s.Drops)
				}
			case PolicyFailOpen:
				if !ok || s.AllUnhealthyFailOpen != 1 {
					t.Errorf("none healthy, fail-open: sent %v, fail-open count %d", ok, s.AllUnhealthyFailOpen)
				}
			}
		})
	}
}

// TestNoRebalance: with NoRebalance a flow stays on its appliance after it
// turns unhealthy, and a new flow goes to a healthy one.
func TestNoRebalance(t *testing.T) {
	g := newTest(t, func(c *Config) { c.NoRebalance = true })
	_, first := out(t, g, udp4(client, server, 40000, 3000, "a"))
	g.apps[first].serving.Store(false)
	g.rebuildHealthy()
	if _, i := out(t, g, udp4(server, client, 3000, 40000, "b")); i != first {
		t.Errorf("the existing flow moved from appliance %d to %d", first, i)
	}
	for port := range uint16(20) {
		if _, i := out(t, g, udp4(client, server, 50000+port, 3000, "c")); i == first {
			t.Fatalf("a new flow went to the unhealthy appliance %d", first)
		}
	}
}

// TestHealthStateMachine: a new appliance is healthy at its first success
// and unhealthy after the unhealthy threshold; then the thresholds count
// consecutive results.
func TestHealthStateMachine(t *testing.T) {
	tests := []struct {
		name    string
		results string // s success, f failure
		want    string // state after each result: i, h, u
	}{
		{"first success", "s", "h"},
		{"initial failures", "fff", "iiu"},
		{"healthy needs 3 failures in a row", "sffsfff", "hhhhhhu"},
		{"unhealthy needs 3 successes in a row", "fffssfsss", "iiuuuuuuh"},
		{"flapping stays healthy", "sfsfsfsf", "hhhhhhhh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h health
			for i, r := range tt.results {
				_, to := h.observe(r == 's', 3, 3)
				if got := to.String()[:1]; got != tt.want[i:i+1] {
					t.Fatalf("after %q: %s, want %s", tt.results[:i+1], to, tt.want[i:i+1])
				}
			}
		})
	}
}

func TestParseHealth(t *testing.T) {
	tests := []struct {
		in   string
		want HealthCheck
		err  bool
	}{
		{"tcp:8080", HealthCheck{Protocol: "tcp", Port: 8080}, false},
		{"http:8080/healthz", HealthCheck{Protocol: "http", Port: 8080, Path: "/healthz"}, false},
		{"http:80", HealthCheck{Protocol: "http", Port: 80, Path: "/"}, false},
		{"udp:53", HealthCheck{}, true},
		{"tcp:0", HealthCheck{}, true},
		{"tcp:70000", HealthCheck{}, true},
		{"tcp", HealthCheck{}, true},
		{"http:x/y", HealthCheck{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseHealth(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("ParseHealth(%q) = %+v, %v", tt.in, got, err)
			}
		})
	}
}

// echo returns what an echo appliance sends back for the Geneve packet b:
// the UDP payload, unchanged.
func echo(b []byte) []byte { return bytes.Clone(b[ipv4Len+udpLen:]) }

// TestCheckReturn: what comes back is accepted only when its Geneve header
// and options are those sent, its cookie is known, and its inner packet is
// whole and of the cookie's flow.
func TestCheckReturn(t *testing.T) {
	g := newTest(t, nil)
	fwd := udp4(client, server, 40000, 3000, "weakly typed")
	b, _ := out(t, g, fwd)
	port := binary.BigEndian.Uint16(b[20:22])
	good := echo(b)
	other, _ := out(t, g, udp4(client, server, 40001, 3000, "x"))
	mod := func(f func(r []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		b    []byte
		port uint16
		want Return
	}{
		{"echo", good, port, ReturnOK},
		{"reply direction of the flow", mod(func(r []byte) []byte {
			return append(r[:genevePrefix], udp4(server, client, 3000, 40000, "reply")...)
		}), port, ReturnOK},
		{"rewritten payload, same length", mod(func(r []byte) []byte {
			return append(r[:genevePrefix], udp4(client, server, 40000, 3000, "strong typed")...)
		}), port, ReturnOK},
		{"trailing padding", append(bytes.Clone(good), 0, 0, 0, 0), port, ReturnOK},
		{"empty", nil, port, ReturnMalformed},
		{"header only", good[:genevePrefix], port, ReturnMalformed},
		{"geneve version 1", mod(func(r []byte) []byte { r[0] |= 0x40; return r }), port, ReturnMalformed},
		{"unknown cookie", mod(func(r []byte) []byte { r[cookieOff] ^= 0xff; return r }), port, ReturnUnknownCookie},
		{"other flow's cookie", append(bytes.Clone(echo(other)[:genevePrefix]), fwd...), port, ReturnMismatch},
		{"endpoint id changed", mod(func(r []byte) []byte { r[geneveLen+4] ^= 1; return r }), port, ReturnMismatch},
		{"attachment id changed", mod(func(r []byte) []byte { r[geneveLen+16] ^= 1; return r }), port, ReturnMismatch},
		{"option type changed", mod(func(r []byte) []byte { r[geneveLen+2] = 9; return r }), port, ReturnMismatch},
		{"oam bit set", mod(func(r []byte) []byte { r[1] |= 0x80; return r }), port, ReturnMismatch},
		{"protocol says ipv6", mod(func(r []byte) []byte { r[2], r[3] = 0x86, 0xdd; return r }), port, ReturnMismatch},
		{"wrong local port", good, port + 1, ReturnMismatch},
		{"inner not ip", mod(func(r []byte) []byte { r[genevePrefix] = 0x15; return r }), port, ReturnMalformed},
		{"inner truncated", good[:len(good)-3], port, ReturnMalformed},
		{"inner of another flow", mod(func(r []byte) []byte {
			return append(r[:genevePrefix], udp4(client, server, 40000, 3001, "x")...)
		}), port, ReturnMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p packet.Packet
			inner, _, r := g.checkReturn(tt.b, tt.port, &p)
			if r != tt.want {
				t.Fatalf("checkReturn: %s, want %s", r, tt.want)
			}
			if r == ReturnOK {
				if want := tt.b[genevePrefix:]; !bytes.HasPrefix(want, inner) || len(inner) == 0 {
					t.Errorf("inner %x, want a prefix of %x", inner, want)
				}
				if l := int(binary.BigEndian.Uint16(inner[2:4])); inner[0]>>4 == 4 && l != len(inner) {
					t.Errorf("inner length %d, IPv4 total length %d", len(inner), l)
				}
			} else if inner != nil {
				t.Errorf("a rejected return gave an inner packet")
			}
		})
	}
}

// TestDropsOnTheWayOut: what cannot or must not be encapsulated is dropped and counted.
func TestDropsOnTheWayOut(t *testing.T) {
	tests := []struct {
		name  string
		inner []byte
		drop  string
	}{
		{"larger than an ipv4 datagram", udp6(client6, server6, 1, 2, string(make([]byte, 65535-48))), "oversize"},
		{"not ip", []byte{0x15, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, "undecodable"},
		{"empty", nil, "undecodable"},
		{"ipv6 multicast listener report from ::", udp6(netip.IPv6Unspecified(), netip.MustParseAddr("ff02::16"), 0, 0, "x"), "link_local"},
		{"ipv6 link-local", udp6(netip.MustParseAddr("fe80::1"), server6, 1, 2, "x"), "link_local"},
		{"ipv4 link-local multicast", udp4(client, netip.MustParseAddr("224.0.0.251"), 5353, 5353, "x"), "link_local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newTest(t, nil)
			b := append(make([]byte, Headroom), tt.inner...)
			var p packet.Packet
			if _, ok := g.prepare(b, &p, time.Now()); ok {
				t.Fatal("sent")
			}
			if d := g.Stats().Drops; d[tt.drop] != 1 {
				t.Errorf("drops %v, want one %s", d, tt.drop)
			}
		})
	}
}

// TestFlowExpiry: idle flows are forgotten, and their cookies with them.
func TestFlowExpiry(t *testing.T) {
	g := newTest(t, nil)
	b, _ := out(t, g, udp4(client, server, 40000, 3000, "a"))
	port := binary.BigEndian.Uint16(b[20:22])
	if n := g.flows.expire(time.Now().Add(-time.Minute)); n != 0 {
		t.Errorf("expired %d active flows", n)
	}
	if n := g.flows.expire(time.Now().Add(time.Minute)); n != 1 {
		t.Errorf("expired %d flows, want 1", n)
	}
	var p packet.Packet
	if _, _, r := g.checkReturn(echo(b), port, &p); r != ReturnUnknownCookie {
		t.Errorf("return for an expired flow: %s", r)
	}
}

// TestNewRejects: configurations New refuses, with the reason.
func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		mut  func(*Config)
	}{
		{"no appliance", func(c *Config) { c.Appliances = nil }},
		{"ipv6 appliance", func(c *Config) { c.Appliances = []netip.AddrPort{netip.MustParseAddrPort("[fd00::1]:6081")} }},
		{"appliance port 0", func(c *Config) { c.Appliances = []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:0")} }},
		{"mtu too small", func(c *Config) { c.MTU = 500 }},
		{"mtu too large", func(c *Config) { c.MTU = 65535 }},
		{"ports past 65535", func(c *Config) { c.Listen = netip.MustParseAddrPort("10.0.0.1:65530"); c.Ports = 8 }},
		{"bad policy", func(c *Config) { c.AllUnhealthy = "maybe" }},
		{"bad health protocol", func(c *Config) { c.Health.Protocol = "udp" }},
		{"health without port", func(c *Config) { c.Health.Protocol = "tcp" }},
		{"ipv6 listen", func(c *Config) { c.Listen = netip.MustParseAddrPort("[fd00::1]:0") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Appliances: []netip.AddrPort{app1}}
			tt.mut(&cfg)
			if _, err := New(cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestReturnPorts: a reply comes back as AWS GWLB expects it, with the
// outer addresses swapped and the UDP ports kept: from the appliance's
// address and the flow's source port, to the appliance's Geneve port. It
// is written to the TUN; a reply from elsewhere is refused and counted.
func TestReturnPorts(t *testing.T) {
	g := newTest(t, nil)
	b, i := out(t, g, udp4(client, server, 40000, 3000, "weakly typed"))
	app := g.apps[i].addr
	flowPort := binary.BigEndian.Uint16(b[20:22])
	tests := []struct {
		name string
		from netip.AddrPort
		to   uint16
		want Return
	}{
		{"ports kept", netip.AddrPortFrom(app.Addr(), flowPort), app.Port(), ReturnOK},
		{"ipv4-mapped source", netip.AddrPortFrom(netip.AddrFrom16(app.Addr().As16()), flowPort), app.Port(), ReturnOK},
		{"ports swapped", app, flowPort, ReturnUnknownAppliance},
		{"another flow's port", netip.AddrPortFrom(app.Addr(), flowPort^1), app.Port(), ReturnMismatch},
		{"not an appliance", netip.AddrPortFrom(netip.MustParseAddr("10.0.3.9"), flowPort), app.Port(), ReturnUnknownAppliance},
		{"not the appliance port", netip.AddrPortFrom(app.Addr(), flowPort), app.Port() + 1, ReturnUnknownAppliance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := g.Stats()
			var tun bytes.Buffer
			var p packet.Packet
			g.handleReturn(echo(b), tt.from, tt.to, &p, &tun)
			after := g.Stats()
			if got := after.Returns[tt.want.String()] - before.Returns[tt.want.String()]; got != 1 {
				t.Fatalf("returns %v, want one more %s", after.Returns, tt.want)
			}
			if tt.want != ReturnOK {
				if tun.Len() != 0 {
					t.Error("a refused reply was written to the TUN")
				}
				return
			}
			if !bytes.Equal(tun.Bytes(), b[Headroom:]) {
				t.Errorf("written to the TUN %x, want the inner packet %x", tun.Bytes(), b[Headroom:])
			}
			if after.ToTUN != before.ToTUN+1 || after.Appliances[i].Back != before.Appliances[i].Back+1 {
				t.Errorf("stats %+v after %+v", after, before)
			}
		})
	}
}

// TestReturnPortsListened: the GWLB receives replies on each distinct
// appliance Geneve port.
func TestReturnPortsListened(t *testing.T) {
	g := newTest(t, func(c *Config) {
		c.Appliances = []netip.AddrPort{app1, app2, netip.MustParseAddrPort("10.0.3.4:7000")}
	})
	if got := g.returnPorts(); !slices.Equal(got, []uint16{6081, 7000}) {
		t.Errorf("return ports %v, want [6081 7000]", got)
	}
}
