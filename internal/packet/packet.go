// Package packet is the first stage after a source in the wirebridge data path:
// it decodes captured bytes into a Packet, a zero-copy view holding offsets and
// parsed header fields for every layer, outer and inner (tunnels).
//
//	source ──► packet ──► event ──► rule match ──► deliver ──► target
//
// Decoding never panics and never reads past the buffer. A malformed packet
// yields an error Kind (truncated, bad length, bad version, unsupported) and
// the layers decoded before the problem stay usable. Steady-state decoding
// allocates nothing: callers reuse one Packet value.
package packet

import (
	"net/netip"
	"time"
)

// LinkType is a pcap/pcapng LINKTYPE_ value naming the first header of a frame.
type LinkType uint16

// Link types the decoder understands.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte host-order address family
	LinkEthernet  LinkType = 1   // Ethernet II (and 802.1Q / 802.1ad tags)
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6, version from the first nibble
	LinkLoop      LinkType = 108 // OpenBSD loopback: 4-byte network-order address family
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2
)

// LinkOpaque is the Link of an inner frame whose protocol the decoder does
// not decode: a GRE keepalive (protocol 0), CDP over GRE (0x2000), a Geneve
// payload of an unknown protocol type. Such a frame has no layers, the
// tunnel's protocol type (an EtherType) is in Frame.EtherType and all its
// bytes are its payload. Carrying an unknown protocol is not an error. It is
// not a pcap link type: Decode rejects it as CaptureInfo.LinkType with
// ErrUnsupported.
const LinkOpaque LinkType = 0xFFFF

// Kind classifies why decoding stopped early. The zero value means no error.
// Kind implements error so Decode can return it without allocating.
type Kind uint8

// Decode error kinds.
const (
	OK             Kind = iota
	ErrTruncated        // the buffer ends inside a header
	ErrBadLength        // a length field disagrees with the buffer or the header
	ErrBadVersion       // a version field holds a value the protocol does not define
	ErrUnsupported      // a link type or protocol the decoder does not know
)

var kindNames = [...]string{"ok", "truncated", "bad_length", "bad_version", "unsupported"}

// String returns the snake_case name used in metrics and summaries.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Error implements error.
func (k Kind) Error() string { return "decode: " + k.String() }

// Kinds lists every error kind except OK, in order, for counters.
var Kinds = [...]Kind{ErrTruncated, ErrBadLength, ErrBadVersion, ErrUnsupported}

// LayerMask records which layers a Frame contains.
type LayerMask uint32

// Layer bits.
const (
	LayerEthernet LayerMask = 1 << iota
	LayerVLAN
	LayerSLL
	LayerSLL2
	LayerNull
	LayerIPv4
	LayerIPv6
	LayerUDP
	LayerTCP
	LayerICMPv4
	LayerICMPv6
	LayerARP
	LayerPPPoE // a PPPoE session header (EtherType 0x8864) and its PPP protocol field
)

// Has reports whether every bit of l is set in m.
func (m LayerMask) Has(l LayerMask) bool { return m&l == l }

// MaxVLANs is the deepest 802.1Q/802.1ad tag stack kept; deeper tags are skipped.
const MaxVLANs = 4

// IPv6 extension header bits recorded in Frame.IPv6Ext.
const (
	IPv6ExtHopByHop uint8 = 1 << iota
	IPv6ExtRouting
	IPv6ExtFragment
	IPv6ExtDestOpts
	IPv6ExtAH
)

// TCP flag bits as they appear in the header (NS in bit 8).
const (
	TCPFin uint16 = 1 << iota
	TCPSyn
	TCPRst
	TCPPsh
	TCPAck
	TCPUrg
	TCPEce
	TCPCwr
	TCPNs
)

