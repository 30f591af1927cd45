package packet

import (
	"encoding/binary"
	"net/netip"
)

// Test packet builder. Build assembles a frame from typed layers, outermost
// first, and fills in what follows from the layers after each one: EtherType,
// IP protocol, IPv4 total length and header checksum, IPv6 payload length,
// UDP length, UDP/TCP/ICMP/ICMPv6 checksums, Geneve and GRE protocol types,
// and the VXLAN/Geneve UDP destination port. For example:
//
//	frame := packet.Build(
//		packet.Eth{Src: mac1, Dst: mac2, VLANs: []packet.VLAN{{ID: 10}}},
//		packet.IPv4{Src: a, Dst: b},
//		packet.UDP{Src: 40000, Dst: 514},
//		packet.Payload("hello"),
//	)
//
//	gwlb := packet.Build(
//		packet.Eth{}, packet.IPv4{Src: gw, Dst: appliance}, packet.UDP{Src: 31000},
//		packet.Geneve{Options: packet.GWLBOptions(0x1122, 0x3344, 0x55667788)},
//		packet.IPv4{Src: a, Dst: b}, packet.TCP{Src: 40000, Dst: 443, Flags: packet.TCPSyn},
//	)
//
// A zero field means "the usual value" where that is documented (TTL 64,
// computed lengths); set the override fields to build malformed packets.
// Build allocates; it is meant for tests and tools, not the data path.

// Layer is one header or the payload given to Build.
type Layer interface {
	// wrap returns this layer's header followed by rest, the encoding of
	// the layers after it; next is the layer right after (nil if none).
	wrap(rest []byte, next Layer) []byte
}

// Build returns the frame made of layers, outermost first.
func Build(layers ...Layer) []byte {
	var rest []byte
	for i := len(layers) - 1; i >= 0; i-- {
		var nx Layer
		if i+1 < len(layers) {
			nx = layers[i+1]
		}
		rest = layers[i].wrap(rest, nx)
	}
	return rest
}

func prepend(hdr, rest []byte) []byte {
	out := make([]byte, 0, len(hdr)+len(rest))
	return append(append(out, hdr...), rest...)
}

// Payload is raw bytes: the application payload, or any header the builder
// has no type for.
type Payload []byte

func (l Payload) wrap(rest []byte, _ Layer) []byte { return prepend(l, rest) }

// Eth is an Ethernet II header with optional 802.1Q/802.1ad tags.
type Eth struct {
	Dst, Src [6]byte
	VLANs    []VLAN // outermost first
	Type     uint16 // EtherType after the tags; 0: from the next layer
}

// VLAN is one 802.1Q tag.
type VLAN struct {
	TPID uint16 // 0: 0x8100
	ID   uint16
	PCP  uint8
}

func etherTypeOf(l Layer) uint16 {
	switch v := l.(type) {
	case IPv4:
		return EtherTypeIPv4
	case IPv6:
		return EtherTypeIPv6
	case ERSPAN:
		if v.Version == 3 {
			return EtherTypeERSPAN3
		}
		return EtherTypeERSPAN
	case Eth:
		return EtherTypeTEB
	case CiscoMD:
		return EtherTypeCiscoMD
	case ARP:
		return EtherTypeARP
	case MPLS:
		if v.Multicast {
			return EtherTypeMPLSMulticast
		}
		return EtherTypeMPLS
	}
	return 0
}

func (l Eth) wrap(rest []byte, next Layer) []byte {
	h := make([]byte, 14, 14+4*len(l.VLANs))
	copy(h[0:6], l.Dst[:])
	copy(h[6:12], l.Src[:])
	et := l.Type
	if et == 0 {
		et = etherTypeOf(next)
	}
	for i, v := range l.VLANs {
		tpid := v.TPID
		if tpid == 0 {
			tpid = EtherTypeVLAN
		}
		if i == 0 {
			binary.BigEndian.PutUint16(h[12:14], tpid)
		} else {
			h = binary.BigEndian.AppendUint16(h, tpid)
		}
		h = binary.BigEndian.AppendUint16(h, uint16(v.PCP&7)<<13|v.ID&0x0FFF)
	}
	if len(l.VLANs) == 0 {
		binary.BigEndian.PutUint16(h[12:14], et)
	} else {
		h = binary.BigEndian.AppendUint16(h, et)
	}
	return prepend(h, rest)
}

