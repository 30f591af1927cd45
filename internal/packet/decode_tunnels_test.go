package packet

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// Issue 11 item 7: tunnels in first fragments, IPv4 total length 0 (TSO),
// tunnels nested three deep, GTP-U and MPLS.

// firstFragment builds layers (outer Ethernet and IPv4 first, the IPv4 with
// MF set) and cuts the IPv4 packet after ipPayload bytes of its payload, as
// the first fragment of a larger datagram.
func firstFragment(ipPayload int, layers ...Layer) []byte {
	ip := layers[1].(IPv4)
	ip.MF = true
	ip.TotalLength = 20 + len(ip.Options) + ipPayload
	layers[1] = ip
	b := Build(layers...)
	return b[:14+ip.TotalLength]
}

func innerUDP() []Layer {
	return []Layer{Eth{Src: mac2, Dst: mac1}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1111, Dst: 53}, Payload(make([]byte, 200))}
}

func concat(ls ...[]Layer) []Layer {
	var out []Layer
	for _, l := range ls {
		out = append(out, l...)
	}
	return out
}

func TestDecodeTunnelInFirstFragment(t *testing.T) {
	type tc struct {
		name   string
		data   []byte
		info   CaptureInfo
		err    Kind
		frames int
		check  func(t *testing.T, p *Packet)
	}
	cases := []tc{
		{
			name:   "vxlan in a first fragment, inner udp payload cut",
			data:   firstFragment(8+8+14+20+8+100, concat([]Layer{Eth{}, IPv4{Src: ip3, Dst: ip4, ID: 9}, UDP{Src: 777}, VXLAN{VNI: 42}}, innerUDP())...),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				o := p.Outer()
				eq(t, "outer fragment", o.Fragment, true)
				eq(t, "outer offset", o.FragOffset, uint16(0))
				tn := p.Tunnel()
				if tn == nil {
					t.Fatal("no tunnel")
				}
				eq(t, "type", tn.Type, TunnelVXLAN)
				eq(t, "vni", tn.VNI, uint32(42))
				in := p.Inner()
				eq(t, "inner layers", in.Layers, LayerEthernet|LayerIPv4|LayerUDP)
				eq(t, "inner ports", [2]uint16{in.SrcPort, in.DstPort}, [2]uint16{1111, 53})
				eq(t, "inner udp length as claimed", in.UDPLength, uint16(208))
				eq(t, "inner payload present", in.PayloadLen, 100)
				eq(t, "inner payload is what the fragment holds", in.PayloadWireLen, 100)
				eq(t, "truncated", p.Truncated(), false)
			},
		},
		{
			name:   "vxlan in a first fragment, inner ip header cut",
			data:   firstFragment(8+8+14+10, concat([]Layer{Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 777}, VXLAN{VNI: 7}}, innerUDP())...),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				eq(t, "tunnel", p.Tunnel() != nil, true)
				in := p.Inner()
				eq(t, "inner layers", in.Layers, LayerEthernet)
				eq(t, "inner ethertype", in.EtherType, EtherTypeIPv4)
			},
		},
		{
			name: "geneve in a first fragment",
			data: firstFragment(8+8+8+20+8+50, Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 31000}, Geneve{VNI: 5, Options: []GeneveOpt{{Class: 1, Type: 2, Data: []byte{1, 2, 3, 4}}}},
				IPv4{Src: ip1, Dst: ip2}, UDP{Src: 5, Dst: 6}, Payload(make([]byte, 300))),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				eq(t, "type", p.Tunnel().Type, TunnelGeneve)
				eq(t, "options", p.Tunnel().NumOptions, 1)
				eq(t, "inner dport", p.Inner().DstPort, uint16(6))
			},
		},
		{
			name:   "gre in a first fragment",
			data:   firstFragment(8+20+8+40, Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{HasKey: true, Key: 99}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 5, Dst: 6}, Payload(make([]byte, 500))),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "type", tn.Type, TunnelGRE)
				eq(t, "key", tn.GREKey, uint32(99))
				in := p.Inner()
				eq(t, "inner layers", in.Layers, LayerIPv4|LayerUDP)
				eq(t, "inner total length as claimed", in.IPTotalLen, 20+8+500)
				eq(t, "inner payload present", in.PayloadLen, 40)
				eq(t, "inner payload is what the fragment holds", in.PayloadWireLen, 40)
			},
		},
		{
			name: "erspan in a first fragment",
			data: firstFragment(8+8+14+20+20+10, Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{Seq: 3}, ERSPAN{Version: 2, Session: 12},
				Eth{Src: mac1, Dst: mac2}, IPv4{Src: ip1, Dst: ip2}, TCP{Src: 80, Dst: 9999, Flags: TCPAck}, Payload(make([]byte, 1000))),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "type", tn.Type, TunnelERSPAN)
				eq(t, "session", tn.ERSPANSession, uint16(12))
				in := p.Inner()
				eq(t, "inner layers", in.Layers, LayerEthernet|LayerIPv4|LayerTCP)
				eq(t, "inner flags", in.TCPFlags, TCPAck)
				eq(t, "inner payload present", in.PayloadLen, 10)
			},
		},
		{
			name:   "tunnel header cut by the first fragment is not an error",
			data:   firstFragment(8+3, concat([]Layer{Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 777}, VXLAN{VNI: 7}}, innerUDP())...),
			frames: 1,
			check: func(t *testing.T, p *Packet) {
				eq(t, "tunnel", p.Tunnel() == nil, true)
				eq(t, "udp kept", p.Outer().DstPort, PortVXLAN)
			},
		},
		{
			name: "later fragment: no tunnel",
			data: func() []byte {
				b := Build(Eth{}, IPv4{Src: ip3, Dst: ip4, FragOffset: 1480, Protocol: ProtoUDP}, Payload(Build(concat([]Layer{UDP{Src: 1, Dst: PortVXLAN}, VXLAN{VNI: 1}}, innerUDP())...)))
				return b
			}(),
			frames: 1,
			check: func(t *testing.T, p *Packet) {
				eq(t, "tunnel", p.Tunnel() == nil, true)
				eq(t, "no udp", p.Outer().Layers.Has(LayerUDP), false)
			},
		},
		{
			name:   "gre header cut by the first fragment is not an error",
			data:   firstFragment(6, Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{HasKey: true, Key: 1}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 5, Dst: 6}),
			frames: 1,
			check: func(t *testing.T, p *Packet) {
				eq(t, "tunnel", p.Tunnel() == nil, true)
				eq(t, "fragment", p.Outer().Fragment, true)
			},
		},
		{
			name:   "mpls stack in gre cut by the first fragment is not an error",
			data:   firstFragment(8+6, Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{HasKey: true, Key: 1}, MPLS{Labels: []MPLSLabel{{Label: 1}, {Label: 2}}}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 5, Dst: 6}),
			frames: 1,
		},
		{
			name:   "ipip in a first fragment, inner header cut",
			data:   firstFragment(12, Eth{}, IPv4{Src: ip3, Dst: ip4}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 5, Dst: 6}),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				eq(t, "type", p.Tunnel().Type, TunnelIPIP)
				eq(t, "inner layers", p.Inner().Layers, LayerMask(0))
			},
		},
		{
			name: "vxlan in a first ipv6 fragment",
			data: func() []byte {
				b := Build(concat([]Layer{Eth{}, IPv6{Src: ip61, Dst: ip62, Ext: []IPv6Ext{{Type: 44, More: true, ID: 7}}}, UDP{Src: 50000, Dst: PortVXLAN}, VXLAN{VNI: 6}}, innerUDP())...)
				n := 40 + 8 + 8 + 8 + 14 + 20 + 8 + 30
				binary.BigEndian.PutUint16(b[14+4:14+6], uint16(n-40))
				return b[:14+n]
			}(),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				eq(t, "outer fragment", p.Outer().Fragment, true)
				eq(t, "vni", p.Tunnel().VNI, uint32(6))
				in := p.Inner()
				eq(t, "inner dport", in.DstPort, uint16(53))
				eq(t, "inner payload", [2]int{in.PayloadLen, in.PayloadWireLen}, [2]int{30, 30})
			},
		},
		{
			name:   "a first fragment cut by the snap length: the inner payload ends with the fragment",
			data:   firstFragment(8+8+14+20+8+100, concat([]Layer{Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 777}, VXLAN{VNI: 42}}, innerUDP())...)[:14+20+8+8+14+20+8+10],
			info:   CaptureInfo{LinkType: LinkEthernet, Length: 14 + 20 + 8 + 8 + 14 + 20 + 8 + 100},
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				in := p.Inner()
				eq(t, "inner payload", [2]int{in.PayloadLen, in.PayloadWireLen}, [2]int{10, 100})
				eq(t, "truncated", p.Truncated(), true)
			},
		},
		{
			name:   "a first fragment cut by the snap length keeps the truncated error",
			data:   firstFragment(8+8+14+10, concat([]Layer{Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 777}, VXLAN{VNI: 7}}, innerUDP())...)[:14+20+8+8+14+4],
			info:   CaptureInfo{LinkType: LinkEthernet, Length: 14 + 20 + 8 + 8 + 14 + 10},
			err:    ErrTruncated,
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				eq(t, "truncated", p.Truncated(), true)
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			in := c.info
			if in.LinkType == 0 {
				in.LinkType = LinkEthernet
			}
			err := Decode(&p, c.data, in)
			if p.Err != c.err {
				t.Fatalf("err %v at depth %d, want %v", err, p.ErrDepth, c.err)
			}
			eq(t, "frames", p.NumFrames, c.frames)
			if c.check != nil {
				c.check(t, &p)
			}
		})
	}
}

