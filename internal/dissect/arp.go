package dissect

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// ErrUnsupported: the message is well formed but of a kind the parser only
// partly understands (an ARP message for a hardware or protocol type other
// than Ethernet/IPv4). The fields that could be read are kept.
var ErrUnsupported = errors.New("unsupported")

// ARP hardware and protocol types, and operations (RFC 826, RFC 903 RARP,
// RFC 2390 InARP).
const (
	ARPHardwareEthernet = 1
	ARPProtocolIPv4     = 0x0800

	ARPRequest        = 1
	ARPReply          = 2
	ARPReverseRequest = 3 // RARP
	ARPReverseReply   = 4 // RARP
	ARPInARPRequest   = 8
	ARPInARPReply     = 9
)

// ARPMessage is an ARP or RARP message: the body after the link header
// (EtherType 0x0806 or 0x8035). Event fields: detail.ARP {Operation (name),
// OperationCode, SenderMAC, SenderIP, TargetMAC, TargetIP, HardwareType,
// ProtocolType}.
//
// Parse reads any hardware/protocol type: the four addresses are kept as
// byte slices into the message whatever their lengths. Only Ethernet (6-byte
// addresses) over IPv4 (4-byte addresses) is fully supported; for other types
// Parse keeps what it read and returns ErrUnsupported so the caller can count
// it, and the netip accessors report invalid addresses.
type ARPMessage struct {
	HardwareType uint16 // 1 Ethernet
	ProtocolType uint16 // 0x0800 IPv4
	HardwareLen  uint8  // address lengths as given in the header
	ProtocolLen  uint8
	Operation    uint16 // ARPRequest, ARPReply, ...

	// Addresses, pointing into the parsed bytes.
	SenderHW, SenderProto, TargetHW, TargetProto []byte

	// Length is the length of the bytes parsed, Ethernet padding included
	// (tcpdump prints it).
	Length int
}

// Parse decodes an ARP body. Errors: ErrTruncated (the addresses run past b),
// ErrMalformed (zero address lengths), ErrUnsupported (not Ethernet/IPv4;
// fields kept).
func (m *ARPMessage) Parse(b []byte) error {
	*m = ARPMessage{Length: len(b)}
	if len(b) < 8 {
		return ErrTruncated
	}
	m.HardwareType = binary.BigEndian.Uint16(b[0:2])
	m.ProtocolType = binary.BigEndian.Uint16(b[2:4])
	m.HardwareLen = b[4]
	m.ProtocolLen = b[5]
	m.Operation = binary.BigEndian.Uint16(b[6:8])
	if m.HardwareLen == 0 || m.ProtocolLen == 0 {
		return ErrMalformed
	}
	hl, pl := int(m.HardwareLen), int(m.ProtocolLen)
	if len(b) < 8+2*(hl+pl) {
		return ErrTruncated
	}
	p := 8
	m.SenderHW = b[p : p+hl : p+hl]
	p += hl
	m.SenderProto = b[p : p+pl : p+pl]
	p += pl
	m.TargetHW = b[p : p+hl : p+hl]
	p += hl
	m.TargetProto = b[p : p+pl : p+pl]
	if !m.Supported() {
		return ErrUnsupported
	}
	return nil
}

// Supported reports whether the message is Ethernet/IPv4 with the usual
// address lengths (6 and 4).
func (m *ARPMessage) Supported() bool {
	return m.HardwareType == ARPHardwareEthernet && m.ProtocolType == ARPProtocolIPv4 &&
		m.HardwareLen == 6 && m.ProtocolLen == 4
}

// SenderIP is the sender protocol address as an IPv4 address, or the zero
// Addr when the protocol address is not 4 bytes.
func (m *ARPMessage) SenderIP() netip.Addr { return ipv4Of(m.SenderProto) }

// TargetIP is the target protocol address as an IPv4 address, or the zero Addr.
func (m *ARPMessage) TargetIP() netip.Addr { return ipv4Of(m.TargetProto) }

// SenderMAC returns the sender hardware address (any length).
func (m *ARPMessage) SenderMAC() []byte { return m.SenderHW }

// TargetMAC returns the target hardware address (any length).
func (m *ARPMessage) TargetMAC() []byte { return m.TargetHW }

var arpOpNames = [...]string{
	ARPRequest:        "request",
	ARPReply:          "reply",
	ARPReverseRequest: "reverse-request",
	ARPReverseReply:   "reverse-reply",
	5:                 "drarp-request",
	6:                 "drarp-reply",
	7:                 "drarp-error",
	ARPInARPRequest:   "inarp-request",
	ARPInARPReply:     "inarp-reply",
	10:                "arp-nak",
}

// OperationName names the operation: "request", "reply", "reverse-request",
// "reverse-reply" (RARP), "inarp-request", "inarp-reply", ... or "unknown".
func (m *ARPMessage) OperationName() string { return ARPOperationName(m.Operation) }