// ARP is an Ethernet/IPv4 ARP message.
type ARP struct {
	Op                 uint16 // 1 request, 2 reply
	SenderMAC, Target  [6]byte
	SenderIP, TargetIP netip.Addr
}

func (l ARP) wrap(rest []byte, _ Layer) []byte {
	h := []byte{0, 1, 8, 0, 6, 4, 0, 0}
	binary.BigEndian.PutUint16(h[6:8], l.Op)
	h = append(h, l.SenderMAC[:]...)
	s, t := l.SenderIP.As4(), l.TargetIP.As4()
	h = append(h, s[:]...)
	h = append(h, l.Target[:]...)
	h = append(h, t[:]...)
	return prepend(h, rest)
}

func ipProtoOf(l Layer) uint8 {
	switch l.(type) {
	case UDP:
		return ProtoUDP
	case TCP:
		return ProtoTCP
	case ICMPv4:
		return ProtoICMPv4
	case ICMPv6:
		return ProtoICMPv6
	case GRE:
		return ProtoGRE
	case IPv4:
		return 4
	case IPv6:
		return 41
	}
	return 0
}

// fillChecksum stores the transport checksum of seg (the encoding of next).
func fillChecksum(src, dst netip.Addr, next Layer, seg []byte) {
	proto := ipProtoOf(next)
	if u, ok := next.(UDP); ok && (u.NoChecksum || u.Checksum != 0) {
		return
	}
	if t, ok := next.(TCP); ok && t.Checksum != 0 {
		return
	}
	co := ChecksumOffset(proto)
	if co < 0 || len(seg) < co+2 {
		return
	}
	binary.BigEndian.PutUint16(seg[co:co+2], TransportChecksum(src, dst, proto, seg))
}

// IPv4 is an IPv4 header.
type IPv4 struct {
	Src, Dst    netip.Addr
	TOS         uint8
	TTL         uint8 // 0: 64
	ID          uint16
	DF, MF      bool
	FragOffset  uint16 // in bytes, a multiple of 8
	Options     []byte // padded with zeros to a multiple of 4
	Protocol    uint8  // 0: from the next layer
	TotalLength int    // 0: computed
	// ZeroTotalLength writes 0 as the total length, as Linux captures of
	// TSO/GSO/BIG TCP packets show it (TotalLength is then ignored).
	ZeroTotalLength bool
	Checksum        uint16 // 0: computed
}

func (l IPv4) wrap(rest []byte, next Layer) []byte {
	ol := (len(l.Options) + 3) &^ 3
	h := make([]byte, 20+ol)
	h[0] = 0x40 | uint8((20+ol)/4)
	h[1] = l.TOS
	tl := l.TotalLength
	if tl == 0 {
		tl = len(h) + len(rest)
	}
	if l.ZeroTotalLength {
		tl = 0
	}
	binary.BigEndian.PutUint16(h[2:4], uint16(tl))
	binary.BigEndian.PutUint16(h[4:6], l.ID)
	fl := l.FragOffset / 8
	if l.DF {
		fl |= 0x4000
	}
	if l.MF {
		fl |= 0x2000
	}
	binary.BigEndian.PutUint16(h[6:8], fl)
	h[8] = l.TTL
	if h[8] == 0 {
		h[8] = 64
	}
	h[9] = l.Protocol
	if h[9] == 0 {
		h[9] = ipProtoOf(next)
	}
	s, d := l.Src.As4(), l.Dst.As4()
	copy(h[12:16], s[:])
	copy(h[16:20], d[:])
	copy(h[20:], l.Options)
	c := l.Checksum
	if c == 0 {
		c = IPv4HeaderChecksum(h)
	}
	binary.BigEndian.PutUint16(h[10:12], c)
	out := prepend(h, rest)
	if l.FragOffset == 0 && !l.MF {
		fillChecksum(l.Src, l.Dst, next, out[len(h):])
	}
	return out
}

