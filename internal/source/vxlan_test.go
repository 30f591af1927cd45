package source

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// vxlanHeader is an 8-byte VXLAN header; valid sets the I flag.
func vxlanHeader(vni uint32, valid bool) []byte {
	h := make([]byte, 8)
	if valid {
		h[0] = 0x08
	}
	binary.BigEndian.PutUint32(h[4:], vni<<8)
	return h
}

var (
	innerEth = packet.Eth{Src: [6]byte{0x12, 0, 0, 0, 0, 1}, Dst: [6]byte{0x12, 0, 0, 0, 0, 2}}
	innerCli = netip.MustParseAddr("10.0.1.7")
	innerSrv = netip.MustParseAddr("10.0.1.9")
)

// innerTCP is a mirrored Ethernet/IPv4/TCP frame to port 80 with payload.
func innerTCP(payload []byte) []byte {
	return packet.Build(innerEth, packet.IPv4{Src: innerCli, Dst: innerSrv},
		packet.TCP{Src: 51234, Dst: 80, Seq: 1, Ack: 1, Flags: packet.TCPAck | packet.TCPPsh, Window: 512}, packet.Payload(payload))
}

// innerTCP6 is the same over IPv6.
func innerTCP6(payload []byte) []byte {
	return packet.Build(innerEth, packet.IPv6{Src: netip.MustParseAddr("2001:db8::7"), Dst: netip.MustParseAddr("2001:db8::9")},
		packet.TCP{Src: 51234, Dst: 80, Seq: 1, Ack: 1, Flags: packet.TCPAck | packet.TCPPsh, Window: 512}, packet.Payload(payload))
}

// vxlanDatagram is one datagram the test sends, and what the source must do with it.
type vxlanDatagram struct {
	name      string
	data      []byte
	keep      bool
	vni       uint32
	inner     []byte // the mirrored frame (keep)
	innerIPv  uint8
	truncated bool
	malformed bool // not a VXLAN packet: dropped as malformed, whatever the VNI lists
}

// vxlanCases: the source allows VNIs 42 and 7, denies 7.
func vxlanCases() []vxlanDatagram {
	jumbo := innerTCP(bytes.Repeat([]byte{'j'}, 9001-20-20))        // a 9001-byte inner IP packet
	cut := innerTCP(bytes.Repeat([]byte{'c'}, 1000))[:14+20+20+100] // cut by the session's packet length
	cases := []vxlanDatagram{
		{name: "allowed vni", keep: true, vni: 42, inner: innerTCP([]byte("GET / HTTP/1.1\r\n\r\n")), innerIPv: 4},
		{name: "inner IPv6", keep: true, vni: 42, inner: innerTCP6([]byte("GET /v6 HTTP/1.1\r\n\r\n")), innerIPv: 6},
		{name: "jumbo 9001 MTU", keep: true, vni: 42, inner: jumbo, innerIPv: 4},
		{name: "truncated by the session", keep: true, vni: 42, inner: cut, innerIPv: 4, truncated: true},
		{name: "vni not allowed", vni: 43, inner: innerTCP([]byte("x"))},
		{name: "vni denied", vni: 7, inner: innerTCP([]byte("x"))},
		{name: "no I flag", data: append(vxlanHeader(42, false), innerTCP([]byte("x"))...), malformed: true},
		{name: "too short", data: []byte{0x08, 0, 0}, malformed: true},
	}
	for i := range cases {
		if cases[i].data == nil {
			cases[i].data = append(vxlanHeader(cases[i].vni, true), cases[i].inner...)
		}
	}
	return cases
}

