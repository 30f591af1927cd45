package event

// Field names of the event JSON. They are a public contract (docs/events.md,
// docs/event.schema.json): the encoder builds its output from these constants,
// and the packet-view field accessor used for rule matching reuses them, so
// the matcher sees the same names as the JSON.

// Envelope keys (EventBridge shape).
const (
	KeyVersion    = "version"
	KeyID         = "id"
	KeySource     = "source"
	KeyDetailType = "detail-type"
	KeyTime       = "time"
	KeyResources  = "resources"
	KeyDetail     = "detail"
)

// Keys inside detail and its blocks. A key may appear in several blocks
// (for example "Source" in detail, detail.Tunnel and detail.Ethernet).
const (
	KeyTimestamp   = "Timestamp"
	KeyListener    = "Listener"
	KeySrc         = "Source"      // detail.Source, detail.Tunnel.Source, detail.Ethernet.Source
	KeyDst         = "Destination" // detail.Destination, detail.Tunnel.Destination, detail.Ethernet.Destination
	KeyIP          = "IP"          // detail.IP block, and Source.IP / Destination.IP
	KeyPort        = "Port"
	KeyProtocol    = "Protocol"
	KeyLength      = "Length"
	KeyPayload     = "Payload"
	KeyTruncated   = "Truncated"
	KeyDecodeError = "DecodeError"

	// detail.IP
	KeyIPVersion     = "Version"
	KeyTTL           = "TTL"
	KeyDSCP          = "DSCP"
	KeyFlowLabel     = "FlowLabel"
	KeyIPID          = "ID"
	KeyDontFragment  = "DontFragment"
	KeyFragment      = "Fragment"
	KeyFragOffset    = "Offset"
	KeyMoreFragments = "MoreFragments"
	KeyExtensions    = "Extensions"
	KeyLenFromCap    = "LengthFromCapture"

	// detail.TCP
	KeyTCP    = "TCP"
	KeyFlags  = "Flags"
	KeySeq    = "Seq"
	KeyAck    = "Ack"
	KeyWindow = "Window"

	// detail.ICMP
	KeyICMP     = "ICMP"
	KeyType     = "Type" // also detail.Tunnel.Type and Tunnel.Options[].Type
	KeyCode     = "Code"
	KeyICMPID   = "ID"
	KeyICMPSeq  = "Seq"
	KeyEthernet = "Ethernet"
	KeyEthType  = "EtherType"
	KeyVLAN     = "VLAN" // detail.VLAN and detail.Tunnel.VLAN

	// detail.Tunnel
	KeyTunnel        = "Tunnel"
	KeyVNI           = "VNI"
	KeyFlowHash      = "FlowHash"
	KeyGREKey        = "Key"
	KeyGRESequence   = "Sequence"
	KeySessionID     = "SessionID"
	KeyERSPANVersion = "Version"
	KeyTEID          = "TEID"
	KeyLabels        = "Labels"
	// KeyFragment is also detail.Tunnel.Fragment.
	KeyOptions      = "Options"
	KeyOptClass     = "Class"
	KeyOptType      = "Type"
	KeyOptData      = "Data"
	KeyGWLB         = "GWLB"
	KeyEndpointID   = "EndpointID"
	KeyAttachmentID = "AttachmentID"
	KeyFlowCookie   = "FlowCookie"
)

// Values of detail-type for events built from packets.
const (
	TypeUDP   = "UdpPacket"   // innermost frame has a decoded UDP header
	TypeTCP   = "TcpSegment"  // innermost frame has a decoded TCP header
	TypeICMP  = "IcmpMessage" // innermost frame has a decoded ICMPv4 or ICMPv6 header
	TypeIP    = "IpPacket"    // IP without a decoded transport header (other protocols, non-first fragments)
	TypeFrame = "Frame"       // no IP layer (ARP, STP, CDP, ...)
)

// Version is the value of the envelope "version" key.
const Version = "0"

// Kind is the JSON type of a leaf field.
type Kind uint8

// Leaf kinds.
const (
	KindString Kind = iota
	KindNumber
	KindBool
	KindStringArray // array of strings
	KindNumberArray // array of numbers
)

// Leaf is one leaf field of a packet event, as a path from the event root.
// Array-of-object fields (detail.Tunnel.Options) list their members with the
// array's path as prefix, as EventBridge patterns address them.
type Leaf struct {
	Path []string
	Kind Kind
}