// IPv6 is an IPv6 header with optional extension headers.
type IPv6 struct {
	Src, Dst      netip.Addr // Dst is also the checksum's destination
	TrafficClass  uint8
	FlowLabel     uint32
	HopLimit      uint8 // 0: 64
	Ext           []IPv6Ext
	NextHeader    uint8 // after the extension headers; 0: from the next layer
	PayloadLength int   // 0: computed
}

// IPv6Ext is an IPv6 extension header.
type IPv6Ext struct {
	Type uint8 // 0 hop-by-hop, 43 routing, 44 fragment, 51 AH, 60 destination options
	// Data follows the next-header and length bytes (hop-by-hop, routing,
	// destination options, AH); it is padded with zeros to the header's unit.
	Data []byte
	// Fragment header fields.
	FragOffset uint16 // bytes, a multiple of 8
	More       bool
	ID         uint32
}

func (l IPv6) wrap(rest []byte, next Layer) []byte {
	nh := l.NextHeader
	if nh == 0 {
		nh = ipProtoOf(next)
	}
	var ext []byte
	frag := false
	for i := len(l.Ext) - 1; i >= 0; i-- {
		e := l.Ext[i]
		var h []byte
		switch e.Type {
		case ipv6Fragment:
			h = make([]byte, 8)
			fo := e.FragOffset &^ 7
			if e.More {
				fo |= 1
			}
			binary.BigEndian.PutUint16(h[2:4], fo)
			binary.BigEndian.PutUint32(h[4:8], e.ID)
			frag = frag || e.FragOffset != 0 || e.More
		case ipv6AH:
			n := (2 + len(e.Data) + 3) &^ 3
			if n < 12 {
				n = 12
			}
			h = make([]byte, n)
			h[1] = uint8(n/4 - 2)
			copy(h[2:], e.Data)
		default:
			n := (2 + len(e.Data) + 7) &^ 7
			h = make([]byte, n)
			h[1] = uint8(n/8 - 1)
			copy(h[2:], e.Data)
		}
		h[0] = nh
		nh = e.Type
		ext = prepend(h, ext)
	}
	h := make([]byte, 40)
	binary.BigEndian.PutUint32(h[0:4], 6<<28|uint32(l.TrafficClass)<<20|l.FlowLabel&0xFFFFF)
	pl := l.PayloadLength
	if pl == 0 {
		pl = len(ext) + len(rest)
	}
	binary.BigEndian.PutUint16(h[4:6], uint16(pl))
	h[6] = nh
	h[7] = l.HopLimit
	if h[7] == 0 {
		h[7] = 64
	}
	s, d := l.Src.As16(), l.Dst.As16()
	copy(h[8:24], s[:])
	copy(h[24:40], d[:])
	out := prepend(prepend(h, ext), rest)
	if !frag {
		fillChecksum(l.Src, l.Dst, next, out[len(h)+len(ext):])
	}
	return out
}

// UDP is a UDP header; the enclosing IP layer computes its checksum.
type UDP struct {
	Src, Dst   uint16 // Dst 0 before VXLAN/Geneve/GTPU/MPLS: 4789/6081/2152/6635
	Length     int    // 0: computed
	NoChecksum bool   // leave the checksum 0
	Checksum   uint16 // non-zero: store this instead of computing
}

func (l UDP) wrap(rest []byte, next Layer) []byte {
	h := make([]byte, 8)
	dst := l.Dst
	if dst == 0 {
		switch next.(type) {
		case VXLAN:
			dst = PortVXLAN
		case Geneve:
			dst = PortGeneve
		case GTPU:
			dst = PortGTPU
		case MPLS:
			dst = PortMPLSUDP
		}
	}
	binary.BigEndian.PutUint16(h[0:2], l.Src)
	binary.BigEndian.PutUint16(h[2:4], dst)
	n := l.Length
	if n == 0 {
		n = 8 + len(rest)
	}
	binary.BigEndian.PutUint16(h[4:6], uint16(n))
	binary.BigEndian.PutUint16(h[6:8], l.Checksum)
	return prepend(h, rest)
}