// checkVXLANFrames checks what the source emitted for cases sent from
// sender to receiver (the outer addresses and ports).
func checkVXLANFrames(t *testing.T, fs []got, cases []vxlanDatagram, sender, receiver netip.AddrPort) {
	t.Helper()
	var kept []vxlanDatagram
	for _, c := range cases {
		if c.keep {
			kept = append(kept, c)
		}
	}
	if len(fs) != len(kept) {
		t.Fatalf("emitted %d frames, want %d", len(fs), len(kept))
	}
	for i, c := range kept {
		t.Run(c.name, func(t *testing.T) {
			f := fs[i]
			var p packet.Packet
			_ = packet.Decode(&p, f.data, f.info)
			tun := p.Tunnel()
			if tun == nil || tun.Type != packet.TunnelVXLAN {
				t.Fatalf("no VXLAN tunnel decoded (err %v)", f.decodeErr)
			}
			if tun.VNI != c.vni || tun.FlowHash != sender.Port() {
				t.Errorf("VNI %d FlowHash %d, want %d %d", tun.VNI, tun.FlowHash, c.vni, sender.Port())
			}
			o := p.Outer()
			if o.Src != sender.Addr() || o.Dst != receiver.Addr() || o.SrcPort != sender.Port() || o.DstPort != VXLANPort {
				t.Errorf("outer %s:%d > %s:%d, want %s > %s:%d", o.Src, o.SrcPort, o.Dst, o.DstPort, sender, receiver.Addr(), VXLANPort)
			}
			if !bytes.Equal(f.data[tun.Off+8:], c.inner) {
				t.Errorf("inner frame: %d bytes, want the %d sent", len(f.data)-tun.Off-8, len(c.inner))
			}
			in := p.Inner()
			if in.IPVersion != c.innerIPv || in.Protocol != packet.ProtoTCP || in.DstPort != 80 {
				t.Errorf("inner IPv%d proto %d port %d", in.IPVersion, in.Protocol, in.DstPort)
			}
			if p.Truncated() != c.truncated {
				t.Errorf("Truncated = %v, want %v", p.Truncated(), c.truncated)
			}
		})
	}
}

// TestVXLANListener sends VXLAN datagrams over loopback, IPv4 and IPv6, to a
// listener on a port other than 4789: the allowed ones are emitted whole
// (jumbo frames included) with the outer destination port normalised to
// 4789; those the VNI lists refuse are counted as not_allowed, and those that
// are not VXLAN at all as malformed, with or without VNI lists.
func TestVXLANListener(t *testing.T) {
	for _, tc := range []struct {
		name, listen string
		vni, deny    []uint32
	}{
		{"ipv4", "127.0.0.1:0", []uint32{42, 7}, []uint32{7}},
		{"ipv6", "[::1]:0", []uint32{42, 7}, []uint32{7}},
		{"ipv4 without VNI lists", "127.0.0.1:0", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := NewVXLAN(VXLANConfig{Common: Common{Name: "mirror"}, Listen: []string{tc.listen}, VNI: tc.vni, DenyVNI: tc.deny})
			if err != nil {
				t.Fatal(err)
			}
			recv := src.Addrs()[0]
			if recv.Port() == VXLANPort {
				t.Fatal("the test needs a port other than 4789")
			}
			c := newCollector()
			stop := running(t, src, c.emit)
			conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(recv))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			sender := conn.LocalAddr().(*net.UDPAddr).AddrPort()
			sender = netip.AddrPortFrom(sender.Addr().Unmap(), sender.Port())
			cases := vxlanCases()
			if tc.vni == nil { // no lists: every VXLAN packet is kept
				for i := range cases {
					cases[i].keep = !cases[i].malformed
				}
			}
			for _, cs := range cases {
				if _, err := conn.Write(cs.data); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Millisecond) // in order, one per read
			}
			want, malformed := 0, 0
			for _, cs := range cases {
				switch {
				case cs.keep:
					want++
				case cs.malformed:
					malformed++
				}
			}
			c.waitFor(t, 5*time.Second, "the allowed datagrams", func(fs []got) bool { return len(fs) >= want })
			c.waitFor(t, 5*time.Second, "every datagram read", func([]got) bool { return src.Stats().Received.Load() >= uint64(len(cases)) })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if tc.vni != nil {
				checkVXLANFrames(t, c.snapshot(), cases, sender, recv)
			} else if n := len(c.snapshot()); n != want {
				t.Errorf("emitted %d frames, want %d", n, want)
			}
			notAllowed := uint64(len(cases) - want - malformed)
			st := src.Stats().Snapshot()
			if src.VNIDropped() != notAllowed || st.Dropped[DropNotAllowed.String()] != notAllowed || st.Dropped["malformed"] != uint64(malformed) ||
				st.Emitted != uint64(want) || st.Received != uint64(len(cases)) {
				t.Errorf("VNIDropped %d, stats %+v; want %d not_allowed, %d malformed, %d emitted of %d", src.VNIDropped(), st, notAllowed, malformed, want, len(cases))
			}
		})
	}
}