// Frame is one level of decoding: the outer frame as captured, or the inner
// frame carried by a tunnel. Offsets index Packet.Data; an offset of -1 means
// the layer is absent. Fields of absent layers are zero.
type Frame struct {
	Link        LinkType  // the first header of this frame (inner frames: LinkEthernet, LinkRaw or LinkOpaque)
	PPPProtocol uint16    // see PPPoESession
	Layers      LayerMask // layers present
	Start       int       // offset of the first byte of this frame in Packet.Data

	// Link layer.
	EthSrc, EthDst [6]byte
	EtherType      uint16           // after any VLAN tags (or SLL protocol; the tunnel's protocol type for LinkOpaque)
	VLANs          [MaxVLANs]uint16 // VLAN ids, outermost first
	VLANTPIDs      [MaxVLANs]uint16 // 0x8100, 0x88a8, ... per tag
	VLANPCP        [MaxVLANs]uint8  // priority code point per tag
	NumVLANs       uint8            // tags present (may exceed MaxVLANs: only the first MaxVLANs are kept)
	SLLPacketType  uint16           // SLL/SLL2 packet type (0 host, 4 outgoing, ...)
	// PPPoE session header (LayerPPPoE): session id and the PPP protocol
	// number after it (0x0021 IPv4, 0x0057 IPv6). The two sit in padding
	// holes so that a Frame stays 256 bytes (indexing Frames is a shift).
	PPPoESession uint16
	SLLIfIndex   uint32  // SLL2 interface index
	SLLAddr      [8]byte // SLL/SLL2 link-layer address
	SLLAddrLen   uint8   // valid bytes in SLLAddr
	SLLHAType    uint16  // SLL/SLL2 ARPHRD_ type

	// Network layer.
	IPOff     int   // offset of the IP header, -1 if none
	IPVersion uint8 // 4 or 6
	// IPLenFromCapture: the IPv4 total length field was 0, as Linux
	// captures of TSO/GSO/BIG TCP packets show it, and the length on the
	// wire (the rest of the frame) was used instead, as tshark and tcpdump
	// do. IPTotalLen holds that length.
	IPLenFromCapture bool
	IPHeaderLen      int        // IPv4: IHL*4; IPv6: 40 plus extension headers
	IPTotalLen       int        // IPv4 total length; IPv6 40 + payload length
	TTL              uint8      // IPv4 TTL or IPv6 hop limit
	TOS              uint8      // IPv4 TOS or IPv6 traffic class
	FlowLabel        uint32     // IPv6 flow label
	IPID             uint32     // IPv4 identification, or IPv6 fragment header identification
	FragOffset       uint16     // fragment offset in bytes
	MoreFrags        bool       // MF flag / IPv6 M flag
	DontFrag         bool       // IPv4 DF flag
	Fragment         bool       // this is a fragment (offset > 0 or MF): transport is decoded only for offset 0
	IPv6Ext          uint8      // IPv6Ext* bits of the extension headers seen
	Protocol         uint8      // transport protocol number (after IPv6 extension headers)
	Src, Dst         netip.Addr // IP addresses
	IPOptionsLen     int        // IPv4 options length in bytes

	// Transport layer.
	L4Off            int    // offset of the transport header, -1 if none
	SrcPort, DstPort uint16 // UDP/TCP ports
	UDPLength        uint16 // UDP length field
	UDPChecksum      uint16
	TCPFlags         uint16 // TCP* bits
	TCPSeq, TCPAck   uint32
	TCPWindow        uint16
	TCPHeaderLen     int // data offset * 4
	ICMPType         uint8
	ICMPCode         uint8
	ICMPID, ICMPSeq  uint16 // echo request/reply only
	ICMPHasEcho      bool   // ICMPID/ICMPSeq are meaningful
	// L4Partial is set when a UDP or TCP header is cut short (by the end of
	// the capture, of the IP packet, or of a first fragment) after its first
	// 4 bytes: the layer bit, L4Off, SrcPort and DstPort are set, the other
	// transport fields are zero, and the payload is empty.
	L4Partial bool

	// Payload is the transport payload (or the IP payload for other protocols,
	// or the link payload for non-IP frames): Data[PayloadOff:PayloadOff+PayloadLen].
	// For a tunnel-carrying frame it is the tunnel payload.
	PayloadOff int
	PayloadLen int
	// PayloadWireLen is the payload length the headers claim; larger than
	// PayloadLen when the capture was truncated.
	PayloadWireLen int
}

// TunnelType names an encapsulation.
type TunnelType uint8

// Tunnel types.
const (
	TunnelNone TunnelType = iota
	TunnelVXLAN
	TunnelGeneve
	TunnelGRE
	TunnelERSPAN
	TunnelIPIP // IP in IP: IPv4 or IPv6 directly inside IPv4 or IPv6 (IP protocol 4 or 41: ipip, 6in4/sit, ip6tnl, Calico IPIP)
	TunnelGTPU // GTPv1-U G-PDU (UDP port 2152): the T-PDU is an IPv4 or IPv6 packet
	TunnelMPLS // an MPLS label stack (EtherType 0x8847/0x8848, in GRE, or in UDP port 6635)
)

var tunnelNames = [...]string{"", "vxlan", "geneve", "gre", "erspan", "ipip", "gtpu", "mpls"}

// String returns the lower-case name used in events ("vxlan", "geneve", ...).
func (t TunnelType) String() string {
	if int(t) < len(tunnelNames) {
		return tunnelNames[t]
	}
	return "unknown"
}

// MaxGeneveOptions bounds the options kept per Geneve header (the 6-bit
// option length field allows at most 252 bytes, i.e. 63 empty options).
const MaxGeneveOptions = 63

// GeneveOption is one Geneve TLV. Its data is Packet.Data[Off:Off+Len].
type GeneveOption struct {
	Class    uint16
	Type     uint8 // including the critical bit (0x80)
	Off, Len int
}

// GWLB holds the AWS Gateway Load Balancer Geneve options (class 0x0108).
type GWLB struct {
	EndpointID   uint64 // type 1: GWLB endpoint ENI id (8 bytes)
	AttachmentID uint64 // type 2: attachment id (8 bytes)
	FlowCookie   uint32 // type 3: flow cookie (4 bytes)
	Has          uint8  // bit 0 endpoint, bit 1 attachment, bit 2 cookie
}