func TestDecodeZeroTotalLength(t *testing.T) {
	type tc struct {
		name  string
		data  []byte
		info  CaptureInfo
		err   Kind
		check func(t *testing.T, p *Packet)
	}
	tcp := func(n int) []Layer {
		return []Layer{TCP{Src: 40000, Dst: 443, Flags: TCPAck | TCPPsh, Seq: 1}, Payload(make([]byte, n))}
	}
	cases := []tc{
		{
			name: "tso tcp segment of 70000 bytes",
			data: Build(append([]Layer{Eth{}, IPv4{Src: ip1, Dst: ip2, ZeroTotalLength: true}}, tcp(70000)...)...),
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "layers", f.Layers, LayerEthernet|LayerIPv4|LayerTCP)
				eq(t, "from capture", f.IPLenFromCapture, true)
				eq(t, "total", f.IPTotalLen, 20+20+70000)
				eq(t, "payload", f.PayloadLen, 70000)
				eq(t, "truncated", p.Truncated(), false)
			},
		},
		{
			name: "tso cut by the snap length uses the wire length",
			data: Build(append([]Layer{Eth{}, IPv4{Src: ip1, Dst: ip2, ZeroTotalLength: true}}, tcp(1000)...)...)[:14+20+20+100],
			info: CaptureInfo{LinkType: LinkEthernet, Length: 14 + 20 + 20 + 1000},
			check: func(t *testing.T, p *Packet) {
				f := p.Outer()
				eq(t, "total", f.IPTotalLen, 20+20+1000)
				eq(t, "payload", f.PayloadLen, 100)
				eq(t, "payload wire", f.PayloadWireLen, 1000)
				eq(t, "truncated", p.Truncated(), true)
			},
		},
		{
			name: "a normal total length is not flagged",
			data: Build(append([]Layer{Eth{}, IPv4{Src: ip1, Dst: ip2}}, tcp(10)...)...),
			check: func(t *testing.T, p *Packet) {
				eq(t, "from capture", p.Outer().IPLenFromCapture, false)
			},
		},
		{
			name: "vxlan carrier with total length 0",
			data: Build(concat([]Layer{Eth{}, IPv4{Src: ip3, Dst: ip4, ZeroTotalLength: true}, UDP{Src: 1}, VXLAN{VNI: 3}}, innerUDP())...),
			check: func(t *testing.T, p *Packet) {
				eq(t, "frames", p.NumFrames, 2)
				eq(t, "outer flag", p.Outer().IPLenFromCapture, true)
				eq(t, "inner flag", p.Inner().IPLenFromCapture, false)
				eq(t, "inner dport", p.Inner().DstPort, uint16(53))
			},
		},
		{
			name: "total length 0 with no room for the header",
			data: Build(Eth{}, IPv4{Src: ip1, Dst: ip2, ZeroTotalLength: true, Options: make([]byte, 20)})[:14+30],
			info: CaptureInfo{LinkType: LinkEthernet, Length: 14 + 30},
			err:  ErrBadLength,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			in := c.info
			if in.LinkType == 0 {
				in.LinkType = LinkEthernet
			}
			_ = Decode(&p, c.data, in)
			if p.Err != c.err {
				t.Fatalf("err %v at depth %d, want %v", p.Err, p.ErrDepth, c.err)
			}
			if c.check != nil {
				c.check(t, &p)
			}
		})
	}
}

