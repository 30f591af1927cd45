package packet

import (
	"encoding/binary"
	"net/netip"
)

// EtherType and protocol numbers the decoder dispatches on.
const (
	EtherTypeIPv4          uint16 = 0x0800
	EtherTypeARP           uint16 = 0x0806
	EtherTypeRARP          uint16 = 0x8035
	EtherTypeIPv6          uint16 = 0x86DD
	EtherTypeVLAN          uint16 = 0x8100 // 802.1Q C-tag
	EtherTypeQinQ          uint16 = 0x88A8 // 802.1ad S-tag
	EtherTypeQinQ9100      uint16 = 0x9100 // pre-standard QinQ tag
	EtherTypeTEB           uint16 = 0x6558 // transparent Ethernet bridging (GRE, Geneve)
	EtherTypeERSPAN        uint16 = 0x88BE // ERSPAN type I and II
	EtherTypeERSPAN3       uint16 = 0x22EB // ERSPAN type III
	EtherTypeCiscoMD       uint16 = 0x8909 // Cisco MetaData (TrustSec security group tag)
	EtherTypePPPoE         uint16 = 0x8864 // PPPoE session stage (RFC 2516)
	EtherTypeMPLS          uint16 = 0x8847 // MPLS unicast (RFC 3032)
	EtherTypeMPLSMulticast uint16 = 0x8848 // MPLS multicast (RFC 5332)
	pppIPv4                uint16 = 0x0021 // PPP protocol numbers (RFC 1332, RFC 5072)
	pppIPv6                uint16 = 0x0057
	ProtoICMPv4            uint8  = 1
	ProtoTCP               uint8  = 6
	ProtoUDP               uint8  = 17
	ProtoGRE               uint8  = 47
	ProtoIPIP              uint8  = 4  // IPv4 encapsulation
	ProtoIPv6Encap         uint8  = 41 // IPv6 encapsulation (6in4)
	ProtoICMPv6            uint8  = 58
	PortVXLAN              uint16 = 4789
	PortGeneve             uint16 = 6081
	PortGTPU               uint16 = 2152 // GTPv1-U (3GPP TS 29.281)
	PortMPLSUDP            uint16 = 6635 // MPLS in UDP (RFC 7510)
	GeneveClassAWSGWLB     uint16 = 0x0108
	GWLBHasEndpointID      uint8  = 1 << 0
	GWLBHasAttachmentID    uint8  = 1 << 1
	GWLBHasFlowCookie      uint8  = 1 << 2
)

// IPv6 extension header numbers.
const (
	ipv6HopByHop uint8 = 0
	ipv6Routing  uint8 = 43
	ipv6Fragment uint8 = 44
	ipv6AH       uint8 = 51
	ipv6DestOpts uint8 = 60
)

var be = binary.BigEndian

// next describes the inner frame a tunnel carries, found while decoding a frame.
type next struct {
	link             LinkType
	proto            uint16 // for LinkOpaque: the tunnel's protocol type
	start, end, wire int
	// frag: the frame is carried in the first fragment of a fragmented IP
	// packet (at any depth above it), so its bytes may end before its own
	// headers do: a length field may claim bytes in later fragments.
	// fragEnd is where that fragment ends on the wire.
	frag    bool
	fragEnd int
}

// unknownEnd is the claimed end of what a first fragment carries without a
// length field of its own (GRE, IP in IP): the datagram continues in later
// fragments, of a length this packet does not tell.
const unknownEnd = 1<<31 - 1