// ARPOperationName names an ARP operation code ("unknown" when unassigned).
func ARPOperationName(op uint16) string {
	if int(op) < len(arpOpNames) && arpOpNames[op] != "" {
		return arpOpNames[op]
	}
	return "unknown"
}

// AppendText appends a tcpdump-like summary (as `tcpdump -nn` prints it
// after the link header):
//
//	ARP, Request who-has 10.0.0.1 tell 10.0.0.2, length 28
//	ARP, Reply 10.0.0.1 is-at 00:11:22:33:44:55, length 28
//	RARP, Reverse Request who-is 00:11:22:33:44:55 tell 00:11:22:33:44:66, length 28
func (m *ARPMessage) AppendText(dst []byte) []byte {
	switch m.Operation {
	case ARPRequest:
		dst = append(dst, "ARP, Request who-has "...)
		dst = appendProtoAddr(dst, m.TargetProto)
		if !allZero(m.TargetHW) {
			dst = append(dst, " ("...)
			dst = appendColonHex(dst, m.TargetHW)
			dst = append(dst, ')')
		}
		dst = append(dst, " tell "...)
		dst = appendProtoAddr(dst, m.SenderProto)
	case ARPReply:
		dst = append(dst, "ARP, Reply "...)
		dst = appendProtoAddr(dst, m.SenderProto)
		dst = append(dst, " is-at "...)
		dst = appendColonHex(dst, m.SenderHW)
	case ARPReverseRequest:
		dst = append(dst, "RARP, Reverse Request who-is "...)
		dst = appendColonHex(dst, m.TargetHW)
		dst = append(dst, " tell "...)
		dst = appendColonHex(dst, m.SenderHW)
	case ARPReverseReply:
		dst = append(dst, "RARP, Reverse Reply "...)
		dst = appendColonHex(dst, m.TargetHW)
		dst = append(dst, " at "...)
		dst = appendProtoAddr(dst, m.TargetProto)
	default:
		dst = append(dst, "ARP, "...)
		dst = append(dst, m.OperationName()...)
		dst = append(dst, " (op "...)
		dst = appendDecimal(dst, uint64(m.Operation))
		dst = append(dst, ')')
	}
	dst = append(dst, ", length "...)
	return appendDecimal(dst, uint64(m.Length))
}

// AppendInfo appends Wireshark's Info column text:
//
//	Who has 10.0.0.1? Tell 10.0.0.2
//	10.0.0.1 is at 00:11:22:33:44:55
//	Who has 10.0.0.1? (ARP Probe)
//	ARP Announcement for 10.0.0.1
//	Gratuitous ARP for 10.0.0.1 (Reply)
//	Who is 00:11:22:33:44:55? Tell 00:11:22:33:44:66   (RARP)
//	00:11:22:33:44:55 is at 10.0.0.1                   (RARP)
func (m *ARPMessage) AppendInfo(dst []byte) []byte {
	sameIP := len(m.SenderProto) > 0 && string(m.SenderProto) == string(m.TargetProto)
	switch m.Operation {
	case ARPRequest:
		switch {
		case allZero(m.SenderProto) && allZero(m.TargetHW):
			dst = append(dst, "Who has "...)
			dst = appendProtoAddr(dst, m.TargetProto)
			return append(dst, "? (ARP Probe)"...)
		case sameIP && allZero(m.TargetHW):
			dst = append(dst, "ARP Announcement for "...)
			return appendProtoAddr(dst, m.SenderProto)
		case sameIP:
			dst = append(dst, "Gratuitous ARP for "...)
			dst = appendProtoAddr(dst, m.SenderProto)
			return append(dst, " (Request)"...)
		}
		dst = append(dst, "Who has "...)
		dst = appendProtoAddr(dst, m.TargetProto)
		dst = append(dst, "? Tell "...)
		return appendProtoAddr(dst, m.SenderProto)
	case ARPReply:
		if sameIP {
			dst = append(dst, "Gratuitous ARP for "...)
			dst = appendProtoAddr(dst, m.SenderProto)
			return append(dst, " (Reply)"...)
		}
		dst = appendProtoAddr(dst, m.SenderProto)
		dst = append(dst, " is at "...)
		return appendColonHex(dst, m.SenderHW)
	case ARPReverseRequest, ARPInARPRequest:
		dst = append(dst, "Who is "...)
		dst = appendColonHex(dst, m.TargetHW)
		dst = append(dst, "? Tell "...)
		return appendColonHex(dst, m.SenderHW)
	case ARPReverseReply, ARPInARPReply:
		dst = appendColonHex(dst, m.TargetHW)
		dst = append(dst, " is at "...)
		return appendProtoAddr(dst, m.TargetProto)
	}
	dst = append(dst, "Unknown ARP opcode 0x"...)
	return appendHex4(dst, m.Operation)
}