func TestDecodeNestedTunnels(t *testing.T) {
	vx := func(src netip.Addr, port uint16, vni uint32) []Layer {
		return []Layer{Eth{}, IPv4{Src: src, Dst: ip4}, UDP{Src: port}, VXLAN{VNI: vni}}
	}
	type tc struct {
		name   string
		data   []byte
		frames int
		check  func(t *testing.T, p *Packet)
	}
	cases := []tc{
		{
			name:   "vxlan in vxlan in vxlan",
			data:   Build(concat(vx(ip3, 1, 1), vx(ip1, 2, 2), vx(ip2, 3, 3), innerUDP())...),
			frames: 4,
			check: func(t *testing.T, p *Packet) {
				for i := range min(3, len(p.Tunnels)) {
					eq(t, "vni", p.Tunnels[i].VNI, uint32(i+1))
				}
				eq(t, "outermost", p.Tunnel().VNI, uint32(1))
				in := p.Inner()
				eq(t, "innermost", [2]uint16{in.SrcPort, in.DstPort}, [2]uint16{1111, 53})
				eq(t, "payload", len(p.Payload()), 200)
			},
		},
		{
			name:   "four deep stops at MaxDepth",
			data:   Build(concat(vx(ip3, 1, 1), vx(ip1, 2, 2), vx(ip2, 3, 3), vx(ip1, 4, 4), innerUDP())...),
			frames: MaxDepth,
			check: func(t *testing.T, p *Packet) {
				in := p.Inner()
				eq(t, "innermost is the fourth vxlan carrier", in.SrcPort, uint16(4))
				eq(t, "its payload is the vxlan header", in.PayloadLen, 8+14+20+8+200)
			},
		},
		{
			name: "gtpu in mpls in vxlan",
			data: Build(concat(vx(ip3, 1, 1), []Layer{Eth{}, MPLS{Labels: []MPLSLabel{{Label: 100}}}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 2152},
				GTPU{TEID: 0xdeadbeef}, IPv6{Src: ip61, Dst: ip62}, UDP{Src: 9, Dst: 10}, Payload("x")})...),
			frames: 4,
			check: func(t *testing.T, p *Packet) {
				var types []TunnelType
				for i := range p.NumFrames - 1 {
					types = append(types, p.Tunnels[i].Type)
				}
				eq(t, "types", types, []TunnelType{TunnelVXLAN, TunnelMPLS, TunnelGTPU})
				eq(t, "teid", p.Tunnels[len(p.Tunnels)-1].TEID, uint32(0xdeadbeef))
				eq(t, "inner", p.Inner().Src, ip61)
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			if err := Decode(&p, c.data, info(LinkEthernet)); err != nil {
				t.Fatalf("err %v at depth %d", err, p.ErrDepth)
			}
			eq(t, "frames", p.NumFrames, c.frames)
			c.check(t, &p)
		})
	}
}