// Decode decodes data into p, replacing everything p held before.
//
// info.CaptureLength is set to len(data), and info.Length is raised to
// len(data) when smaller (0 means "unknown, assume nothing was cut").
// info.LinkType names the first header. Decode returns nil, or the Kind that
// stopped decoding early (also in p.Err, with p.ErrDepth the frame index);
// the layers decoded before the problem stay in p. After Decode,
// p.NumFrames >= 1; Frames and Tunnels past NumFrames hold stale values, as
// do Tunnel.Options past NumOptions and Tunnel.MPLS past NumMPLS.
//
// Bounds: a header cut off by the end of the buffer is ErrTruncated. A length
// field (IPv4 total length, IPv6 payload length, UDP length, TCP data offset)
// that claims more than the wire carried (info.Length) or less than the
// header itself is ErrBadLength. A payload that the capture cut short
// (snaplen) is not an error: PayloadWireLen keeps the claimed length and
// Packet.Truncated reports it. A UDP or TCP header cut short after its first
// 4 bytes still yields its ports (Frame.L4Partial) with the same error kind:
// ErrTruncated when the buffer ends, ErrBadLength when the IP length ends
// it, none when a first fragment ends it (the header continues in the next
// fragment).
//
// Tunnels: a tunnel whose payload protocol the decoder does not decode (a GRE
// keepalive, CDP over GRE, Geneve with an unknown protocol type) is still
// recorded, with an inner frame of Link LinkOpaque that has no layers and
// holds the tunnel payload; that is not an error.
//
// Fragments: a tunnel in the first fragment of a fragmented IPv4 or IPv6
// packet is decoded as far as the fragment's bytes go. Inside it, length
// fields may claim bytes of later fragments (IPTotalLen and UDPLength keep
// the claim), each inner payload is what the fragment holds on the wire
// (PayloadWireLen ends with the fragment), as for the fragment's own
// transport, and when the capture itself was not cut (Info.Length ==
// Info.CaptureLength) a header the fragment ends in is not an error. Later
// fragments are not decoded past the IP header.
//
// IPv4 total length 0 (Linux captures of TSO/GSO/BIG TCP packets) stands
// for the rest of the frame, as in tshark and tcpdump: Frame.IPLenFromCapture.
func Decode(p *Packet, data []byte, info CaptureInfo) error {
	if info.Length < len(data) {
		info.Length = len(data)
	}
	// Field by field: a whole-struct copy (it holds a pointer, in Timestamp)
	// goes through the runtime and costs more than the rest of a UDP decode.
	p.Info.Timestamp = info.Timestamp
	p.Info.CaptureLength = len(data)
	p.Info.Length = info.Length
	p.Info.InterfaceIndex = info.InterfaceIndex
	p.Info.LinkType = info.LinkType
	p.Data = data
	p.Err = OK
	p.ErrDepth = 0
	n := next{link: info.LinkType, start: 0, end: len(data), wire: info.Length}
	for depth := 0; depth < MaxDepth; depth++ {
		p.NumFrames = depth + 1
		frag, fragEnd := n.frag, n.fragEnd
		more, k := p.decodeFrame(depth, &n)
		if k == errFragment {
			k = OK
		}
		f := &p.Frames[depth]
		if frag {
			// Carried in a first fragment: the payload on the wire is what
			// this fragment holds, as for the fragment's own transport
			// (lengths claiming more count later fragments).
			if w := fragEnd - f.PayloadOff; f.PayloadWireLen > w {
				f.PayloadWireLen = max(w, f.PayloadLen)
			}
		}
		if k == ErrTruncated && (frag || f.Fragment) && info.Length == len(data) {
			// The first fragment ends inside a header of what it carries:
			// the rest is in the next fragment, the capture is whole.
			k = OK
		}
		if more {
			n.frag, n.fragEnd = frag, fragEnd
			if f.Fragment {
				if e := f.IPOff + f.IPTotalLen; !frag || e < fragEnd {
					n.frag, n.fragEnd = true, e
				}
			}
		}
		if k != OK {
			p.Err = k
			p.ErrDepth = depth
			return k
		}
		if !more {
			break
		}
	}
	return nil
}

// setPayload records Data[off:end] as f's payload, whose claimed end is wire.
func setPayload(f *Frame, off, end, wire int) {
	w := wire - off // claimed from where the payload starts, even if that is past the capture
	if off > end {
		off = end
	}
	f.PayloadOff = off
	f.PayloadLen = end - off
	if w < f.PayloadLen {
		w = f.PayloadLen
	}
	f.PayloadWireLen = w
}

// short classifies a header needing bytes up to need: beyond the claimed end
// (wire) it is a bad length field, beyond the buffer (end) a truncated capture.
func short(need, end, wire int) Kind {
	if need > wire {
		return ErrBadLength
	}
	if need > end {
		return ErrTruncated
	}
	return OK
}

