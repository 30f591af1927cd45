package event

import (
	"strconv"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// The functions in this file compute event values from the packet view.
// The JSON encoder, the Event builder and the packet-view field accessor all
// use them, so the three agree.

// DetailType returns the detail-type of an event whose innermost frame is f.
func DetailType(f *packet.Frame) string {
	switch {
	case f.Layers&packet.LayerUDP != 0:
		return TypeUDP
	case f.Layers&packet.LayerTCP != 0:
		return TypeTCP
	case f.Layers&(packet.LayerICMPv4|packet.LayerICMPv6) != 0:
		return TypeICMP
	case HasIP(f):
		return TypeIP
	}
	return TypeFrame
}

// HasIP reports whether f has a decoded IPv4 or IPv6 header.
func HasIP(f *packet.Frame) bool {
	return f.Layers&(packet.LayerIPv4|packet.LayerIPv6) != 0
}

// HasPorts reports whether f has a decoded UDP or TCP header (so Source.Port
// and Destination.Port are present).
func HasPorts(f *packet.Frame) bool {
	return f.Layers&(packet.LayerUDP|packet.LayerTCP) != 0
}

// HasTCPBlock reports whether detail.TCP is present: f has a TCP header
// whose flags, sequence numbers and window were captured (a header cut after
// the ports gives ports but no TCP block).
func HasTCPBlock(f *packet.Frame) bool {
	return f.Layers&packet.LayerTCP != 0 && !f.L4Partial
}

// PayloadLength is detail.Length: the payload length on the wire, which is
// the number of bytes in detail.Payload unless the capture was truncated.
func PayloadLength(f *packet.Frame) int {
	n := f.PayloadLen
	if f.PayloadWireLen > n {
		n = f.PayloadWireLen
	}
	if n < 0 {
		return 0
	}
	return n
}

// ProtocolName returns detail.Protocol for IP protocol number n: "udp",
// "tcp", "icmp", "icmpv6", otherwise the IANA keyword in lower case (spaces
// replaced by hyphens), or the decimal number when the number has no keyword.
func ProtocolName(n uint8) string {
	if s := protocolNames[n]; s != "" {
		return s
	}
	return protocolNumbers[n]
}

// protocolNumbers holds "0" .. "255" so ProtocolName never allocates.
var protocolNumbers = func() (a [256]string) {
	for i := range a {
		a[i] = strconv.Itoa(i)
	}
	return a
}()

// protocolNames are the IANA "Assigned Internet Protocol Numbers" keywords,
// lower case, for 0..143; 58 is "icmpv6" rather than "ipv6-icmp".
var protocolNames = [256]string{
	0: "hopopt", 1: "icmp", 2: "igmp", 3: "ggp", 4: "ipv4", 5: "st", 6: "tcp", 7: "cbt", 8: "egp", 9: "igp",
	10: "bbn-rcc-mon", 11: "nvp-ii", 12: "pup", 13: "argus", 14: "emcon", 15: "xnet", 16: "chaos", 17: "udp",
	18: "mux", 19: "dcn-meas", 20: "hmp", 21: "prm", 22: "xns-idp", 23: "trunk-1", 24: "trunk-2", 25: "leaf-1",
	26: "leaf-2", 27: "rdp", 28: "irtp", 29: "iso-tp4", 30: "netblt", 31: "mfe-nsp", 32: "merit-inp", 33: "dccp",
	34: "3pc", 35: "idpr", 36: "xtp", 37: "ddp", 38: "idpr-cmtp", 39: "tp++", 40: "il", 41: "ipv6", 42: "sdrp",
	43: "ipv6-route", 44: "ipv6-frag", 45: "idrp", 46: "rsvp", 47: "gre", 48: "dsr", 49: "bna", 50: "esp",
	51: "ah", 52: "i-nlsp", 53: "swipe", 54: "narp", 55: "min-ipv4", 56: "tlsp", 57: "skip", 58: "icmpv6",
	59: "ipv6-nonxt", 60: "ipv6-opts", 62: "cftp", 64: "sat-expak", 65: "kryptolan", 66: "rvd", 67: "ippc",
	69: "sat-mon", 70: "visa", 71: "ipcv", 72: "cpnx", 73: "cphb", 74: "wsn", 75: "pvp", 76: "br-sat-mon",
	77: "sun-nd", 78: "wb-mon", 79: "wb-expak", 80: "iso-ip", 81: "vmtp", 82: "secure-vmtp", 83: "vines",
	84: "ttp", 85: "nsfnet-igp", 86: "dgp", 87: "tcf", 88: "eigrp", 89: "ospfigp", 90: "sprite-rpc", 91: "larp",
	92: "mtp", 93: "ax.25", 94: "ipip", 95: "micp", 96: "scc-sp", 97: "etherip", 98: "encap", 100: "gmtp",
	101: "ifmp", 102: "pnni", 103: "pim", 104: "aris", 105: "scps", 106: "qnx", 107: "a/n", 108: "ipcomp",
	109: "snp", 110: "compaq-peer", 111: "ipx-in-ip", 112: "vrrp", 113: "pgm", 115: "l2tp", 116: "ddx",
	117: "iatp", 118: "stp", 119: "srp", 120: "uti", 121: "smp", 122: "sm", 123: "ptp", 124: "isis-over-ipv4",
	125: "fire", 126: "crtp", 127: "crudp", 128: "sscopmce", 129: "iplt", 130: "sps", 131: "pipe", 132: "sctp",
	133: "fc", 134: "rsvp-e2e-ignore", 135: "mobility-header", 136: "udplite", 137: "mpls-in-ip", 138: "manet",
	139: "hip", 140: "shim6", 141: "wesp", 142: "rohc", 143: "ethernet",
}

// TCPFlagNames names the TCP flag bits in detail.TCP.Flags order (bit 0 first).
var TCPFlagNames = [...]string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS"}

// IPv6ExtNames names the packet.IPv6Ext* bits in detail.IP.Extensions order.
var IPv6ExtNames = [...]string{"hop-by-hop", "routing", "fragment", "destination-options", "ah"}

// VLANCount is how many VLAN ids of f the event lists.
func VLANCount(f *packet.Frame) int {
	n := int(f.NumVLANs)
	if n > packet.MaxVLANs {
		n = packet.MaxVLANs
	}
	return n
}

// MPLSCount is how many MPLS labels of t detail.Tunnel.Labels lists: the
// labels kept (at most packet.MaxMPLSLabels), for an MPLS tunnel only.
func MPLSCount(t *packet.Tunnel) int {
	if t.Type != packet.TunnelMPLS {
		return 0
	}
	return min(int(t.NumMPLS), packet.MaxMPLSLabels)
}

// OuterFragment reports whether detail.Tunnel.Fragment is present: a frame
// carrying a tunnel (any but the innermost) is an IP fragment, necessarily
// a first one, so the inner packet may continue in later fragments.
func OuterFragment(p *packet.Packet) bool {
	for i := 0; i < p.NumFrames-1 && i < packet.MaxDepth; i++ {
		if p.Frames[i].Fragment {
			return true
		}
	}
	return false
}

// lenFromCapture reports whether detail.IP.LengthFromCapture is present:
// an IPv4 header whose total length was 0.
func lenFromCapture(f *packet.Frame) bool {
	return f.IPLenFromCapture && f.Layers&packet.LayerIPv4 != 0
}

// IsVNITunnel reports whether the tunnel has a VNI and a flow hash (VXLAN, Geneve).
func IsVNITunnel(t *packet.Tunnel) bool {
	return t.Type == packet.TunnelVXLAN || t.Type == packet.TunnelGeneve
}

// AppendHex64 appends v as a "0x" and 16 lower-case hex digits (the form of
// detail.Tunnel.GWLB.EndpointID and AttachmentID).
func AppendHex64(dst []byte, v uint64) []byte {
	return appendHex(dst, v, 16)
}

// AppendHex32 appends v as a "0x" and 8 lower-case hex digits (the form of
// detail.Tunnel.GWLB.FlowCookie).
func AppendHex32(dst []byte, v uint32) []byte {
	return appendHex(dst, uint64(v), 8)
}

const hexDigits = "0123456789abcdef"

func appendHex(dst []byte, v uint64, digits int) []byte {
	dst = append(dst, '0', 'x')
	for i := digits - 1; i >= 0; i-- {
		dst = append(dst, hexDigits[(v>>(uint(i)*4))&0xf])
	}
	return dst
}

// geneveOptionData returns the data bytes of option o, or nil when its
// bounds fall outside the packet (never the case for a decoder-built view).
func geneveOptionData(p *packet.Packet, o *packet.GeneveOption) []byte {
	if o.Off < 0 || o.Len <= 0 || o.Off > len(p.Data) || o.Len > len(p.Data)-o.Off {
		return nil
	}
	return p.Data[o.Off : o.Off+o.Len]
}

// numGeneveOptions bounds t.NumOptions to the options kept.
func numGeneveOptions(t *packet.Tunnel) int {
	n := t.NumOptions
	if n > packet.MaxGeneveOptions {
		n = packet.MaxGeneveOptions
	}
	if n < 0 {
		n = 0
	}
	return n
}

// macString formats a MAC address as aa:bb:cc:dd:ee:ff.
func appendMAC(dst []byte, m []byte) []byte {
	for i, b := range m {
		if i > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	return dst
}

// linkAddrs returns the source and destination link addresses of a frame
// (Ethernet, or the SLL/SLL2 source address when it is 6 bytes long), nil
// when absent.
func linkAddrs(f *packet.Frame) (src, dst []byte) {
	switch {
	case f.Layers&packet.LayerEthernet != 0:
		return f.EthSrc[:], f.EthDst[:]
	case f.Layers&(packet.LayerSLL|packet.LayerSLL2) != 0 && f.SLLAddrLen == 6:
		return f.SLLAddr[:6], nil
	}
	return nil, nil
}

// hasLinkBlock reports whether detail.Ethernet is present: a non-IP frame
// with an Ethernet or Linux cooked (SLL/SLL2) header.
func hasLinkBlock(f *packet.Frame) bool {
	return !HasIP(f) && f.Layers&(packet.LayerEthernet|packet.LayerSLL|packet.LayerSLL2) != 0
}