func TestDecodeGTPU(t *testing.T) {
	type tc struct {
		name   string
		data   []byte
		info   CaptureInfo
		err    Kind
		frames int
		check  func(t *testing.T, p *Packet)
	}
	outer := func(g GTPU) []Layer {
		return []Layer{Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 2152}, g}
	}
	ipv4 := []Layer{IPv4{Src: ip1, Dst: ip2}, TCP{Src: 40000, Dst: 80, Flags: TCPSyn}}
	cases := []tc{
		{
			name:   "g-pdu with ipv4",
			data:   Build(append(outer(GTPU{TEID: 0x01020304}), ipv4...)...),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "type", tn.Type, TunnelGTPU)
				eq(t, "teid", tn.TEID, uint32(0x01020304))
				eq(t, "off", tn.Off, 14+20+8)
				eq(t, "has seq", tn.GTPHasSeq, false)
				in := p.Inner()
				eq(t, "inner link", in.Link, LinkRaw)
				eq(t, "inner layers", in.Layers, LayerIPv4|LayerTCP)
				eq(t, "inner flags", in.TCPFlags, TCPSyn)
			},
		},
		{
			name:   "g-pdu with sequence, n-pdu and two extension headers, ipv6",
			data:   Build(Eth{}, IPv6{Src: ip61, Dst: ip62}, UDP{Src: 2152}, GTPU{TEID: 7, HasSeq: true, Seq: 513, HasNPDU: true, NPDU: 9, Ext: []GTPUExt{{Type: 0x85, Content: []byte{0, 9}}, {Type: 0x40, Content: []byte{1, 2, 3, 4, 5}}}}, IPv6{Src: ip62, Dst: ip61}, UDP{Src: 1, Dst: 2}, Payload("hi")),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "teid", tn.TEID, uint32(7))
				eq(t, "seq", [2]any{tn.GTPHasSeq, tn.GTPSeq}, [2]any{true, uint16(513)})
				in := p.Inner()
				eq(t, "inner", in.Src, ip62)
				eq(t, "payload", string(p.Payload()), "hi")
			},
		},
		{
			name:   "echo request is not a tunnel",
			data:   Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 2152}, GTPU{MsgType: 1, HasSeq: true}),
			frames: 1,
			check: func(t *testing.T, p *Packet) {
				eq(t, "tunnel", p.Tunnel() == nil, true)
				eq(t, "payload is gtp", p.Outer().PayloadLen, 12)
			},
		},
		{
			name:   "g-pdu with a non-ip t-pdu is an opaque inner frame",
			data:   Build(append(outer(GTPU{TEID: 1}), Payload{0x00, 1, 2, 3})...),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				eq(t, "inner link", p.Inner().Link, LinkOpaque)
				eq(t, "inner payload", p.Inner().PayloadLen, 4)
			},
		},
		{
			name:   "gtp version 0 under port 2152",
			data:   Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 2152, Dst: PortGTPU}, Payload{0x10, 0xff, 0, 0, 0, 0, 0, 0}),
			err:    ErrBadVersion,
			frames: 1,
		},
		{
			name:   "length beyond the udp payload",
			data:   Build(append(outer(GTPU{TEID: 1, Length: 500}), ipv4...)...),
			err:    ErrBadLength,
			frames: 1,
		},
		{
			name:   "extension header cut by the capture",
			data:   Build(append(outer(GTPU{TEID: 1, Ext: []GTPUExt{{Type: 0x85, Content: []byte{0, 9}}}}), ipv4...)...)[:14+20+8+12+2],
			info:   CaptureInfo{LinkType: LinkEthernet, Length: 200},
			err:    ErrTruncated,
			frames: 1,
		},
		{
			name:   "extension header of length 0",
			data:   Build(append(outer(GTPU{TEID: 1, HasSeq: true}), Payload{0, 0})...),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				eq(t, "opaque", p.Inner().Link, LinkOpaque)
			},
		},
	}
	// Make the "extension header of length 0" case: next type set, then a zero length.
	for i := range cases {
		if cases[i].name == "extension header of length 0" {
			b := cases[i].data
			b[14+20+8] |= 0x04
			b[14+20+8+11] = 0x85
			cases[i].err = ErrBadLength
			cases[i].frames = 1
			cases[i].check = nil
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			in := c.info
			if in.LinkType == 0 {
				in.LinkType = LinkEthernet
			}
			_ = Decode(&p, c.data, in)
			if p.Err != c.err {
				t.Fatalf("err %v at depth %d, want %v", p.Err, p.ErrDepth, c.err)
			}
			eq(t, "frames", p.NumFrames, c.frames)
			if c.check != nil {
				c.check(t, &p)
			}
		})
	}
}