// decodeFrame decodes the frame at depth that occupies Data[n.start:n.end]
// (claimed to end at n.wire). more reports an inner frame to decode next.
func (p *Packet) decodeFrame(depth int, n *next) (more bool, k Kind) {
	// Read n whole before anything writes it (a tunnel decoder writes the
	// inner frame's bounds there).
	link, off, end, wire := n.link, n.start, n.end, n.wire
	f := &p.Frames[depth]
	*f = Frame{}
	f.Link = link
	if depth > 0 && link != LinkEthernet && link != LinkOpaque {
		f.Link = LinkRaw
	}
	f.Start = off
	f.IPOff = -1
	f.L4Off = -1
	data := p.Data
	setPayload(f, off, end, wire)
	if depth > 0 && link == LinkOpaque {
		f.EtherType = n.proto
		return false, OK
	}

	var et uint16
	switch link {
	case LinkEthernet:
		if end-off < 14 {
			return false, ErrTruncated
		}
		b := data[off : off+14]
		f.EthDst = [6]byte(b[0:6])
		f.EthSrc = [6]byte(b[6:12])
		et = be.Uint16(b[12:14])
		f.Layers |= LayerEthernet
		off += 14
	case LinkLinuxSLL:
		if end-off < 16 {
			return false, ErrTruncated
		}
		b := data[off : off+16]
		f.SLLPacketType = be.Uint16(b[0:2])
		f.SLLHAType = be.Uint16(b[2:4])
		al := be.Uint16(b[4:6])
		if al > 8 {
			al = 8
		}
		f.SLLAddrLen = uint8(al)
		copy(f.SLLAddr[:], b[6:6+al])
		et = be.Uint16(b[14:16])
		f.Layers |= LayerSLL
		off += 16
	case LinkLinuxSLL2:
		if end-off < 20 {
			return false, ErrTruncated
		}
		b := data[off : off+20]
		et = be.Uint16(b[0:2])
		f.SLLIfIndex = be.Uint32(b[4:8])
		f.SLLHAType = be.Uint16(b[8:10])
		f.SLLPacketType = uint16(b[10])
		al := b[11]
		if al > 8 {
			al = 8
		}
		f.SLLAddrLen = al
		copy(f.SLLAddr[:], b[12:12+int(al)])
		f.Layers |= LayerSLL2
		off += 20
	case LinkRaw:
		if end-off < 1 {
			return false, ErrTruncated
		}
		switch data[off] >> 4 {
		case 4:
			et = EtherTypeIPv4
		case 6:
			et = EtherTypeIPv6
		default:
			return false, ErrBadVersion
		}
	case LinkIPv4:
		et = EtherTypeIPv4
	case LinkIPv6:
		et = EtherTypeIPv6
	case LinkNull, LinkLoop:
		if end-off < 4 {
			return false, ErrTruncated
		}
		var af uint32
		if link == LinkLoop {
			af = be.Uint32(data[off : off+4])
		} else {
			af = binary.LittleEndian.Uint32(data[off : off+4])
			if af > 0xFFFF { // written by a big-endian host
				af = be.Uint32(data[off : off+4])
			}
		}
		switch af {
		case 2:
			et = EtherTypeIPv4
		case 10, 24, 28, 30: // AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, Darwin
			et = EtherTypeIPv6
		}
		f.Layers |= LayerNull
		off += 4
	default:
		return false, ErrUnsupported
	}

	// 802.1Q / 802.1ad tag stack (also after SLL, where the kernel may leave tags).
	for et == EtherTypeVLAN || et == EtherTypeQinQ || et == EtherTypeQinQ9100 {
		if end-off < 4 {
			f.EtherType = et
			setPayload(f, off, end, wire)
			return false, ErrTruncated
		}
		tci := be.Uint16(data[off : off+2])
		if i := f.NumVLANs; i < MaxVLANs {
			f.VLANs[i] = tci & 0x0FFF
			f.VLANTPIDs[i] = et
			f.VLANPCP[i] = uint8(tci >> 13)
		}
		if f.NumVLANs < 255 {
			f.NumVLANs++
		}
		f.Layers |= LayerVLAN
		et = be.Uint16(data[off+2 : off+4])
		off += 4
	}
	f.EtherType = et
	setPayload(f, off, end, wire)

	switch et {
	case EtherTypeIPv4:
		return p.decodeIPv4(depth, n, f, off, end, wire)
	case EtherTypeIPv6:
		return p.decodeIPv6(depth, n, f, off, end, wire)
	case EtherTypeARP, EtherTypeRARP:
		f.Layers |= LayerARP
	case EtherTypePPPoE:
		return p.decodePPPoE(depth, n, f, off, end, wire)
	case EtherTypeMPLS, EtherTypeMPLSMulticast:
		if depth+1 < MaxDepth {
			return p.decodeMPLS(n, p.tunnel(depth, TunnelMPLS, off), off, end, wire, true)
		}
	}
	return false, OK
}

// decodePPPoE decodes a PPPoE session header and the PPP protocol field at
// off (RFC 2516: version 1, type 1, code 0; RFC 1661) and the IPv4 or IPv6
// packet it carries. Other PPP protocols (LCP, IPCP, ...) end the frame
// with the PPP data as its payload. The PPPoE length bounds the PPP data
// (Ethernet padding after it is not payload).
func (p *Packet) decodePPPoE(depth int, n *next, f *Frame, off, end, wire int) (more bool, k Kind) {
	data := p.Data
	if end-off < 8 {
		return false, ErrTruncated
	}
	b := data[off : off+8]
	if b[0] != 0x11 || b[1] != 0 {
		return false, ErrUnsupported // another version, or a discovery packet under the session EtherType
	}
	f.PPPoESession = be.Uint16(b[2:4])
	f.PPPProtocol = be.Uint16(b[6:8])
	f.Layers |= LayerPPPoE
	plen := int(be.Uint16(b[4:6]))
	if plen < 2 || off+6+plen > wire {
		setPayload(f, off+8, end, wire)
		return false, ErrBadLength
	}
	wire = off + 6 + plen
	if wire < end {
		end = wire
	}
	off += 8
	setPayload(f, off, end, wire)
	switch f.PPPProtocol {
	case pppIPv4:
		return p.decodeIPv4(depth, n, f, off, end, wire)
	case pppIPv6:
		return p.decodeIPv6(depth, n, f, off, end, wire)
	}
	return false, OK
}

