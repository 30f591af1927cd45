package packet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"unsafe"
)

var (
	mac1 = [6]byte{0x02, 0, 0, 0, 0, 1}
	mac2 = [6]byte{0x02, 0, 0, 0, 0, 2}
	ip1  = netip.MustParseAddr("10.0.0.1")
	ip2  = netip.MustParseAddr("10.0.0.2")
	ip3  = netip.MustParseAddr("172.31.0.5")
	ip4  = netip.MustParseAddr("172.31.0.9")
	ip61 = netip.MustParseAddr("2001:db8::1")
	ip62 = netip.MustParseAddr("2001:db8::2")
)

func info(link LinkType) CaptureInfo { return CaptureInfo{LinkType: link} }

// expect is what a decoded packet must show; zero fields are not checked
// except the error kind and NumFrames.
type expect struct {
	err       Kind
	errDepth  int
	frames    int
	truncated bool
}

func TestDecodeBuilt(t *testing.T) {
	udpPayload := Payload("hello, world")
	tcpOpts := []byte{2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7} // MSS, NOP, NOP, SACK-permitted, NOP, WS
	inner := func() []Layer {
		return []Layer{Eth{Src: mac2, Dst: mac1}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1111, Dst: 53}, Payload("dns?")}
	}
	cat := func(ls ...[]Layer) []Layer {
		var out []Layer
		for _, l := range ls {
			out = append(out, l...)
		}
		return out
	}
	type tc struct {
		name  string
		data  []byte
		info  CaptureInfo
		want  expect
		check func(t *testing.T, p *Packet)
	}
	cases := []tc{
		{
			name: "eth ipv4 udp",
			data: Build(Eth{Src: mac1, Dst: mac2}, IPv4{Src: ip1, Dst: ip2, TTL: 17, TOS: 0x10, ID: 77, DF: true}, UDP{Src: 40000, Dst: 514}, udpPayload),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerEthernet|LayerIPv4|LayerUDP)
				eq(t, "src mac", f.EthSrc, mac1)
				eq(t, "dst mac", f.EthDst, mac2)
				eq(t, "ethertype", f.EtherType, EtherTypeIPv4)
				eq(t, "src", f.Src, ip1)
				eq(t, "dst", f.Dst, ip2)
				eq(t, "ttl", f.TTL, uint8(17))
				eq(t, "tos", f.TOS, uint8(0x10))
				eq(t, "id", f.IPID, uint32(77))
				eq(t, "df", f.DontFrag, true)
				eq(t, "fragment", f.Fragment, false)
				eq(t, "ipoff", f.IPOff, 14)
				eq(t, "l4off", f.L4Off, 34)
				eq(t, "ports", [2]uint16{f.SrcPort, f.DstPort}, [2]uint16{40000, 514})
				eq(t, "udp length", f.UDPLength, uint16(8+len(udpPayload)))
				eq(t, "protocol", f.Protocol, ProtoUDP)
				eq(t, "payload", string(p.Payload()), string(udpPayload))
				eq(t, "total", f.IPTotalLen, 20+8+len(udpPayload))
				eq(t, "ip checksum", p.VerifyIPv4Checksum(0), ChecksumGood)
				eq(t, "udp checksum", p.VerifyTransportChecksum(0), ChecksumGood)
				eq(t, "tunnel", p.Tunnel() == nil, true)
			},
		},
		{
			name: "ethernet padding is not payload",
			data: append(Build(Eth{}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2}, Payload("ab")), make([]byte, 16)...),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				eq(t, "payload", string(p.Payload()), "ab")
				eq(t, "wire len", p.Inner().PayloadWireLen, 2)
			},
		},
		{
			name: "pppoe ipv4 udp with ethernet padding",
			data: append(Build(Eth{Src: mac1, Dst: mac2, Type: EtherTypePPPoE},
				Payload(pppoe(0x1234, pppIPv4, 0, Build(IPv4{Src: ip1, Dst: ip2, TTL: 64}, UDP{Src: 40000, Dst: 514}, udpPayload)))), make([]byte, 10)...),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerEthernet|LayerPPPoE|LayerIPv4|LayerUDP)
				eq(t, "ethertype", f.EtherType, EtherTypePPPoE)
				eq(t, "session", f.PPPoESession, uint16(0x1234))
				eq(t, "ppp protocol", f.PPPProtocol, pppIPv4)
				eq(t, "ipoff", f.IPOff, 14+8)
				eq(t, "src", f.Src, ip1)
				eq(t, "ports", [2]uint16{f.SrcPort, f.DstPort}, [2]uint16{40000, 514})
				eq(t, "payload", string(p.Payload()), string(udpPayload))
				eq(t, "udp checksum", p.VerifyTransportChecksum(0), ChecksumGood)
			},
		},
		{
			name: "pppoe ipv6 in vlan",
			data: Build(Eth{VLANs: []VLAN{{ID: 10}}, Type: EtherTypePPPoE},
				Payload(pppoe(7, pppIPv6, 0, Build(IPv6{Src: ip61, Dst: ip62}, UDP{Src: 5353, Dst: 5353}, Payload("v6"))))),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerEthernet|LayerVLAN|LayerPPPoE|LayerIPv6|LayerUDP)
				eq(t, "dst", f.Dst, ip62)
				eq(t, "payload", string(p.Payload()), "v6")
			},
		},
		{
			name: "pppoe lcp is payload",
			data: Build(Eth{Type: EtherTypePPPoE}, Payload(pppoe(1, 0xc021, 0, []byte{1, 1, 0, 4}))),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerEthernet|LayerPPPoE)
				eq(t, "ppp protocol", f.PPPProtocol, uint16(0xc021))
				eq(t, "payload", p.Payload(), []byte{1, 1, 0, 4})
			},
		},
		{
			name: "pppoe length past the frame",
			data: Build(Eth{Type: EtherTypePPPoE}, Payload(pppoe(1, pppIPv4, 100, Build(IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2})))),
			info: info(LinkEthernet),
			want: expect{err: ErrBadLength, frames: 1},
		},
		{
			name: "pppoe discovery code under the session ethertype",
			data: Build(Eth{Type: EtherTypePPPoE}, Payload([]byte{0x11, 0x09, 0, 0, 0, 2, 0, 0})),
			info: info(LinkEthernet),
			want: expect{err: ErrUnsupported, frames: 1},
		},
		{
			name: "pppoe header cut",
			data: Build(Eth{Type: EtherTypePPPoE}, Payload([]byte{0x11, 0, 0, 1, 0})),
			info: info(LinkEthernet),
			want: expect{err: ErrTruncated, frames: 1},
		},
		{
			name: "ipip: ipv4 in ipv4 (calico)",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, IPv4{Src: ip1, Dst: ip2, TTL: 9}, UDP{Src: 7000, Dst: 53}, Payload("q")),
			info: info(LinkEthernet),
			want: expect{frames: 2},
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "tunnel", tn != nil && tn.Type == TunnelIPIP, true)
				eq(t, "tunnel name", tn.Type.String(), "ipip")
				eq(t, "outer protocol", p.Outer().Protocol, ProtoIPIP)
				eq(t, "outer src", p.Outer().Src, ip3)
				in := p.Inner()
				eq(t, "inner layers", in.Layers, LayerIPv4|LayerUDP)
				eq(t, "inner src", in.Src, ip1)
				eq(t, "inner ttl", in.TTL, uint8(9))
				eq(t, "inner port", in.DstPort, uint16(53))
				eq(t, "payload", string(p.Payload()), "q")
			},
		},
		{
			name: "ipip: ipv6 in ipv4 (6in4)",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, IPv6{Src: ip61, Dst: ip62}, UDP{Src: 514, Dst: 514}, Payload("<13>hi")),
			info: info(LinkEthernet),
			want: expect{frames: 2},
			check: func(t *testing.T, p *Packet) {
				eq(t, "outer protocol", p.Outer().Protocol, ProtoIPv6Encap)
				eq(t, "tunnel", p.Tunnel().Type, TunnelIPIP)
				eq(t, "inner layers", p.Inner().Layers, LayerIPv6|LayerUDP)
				eq(t, "inner dst", p.Inner().Dst, ip62)
				eq(t, "udp checksum", p.VerifyTransportChecksum(1), ChecksumGood)
			},
		},
		{
			name: "ipip: ipv4 in ipv6",
			data: Build(Eth{}, IPv6{Src: ip61, Dst: ip62}, IPv4{Src: ip1, Dst: ip2}, ICMPv4{Type: 8, ID: 1, Seq: 2}),
			info: info(LinkEthernet),
			want: expect{frames: 2},
			check: func(t *testing.T, p *Packet) {
				eq(t, "tunnel", p.Tunnel().Type, TunnelIPIP)
				eq(t, "inner layers", p.Inner().Layers, LayerIPv4|LayerICMPv4)
			},
		},
		{
			name: "ipip: inner header cut",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4, Protocol: ProtoIPIP}, Payload([]byte{0x45, 0, 0})),
			info: info(LinkEthernet),
			want: expect{err: ErrTruncated, errDepth: 1, frames: 2},
		},
		{
			name: "ipip: a non-first fragment is not decoded inside",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4, Protocol: ProtoIPIP, FragOffset: 1480}, Payload("rest of the inner packet")),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				eq(t, "tunnel", p.Tunnel() == nil, true)
			},
		},
		{
			name: "qinq 88a8 8100 9100 tcp with options and NS",
			data: Build(Eth{Src: mac1, Dst: mac2, VLANs: []VLAN{{TPID: 0x88A8, ID: 200, PCP: 5}, {ID: 2001}, {TPID: 0x9100, ID: 7, PCP: 1}}},
				IPv4{Src: ip1, Dst: ip2}, TCP{Src: 50000, Dst: 443, Seq: 0xdeadbeef, Ack: 42, Flags: TCPSyn | TCPAck | TCPNs | TCPEce, Window: 65000, Options: tcpOpts}, Payload("x")),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerEthernet|LayerVLAN|LayerIPv4|LayerTCP)
				eq(t, "numvlans", f.NumVLANs, uint8(3))
				eq(t, "vlans", f.VLANs, [MaxVLANs]uint16{200, 2001, 7, 0})
				eq(t, "tpids", f.VLANTPIDs, [MaxVLANs]uint16{0x88A8, 0x8100, 0x9100, 0})
				eq(t, "pcp", f.VLANPCP, [MaxVLANs]uint8{5, 0, 1, 0})
				eq(t, "ethertype", f.EtherType, EtherTypeIPv4)
				eq(t, "flags", f.TCPFlags, TCPSyn|TCPAck|TCPNs|TCPEce)
				eq(t, "seq", f.TCPSeq, uint32(0xdeadbeef))
				eq(t, "ack", f.TCPAck, uint32(42))
				eq(t, "window", f.TCPWindow, uint16(65000))
				eq(t, "header len", f.TCPHeaderLen, 32)
				eq(t, "payload", string(p.Payload()), "x")
				eq(t, "tcp checksum", p.VerifyTransportChecksum(0), ChecksumGood)
			},
		},
		{
			name: "more vlan tags than kept",
			data: Build(Eth{VLANs: []VLAN{{ID: 1}, {ID: 2}, {ID: 3}, {ID: 4}, {ID: 5}, {ID: 6}}}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2}),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "numvlans", f.NumVLANs, uint8(6))
				eq(t, "vlans", f.VLANs, [MaxVLANs]uint16{1, 2, 3, 4})
				eq(t, "udp", f.Layers.Has(LayerUDP), true)
			},
		},
		{
			name: "ipv4 options",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2, Options: []byte{0x94, 4, 0, 0, 1}}, UDP{Src: 5, Dst: 6}, Payload("opt")),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "header len", f.IPHeaderLen, 28)
				eq(t, "options len", f.IPOptionsLen, 8)
				eq(t, "l4off", f.L4Off, 14+28)
				eq(t, "payload", string(p.Payload()), "opt")
				eq(t, "ip checksum", p.VerifyIPv4Checksum(0), ChecksumGood)
			},
		},
		{
			name: "ipv4 first fragment decodes transport",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2, ID: 9, MF: true}, UDP{Src: 7, Dst: 8, Length: 1000}, Payload("part one")),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "fragment", f.Fragment, true)
				eq(t, "mf", f.MoreFrags, true)
				eq(t, "udp", f.Layers.Has(LayerUDP), true)
				eq(t, "ports", f.DstPort, uint16(8))
				eq(t, "payload", string(p.Payload()), "part one")
				eq(t, "checksum", p.VerifyTransportChecksum(0), ChecksumUnverifiable)
			},
		},
		{
			name: "ipv4 later fragment has no transport",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2, ID: 9, FragOffset: 16, Protocol: ProtoUDP}, Payload("part two")),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "fragment", f.Fragment, true)
				eq(t, "offset", f.FragOffset, uint16(16))
				eq(t, "l4off", f.L4Off, -1)
				eq(t, "layers", f.Layers, LayerEthernet|LayerIPv4)
				eq(t, "protocol", f.Protocol, ProtoUDP)
				eq(t, "payload", string(p.Payload()), "part two")
			},
		},
		{
			// The first 8 bytes of a TCP header (ports, sequence number): the
			// header continues in the next fragment, so it is no error.
			name: "ipv4 first fragment shorter than the tcp header gives the ports",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2, MF: true, TotalLength: 20 + 8}, TCP{Src: 12345, Dst: 8080, Seq: 1, Flags: TCPSyn})[:14+20+8],
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "l4off", f.L4Off, 34)
				eq(t, "partial", f.L4Partial, true)
				eq(t, "layers", f.Layers, LayerEthernet|LayerIPv4|LayerTCP)
				eq(t, "ports", [2]uint16{f.SrcPort, f.DstPort}, [2]uint16{12345, 8080})
				eq(t, "rest of the header not decoded", [3]any{f.TCPSeq, f.TCPFlags, f.TCPHeaderLen}, [3]any{uint32(0), uint16(0), 0})
				eq(t, "no payload", [2]int{f.PayloadLen, f.PayloadWireLen}, [2]int{0, 0})
				eq(t, "checksum", p.VerifyTransportChecksum(0), ChecksumUnverifiable)
			},
		},
		{
			name: "ipv4 first fragment shorter than the ports",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2, MF: true, Protocol: ProtoUDP}, Payload("abc")),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "l4off", f.L4Off, -1)
				eq(t, "layers", f.Layers, LayerEthernet|LayerIPv4)
				eq(t, "partial", f.L4Partial, false)
				eq(t, "payload", string(p.Payload()), "abc")
			},
		},
		{
			name: "udp header cut by the capture after the ports",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 12336, Dst: 514}, Payload("0123456789"))[:14+20+6],
			info: CaptureInfo{LinkType: LinkEthernet, Length: 14 + 20 + 8 + 10},
			want: expect{err: ErrTruncated, frames: 1, truncated: true},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerEthernet|LayerIPv4|LayerUDP)
				eq(t, "partial", f.L4Partial, true)
				eq(t, "ports", [2]uint16{f.SrcPort, f.DstPort}, [2]uint16{12336, 514})
				eq(t, "udp length not decoded", f.UDPLength, uint16(0))
				eq(t, "payload after the header, as claimed", [3]int{f.PayloadOff, f.PayloadLen, f.PayloadWireLen}, [3]int{40, 0, 10})
				eq(t, "checksum", p.VerifyTransportChecksum(0), ChecksumUnverifiable)
			},
		},
		{
			name: "udp header cut by the capture before the ports end",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2}, Payload("0123456789"))[:14+20+3],
			info: CaptureInfo{LinkType: LinkEthernet, Length: 14 + 20 + 8 + 10},
			want: expect{err: ErrTruncated, frames: 1, truncated: true},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerEthernet|LayerIPv4)
				eq(t, "l4off", f.L4Off, -1)
				eq(t, "partial", f.L4Partial, false)
				eq(t, "ip payload kept", [2]int{f.PayloadLen, f.PayloadWireLen}, [2]int{3, 18})
			},
		},
		{
			name: "tcp header beyond the ip total length gives the ports",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2, TotalLength: 20 + 12}, TCP{Src: 80, Dst: 40000, Flags: TCPAck}),
			info: info(LinkEthernet),
			want: expect{err: ErrBadLength, frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerEthernet|LayerIPv4|LayerTCP)
				eq(t, "partial", f.L4Partial, true)
				eq(t, "ports", [2]uint16{f.SrcPort, f.DstPort}, [2]uint16{80, 40000})
				eq(t, "flags not decoded", f.TCPFlags, uint16(0))
			},
		},
		{
			name: "ipv6 extension headers",
			data: Build(Eth{}, IPv6{Src: ip61, Dst: ip62, TrafficClass: 0xb8, FlowLabel: 0x12345, HopLimit: 3, Ext: []IPv6Ext{
				{Type: 0, Data: []byte{5, 2, 0, 0}}, {Type: 60, Data: make([]byte, 12)}, {Type: 51, Data: make([]byte, 10)},
			}}, UDP{Src: 546, Dst: 547}, Payload("dhcp")),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerEthernet|LayerIPv6|LayerUDP)
				eq(t, "ext", f.IPv6Ext, IPv6ExtHopByHop|IPv6ExtDestOpts|IPv6ExtAH)
				eq(t, "protocol", f.Protocol, ProtoUDP)
				eq(t, "header len", f.IPHeaderLen, 40+8+16+12)
				eq(t, "tc", f.TOS, uint8(0xb8))
				eq(t, "flow", f.FlowLabel, uint32(0x12345))
				eq(t, "hop limit", f.TTL, uint8(3))
				eq(t, "src", f.Src, ip61)
				eq(t, "ports", f.DstPort, uint16(547))
				eq(t, "payload", string(p.Payload()), "dhcp")
				eq(t, "udp checksum", p.VerifyTransportChecksum(0), ChecksumGood)
			},
		},
		{
			name: "ipv6 first fragment",
			data: Build(Eth{}, IPv6{Src: ip61, Dst: ip62, Ext: []IPv6Ext{{Type: 44, More: true, ID: 0xabcdef01}}}, UDP{Src: 53, Dst: 5353, Length: 3000}, Payload("first")),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "fragment", f.Fragment, true)
				eq(t, "ext", f.IPv6Ext, IPv6ExtFragment)
				eq(t, "id", f.IPID, uint32(0xabcdef01))
				eq(t, "udp", f.Layers.Has(LayerUDP), true)
				eq(t, "payload", string(p.Payload()), "first")
			},
		},
		{
			name: "ipv6 later fragment",
			data: Build(Eth{}, IPv6{Src: ip61, Dst: ip62, NextHeader: ProtoUDP, Ext: []IPv6Ext{{Type: 44, FragOffset: 1448, ID: 2}}}, Payload("rest")),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "offset", f.FragOffset, uint16(1448))
				eq(t, "more", f.MoreFrags, false)
				eq(t, "l4", f.L4Off, -1)
				eq(t, "protocol", f.Protocol, ProtoUDP)
				eq(t, "payload", string(p.Payload()), "rest")
			},
		},
		{
			name: "icmpv4 echo",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2}, ICMPv4{Type: 8, ID: 0x1234, Seq: 7}, Payload("ping")),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerEthernet|LayerIPv4|LayerICMPv4)
				eq(t, "type", f.ICMPType, uint8(8))
				eq(t, "echo", [2]uint16{f.ICMPID, f.ICMPSeq}, [2]uint16{0x1234, 7})
				eq(t, "has echo", f.ICMPHasEcho, true)
				eq(t, "payload", string(p.Payload()), "ping")
				eq(t, "checksum", p.VerifyTransportChecksum(0), ChecksumGood)
			},
		},
		{
			name: "icmpv4 unreachable has no echo",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2}, ICMPv4{Type: 3, Code: 3}, Payload("quoted")),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "code", f.ICMPCode, uint8(3))
				eq(t, "has echo", f.ICMPHasEcho, false)
			},
		},
		{
			name: "icmpv6 echo reply",
			data: Build(Eth{}, IPv6{Src: ip61, Dst: ip62}, ICMPv6{Type: 129, ID: 9, Seq: 10}, Payload("pong")),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerEthernet|LayerIPv6|LayerICMPv6)
				eq(t, "echo", [3]uint16{uint16(f.ICMPType), f.ICMPID, f.ICMPSeq}, [3]uint16{129, 9, 10})
				eq(t, "checksum", p.VerifyTransportChecksum(0), ChecksumGood)
			},
		},
		{
			name: "arp",
			data: Build(Eth{Dst: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, ARP{Op: 1, SenderMAC: mac1, SenderIP: ip1, TargetIP: ip2}),
			info: info(LinkEthernet),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerEthernet|LayerARP)
				eq(t, "ethertype", f.EtherType, EtherTypeARP)
				eq(t, "payload len", f.PayloadLen, 28)
				eq(t, "ipoff", f.IPOff, -1)
			},
		},
		{
			name: "vxlan",
			data: Build(cat([]Layer{Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 65445}, VXLAN{VNI: 5569041}}, inner())...),
			info: info(LinkEthernet),
			want: expect{frames: 2},
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "type", tn.Type, TunnelVXLAN)
				eq(t, "vni", tn.VNI, uint32(5569041))
				eq(t, "flow hash", tn.FlowHash, uint16(65445))
				eq(t, "tunnel off", tn.Off, 14+20+8)
				eq(t, "outer dport", p.Outer().DstPort, PortVXLAN)
				in := p.Inner()
				eq(t, "inner link", in.Link, LinkEthernet)
				eq(t, "inner start", in.Start, 14+20+8+8)
				eq(t, "inner src", in.Src, ip1)
				eq(t, "inner mac", in.EthSrc, mac2)
				eq(t, "inner dport", in.DstPort, uint16(53))
				eq(t, "payload", string(p.Payload()), "dns?")
				eq(t, "outer payload is the tunnel", p.Outer().PayloadOff, tn.Off)
				eq(t, "inner checksum", p.VerifyTransportChecksum(1), ChecksumGood)
				eq(t, "outer checksum", p.VerifyTransportChecksum(0), ChecksumGood)
			},
		},
		{
			name: "vxlan without the I flag",
			data: Build(cat([]Layer{Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 1}, VXLAN{VNI: 1, Flags: 0x80}}, inner())...),
			info: info(LinkEthernet),
			want: expect{err: ErrUnsupported, frames: 1},
			check: func(t *testing.T, p *Packet) {
				eq(t, "udp kept", p.Outer().Layers.Has(LayerUDP), true)
			},
		},
		{
			name: "vxlan header cut by the capture",
			data: Build(cat([]Layer{Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 1}, VXLAN{VNI: 1}}, inner())...)[:14+20+8+3],
			info: CaptureInfo{LinkType: LinkEthernet, Length: 200},
			want: expect{err: ErrTruncated, frames: 1, truncated: true},
			check: func(t *testing.T, p *Packet) {
				eq(t, "outer usable", p.Outer().DstPort, PortVXLAN)
				eq(t, "tunnel", p.Tunnel() == nil, true)
			},
		},
		{
			name: "geneve gwlb inner ipv4",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 31000},
				Geneve{Options: GWLBOptions(0x0123456789abcdef, 0xfedcba9876543210, 0xcafef00d)},
				IPv4{Src: ip1, Dst: ip2}, TCP{Src: 40000, Dst: 443, Flags: TCPSyn, Seq: 1}),
			info: info(LinkEthernet),
			want: expect{frames: 2},
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "type", tn.Type, TunnelGeneve)
				eq(t, "proto", tn.GeneveProto, EtherTypeIPv4)
				eq(t, "flow hash", tn.FlowHash, uint16(31000))
				eq(t, "gwlb", tn.GWLB, GWLB{EndpointID: 0x0123456789abcdef, AttachmentID: 0xfedcba9876543210, FlowCookie: 0xcafef00d, Has: 7})
				eq(t, "options", tn.NumOptions, 3)
				eq(t, "opts len", tn.GeneveOptsLen, 32)
				eq(t, "option 2", [3]int{int(tn.Options[2].Class), int(tn.Options[2].Type), tn.Options[2].Len}, [3]int{0x108, 3, 4})
				eq(t, "option 2 data", p.Data[tn.Options[2].Off:tn.Options[2].Off+4], []byte{0xca, 0xfe, 0xf0, 0x0d})
				in := p.Inner()
				eq(t, "inner link", in.Link, LinkRaw)
				eq(t, "inner layers", in.Layers, LayerIPv4|LayerTCP)
				eq(t, "inner ethertype", in.EtherType, EtherTypeIPv4)
				eq(t, "inner flags", in.TCPFlags, TCPSyn)
				eq(t, "inner checksum", p.VerifyTransportChecksum(1), ChecksumGood)
			},
		},
		{
			name: "geneve ethernet with critical option and oam",
			data: Build(cat([]Layer{Eth{}, IPv6{Src: ip61, Dst: ip62}, UDP{Src: 999}, Geneve{VNI: 0xa, OAM: true, Critical: true,
				Options: []GeneveOpt{{Class: 0, Type: 0x80, Data: []byte{0, 0, 0, 0xc}}, {Class: 0xffff, Type: 1}}}}, inner())...),
			info: info(LinkEthernet),
			want: expect{frames: 2},
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "vni", tn.VNI, uint32(0xa))
				eq(t, "oam crit", [2]bool{tn.GeneveOAM, tn.GeneveCrit}, [2]bool{true, true})
				eq(t, "options", tn.NumOptions, 2)
				eq(t, "empty option", tn.Options[1].Len, 0)
				eq(t, "gwlb", tn.GWLB.Has, uint8(0))
				eq(t, "inner", p.Inner().DstPort, uint16(53))
			},
		},
		{
			name: "geneve version 1",
			data: Build(cat([]Layer{Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 1}, Geneve{Version: 1}}, inner())...),
			info: info(LinkEthernet),
			want: expect{err: ErrBadVersion, frames: 1},
		},
		{
			name: "vxlan header beyond the udp length",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 1, Dst: 4789}, Payload{0x08, 0, 0}),
			info: info(LinkEthernet),
			want: expect{err: ErrBadLength, frames: 1},
		},
		{
			name: "geneve options cut by the capture",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 1}, Geneve{Options: GWLBOptions(1, 2, 3)}, IPv4{Src: ip1, Dst: ip2})[:14+20+8+8+12],
			info: CaptureInfo{LinkType: LinkEthernet, Length: 200},
			want: expect{err: ErrTruncated, frames: 1, truncated: true},
			check: func(t *testing.T, p *Packet) {
				eq(t, "outer usable", p.Outer().Dst, ip4)
			},
		},
		{
			name: "geneve option overruns the options",
			data: Build(cat([]Layer{Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 1, Dst: 6081},
				Payload{0x01, 0, 0x65, 0x58, 0, 0, 1, 0, 1, 8, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0}}, inner())...),
			info: info(LinkEthernet),
			want: expect{err: ErrBadLength, frames: 1},
		},
		{
			name: "geneve unknown protocol is an opaque inner frame",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 1}, Geneve{Proto: 0x1234, VNI: 77}, Payload("?")),
			info: info(LinkEthernet),
			want: expect{frames: 2},
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "tunnel", [3]any{tn.Type, tn.VNI, tn.GeneveProto}, [3]any{TunnelGeneve, uint32(77), uint16(0x1234)})
				in := p.Inner()
				eq(t, "inner link", in.Link, LinkOpaque)
				eq(t, "inner layers", in.Layers, LayerMask(0))
				eq(t, "inner ethertype", in.EtherType, uint16(0x1234))
				eq(t, "inner offsets", [3]int{in.Start, in.IPOff, in.L4Off}, [3]int{14 + 20 + 8 + 8, -1, -1})
				eq(t, "payload", string(p.Payload()), "?")
			},
		},
		{
			name: "gre key seq checksum inner ipv4",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{Checksum: true, HasKey: true, Key: 0x28, HasSeq: true, Seq: 99},
				IPv4{Src: ip1, Dst: ip2}, ICMPv4{Type: 0, ID: 1, Seq: 2}),
			info: info(LinkEthernet),
			want: expect{frames: 2},
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "type", tn.Type, TunnelGRE)
				eq(t, "key", [2]uint32{tn.GREKey, tn.GRESeq}, [2]uint32{0x28, 99})
				eq(t, "has", [2]bool{tn.GREHasKey, tn.GREHasSeq}, [2]bool{true, true})
				eq(t, "proto", tn.GREProto, EtherTypeIPv4)
				eq(t, "outer protocol", p.Outer().Protocol, ProtoGRE)
				eq(t, "inner start", p.Inner().Start, 14+20+16)
				eq(t, "inner icmp", p.Inner().ICMPSeq, uint16(2))
				eq(t, "gre checksum", InternetChecksum(p.Data[tn.Off:]), uint16(0))
			},
		},
		{
			name: "gre transparent ethernet",
			data: Build(cat([]Layer{Eth{}, IPv6{Src: ip61, Dst: ip62}, GRE{}}, inner())...),
			info: info(LinkEthernet),
			want: expect{frames: 2},
			check: func(t *testing.T, p *Packet) {
				eq(t, "proto", p.Tunnel().GREProto, EtherTypeTEB)
				eq(t, "inner link", p.Inner().Link, LinkEthernet)
				eq(t, "inner", p.Inner().DstPort, uint16(53))
			},
		},
		{
			name: "gre routing bit",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4, Protocol: ProtoGRE}, Payload{0x40, 0, 0x08, 0, 0, 0, 0, 0}),
			info: info(LinkEthernet),
			want: expect{err: ErrUnsupported, frames: 1},
		},
		{
			// A GRE keepalive carries the reply packet (outer IPv4 and GRE
			// header for the way back) under protocol type 0.
			name: "gre keepalive is a tunnel with an opaque inner frame",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{HasKey: true, Key: 40}, Payload{0x45, 0, 0, 0x18, 0, 0, 0, 0, 0xff, 0x2f}),
			info: info(LinkEthernet),
			want: expect{frames: 2},
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "tunnel", [4]any{tn.Type, tn.GREProto, tn.GREHasKey, tn.GREKey}, [4]any{TunnelGRE, uint16(0), true, uint32(40)})
				eq(t, "no sgt", tn.GREHasSGT, false)
				eq(t, "outer payload is the gre packet", [2]int{p.Outer().PayloadOff, p.Outer().PayloadLen}, [2]int{tn.Off, 8 + 10})
				in := p.Inner()
				eq(t, "inner", [3]any{in.Link, in.Layers, in.EtherType}, [3]any{LinkOpaque, LayerMask(0), uint16(0)})
				eq(t, "payload", p.Payload(), []byte{0x45, 0, 0, 0x18, 0, 0, 0, 0, 0xff, 0x2f})
				eq(t, "truncated", p.Truncated(), false)
			},
		},
		{
			name: "gre cdp",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{Proto: 0x2000}, Payload("cdp")),
			info: info(LinkEthernet),
			want: expect{frames: 2},
			check: func(t *testing.T, p *Packet) {
				eq(t, "proto", p.Tunnel().GREProto, uint16(0x2000))
				eq(t, "inner", [2]any{p.Inner().Link, p.Inner().EtherType}, [2]any{LinkOpaque, uint16(0x2000)})
				eq(t, "payload", string(p.Payload()), "cdp")
			},
		},
		{
			name: "gre header cut before an unknown protocol's payload",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{HasKey: true, Proto: 0x2000}, Payload("cdp"))[:14+20+6],
			info: CaptureInfo{LinkType: LinkEthernet, Length: 14 + 20 + 8 + 3},
			want: expect{err: ErrTruncated, frames: 1, truncated: true},
			check: func(t *testing.T, p *Packet) {
				eq(t, "tunnel", p.Tunnel() == nil, true)
			},
		},
		{
			name: "gre cisco metadata inner ipv4",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{HasKey: true, Key: 40}, CiscoMD{SGT: 0x1234},
				IPv4{Src: ip1, Dst: ip2}, ICMPv4{Type: 8, ID: 1, Seq: 2}, Payload("ping")),
			info: info(LinkEthernet),
			want: expect{frames: 2},
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "tunnel", [3]any{tn.Type, tn.GREProto, tn.GREKey}, [3]any{TunnelGRE, EtherTypeCiscoMD, uint32(40)})
				eq(t, "sgt", [2]any{tn.GREHasSGT, tn.GRESGT}, [2]any{true, uint16(0x1234)})
				in := p.Inner()
				eq(t, "inner start", in.Start, 14+20+8+8)
				eq(t, "inner", [3]any{in.Link, in.Src, in.ICMPSeq}, [3]any{LinkRaw, ip1, uint16(2)})
				eq(t, "payload", string(p.Payload()), "ping")
				eq(t, "inner checksum", p.VerifyTransportChecksum(1), ChecksumGood)
			},
		},
		{
			name: "gre keepalive inside cisco metadata",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{HasKey: true, Key: 40}, CiscoMD{},
				IPv4{Src: ip4, Dst: ip3}, GRE{HasKey: true, Key: 40}),
			info: info(LinkEthernet),
			want: expect{frames: 3},
			check: func(t *testing.T, p *Packet) {
				eq(t, "outer tunnel", p.Tunnels[0].GREProto, EtherTypeCiscoMD)
				eq(t, "inner tunnel", [3]any{p.Tunnels[1].Type, p.Tunnels[1].GREProto, p.Tunnels[1].GREKey}, [3]any{TunnelGRE, uint16(0), uint32(40)})
				eq(t, "frame 1", p.Frames[1].Src, ip4)
				eq(t, "innermost", [2]any{p.Inner().Link, p.Inner().PayloadLen}, [2]any{LinkOpaque, 0})
			},
		},
		{
			name: "gre cisco metadata cut",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{}, CiscoMD{}, IPv4{Src: ip1, Dst: ip2})[:14+20+4+6],
			info: CaptureInfo{LinkType: LinkEthernet, Length: 100},
			want: expect{err: ErrTruncated, frames: 1, truncated: true},
		},
		{
			name: "opaque is not a capture link type",
			data: []byte{1, 2, 3},
			info: info(LinkOpaque),
			want: expect{err: ErrUnsupported, frames: 1},
		},
		{
			name: "gre version 3",
			data: Build(Eth{}, IPv4{Src: ip3, Dst: ip4, Protocol: ProtoGRE}, Payload{0, 3, 8, 0}),
			info: info(LinkEthernet),
			want: expect{err: ErrBadVersion, frames: 1},
		},
		{
			name: "erspan type I",
			data: Build(cat([]Layer{Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{}, ERSPAN{Version: 1}}, inner())...),
			info: info(LinkEthernet),
			want: expect{frames: 2},
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "type", tn.Type, TunnelERSPAN)
				eq(t, "version", tn.ERSPANVersion, uint8(1))
				eq(t, "seq", tn.GREHasSeq, false)
				eq(t, "inner", p.Inner().DstPort, uint16(53))
			},
		},
		{
			name: "erspan type II",
			data: Build(cat([]Layer{Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{Seq: 5}, ERSPAN{Version: 2, Session: 0x3ff, VLAN: 100, COS: 7, Index: 3}}, inner())...),
			info: info(LinkEthernet),
			want: expect{frames: 2},
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "version", tn.ERSPANVersion, uint8(2))
				eq(t, "session", tn.ERSPANSession, uint16(0x3ff))
				eq(t, "vlan", tn.ERSPANVLAN, uint16(100))
				eq(t, "gre seq", tn.GRESeq, uint32(5))
				eq(t, "inner start", p.Inner().Start, 14+20+8+8)
				eq(t, "inner", p.Inner().DstPort, uint16(53))
			},
		},
		{
			name: "erspan type III with platform subheader",
			data: Build(cat([]Layer{Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{}, ERSPAN{Version: 3, Session: 17, VLAN: 10, Platform: []byte{1, 2, 3, 4, 5, 6, 7, 8}}}, inner())...),
			info: info(LinkEthernet),
			want: expect{frames: 2},
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "version", tn.ERSPANVersion, uint8(3))
				eq(t, "session", tn.ERSPANSession, uint16(17))
				eq(t, "proto", tn.GREProto, EtherTypeERSPAN3)
				eq(t, "inner start", p.Inner().Start, 14+20+8+20)
				eq(t, "inner", p.Inner().DstPort, uint16(53))
			},
		},
		{
			name: "erspan type II bad version",
			data: Build(cat([]Layer{Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{HasSeq: true, Proto: 0x88BE}, Payload{0x20, 0, 0, 1, 0, 0, 0, 0}}, inner())...),
			info: info(LinkEthernet),
			want: expect{err: ErrBadVersion, frames: 1},
		},
		{
			name: "udp payload cut by snaplen is not an error",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2}, Payload("0123456789"))[:14+20+8+4],
			info: CaptureInfo{LinkType: LinkEthernet, Length: 14 + 20 + 8 + 10},
			want: expect{frames: 1, truncated: true},
			check: func(t *testing.T, p *Packet) {
				eq(t, "payload", string(p.Payload()), "0123")
				eq(t, "wire", p.Inner().PayloadWireLen, 10)
				eq(t, "checksum", p.VerifyTransportChecksum(0), ChecksumUnverifiable)
			},
		},
		{
			name: "udp payload missing from the wire is a bad length",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2}, Payload("0123456789"))[:14+20+8+4],
			info: info(LinkEthernet),
			want: expect{err: ErrBadLength, frames: 1},
			check: func(t *testing.T, p *Packet) {
				eq(t, "ip kept", p.Outer().Src, ip1)
			},
		},
		{
			name: "ipv4 total length shorter than its header",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2, TotalLength: 19}, UDP{Src: 1, Dst: 2}),
			info: info(LinkEthernet),
			want: expect{err: ErrBadLength, frames: 1},
		},
		{
			name: "ipv4 version 5",
			data: func() []byte {
				b := Build(Eth{}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2})
				b[14] = 0x55
				return b
			}(),
			info: info(LinkEthernet),
			want: expect{err: ErrBadVersion, frames: 1},
		},
		{
			name: "udp length below 8",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2, Length: 7}),
			info: info(LinkEthernet),
			want: expect{err: ErrBadLength, frames: 1},
		},
		{
			name: "udp length beyond the ip packet",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2, Length: 100}, Payload("abc")),
			info: info(LinkEthernet),
			want: expect{err: ErrBadLength, frames: 1},
			check: func(t *testing.T, p *Packet) {
				eq(t, "ports kept", p.Outer().DstPort, uint16(2))
			},
		},
		{
			name: "tcp data offset below 5",
			data: func() []byte {
				b := Build(Eth{}, IPv4{Src: ip1, Dst: ip2}, TCP{Src: 1, Dst: 2})
				b[14+20+12] = 0x40
				return b
			}(),
			info: info(LinkEthernet),
			want: expect{err: ErrBadLength, frames: 1},
		},
		{
			name: "tcp options cut by snaplen",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2}, TCP{Src: 25, Dst: 4000, Flags: TCPSyn, Options: tcpOpts})[:14+20+24],
			info: CaptureInfo{LinkType: LinkEthernet, Length: 14 + 20 + 32},
			want: expect{err: ErrTruncated, frames: 1, truncated: true},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "fixed header kept", [2]uint16{f.SrcPort, f.TCPFlags}, [2]uint16{25, TCPSyn})
				eq(t, "header len", f.TCPHeaderLen, 32)
				eq(t, "no payload claimed", [2]int{f.PayloadLen, f.PayloadWireLen}, [2]int{0, 0})
			},
		},
		{
			name: "ethernet header cut",
			data: make([]byte, 8),
			info: CaptureInfo{LinkType: LinkEthernet, Length: 78},
			want: expect{err: ErrTruncated, frames: 1, truncated: true},
		},
		{
			name: "vlan tag cut",
			data: Build(Eth{VLANs: []VLAN{{ID: 3}}}, IPv4{Src: ip1, Dst: ip2})[:16],
			info: info(LinkEthernet),
			want: expect{err: ErrTruncated, frames: 1},
		},
		{
			name: "raw ipv6",
			data: Build(IPv6{Src: ip61, Dst: ip62}, UDP{Src: 1, Dst: 2}, Payload("raw")),
			info: info(LinkRaw),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerIPv6|LayerUDP)
				eq(t, "ipoff", f.IPOff, 0)
				eq(t, "ethertype", f.EtherType, EtherTypeIPv6)
			},
		},
		{
			name: "raw bad version",
			data: []byte{0x50, 0, 0, 0},
			info: info(LinkRaw),
			want: expect{err: ErrBadVersion, frames: 1},
		},
		{
			name: "linktype ipv4",
			data: Build(IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2}),
			info: info(LinkIPv4),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				eq(t, "udp", p.Outer().Layers, LayerIPv4|LayerUDP)
			},
		},
		{
			name: "linktype ipv6 given ipv4",
			data: Build(IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2}, Payload(make([]byte, 40))),
			info: info(LinkIPv6),
			want: expect{err: ErrBadVersion, frames: 1},
		},
		{
			name: "null little-endian",
			data: append([]byte{2, 0, 0, 0}, Build(IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2})...),
			info: info(LinkNull),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				eq(t, "layers", p.Outer().Layers, LayerNull|LayerIPv4|LayerUDP)
			},
		},
		{
			name: "null big-endian ipv6 (darwin)",
			data: append([]byte{0, 0, 0, 30}, Build(IPv6{Src: ip61, Dst: ip62}, UDP{Src: 1, Dst: 2})...),
			info: info(LinkNull),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				eq(t, "layers", p.Outer().Layers, LayerNull|LayerIPv6|LayerUDP)
			},
		},
		{
			name: "loop",
			data: append([]byte{0, 0, 0, 24}, Build(IPv6{Src: ip61, Dst: ip62}, ICMPv6{Type: 128})...),
			info: info(LinkLoop),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				eq(t, "layers", p.Outer().Layers, LayerNull|LayerIPv6|LayerICMPv6)
			},
		},
		{
			name: "sll with vlan",
			data: append([]byte{0, 4, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x81, 0, 0, 9, 0x08, 0}, Build(IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2})...),
			info: info(LinkLinuxSLL),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerSLL|LayerVLAN|LayerIPv4|LayerUDP)
				eq(t, "pkttype", f.SLLPacketType, uint16(4))
				eq(t, "addr", f.SLLAddr, [8]byte{1, 2, 3, 4, 5, 6})
				eq(t, "addrlen", f.SLLAddrLen, uint8(6))
				eq(t, "vlan", f.VLANs[0], uint16(9))
			},
		},
		{
			name: "sll2",
			data: append([]byte{0x86, 0xdd, 0, 0, 0, 0, 0, 7, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0}, Build(IPv6{Src: ip61, Dst: ip62}, UDP{Src: 1, Dst: 2})...),
			info: info(LinkLinuxSLL2),
			want: expect{frames: 1},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerSLL2|LayerIPv6|LayerUDP)
				eq(t, "ifindex", f.SLLIfIndex, uint32(7))
				eq(t, "hatype", f.SLLHAType, uint16(1))
			},
		},
		{
			name: "unknown link type",
			data: []byte{1, 2, 3},
			info: info(LinkType(147)),
			want: expect{err: ErrUnsupported, frames: 1},
		},
		{
			name: "empty",
			data: nil,
			info: info(LinkEthernet),
			want: expect{err: ErrTruncated, frames: 1},
		},
	}
	var p Packet
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Decode(&p, c.data, c.info)
			checkInvariants(t, &p, err)
			if p.Err != c.want.err || p.NumFrames != c.want.frames || p.ErrDepth != c.want.errDepth {
				t.Fatalf("err %v depth %d frames %d, want err %v depth %d frames %d",
					p.Err, p.ErrDepth, p.NumFrames, c.want.err, c.want.errDepth, c.want.frames)
			}
			if p.Truncated() != c.want.truncated {
				t.Errorf("Truncated() = %v", p.Truncated())
			}
			if c.check != nil {
				c.check(t, &p)
			}
			// Decoding into a fresh Packet gives the same view as the reused one.
			var fresh Packet
			_ = Decode(&fresh, c.data, c.info)
			comparePackets(t, &fresh, &p)
		})
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// comparePackets fails unless a and b hold the same decoded view (the parts
// that are defined: frames and tunnels up to NumFrames, options up to NumOptions).
func comparePackets(t *testing.T, a, b *Packet) {
	t.Helper()
	if a.NumFrames != b.NumFrames || a.Err != b.Err || a.ErrDepth != b.ErrDepth || a.Info != b.Info {
		t.Fatalf("packets differ: frames %d/%d err %v/%v", a.NumFrames, b.NumFrames, a.Err, b.Err)
	}
	for i := 0; i < a.NumFrames; i++ {
		if a.Frames[i] != b.Frames[i] {
			t.Fatalf("frame %d differs:\n%+v\n%+v", i, a.Frames[i], b.Frames[i])
		}
	}
	for i := 0; i < a.NumFrames-1; i++ {
		ta, tb := a.Tunnels[i], b.Tunnels[i]
		for j := ta.NumOptions; j < MaxGeneveOptions; j++ {
			ta.Options[j], tb.Options[j] = GeneveOption{}, GeneveOption{}
		}
		for j := int(ta.NumMPLS); j < MaxMPLSLabels; j++ {
			ta.MPLS[j], tb.MPLS[j] = 0, 0
		}
		if ta != tb {
			t.Fatalf("tunnel %d differs:\n%+v\n%+v", i, ta, tb)
		}
	}
}