func TestDecodeMPLS(t *testing.T) {
	type tc struct {
		name   string
		data   []byte
		info   CaptureInfo
		err    Kind
		frames int
		check  func(t *testing.T, p *Packet)
	}
	two := []MPLSLabel{{Label: 16001, TC: 5, TTL: 255}, {Label: 24, TTL: 63}}
	cases := []tc{
		{
			name:   "ethernet, two labels, ipv4",
			data:   Build(Eth{Src: mac1, Dst: mac2}, MPLS{Labels: two}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 5, Dst: 6}, Payload("ab")),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				o := p.Outer()
				eq(t, "outer ethertype", o.EtherType, EtherTypeMPLS)
				eq(t, "outer layers", o.Layers, LayerEthernet)
				tn := p.Tunnel()
				eq(t, "type", tn.Type, TunnelMPLS)
				eq(t, "off", tn.Off, 14)
				eq(t, "labels", tn.NumMPLS, uint8(2))
				eq(t, "label 0", tn.MPLSLabel(0), uint32(16001))
				eq(t, "entry 0", tn.MPLS[0], uint32(16001<<12|5<<9|255))
				eq(t, "label 1", tn.MPLSLabel(1), uint32(24))
				eq(t, "cw", tn.MPLSControlWord, false)
				in := p.Inner()
				eq(t, "inner layers", in.Layers, LayerIPv4|LayerUDP)
				eq(t, "payload", string(p.Payload()), "ab")
			},
		},
		{
			name:   "multicast ethertype, ipv6",
			data:   Build(Eth{VLANs: []VLAN{{ID: 5}}}, MPLS{Labels: []MPLSLabel{{Label: 2}}, Multicast: true}, IPv6{Src: ip61, Dst: ip62}, ICMPv6{Type: 128, ID: 1, Seq: 2}),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				eq(t, "outer ethertype", p.Outer().EtherType, EtherTypeMPLSMulticast)
				eq(t, "type", p.Tunnel().Type, TunnelMPLS)
				eq(t, "inner", p.Inner().Layers, LayerIPv6|LayerICMPv6)
			},
		},
		{
			name:   "pseudowire ethernet with control word",
			data:   Build(concat([]Layer{Eth{}, MPLS{Labels: two, ControlWord: true}}, innerUDP())...),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "cw", tn.MPLSControlWord, true)
				in := p.Inner()
				eq(t, "inner link", in.Link, LinkEthernet)
				eq(t, "inner src mac", in.EthSrc, mac2)
				eq(t, "inner dport", in.DstPort, uint16(53))
			},
		},
		{
			name:   "mpls over udp",
			data:   Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 49152}, MPLS{Labels: two}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 5, Dst: 6}),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "type", tn.Type, TunnelMPLS)
				eq(t, "off", tn.Off, 14+20+8)
				eq(t, "outer dport", p.Outer().DstPort, PortMPLSUDP)
				eq(t, "inner", p.Inner().Src, ip1)
			},
		},
		{
			name:   "mpls over gre",
			data:   Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{HasKey: true, Key: 5}, MPLS{Labels: two}, IPv6{Src: ip61, Dst: ip62}, UDP{Src: 5, Dst: 6}),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "type", tn.Type, TunnelMPLS)
				eq(t, "gre proto", tn.GREProto, EtherTypeMPLS)
				eq(t, "gre key", [2]any{tn.GREHasKey, tn.GREKey}, [2]any{true, uint32(5)})
				eq(t, "labels", tn.NumMPLS, uint8(2))
				eq(t, "inner", p.Inner().Src, ip61)
			},
		},
		{
			name: "ten labels: eight kept, all counted",
			data: Build(Eth{}, MPLS{Labels: func() (l []MPLSLabel) {
				for i := range 10 {
					l = append(l, MPLSLabel{Label: uint32(100 + i)})
				}
				return l
			}()}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 5, Dst: 6}),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				tn := p.Tunnel()
				eq(t, "count", tn.NumMPLS, uint8(10))
				eq(t, "last kept", tn.MPLSLabel(MaxMPLSLabels-1), uint32(100+MaxMPLSLabels-1))
				eq(t, "inner", p.Inner().Layers, LayerIPv4|LayerUDP)
			},
		},
		{
			name:   "label stack without bottom of stack cut by the capture",
			data:   Build(Eth{Type: EtherTypeMPLS}, Payload{0, 1, 0, 64, 0, 2, 0})[:14+7],
			info:   CaptureInfo{LinkType: LinkEthernet, Length: 100},
			err:    ErrTruncated,
			frames: 1,
		},
		{
			name:   "label stack running to the end of the frame",
			data:   Build(Eth{Type: EtherTypeMPLS}, Payload{0, 1, 0, 64, 0, 2, 0, 64}),
			err:    ErrTruncated,
			frames: 1,
		},
		{
			name:   "unknown payload nibble: opaque inner frame",
			data:   Build(Eth{}, MPLS{Labels: two}, Payload{0x90, 1, 2}),
			frames: 2,
			check: func(t *testing.T, p *Packet) {
				eq(t, "opaque", p.Inner().Link, LinkOpaque)
				eq(t, "payload", p.Inner().PayloadLen, 3)
			},
		},
		{
			name:   "control word cut",
			data:   Build(Eth{}, MPLS{Labels: two}, Payload{0x00, 0})[:14+8+2],
			info:   CaptureInfo{LinkType: LinkEthernet, Length: 100},
			err:    ErrTruncated,
			frames: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			in := c.info
			if in.LinkType == 0 {
				in.LinkType = LinkEthernet
			}
			_ = Decode(&p, c.data, in)
			if p.Err != c.err {
				t.Fatalf("err %v at depth %d, want %v", p.Err, p.ErrDepth, c.err)
			}
			eq(t, "frames", p.NumFrames, c.frames)
			if c.check != nil {
				c.check(t, &p)
			}
		})
	}
}