// TCP is a TCP header; the enclosing IP layer computes its checksum.
type TCP struct {
	Src, Dst uint16
	Seq, Ack uint32
	Flags    uint16 // TCP* bits, NS included
	Window   uint16
	Urgent   uint16
	Options  []byte // padded with zeros (end of options) to a multiple of 4
	Checksum uint16 // non-zero: store this instead of computing
}

func (l TCP) wrap(rest []byte, _ Layer) []byte {
	ol := (len(l.Options) + 3) &^ 3
	h := make([]byte, 20+ol)
	binary.BigEndian.PutUint16(h[0:2], l.Src)
	binary.BigEndian.PutUint16(h[2:4], l.Dst)
	binary.BigEndian.PutUint32(h[4:8], l.Seq)
	binary.BigEndian.PutUint32(h[8:12], l.Ack)
	h[12] = uint8((20+ol)/4)<<4 | uint8(l.Flags>>8&1)
	h[13] = uint8(l.Flags)
	binary.BigEndian.PutUint16(h[14:16], l.Window)
	binary.BigEndian.PutUint16(h[16:18], l.Checksum)
	binary.BigEndian.PutUint16(h[18:20], l.Urgent)
	copy(h[20:], l.Options)
	return prepend(h, rest)
}

// ICMPv4 is an ICMP header; ID and Seq fill the rest of the header (echo).
type ICMPv4 struct {
	Type, Code uint8
	ID, Seq    uint16
}