func (p *Packet) decodeIPv4(depth int, n *next, f *Frame, off, end, wire int) (more bool, k Kind) {
	data := p.Data
	if end-off < 20 {
		return false, ErrTruncated
	}
	b := data[off : off+20]
	if b[0]>>4 != 4 {
		return false, ErrBadVersion
	}
	ihl := int(b[0]&0x0F) * 4
	total := int(be.Uint16(b[2:4]))
	if total == 0 {
		// TSO/GSO/BIG TCP: the kernel hands the capture a packet larger
		// than the field can hold and leaves it 0.
		total = wire - off
		f.IPLenFromCapture = true
	}
	f.IPOff = off
	f.IPVersion = 4
	f.IPHeaderLen = ihl
	f.IPTotalLen = total
	f.TOS = b[1]
	f.IPID = uint32(be.Uint16(b[4:6]))
	fl := be.Uint16(b[6:8])
	f.DontFrag = fl&0x4000 != 0
	f.MoreFrags = fl&0x2000 != 0
	f.FragOffset = (fl & 0x1FFF) * 8
	f.Fragment = f.MoreFrags || f.FragOffset != 0
	f.TTL = b[8]
	f.Protocol = b[9]
	f.Src = netip.AddrFrom4([4]byte(b[12:16]))
	f.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	f.Layers |= LayerIPv4
	if ihl < 20 || total < ihl {
		setPayload(f, off+20, end, wire)
		return false, ErrBadLength
	}
	f.IPOptionsLen = ihl - 20
	ipEnd := off + total
	if ipEnd > wire && !n.frag {
		setPayload(f, off+ihl, end, wire)
		return false, ErrBadLength
	}
	if ipEnd < end {
		end = ipEnd
	}
	wire = ipEnd
	if off+ihl > end {
		setPayload(f, off+ihl, end, wire)
		return false, ErrTruncated
	}
	off += ihl
	setPayload(f, off, end, wire)
	if f.FragOffset != 0 {
		return false, OK
	}
	return p.decodeTransport(depth, n, f, f.Protocol, off, end, wire)
}

func (p *Packet) decodeIPv6(depth int, n *next, f *Frame, off, end, wire int) (more bool, k Kind) {
	data := p.Data
	if end-off < 40 {
		return false, ErrTruncated
	}
	b := data[off : off+40]
	if b[0]>>4 != 6 {
		return false, ErrBadVersion
	}
	w := be.Uint32(b[0:4])
	plen := int(be.Uint16(b[4:6]))
	nh := b[6]
	f.IPOff = off
	f.IPVersion = 6
	f.TOS = uint8(w >> 20)
	f.FlowLabel = w & 0xFFFFF
	f.TTL = b[7]
	f.Src = netip.AddrFrom16([16]byte(b[8:24]))
	f.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	f.IPHeaderLen = 40
	f.Protocol = nh
	f.Layers |= LayerIPv6
	ipEnd := off + 40 + plen
	if plen == 0 && nh == ipv6HopByHop && end-off > 40 {
		ipEnd = wire // jumbogram: the length is in a hop-by-hop option
	}
	f.IPTotalLen = ipEnd - off
	if ipEnd > wire && !n.frag {
		setPayload(f, off+40, end, wire)
		return false, ErrBadLength
	}
	if ipEnd < end {
		end = ipEnd
	}
	wire = ipEnd
	pos := off + 40
	setPayload(f, pos, end, wire)
	// Extension headers: each is at least 8 bytes, so the loop ends.
	for {
		var l int
		switch nh {
		case ipv6HopByHop, ipv6Routing, ipv6DestOpts, ipv6AH:
			if k := short(pos+2, end, wire); k != OK {
				return false, k
			}
			if nh == ipv6AH {
				l = (int(data[pos+1]) + 2) * 4
			} else {
				l = (int(data[pos+1]) + 1) * 8
			}
		case ipv6Fragment:
			l = 8
		default:
			f.IPHeaderLen = pos - off
			f.Protocol = nh
			return p.decodeTransport(depth, n, f, nh, pos, end, wire)
		}
		if k := short(pos+l, end, wire); k != OK {
			return false, k
		}
		h := data[pos : pos+l]
		switch nh {
		case ipv6HopByHop:
			f.IPv6Ext |= IPv6ExtHopByHop
		case ipv6Routing:
			f.IPv6Ext |= IPv6ExtRouting
		case ipv6DestOpts:
			f.IPv6Ext |= IPv6ExtDestOpts
		case ipv6AH:
			f.IPv6Ext |= IPv6ExtAH
		case ipv6Fragment:
			f.IPv6Ext |= IPv6ExtFragment
			fo := be.Uint16(h[2:4])
			f.FragOffset = fo &^ 7
			f.MoreFrags = fo&1 != 0
			f.Fragment = f.FragOffset != 0 || f.MoreFrags
			f.IPID = be.Uint32(h[4:8])
		}
		nh = h[0]
		pos += l
		f.IPHeaderLen = pos - off
		f.Protocol = nh
		setPayload(f, pos, end, wire)
		if f.FragOffset != 0 {
			// A later fragment: what follows continues the first fragment's data.
			return false, OK
		}
	}
}