func TestKindIsAnError(t *testing.T) {
	var p Packet
	err := Decode(&p, []byte{1}, info(LinkEthernet))
	if err == nil || err.Error() != "decode: truncated" {
		t.Fatalf("err = %v", err)
	}
	k, ok := err.(Kind)
	if !ok || k != ErrTruncated {
		t.Fatalf("err is %T %v", err, err)
	}
}

func TestDecodeNeverReadsPastData(t *testing.T) {
	// Every prefix of every built packet, and every prefix with the capture
	// info claiming the full length, decodes within bounds.
	frames := [][]byte{
		Build(Eth{VLANs: []VLAN{{ID: 1}}}, IPv6{Src: ip61, Dst: ip62, Ext: []IPv6Ext{{Type: 0}, {Type: 43, Data: make([]byte, 22)}}}, TCP{Src: 1, Dst: 2, Options: []byte{1, 1, 1, 1}}, Payload("data")),
		Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 1}, Geneve{Options: GWLBOptions(1, 2, 3)}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 5, Dst: 6}, Payload("in")),
		Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{HasKey: true}, ERSPAN{Version: 3, Platform: []byte{1}}, Eth{}, IPv4{Src: ip1, Dst: ip2}, ICMPv4{Type: 8}),
		Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{HasKey: true}, CiscoMD{SGT: 9}, IPv4{Src: ip4, Dst: ip3}, GRE{HasKey: true}, Payload("keepalive")),
		Build(Eth{}, IPv6{Src: ip61, Dst: ip62}, TCP{Src: 1, Dst: 2, Options: []byte{1, 1, 1, 1}}, Payload("tcp")),
	}
	var p Packet
	for _, full := range frames {
		for n := 0; n <= len(full); n++ {
			// A copy with no spare capacity, so a read past n would fault.
			b := append([]byte(nil), full[:n]...)
			checkInvariants(t, &p, Decode(&p, b, info(LinkEthernet)))
			err := Decode(&p, b, CaptureInfo{LinkType: LinkEthernet, Length: len(full)})
			checkInvariants(t, &p, err)
			if n < len(full) && !p.Truncated() {
				t.Errorf("prefix %d of %d: not reported truncated", n, len(full))
			}
		}
	}
}