func (l ICMPv4) wrap(rest []byte, _ Layer) []byte {
	h := []byte{l.Type, l.Code, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(h[4:6], l.ID)
	binary.BigEndian.PutUint16(h[6:8], l.Seq)
	out := prepend(h, rest)
	binary.BigEndian.PutUint16(out[2:4], InternetChecksum(out))
	return out
}

// ICMPv6 is an ICMPv6 header; the enclosing IPv6 layer computes its checksum.
type ICMPv6 struct {
	Type, Code uint8
	ID, Seq    uint16
}

func (l ICMPv6) wrap(rest []byte, _ Layer) []byte {
	h := []byte{l.Type, l.Code, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(h[4:6], l.ID)
	binary.BigEndian.PutUint16(h[6:8], l.Seq)
	return prepend(h, rest)
}

// VXLAN is an RFC 7348 header; put the inner Eth after it.
type VXLAN struct {
	VNI   uint32
	Flags uint8 // 0: 0x08 (the I flag)
}

func (l VXLAN) wrap(rest []byte, _ Layer) []byte {
	h := make([]byte, 8)
	h[0] = l.Flags
	if h[0] == 0 {
		h[0] = 0x08
	}
	binary.BigEndian.PutUint32(h[4:8], l.VNI<<8)
	return prepend(h, rest)
}

// Geneve is an RFC 8926 header with options.
type Geneve struct {
	Version  uint8 // 0 is the only defined version
	OAM      bool
	Critical bool   // the C bit (set it when an option has the critical type bit)
	Proto    uint16 // 0: from the next layer (0x6558 Eth, 0x0800 IPv4, 0x86DD IPv6)
	VNI      uint32
	Options  []GeneveOpt
}

// GeneveOpt is one Geneve option TLV.
type GeneveOpt struct {
	Class uint16
	Type  uint8
	Data  []byte // padded with zeros to a multiple of 4 (at most 124 bytes)
}

// GWLBOptions returns the three TLVs AWS Gateway Load Balancer adds to every
// Geneve packet (class 0x0108): type 1 the 8-byte GWLB endpoint id, type 2
// the 8-byte attachment id, type 3 the 4-byte flow cookie.
func GWLBOptions(endpointID, attachmentID uint64, flowCookie uint32) []GeneveOpt {
	return []GeneveOpt{
		{Class: GeneveClassAWSGWLB, Type: 1, Data: binary.BigEndian.AppendUint64(nil, endpointID)},
		{Class: GeneveClassAWSGWLB, Type: 2, Data: binary.BigEndian.AppendUint64(nil, attachmentID)},
		{Class: GeneveClassAWSGWLB, Type: 3, Data: binary.BigEndian.AppendUint32(nil, flowCookie)},
	}
}

func (l Geneve) wrap(rest []byte, next Layer) []byte {
	var opts []byte
	for _, o := range l.Options {
		n := (len(o.Data) + 3) &^ 3
		h := make([]byte, 4+n)
		binary.BigEndian.PutUint16(h[0:2], o.Class)
		h[2] = o.Type
		h[3] = uint8(n/4) & 0x1F
		copy(h[4:], o.Data)
		opts = append(opts, h...)
	}
	h := make([]byte, 8)
	h[0] = l.Version<<6 | uint8(len(opts)/4)&0x3F
	if l.OAM {
		h[1] |= 0x80
	}
	if l.Critical {
		h[1] |= 0x40
	}
	proto := l.Proto
	if proto == 0 {
		proto = etherTypeOf(next)
	}
	binary.BigEndian.PutUint16(h[2:4], proto)
	binary.BigEndian.PutUint32(h[4:8], l.VNI<<8)
	return prepend(append(h, opts...), rest)
}

// CiscoMD is the Cisco MetaData header as GRE carries it (protocol 0x8909):
// the inner protocol type, version 1, length 1, option 0x0001 and the
// security group tag.
type CiscoMD struct {
	Proto uint16 // 0: from the next layer
	SGT   uint16
}

func (l CiscoMD) wrap(rest []byte, next Layer) []byte {
	proto := l.Proto
	if proto == 0 {
		proto = etherTypeOf(next)
	}
	h := []byte{0, 0, 1, 1, 0, 1, 0, 0}
	binary.BigEndian.PutUint16(h[0:2], proto)
	binary.BigEndian.PutUint16(h[6:8], l.SGT)
	return prepend(h, rest)
}

// GRE is a GRE (version 0) header. Before an ERSPAN layer the sequence
// number bit follows the ERSPAN type: cleared for type I, set for II and III.
type GRE struct {
	Proto    uint16 // 0: from the next layer (IPv4, IPv6, Eth = 0x6558, ERSPAN)
	Checksum bool   // include the checksum field (computed)
	HasKey   bool
	Key      uint32
	HasSeq   bool
	Seq      uint32
}

func (l GRE) wrap(rest []byte, next Layer) []byte {
	var flags uint16
	hasSeq := l.HasSeq
	if e, ok := next.(ERSPAN); ok {
		hasSeq = e.Version != 1
	}
	h := make([]byte, 4, 16)
	if l.Checksum {
		flags |= greChecksum
		h = append(h, 0, 0, 0, 0)
	}
	if l.HasKey {
		flags |= greKey
		h = binary.BigEndian.AppendUint32(h, l.Key)
	}
	if hasSeq {
		flags |= greSeq
		h = binary.BigEndian.AppendUint32(h, l.Seq)
	}
	proto := l.Proto
	if proto == 0 {
		proto = etherTypeOf(next)
	}
	binary.BigEndian.PutUint16(h[0:2], flags)
	binary.BigEndian.PutUint16(h[2:4], proto)
	out := prepend(h, rest)
	if l.Checksum {
		binary.BigEndian.PutUint16(out[4:6], InternetChecksum(out))
	}
	return out
}

// ERSPAN is an ERSPAN header after GRE; put the mirrored Eth after it.
type ERSPAN struct {
	Version   int    // 1 (type I: no header), 2 (type II), 3 (type III)
	Session   uint16 // 10 bits
	VLAN      uint16 // 12 bits
	COS       uint8
	Index     uint32 // type II: 20-bit index
	Timestamp uint32 // type III
	SGT       uint16 // type III
	HWID      uint8  // type III, 6 bits
	Platform  []byte // type III: if set, the 8-byte platform-specific subheader (O bit)
}

func (l ERSPAN) wrap(rest []byte, _ Layer) []byte {
	switch l.Version {
	case 2:
		h := make([]byte, 8)
		binary.BigEndian.PutUint16(h[0:2], 1<<12|l.VLAN&0x0FFF)
		binary.BigEndian.PutUint16(h[2:4], uint16(l.COS&7)<<13|l.Session&0x03FF)
		binary.BigEndian.PutUint32(h[4:8], l.Index&0xFFFFF)
		return prepend(h, rest)
	case 3:
		h := make([]byte, 12, 20)
		binary.BigEndian.PutUint16(h[0:2], 2<<12|l.VLAN&0x0FFF)
		binary.BigEndian.PutUint16(h[2:4], uint16(l.COS&7)<<13|l.Session&0x03FF)
		binary.BigEndian.PutUint32(h[4:8], l.Timestamp)
		binary.BigEndian.PutUint16(h[8:10], l.SGT)
		h[10] = (l.HWID >> 4) & 3 // P=0, FT=0 (Ethernet)
		h[11] = (l.HWID & 0x0F) << 4
		if l.Platform != nil {
			h[11] |= 1
			p := make([]byte, 8)
			copy(p, l.Platform)
			h = append(h, p...)
		}
		return prepend(h, rest)
	}
	return rest
}

// GTPU is a GTPv1-U header (3GPP TS 29.281); put the T-PDU (IPv4 or IPv6)
// after it. The E, S and PN flags follow from the fields; the length is
// computed.
type GTPU struct {
	MsgType uint8 // 0: 0xFF (G-PDU)
	TEID    uint32
	HasSeq  bool
	Seq     uint16
	HasNPDU bool
	NPDU    uint8
	Ext     []GTPUExt // extension headers, in order
	Length  int       // 0: computed (the bytes after the first 8)
}

// GTPUExt is one GTP-U extension header: its type and content, padded with
// zeros so that the header (length byte, content, next type) is a multiple
// of 4 bytes.
type GTPUExt struct {
	Type    uint8
	Content []byte
}

func (l GTPU) wrap(rest []byte, _ Layer) []byte {
	h := make([]byte, 8, 12)
	h[0] = 0x30 // version 1, PT 1
	if len(l.Ext) > 0 {
		h[0] |= 0x04
	}
	if l.HasSeq {
		h[0] |= 0x02
	}
	if l.HasNPDU {
		h[0] |= 0x01
	}
	h[1] = l.MsgType
	if h[1] == 0 {
		h[1] = 0xFF
	}
	binary.BigEndian.PutUint32(h[4:8], l.TEID)
	if h[0]&0x07 != 0 {
		h = binary.BigEndian.AppendUint16(h, l.Seq)
		h = append(h, l.NPDU, 0)
		for i, e := range l.Ext {
			if i == 0 {
				h[11] = e.Type
			}
			n := (2 + len(e.Content) + 3) &^ 3
			x := make([]byte, n)
			x[0] = uint8(n / 4)
			copy(x[1:], e.Content)
			if i+1 < len(l.Ext) {
				x[n-1] = l.Ext[i+1].Type
			}
			h = append(h, x...)
		}
	}
	n := l.Length
	if n == 0 {
		n = len(h) - 8 + len(rest)
	}
	binary.BigEndian.PutUint16(h[2:4], uint16(n))
	return prepend(h, rest)
}

// MPLS is an MPLS label stack (RFC 3032), outermost label first; the
// bottom-of-stack bit is set on the last. After Eth (EtherType 0x8847, or
// 0x8848 with Multicast), GRE (protocol 0x8847) or UDP (port 6635); put
// IPv4/IPv6, or with ControlWord a pseudowire Ethernet frame, after it.
type MPLS struct {
	Labels      []MPLSLabel
	Multicast   bool // the EtherType before it is 0x8848
	ControlWord bool // a 4-byte zero pseudowire control word (RFC 4385) after the stack
}

// MPLSLabel is one label stack entry.
type MPLSLabel struct {
	Label uint32 // 20 bits
	TC    uint8  // 3 bits
	TTL   uint8  // 0: 64
}

func (l MPLS) wrap(rest []byte, _ Layer) []byte {
	var h []byte
	for i, e := range l.Labels {
		ttl := e.TTL
		if ttl == 0 {
			ttl = 64
		}
		v := e.Label<<12 | uint32(e.TC&7)<<9 | uint32(ttl)
		if i == len(l.Labels)-1 {
			v |= 1 << 8
		}
		h = binary.BigEndian.AppendUint32(h, v)
	}
	if l.ControlWord {
		h = append(h, 0, 0, 0, 0)
	}
	return prepend(h, rest)
}