// decodeTransport decodes the IP payload at off (protocol proto). It may
// return errFragment, which Decode turns into OK.
func (p *Packet) decodeTransport(depth int, n *next, f *Frame, proto uint8, off, end, wire int) (more bool, k Kind) {
	data := p.Data
	tunnels := depth+1 < MaxDepth // non-first fragments do not get here
	tunWire := wire               // where a tunnel in the IP payload ends
	if f.Fragment {
		tunWire = unknownEnd
	}
	switch proto {
	case ProtoUDP:
		if k := p.shortL4(f, off+8, end, wire); k != OK {
			p.partialL4(f, LayerUDP, off, off+8, end, wire)
			return false, k
		}
		b := data[off : off+8]
		f.L4Off = off
		f.SrcPort = be.Uint16(b[0:2])
		f.DstPort = be.Uint16(b[2:4])
		f.UDPLength = be.Uint16(b[4:6])
		f.UDPChecksum = be.Uint16(b[6:8])
		f.Layers |= LayerUDP
		ul := int(f.UDPLength)
		if ul < 8 {
			setPayload(f, off+8, end, wire)
			return false, ErrBadLength
		}
		udpEnd := off + ul
		tunWire = udpEnd
		switch {
		case udpEnd <= wire:
			if udpEnd < end {
				end = udpEnd
			}
			wire = udpEnd
		case n.frag:
			// Inside a first fragment: the length counts bytes in later
			// fragments; keep the claim.
			wire = udpEnd
		case f.Fragment:
			// A first fragment: the UDP length covers fragments not in
			// this packet; the payload is what this one carries.
		default:
			setPayload(f, off+8, end, wire)
			return false, ErrBadLength
		}
		off += 8
		setPayload(f, off, end, wire)
		if tunnels {
			switch f.DstPort {
			case PortVXLAN:
				return p.decodeVXLAN(depth, n, f, off, end, tunWire)
			case PortGeneve:
				return p.decodeGeneve(depth, n, f, off, end, tunWire)
			case PortGTPU:
				return p.decodeGTPU(depth, n, off, end, tunWire)
			case PortMPLSUDP:
				return p.decodeMPLS(n, p.tunnel(depth, TunnelMPLS, off), off, end, tunWire, false)
			}
		}
	case ProtoTCP:
		if k := p.shortL4(f, off+20, end, wire); k != OK {
			p.partialL4(f, LayerTCP, off, off+20, end, wire)
			return false, k
		}
		b := data[off : off+20]
		f.L4Off = off
		f.SrcPort = be.Uint16(b[0:2])
		f.DstPort = be.Uint16(b[2:4])
		f.TCPSeq = be.Uint32(b[4:8])
		f.TCPAck = be.Uint32(b[8:12])
		hl := int(b[12]>>4) * 4
		f.TCPHeaderLen = hl
		f.TCPFlags = uint16(b[12]&1)<<8 | uint16(b[13])
		f.TCPWindow = be.Uint16(b[14:16])
		f.Layers |= LayerTCP
		if hl < 20 {
			setPayload(f, off+20, end, wire)
			return false, ErrBadLength
		}
		if k := short(off+hl, end, wire); k != OK {
			if k == ErrBadLength && f.Fragment {
				k = OK // options continue in the next fragment
			}
			setPayload(f, off+hl, end, wire)
			return false, k
		}
		setPayload(f, off+hl, end, wire)
	case ProtoICMPv4, ProtoICMPv6:
		if k := p.shortL4(f, off+4, end, wire); k != OK {
			return false, k
		}
		f.L4Off = off
		f.ICMPType = data[off]
		f.ICMPCode = data[off+1]
		if proto == ProtoICMPv4 {
			f.Layers |= LayerICMPv4
		} else {
			f.Layers |= LayerICMPv6
		}
		if k := p.shortL4(f, off+8, end, wire); k != OK {
			setPayload(f, off+8, end, wire)
			return false, k
		}
		if icmpHasEcho(proto, f.ICMPType) {
			f.ICMPID = be.Uint16(data[off+4 : off+6])
			f.ICMPSeq = be.Uint16(data[off+6 : off+8])
			f.ICMPHasEcho = true
		}
		setPayload(f, off+8, end, wire)
	case ProtoGRE:
		if tunnels {
			return p.decodeGRE(depth, n, f, off, end, tunWire)
		}
	case ProtoIPIP, ProtoIPv6Encap:
		if tunnels {
			// The IP payload is the inner packet; its own header says
			// whether it is well formed.
			p.tunnel(depth, TunnelIPIP, off)
			link, et := LinkIPv4, EtherTypeIPv4
			if proto == ProtoIPv6Encap {
				link, et = LinkIPv6, EtherTypeIPv6
			}
			*n = next{link: link, proto: et, start: off, end: end, wire: tunWire}
			return true, OK
		}
	}
	return false, OK
}