func TestDecodeAllocs(t *testing.T) {
	cases := map[string][]byte{
		"udp":                             Build(Eth{}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2}, Payload("x")),
		"ipv6":                            Build(Eth{}, IPv6{Src: ip61, Dst: ip62}, TCP{Src: 1, Dst: 2}),
		"geneve":                          Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 1}, Geneve{Options: GWLBOptions(1, 2, 3)}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 5, Dst: 6}),
		"error":                           []byte{1, 2, 3},
		"gre keepalive in cisco metadata": Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{HasKey: true}, CiscoMD{}, IPv4{Src: ip4, Dst: ip3}, GRE{HasKey: true}, Payload("ka")),
		"partial udp header":              Build(Eth{}, IPv4{Src: ip1, Dst: ip2, MF: true, TotalLength: 26}, UDP{Src: 1, Dst: 2})[:14+26],
	}
	for i, b := range tunnelSeeds() { // GTP-U, MPLS, first fragments, TSO, deep nesting
		cases[fmt.Sprintf("tunnel seed %d", i)] = b
	}
	var p Packet
	for name, b := range cases {
		allocs := testing.AllocsPerRun(100, func() { _ = Decode(&p, b, info(LinkEthernet)) })
		if allocs != 0 {
			t.Errorf("%s: %v allocs per Decode", name, allocs)
		}
	}
}