// Tunnel describes one encapsulation between an outer frame and its inner frame.
type Tunnel struct {
	Type TunnelType
	Off  int // offset of the tunnel header in Packet.Data

	// VXLAN and Geneve.
	VNI      uint32
	FlowHash uint16 // outer UDP source port (AWS puts a hash of the inner 5-tuple there)

	// Geneve.
	GeneveProto   uint16 // protocol type of the inner frame (0x6558 Ethernet, 0x0800 IPv4, ...)
	GeneveOAM     bool
	GeneveCrit    bool
	Options       [MaxGeneveOptions]GeneveOption
	NumOptions    int
	GWLB          GWLB
	GeneveOptsLen int // total option bytes

	// GRE.
	GREProto   uint16 // GRE protocol type
	GREKey     uint32
	GRESeq     uint32
	GREHasKey  bool
	GREHasSeq  bool
	GREVersion uint8
	// Cisco MetaData (GREProto 0x8909): the security group tag; the
	// protocol of the inner frame follows it.
	GRESGT    uint16
	GREHasSGT bool

	// ERSPAN.
	ERSPANVersion uint8  // 1 (type I), 2 (type II), 3 (type III)
	ERSPANSession uint16 // 10-bit session id (types II and III)
	ERSPANVLAN    uint16 // type II/III original VLAN

	// GTP-U.
	TEID       uint32 // tunnel endpoint identifier
	GTPMsgType uint8  // 0xFF (G-PDU) for every tunnel the decoder records
	GTPSeq     uint16 // sequence number, when GTPHasSeq
	GTPHasSeq  bool

	// MPLS: the label stack entries as on the wire (label<<12 | TC<<9 |
	// S<<8 | TTL), outermost first. NumMPLS counts every entry (it may
	// exceed MaxMPLSLabels; only the first MaxMPLSLabels are kept).
	MPLS    [MaxMPLSLabels]uint32
	NumMPLS uint8
	// MPLSControlWord: a pseudowire control word followed the stack (the
	// inner frame is Ethernet).
	MPLSControlWord bool
}

// MaxMPLSLabels is the deepest MPLS label stack kept; deeper entries are
// counted and skipped.
const MaxMPLSLabels = 8

// MPLSLabel returns the 20-bit label of label stack entry i of t.
func (t *Tunnel) MPLSLabel(i int) uint32 { return t.MPLS[i] >> 12 }

// MaxDepth is the most frames kept: the outer frame and up to MaxDepth-1
// nested tunnels (VXLAN in VXLAN in VXLAN decodes to the innermost packet).
// A deeper tunnel is left undecoded as payload.
const MaxDepth = 4

// CaptureInfo is what the source knows about a captured frame.
type CaptureInfo struct {
	Timestamp      time.Time
	CaptureLength  int      // bytes captured (len(Data))
	Length         int      // bytes on the wire; > CaptureLength when truncated by a snaplen
	InterfaceIndex int      // pcapng interface / ifindex, 0 when unknown
	LinkType       LinkType // link type of Data
}

// Packet is the decoded view of one captured frame. Frames[0] is the outer
// frame; Frames[i] for i > 0 is the frame carried by Tunnels[i-1].
// Reuse one Packet across Decode calls: it holds no pointers into old data
// except Data, which Decode replaces.
type Packet struct {
	Info      CaptureInfo
	Data      []byte
	Frames    [MaxDepth]Frame
	Tunnels   [MaxDepth - 1]Tunnel
	NumFrames int // frames decoded, at least 1 after Decode

	// Err is why decoding stopped early (OK when it did not); ErrDepth is the
	// index of the frame in which it happened.
	Err      Kind
	ErrDepth int
}

// Outer returns the frame as captured.
func (p *Packet) Outer() *Frame { return &p.Frames[0] }

// Inner returns the innermost decoded frame (the outer one when there is no tunnel).
func (p *Packet) Inner() *Frame {
	if p.NumFrames == 0 {
		return &p.Frames[0]
	}
	return &p.Frames[p.NumFrames-1]
}

// Tunnel returns the outermost tunnel, or nil when the packet is not tunnelled.
func (p *Packet) Tunnel() *Tunnel {
	if p.NumFrames < 2 {
		return nil
	}
	return &p.Tunnels[0]
}

// Payload returns the innermost frame's payload bytes.
func (p *Packet) Payload() []byte {
	f := p.Inner()
	if f.PayloadLen <= 0 || f.PayloadOff < 0 || f.PayloadOff+f.PayloadLen > len(p.Data) {
		return nil
	}
	return p.Data[f.PayloadOff : f.PayloadOff+f.PayloadLen]
}

// Truncated reports whether the capture holds fewer bytes than were on the wire
// or than the innermost headers claim.
func (p *Packet) Truncated() bool {
	f := p.Inner()
	return p.Info.Length > p.Info.CaptureLength || f.PayloadWireLen > f.PayloadLen
}