// shortL4 is short for a transport header: in a fragment, a header that
// continues past the fragment is not an error, the transport is just absent.
func (p *Packet) shortL4(f *Frame, need, end, wire int) Kind {
	k := short(need, end, wire)
	if k == ErrBadLength && f.Fragment {
		return errFragment
	}
	return k
}

// partialL4 records the ports of a UDP or TCP header (layer) at off that
// ends before hdrEnd, when its first 4 bytes are present; the payload is
// what follows the whole header, so it is empty here.
func (p *Packet) partialL4(f *Frame, layer LayerMask, off, hdrEnd, end, wire int) {
	if off+4 > end || off+4 > wire {
		return
	}
	b := p.Data[off : off+4]
	f.L4Off = off
	f.SrcPort = be.Uint16(b[0:2])
	f.DstPort = be.Uint16(b[2:4])
	f.L4Partial = true
	f.Layers |= layer
	setPayload(f, hdrEnd, end, wire)
}

// errFragment stops transport decoding without an error (see shortL4).
const errFragment Kind = 255

func icmpHasEcho(proto, typ uint8) bool {
	if proto == ProtoICMPv6 {
		return typ == 128 || typ == 129
	}
	switch typ {
	case 0, 8, 13, 14, 15, 16, 17, 18: // echo, timestamp, information, address mask
		return true
	}
	return false
}

// tunnel returns the Tunnel between frames depth and depth+1, reset.
func (p *Packet) tunnel(depth int, typ TunnelType, off int) *Tunnel {
	t := &p.Tunnels[depth]
	t.Type = typ
	t.Off = off
	t.VNI = 0
	t.FlowHash = 0
	t.GeneveProto = 0
	t.GeneveOAM = false
	t.GeneveCrit = false
	t.NumOptions = 0
	t.GWLB = GWLB{}
	t.GeneveOptsLen = 0
	t.GREProto = 0
	t.GREKey = 0
	t.GRESeq = 0
	t.GREHasKey = false
	t.GREHasSeq = false
	t.GREVersion = 0
	t.GRESGT = 0
	t.GREHasSGT = false
	t.ERSPANVersion = 0
	t.ERSPANSession = 0
	t.ERSPANVLAN = 0
	t.TEID = 0
	t.GTPMsgType = 0
	t.GTPSeq = 0
	t.GTPHasSeq = false
	t.NumMPLS = 0
	t.MPLSControlWord = false
	return t
}

// decodeGTPU decodes a GTPv1-U header (3GPP TS 29.281) at off, with its
// optional sequence number, N-PDU number and extension headers. Only a
// G-PDU (message type 0xFF) is a tunnel: its T-PDU is the inner frame
// (IPv4 or IPv6 by the first nibble; anything else, such as an Ethernet PDU
// session, is LinkOpaque). Signalling messages (echo, error indication, end
// marker) stay the UDP payload.
func (p *Packet) decodeGTPU(depth int, n *next, off, end, wire int) (more bool, k Kind) {
	data := p.Data
	if k := short(off+8, end, wire); k != OK {
		return false, k
	}
	b := data[off : off+8]
	if b[0]>>5 != 1 {
		return false, ErrBadVersion
	}
	if b[0]&0x10 == 0 { // PT 0: GTP' (charging), not GTP-U
		return false, ErrUnsupported
	}
	if b[1] != 0xFF {
		return false, OK
	}
	msgEnd := off + 8 + int(be.Uint16(b[2:4]))
	if msgEnd > wire {
		return false, ErrBadLength
	}
	if msgEnd < end {
		end = msgEnd
	}
	wire = msgEnd
	pos := off + 8
	var seq uint16
	if b[0]&0x07 != 0 { // E, S or PN: the 4 optional bytes are present
		if k := short(pos+4, end, wire); k != OK {
			return false, k
		}
		seq = be.Uint16(data[pos : pos+2])
		ext := data[pos+3]
		if b[0]&0x04 == 0 {
			ext = 0
		}
		pos += 4
		// Extension headers: a length in 4-byte units (never 0), the
		// content, and the next type (0: none); each is at least 4 bytes,
		// so the loop ends.
		for ext != 0 {
			if k := short(pos+1, end, wire); k != OK {
				return false, k
			}
			l := int(data[pos]) * 4
			if l == 0 {
				return false, ErrBadLength
			}
			if k := short(pos+l, end, wire); k != OK {
				return false, k
			}
			ext = data[pos+l-1]
			pos += l
		}
	}
	link := LinkRaw
	if pos < end {
		if v := data[pos] >> 4; v != 4 && v != 6 {
			link = LinkOpaque
		}
	} else if pos == wire {
		link = LinkOpaque // an empty T-PDU
	}
	t := p.tunnel(depth, TunnelGTPU, off)
	t.TEID = be.Uint32(b[4:8])
	t.GTPMsgType = b[1]
	t.GTPSeq = seq
	t.GTPHasSeq = b[0]&0x02 != 0
	*n = next{link: link, start: pos, end: end, wire: wire}
	return true, OK
}