func TestBuilderGWLBLayout(t *testing.T) {
	// The GWLB framing byte for byte: Geneve header with 32 bytes of options
	// (3 TLVs of class 0x0108), protocol 0x0800, then inner IPv4.
	b := Build(Geneve{Options: GWLBOptions(0x1111111111111111, 0x2222222222222222, 0x33333333)}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2})
	want := []byte{
		0x08, 0x00, 0x08, 0x00, 0, 0, 0, 0,
		0x01, 0x08, 0x01, 0x02, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
		0x01, 0x08, 0x02, 0x02, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
		0x01, 0x08, 0x03, 0x01, 0x33, 0x33, 0x33, 0x33,
		0x45,
	}
	eq(t, "gwlb geneve", b[:len(want)], want)
	if binary.BigEndian.Uint16(b[40+2:]) != 28 {
		t.Errorf("inner total length %d", binary.BigEndian.Uint16(b[42:]))
	}
}

// pppoe returns a PPPoE session header (RFC 2516) and PPP protocol field
// before ppp, its length field extra bytes longer than what follows.
func pppoe(session, proto uint16, extra int, ppp []byte) []byte {
	b := []byte{0x11, 0, byte(session >> 8), byte(session), 0, 0, byte(proto >> 8), byte(proto)}
	binary.BigEndian.PutUint16(b[4:6], uint16(2+len(ppp)+extra))
	return append(b, ppp...)
}

// TestFrameSize keeps a Frame at 256 bytes: Packet.Inner and the View index
// Frames on every field a rule reads, and a power-of-two size makes that a
// shift (a Frame of 264 bytes cost the 100-rule match benchmark ~20
// instructions per packet). A new field goes into a padding hole.
func TestFrameSize(t *testing.T) {
	if n := unsafe.Sizeof(Frame{}); n != 256 {
		t.Errorf("Frame is %d bytes, want 256", n)
	}
}