// Leaves lists every leaf field a packet event can carry, in encoding order.
// The field accessor for the packet view and the schema test use it.
var Leaves = []Leaf{
	{[]string{KeyVersion}, KindString},
	{[]string{KeyID}, KindString},
	{[]string{KeySource}, KindString},
	{[]string{KeyDetailType}, KindString},
	{[]string{KeyTime}, KindString},
	{[]string{KeyResources}, KindStringArray},
	{[]string{KeyDetail, KeyTimestamp}, KindString},
	{[]string{KeyDetail, KeyListener}, KindString},
	{[]string{KeyDetail, KeySrc, KeyIP}, KindString},
	{[]string{KeyDetail, KeySrc, KeyPort}, KindNumber},
	{[]string{KeyDetail, KeyDst, KeyIP}, KindString},
	{[]string{KeyDetail, KeyDst, KeyPort}, KindNumber},
	{[]string{KeyDetail, KeyProtocol}, KindString},
	{[]string{KeyDetail, KeyLength}, KindNumber},
	{[]string{KeyDetail, KeyPayload}, KindString},
	{[]string{KeyDetail, KeyIP, KeyIPVersion}, KindNumber},
	{[]string{KeyDetail, KeyIP, KeyTTL}, KindNumber},
	{[]string{KeyDetail, KeyIP, KeyDSCP}, KindNumber},
	{[]string{KeyDetail, KeyIP, KeyFlowLabel}, KindNumber},
	{[]string{KeyDetail, KeyIP, KeyIPID}, KindNumber},
	{[]string{KeyDetail, KeyIP, KeyDontFragment}, KindBool},
	{[]string{KeyDetail, KeyIP, KeyFragment, KeyFragOffset}, KindNumber},
	{[]string{KeyDetail, KeyIP, KeyFragment, KeyMoreFragments}, KindBool},
	{[]string{KeyDetail, KeyIP, KeyExtensions}, KindStringArray},
	{[]string{KeyDetail, KeyIP, KeyLenFromCap}, KindBool},
	{[]string{KeyDetail, KeyTCP, KeyFlags}, KindStringArray},
	{[]string{KeyDetail, KeyTCP, KeySeq}, KindNumber},
	{[]string{KeyDetail, KeyTCP, KeyAck}, KindNumber},
	{[]string{KeyDetail, KeyTCP, KeyWindow}, KindNumber},
	{[]string{KeyDetail, KeyICMP, KeyType}, KindNumber},
	{[]string{KeyDetail, KeyICMP, KeyCode}, KindNumber},
	{[]string{KeyDetail, KeyICMP, KeyICMPID}, KindNumber},
	{[]string{KeyDetail, KeyICMP, KeyICMPSeq}, KindNumber},
	{[]string{KeyDetail, KeyEthernet, KeySrc}, KindString},
	{[]string{KeyDetail, KeyEthernet, KeyDst}, KindString},
	{[]string{KeyDetail, KeyEthernet, KeyEthType}, KindNumber},
	{[]string{KeyDetail, KeyVLAN}, KindNumberArray},
	{[]string{KeyDetail, KeyTunnel, KeyType}, KindString},
	{[]string{KeyDetail, KeyTunnel, KeyVNI}, KindNumber},
	{[]string{KeyDetail, KeyTunnel, KeyFlowHash}, KindNumber},
	{[]string{KeyDetail, KeyTunnel, KeySrc, KeyIP}, KindString},
	{[]string{KeyDetail, KeyTunnel, KeySrc, KeyPort}, KindNumber},
	{[]string{KeyDetail, KeyTunnel, KeyDst, KeyIP}, KindString},
	{[]string{KeyDetail, KeyTunnel, KeyDst, KeyPort}, KindNumber},
	{[]string{KeyDetail, KeyTunnel, KeyVLAN}, KindNumberArray},
	{[]string{KeyDetail, KeyTunnel, KeyGREKey}, KindNumber},
	{[]string{KeyDetail, KeyTunnel, KeyGRESequence}, KindNumber},
	{[]string{KeyDetail, KeyTunnel, KeySessionID}, KindNumber},
	{[]string{KeyDetail, KeyTunnel, KeyERSPANVersion}, KindNumber},
	{[]string{KeyDetail, KeyTunnel, KeyTEID}, KindNumber},
	{[]string{KeyDetail, KeyTunnel, KeyLabels}, KindNumberArray},
	{[]string{KeyDetail, KeyTunnel, KeyFragment}, KindBool},
	{[]string{KeyDetail, KeyTunnel, KeyOptions, KeyOptClass}, KindNumber},
	{[]string{KeyDetail, KeyTunnel, KeyOptions, KeyOptType}, KindNumber},
	{[]string{KeyDetail, KeyTunnel, KeyOptions, KeyOptData}, KindString},
	{[]string{KeyDetail, KeyTunnel, KeyGWLB, KeyEndpointID}, KindString},
	{[]string{KeyDetail, KeyTunnel, KeyGWLB, KeyAttachmentID}, KindString},
	{[]string{KeyDetail, KeyTunnel, KeyGWLB, KeyFlowCookie}, KindString},
	{[]string{KeyDetail, KeyTruncated}, KindBool},
	{[]string{KeyDetail, KeyDecodeError}, KindString},
}