// decodeMPLS decodes the MPLS label stack at off (RFC 3032) into t, which
// the caller has recorded, and finds the frame after the bottom of the
// stack: IPv4 or IPv6 by the first nibble (RFC 4928), a pseudowire control
// word (first nibble 0, RFC 4385) followed by an Ethernet frame, or else a
// LinkOpaque frame. link: the stack follows a link header (EtherType
// 0x8847/0x8848), where a stack cut by the end of the frame is
// ErrTruncated, as for VLAN tags.
func (p *Packet) decodeMPLS(n *next, t *Tunnel, off, end, wire int, link bool) (more bool, k Kind) {
	data := p.Data
	pos := off
	for {
		if k := mplsShort(pos+4, end, wire, link); k != OK {
			return false, k
		}
		e := be.Uint32(data[pos : pos+4])
		if t.NumMPLS < MaxMPLSLabels {
			t.MPLS[t.NumMPLS] = e
		}
		if t.NumMPLS < 255 {
			t.NumMPLS++
		}
		pos += 4
		if e&0x100 != 0 { // bottom of stack
			break
		}
	}
	inner := LinkOpaque
	if pos < end {
		switch data[pos] >> 4 {
		case 4:
			inner = LinkIPv4
		case 6:
			inner = LinkIPv6
		case 0:
			if k := mplsShort(pos+4, end, wire, link); k != OK {
				return false, k
			}
			t.MPLSControlWord = true
			pos += 4
			inner = LinkEthernet
		}
	} else if pos < wire {
		return false, ErrTruncated
	}
	*n = next{link: inner, start: pos, end: end, wire: wire}
	return true, OK
}

// mplsShort is short for the MPLS label stack: after a link header (link),
// where no length field bounds it, running out of bytes is ErrTruncated.
func mplsShort(need, end, wire int, link bool) Kind {
	if link {
		if need > end {
			return ErrTruncated
		}
		return OK
	}
	return short(need, end, wire)
}

// decodeVXLAN decodes the RFC 7348 header at off.
func (p *Packet) decodeVXLAN(depth int, n *next, f *Frame, off, end, wire int) (more bool, k Kind) {
	if k := short(off+8, end, wire); k != OK {
		return false, k
	}
	b := p.Data[off : off+8]
	if b[0]&0x08 == 0 { // the I flag: without it there is no valid VNI
		return false, ErrUnsupported
	}
	t := p.tunnel(depth, TunnelVXLAN, off)
	t.VNI = be.Uint32(b[4:8]) >> 8
	t.FlowHash = f.SrcPort
	*n = next{link: LinkEthernet, start: off + 8, end: end, wire: wire}
	return true, OK
}

// decodeGeneve decodes the RFC 8926 header and every option TLV at off.
func (p *Packet) decodeGeneve(depth int, n *next, f *Frame, off, end, wire int) (more bool, k Kind) {
	data := p.Data
	if k := short(off+8, end, wire); k != OK {
		return false, k
	}
	b := data[off : off+8]
	if b[0]>>6 != 0 {
		return false, ErrBadVersion
	}
	optLen := int(b[0]&0x3F) * 4
	hdrEnd := off + 8 + optLen
	if k := short(hdrEnd, end, wire); k != OK {
		return false, k
	}
	t := p.tunnel(depth, TunnelGeneve, off)
	t.GeneveOAM = b[1]&0x80 != 0
	t.GeneveCrit = b[1]&0x40 != 0
	t.GeneveProto = be.Uint16(b[2:4])
	t.VNI = be.Uint32(b[4:8]) >> 8
	t.FlowHash = f.SrcPort
	t.GeneveOptsLen = optLen
	for pos := off + 8; pos < hdrEnd; {
		if hdrEnd-pos < 4 {
			return false, ErrBadLength
		}
		h := data[pos : pos+4]
		l := int(h[3]&0x1F) * 4
		if hdrEnd-pos-4 < l {
			return false, ErrBadLength
		}
		if t.NumOptions < MaxGeneveOptions {
			o := &t.Options[t.NumOptions]
			o.Class = be.Uint16(h[0:2])
			o.Type = h[2]
			o.Off = pos + 4
			o.Len = l
			t.NumOptions++
			if o.Class == GeneveClassAWSGWLB {
				v := data[pos+4 : pos+4+l]
				switch {
				case o.Type == 1 && l == 8:
					t.GWLB.EndpointID = be.Uint64(v)
					t.GWLB.Has |= GWLBHasEndpointID
				case o.Type == 2 && l == 8:
					t.GWLB.AttachmentID = be.Uint64(v)
					t.GWLB.Has |= GWLBHasAttachmentID
				case o.Type == 3 && l == 4:
					t.GWLB.FlowCookie = be.Uint32(v)
					t.GWLB.Has |= GWLBHasFlowCookie
				}
			}
		}
		pos += 4 + l
	}
	*n = next{link: etherLink(t.GeneveProto), proto: t.GeneveProto, start: hdrEnd, end: end, wire: wire}
	return true, OK
}