// TestVXLANConfigErrors: a VNI beyond 24 bits and listen with interface are refused.
func TestVXLANConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  VXLANConfig
	}{
		{"vni too large", VXLANConfig{Listen: []string{"127.0.0.1:0"}, VNI: []uint32{1 << 24}}},
		{"listen and interface", VXLANConfig{Listen: []string{"127.0.0.1:0"}, Interface: "lo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := NewVXLAN(tc.cfg); err == nil {
				s.Close()
				t.Fatal("no error")
			}
		})
	}
}

// TestAdjustChecksum: the incremental update equals a full recomputation.
func TestAdjustChecksum(t *testing.T) {
	seg := packet.Build(packet.IPv4{Src: innerCli, Dst: innerSrv}, packet.UDP{Src: 40000, Dst: 8472}, packet.Payload(vxlanHeader(42, true)))
	udp := seg[20:]
	old := binary.BigEndian.Uint16(udp[6:])
	binary.BigEndian.PutUint16(udp[2:], VXLANPort)
	binary.BigEndian.PutUint16(udp[6:], 0)
	full := packet.TransportChecksum(innerCli, innerSrv, packet.ProtoUDP, udp)
	if full == 0 {
		full = 0xffff
	}
	if got := adjustChecksum(old, 8472, VXLANPort); got != full {
		t.Errorf("adjusted %#04x, recomputed %#04x", got, full)
	}
	if adjustChecksum(0, 8472, VXLANPort) != 0 {
		t.Error("a zero (absent) checksum must stay zero")
	}
}

// FuzzVXLANAdmit: any datagram behind the listener's synthesised header, or
// any captured frame, is admitted or refused without a panic; an admitted
// listener packet that was marked cut keeps a valid outer IPv4 header checksum and
// decodes as a truncated tunnel packet.
func FuzzVXLANAdmit(f *testing.F) {
	for _, c := range vxlanCases() {
		f.Add(c.data, false)
	}
	f.Add(append(vxlanHeader(42, true), innerTCP6(bytes.Repeat([]byte{'x'}, 300))[:14+40+20+10]...), false)
	f.Add(packet.Build(innerEth, packet.IPv4{Src: innerCli, Dst: innerSrv}, packet.UDP{Src: 1, Dst: VXLANPort},
		packet.Payload(append(vxlanHeader(42, true), innerTCP([]byte("y"))[:40]...))), true)
	v, err := NewVXLAN(VXLANConfig{Listen: []string{"127.0.0.1:0"}, VNI: []uint32{42}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { v.Close() })
	f.Fuzz(func(t *testing.T, data []byte, captured bool) {
		var fr Frame
		if captured {
			fr = Frame{Data: append([]byte(nil), data...), Info: packet.CaptureInfo{LinkType: packet.LinkEthernet, Length: len(data), CaptureLength: len(data)}}
		} else {
			pkt := packet.Build(packet.IPv4{Src: innerCli, Dst: innerSrv}, packet.UDP{Src: 40000, Dst: 4790}, packet.Payload(data))
			fr = Frame{Data: pkt, Info: packet.CaptureInfo{LinkType: packet.LinkRaw, Length: len(pkt), CaptureLength: len(pkt)}}
		}
		if v.admit(&fr) != vxlanKeep {
			return
		}
		var p packet.Packet
		_ = packet.Decode(&p, fr.Data, fr.Info)
		if !captured && fr.Info.Length > len(fr.Data) { // a captured frame's outer headers may be inconsistent already
			o := p.Outer()
			if h := fr.Data[o.IPOff : o.IPOff+o.IPHeaderLen]; o.IPVersion == 4 && packet.IPv4HeaderChecksum(h) != binary.BigEndian.Uint16(h[10:]) {
				t.Errorf("outer IPv4 header checksum invalid after marking the packet cut")
			}
			if p.Tunnel() == nil || !p.Truncated() {
				t.Errorf("a packet marked cut is not a truncated tunnel packet")
			}
		}
	})
}
