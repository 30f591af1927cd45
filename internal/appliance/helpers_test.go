package appliance

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// Addresses of the unit tests' (socketless) load balancer and appliance.
var (
	lbAddr  = netip.MustParseAddrPort("10.9.0.1:51234")
	appAddr = netip.MustParseAddrPort("10.9.0.2:6081")
)

const (
	testEndpoint   = 0x1122334455667788
	testAttachment = 0x99aabbccddeeff00
	testCookie     = 0xcafef00d
)

// udpPort3000 matches UDP packets from or to port 3000, as the censor does.
const udpPort3000 = `{"detail":{"Protocol":["udp"],"$or":[{"Source":{"Port":[3000]}},{"Destination":{"Port":[3000]}}]}}`

// censorSpec is the reference censor: drop "drop me" and rewrite "weakly
// typed" in UDP to or from port 3000, drop every 5th ICMP packet.
func censorSpec() Spec {
	return Spec{
		Rules: []RuleSpec{
			{Name: "drop-me", Pattern: udpPort3000, Contains: "drop me", Action: ActionDrop},
			{Name: "weakly-typed", Pattern: udpPort3000, Contains: "weakly typed", Action: ActionModify,
				Modify: &ModifySpec{Find: "weakly typed", Replace: "strongly typed"}},
			{Name: "every-5th-icmp", Pattern: `{"detail":{"Protocol":["icmp"]}}`, Action: ActionEveryNth, EveryNth: 5},
		},
	}
}

// geneve wraps inner layers in Geneve with the three GWLB options.
func geneve(inner ...packet.Layer) []byte {
	return packet.Build(append([]packet.Layer{packet.Geneve{Options: packet.GWLBOptions(testEndpoint, testAttachment, testCookie)}}, inner...)...)
}

func udp4(payload string) []byte {
	return geneve(
		packet.IPv4{Src: netip.MustParseAddr("192.168.1.10"), Dst: netip.MustParseAddr("192.168.2.20")},
		packet.UDP{Src: 40000, Dst: 3000},
		packet.Payload(payload))
}

func icmpEcho(seq uint16) []byte {
	return geneve(
		packet.IPv4{Src: netip.MustParseAddr("192.168.1.10"), Dst: netip.MustParseAddr("192.168.2.20")},
		packet.ICMPv4{Type: 8, ID: 7, Seq: seq},
		packet.Payload("abcdefgh"))
}

// testWorker builds a socketless appliance from spec and one reader's worker.
func testWorker(t testing.TB, spec Spec, opts Options) (*Appliance, *worker) {
	t.Helper()
	a, err := build(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	st := &readerStats{}
	st.init()
	return a, newWorker(a, st)
}

// inline runs one datagram through w as the appliance's reader would, and
// returns the outer IPv4 packet sent back (nil: dropped).
func inline(w *worker, d []byte, now time.Time) []byte {
	buf := make([]byte, w.a.mtu)
	if outerLen+len(d) > len(buf) {
		return nil
	}
	copy(buf[outerLen:], d)
	n := w.process(buf, len(d), lbAddr, appAddr, now, false)
	if n == 0 {
		return nil
	}
	return buf[:n]
}

// checkReply decodes reply (an outer IPv4 packet sent back for the Geneve
// datagram sent) and checks what the load balancer relies on: outer IPv4
// addresses swapped, UDP ports kept, lengths and checksums right (outer and
// inner), the Geneve header and every option byte for byte as sent. It
// returns the decoded reply.
func checkReply(t *testing.T, sent, reply []byte, lb, app netip.AddrPort) *packet.Packet {
	t.Helper()
	dec := append([]byte(nil), reply...)
	if app.Port() != packet.PortGeneve {
		// The decoder finds Geneve on port 6081: verify the outer UDP
		// checksum on the bytes as sent, then decode a copy on 6081.
		var p packet.Packet
		_ = packet.Decode(&p, reply, packet.CaptureInfo{LinkType: packet.LinkIPv4})
		if s := p.VerifyTransportChecksum(0); s != packet.ChecksumGood {
			t.Errorf("outer udp checksum %v", s)
		}
		be.PutUint16(dec[22:], packet.PortGeneve)
		be.PutUint16(dec[26:], 0)
	}
	p := new(packet.Packet)
	if err := packet.Decode(p, dec, packet.CaptureInfo{LinkType: packet.LinkIPv4}); err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	o := p.Outer()
	if o.Src != app.Addr() || o.Dst != lb.Addr() {
		t.Errorf("outer ip %v -> %v, want %v -> %v (swapped)", o.Src, o.Dst, app.Addr(), lb.Addr())
	}
	if o.SrcPort != lb.Port() || (app.Port() == packet.PortGeneve && o.DstPort != app.Port()) {
		t.Errorf("outer udp ports %d -> %d, want %d -> %d (kept)", o.SrcPort, o.DstPort, lb.Port(), app.Port())
	}
	if got := be.Uint16(reply[22:]); got != app.Port() {
		t.Errorf("outer udp destination port %d, want %d", got, app.Port())
	}
	if o.IPTotalLen != len(reply) || int(o.UDPLength) != len(reply)-20 {
		t.Errorf("outer lengths ip %d udp %d for %d bytes", o.IPTotalLen, o.UDPLength, len(reply))
	}
	if s := p.VerifyIPv4Checksum(0); s != packet.ChecksumGood {
		t.Errorf("outer ipv4 checksum %v", s)
	}
	if app.Port() == packet.PortGeneve {
		if s := p.VerifyTransportChecksum(0); s != packet.ChecksumGood {
			t.Errorf("outer udp checksum %v", s)
		}
	}
	if p.NumFrames < 2 || p.Tunnels[0].Type != packet.TunnelGeneve {
		t.Fatalf("reply carries no geneve: %d frames", p.NumFrames)
	}
	hl := 8 + p.Tunnels[0].GeneveOptsLen
	if !bytes.Equal(reply[outerLen:outerLen+hl], sent[:hl]) {
		t.Errorf("geneve header and options changed:\n got % x\nwant % x", reply[outerLen:outerLen+hl], sent[:hl])
	}
	if p.Err != packet.OK {
		t.Errorf("inner packet: %v", p.Err)
	}
	in := p.Inner()
	if in.Layers.Has(packet.LayerIPv4) {
		if s := p.VerifyIPv4Checksum(1); s != packet.ChecksumGood {
			t.Errorf("inner ipv4 checksum %v", s)
		}
	}
	if in.Layers&(packet.LayerUDP|packet.LayerTCP|packet.LayerICMPv4|packet.LayerICMPv6) != 0 {
		if s := p.VerifyTransportChecksum(1); s != packet.ChecksumGood && s != packet.ChecksumAbsent {
			t.Errorf("inner transport checksum %v", s)
		}
	}
	if end := in.IPOff + in.IPTotalLen; in.IPOff >= 0 && end != len(reply) {
		t.Errorf("inner ip length ends at %d of %d bytes", end, len(reply))
	}
	return p
}