// etherLink is the link type of a frame a tunnel carries with protocol type
// proto (an EtherType): LinkOpaque for a protocol the decoder does not decode.
func etherLink(proto uint16) LinkType {
	switch proto {
	case EtherTypeTEB:
		return LinkEthernet
	case EtherTypeIPv4:
		return LinkIPv4
	case EtherTypeIPv6:
		return LinkIPv6
	}
	return LinkOpaque
}

// GRE header flag bits.
const (
	greChecksum = 0x8000
	greRouting  = 0x4000
	greKey      = 0x2000
	greSeq      = 0x1000
)

// decodeGRE decodes a GRE header (and an ERSPAN header after it) at off.
func (p *Packet) decodeGRE(depth int, n *next, f *Frame, off, end, wire int) (more bool, k Kind) {
	data := p.Data
	if k := short(off+4, end, wire); k != OK {
		return false, k
	}
	flags := be.Uint16(data[off : off+2])
	proto := be.Uint16(data[off+2 : off+4])
	switch ver := flags & 7; {
	case ver == 1: // enhanced GRE (PPTP)
		return false, ErrUnsupported
	case ver != 0:
		return false, ErrBadVersion
	}
	if flags&greRouting != 0 {
		return false, ErrUnsupported
	}
	pos := off + 4
	if flags&greChecksum != 0 {
		pos += 4
	}
	var key, seq uint32
	if flags&greKey != 0 {
		if k := short(pos+4, end, wire); k != OK {
			return false, k
		}
		key = be.Uint32(data[pos : pos+4])
		pos += 4
	}
	if flags&greSeq != 0 {
		if k := short(pos+4, end, wire); k != OK {
			return false, k
		}
		seq = be.Uint32(data[pos : pos+4])
		pos += 4
	}
	if k := short(pos, end, wire); k != OK {
		return false, k
	}
	link := etherLink(proto)
	innerProto := proto
	typ := TunnelGRE
	var erVer uint8
	var erSession, erVLAN, sgt uint16
	switch proto {
	case EtherTypeCiscoMD:
		// Cisco MetaData in GRE: the inner protocol type, version, length,
		// option (length and type) and the security group tag, 8 bytes.
		if k := short(pos+8, end, wire); k != OK {
			return false, k
		}
		h := data[pos : pos+8]
		innerProto = be.Uint16(h[0:2])
		sgt = be.Uint16(h[6:8])
		link = etherLink(innerProto)
		pos += 8
	case EtherTypeERSPAN:
		typ, link = TunnelERSPAN, LinkEthernet
		if flags&greSeq == 0 {
			erVer = 1 // type I: no ERSPAN header
			break
		}
		if k := short(pos+8, end, wire); k != OK {
			return false, k
		}
		h := data[pos : pos+8]
		if h[0]>>4 != 1 {
			return false, ErrBadVersion
		}
		erVer = 2
		erVLAN = be.Uint16(h[0:2]) & 0x0FFF
		erSession = be.Uint16(h[2:4]) & 0x03FF
		pos += 8
	case EtherTypeMPLS, EtherTypeMPLSMulticast:
		typ = TunnelMPLS
	case EtherTypeERSPAN3:
		typ, link = TunnelERSPAN, LinkEthernet
		if k := short(pos+12, end, wire); k != OK {
			return false, k
		}
		h := data[pos : pos+12]
		if h[0]>>4 != 2 {
			return false, ErrBadVersion
		}
		erVer = 3
		erVLAN = be.Uint16(h[0:2]) & 0x0FFF
		erSession = be.Uint16(h[2:4]) & 0x03FF
		ft := (h[10] >> 2) & 0x1F
		pos += 12
		if h[11]&1 != 0 { // O: an 8-byte platform-specific subheader follows
			if k := short(pos+8, end, wire); k != OK {
				return false, k
			}
			pos += 8
		}
		switch ft {
		case 0: // Ethernet
		case 2: // IP
			link = LinkRaw
		default:
			return false, ErrUnsupported
		}
	}
	// Keepalives, CDP, vendor payloads: link is LinkOpaque.
	t := p.tunnel(depth, typ, off)
	t.GREProto = proto
	t.GREKey = key
	t.GRESeq = seq
	t.GREHasKey = flags&greKey != 0
	t.GREHasSeq = flags&greSeq != 0
	t.ERSPANVersion = erVer
	t.ERSPANSession = erSession
	t.ERSPANVLAN = erVLAN
	t.GRESGT = sgt
	t.GREHasSGT = proto == EtherTypeCiscoMD
	if typ == TunnelMPLS {
		return p.decodeMPLS(n, t, pos, end, wire, false)
	}
	*n = next{link: link, proto: innerProto, start: pos, end: end, wire: wire}
	return true, OK
}
