package dissect

import (
	"encoding/binary"
	"net/netip"
)

// BOOTP operations and DHCP message types (RFC 2131, RFC 2132 option 53,
// RFC 3203, RFC 4388, RFC 6926, RFC 7724).
const (
	BOOTRequest = 1
	BOOTReply   = 2

	DHCPDiscover = 1
	DHCPOffer    = 2
	DHCPRequest  = 3
	DHCPDecline  = 4
	DHCPAck      = 5
	DHCPNak      = 6
	DHCPRelease  = 7
	DHCPInform   = 8
)

// DHCP option codes this parser keeps (RFC 2132 and others).
const (
	dhcpOptPad          = 0
	dhcpOptSubnetMask   = 1
	dhcpOptRouter       = 3
	dhcpOptDNS          = 6
	dhcpOptHostname     = 12
	dhcpOptDomainName   = 15
	dhcpOptRequestedIP  = 50
	dhcpOptLeaseTime    = 51
	dhcpOptOverload     = 52
	dhcpOptMessageType  = 53
	dhcpOptServerID     = 54
	dhcpOptParamRequest = 55
	dhcpOptMessage      = 56
	dhcpOptVendorClass  = 60
	dhcpOptClientID     = 61
	dhcpOptEnd          = 255
)

// dhcpMagic is the magic cookie that starts the options (99.130.83.99).
const dhcpMagic = 0x63825363

// DHCPMaxOptions is how many option codes DHCPMessage.Options keeps, in
// order of appearance; DHCPMessage.MoreOptions is set when there were more.
const DHCPMaxOptions = 64

// DHCPMessage is a BOOTP/DHCPv4 message (UDP ports 67 and 68). Event fields:
// detail.DHCP {Op ("request"/"reply"), MessageType (name), MessageTypeCode,
// XID, Flags, ClientMAC, ClientIP, YourIP, ServerIP, GatewayIP, RequestedIP,
// ServerID, Hostname, ClientID, VendorClass, ParameterRequestList [..],
// LeaseTime, SubnetMask, Router, DNS [..]}.
//
// Byte-slice fields point into the parsed bytes. Options are read from the
// options field and, when option 52 (overload) says so, from the file and
// sname fields; the first instance of each option is kept (long options split
// per RFC 3396 are not concatenated).
type DHCPMessage struct {
	Op        uint8 // BOOTRequest or BOOTReply
	HType     uint8 // hardware type (1 Ethernet)
	HLen      uint8 // hardware address length
	Hops      uint8
	XID       uint32
	Secs      uint16
	Flags     uint16     // bit 15: broadcast
	ClientIP  netip.Addr // ciaddr
	YourIP    netip.Addr // yiaddr
	ServerIP  netip.Addr // siaddr: next server
	GatewayIP netip.Addr // giaddr: relay agent

	// ClientMAC is chaddr's first HLen bytes (all 16 if HLen > 16 is
	// malformed and Parse fails).
	ClientMAC []byte
	// ServerName and BootFile: sname and file up to the first NUL (empty
	// when they carry overloaded options).
	ServerName, BootFile []byte

	// Cookie reports the DHCP magic cookie; without it the message is plain
	// BOOTP and has no options.
	Cookie bool

	// Options (zero or empty when absent; the Has* flags tell a zero value
	// from an absent one).
	MessageType          uint8      // option 53; 0 when absent (plain BOOTP)
	RequestedIP          netip.Addr // 50
	ServerID             netip.Addr // 54
	SubnetMask           netip.Addr // 1
	Router               netip.Addr // 3, first address
	DNS                  []byte     // 6, raw list of IPv4 addresses (4 bytes each); see DNSServer
	LeaseTime            uint32     // 51, seconds
	HasLeaseTime         bool
	Hostname             []byte // 12
	DomainName           []byte // 15
	ClientID             []byte // 61: type byte then identifier
	VendorClass          []byte // 60
	Message              []byte // 56
	ParameterRequestList []byte // 55: one option code per byte
	Overload             uint8  // 52: 1 file, 2 sname, 3 both

	options     [DHCPMaxOptions]uint8
	nOptions    int
	MoreOptions bool // more than DHCPMaxOptions options

	// Length is the length of the parsed message.
	Length int
}

// dhcpFixedLen is the BOOTP fixed header length, before the magic cookie.
const dhcpFixedLen = 236

// Parse decodes a BOOTP/DHCPv4 message. Errors: ErrTruncated (shorter than
// the 236-byte fixed header: the fixed fields present are kept; or an option
// runs past the end), ErrNotProtocol (op not 1
// or 2), ErrMalformed (hardware address length above 16, an option with a
// wrong length).
func (m *DHCPMessage) Parse(b []byte) error {
	*m = DHCPMessage{Length: len(b)}
	if len(b) < 1 {
		return ErrTruncated
	}
	m.Op = b[0]
	if m.Op != BOOTRequest && m.Op != BOOTReply {
		return ErrNotProtocol
	}
	// Fixed fields, as far as b goes (a capture cut by a snaplen still
	// tells who asked).
	be := binary.BigEndian
	if len(b) >= 4 {
		m.HType, m.HLen, m.Hops = b[1], b[2], b[3]
		if m.HLen > 16 {
			return ErrMalformed
		}
	}
	if len(b) >= 8 {
		m.XID = be.Uint32(b[4:8])
	}
	if len(b) >= 12 {
		m.Secs = be.Uint16(b[8:10])
		m.Flags = be.Uint16(b[10:12])
	}
	for i, a := range []*netip.Addr{&m.ClientIP, &m.YourIP, &m.ServerIP, &m.GatewayIP} {
		if off := 12 + 4*i; len(b) >= off+4 {
			*a = netip.AddrFrom4([4]byte(b[off : off+4]))
		}
	}
	if len(b) >= 28+int(m.HLen) {
		m.ClientMAC = b[28 : 28+int(m.HLen) : 28+int(m.HLen)]
	}
	if len(b) < dhcpFixedLen {
		return ErrTruncated
	}
	sname, file := b[44:108:108], b[108:236:236]
	if len(b) < dhcpFixedLen+4 || be.Uint32(b[236:240]) != dhcpMagic {
		m.ServerName, m.BootFile = cString(sname), cString(file)
		return nil
	}
	m.Cookie = true
	if err := m.parseOptions(b[240:]); err != nil {
		return err
	}
	if m.Overload&1 != 0 {
		if err := m.parseOptions(file); err != nil {
			return err
		}
	} else {
		m.BootFile = cString(file)
	}
	if m.Overload&2 != 0 {
		if err := m.parseOptions(sname); err != nil {
			return err
		}
	} else {
		m.ServerName = cString(sname)
	}
	return nil
}

// cString returns b up to its first NUL.
func cString(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i:i]
		}
	}
	return b
}

// parseOptions reads one options area (RFC 2132 section 2): pad, end, and
// code-length-value entries.
func (m *DHCPMessage) parseOptions(b []byte) error {
	for i := 0; i < len(b); {
		code := b[i]
		if code == dhcpOptPad {
			i++
			continue
		}
		if code == dhcpOptEnd {
			return nil
		}
		if i+2 > len(b) {
			return ErrTruncated
		}
		n := int(b[i+1])
		if i+2+n > len(b) {
			return ErrTruncated
		}
		v := b[i+2 : i+2+n : i+2+n]
		i += 2 + n
		if m.nOptions < len(m.options) {
			m.options[m.nOptions] = code
			m.nOptions++
		} else {
			m.MoreOptions = true
		}
		if err := m.option(code, v); err != nil {
			return err
		}
	}
	return nil
}

// option keeps the value of one option (the first instance of each).
func (m *DHCPMessage) option(code uint8, v []byte) error {
	addr := func(dst *netip.Addr) error {
		if len(v) < 4 || len(v)%4 != 0 {
			return ErrMalformed
		}
		if !dst.IsValid() {
			*dst = netip.AddrFrom4([4]byte(v[:4]))
		}
		return nil
	}
	bytes := func(dst *[]byte) {
		if *dst == nil {
			*dst = v
		}
	}
	switch code {
	case dhcpOptMessageType:
		if len(v) != 1 {
			return ErrMalformed
		}
		if m.MessageType == 0 {
			m.MessageType = v[0]
		}
	case dhcpOptRequestedIP:
		return addr(&m.RequestedIP)
	case dhcpOptServerID:
		return addr(&m.ServerID)
	case dhcpOptSubnetMask:
		return addr(&m.SubnetMask)
	case dhcpOptRouter:
		return addr(&m.Router)
	case dhcpOptDNS:
		if len(v) < 4 || len(v)%4 != 0 {
			return ErrMalformed
		}
		bytes(&m.DNS)
	case dhcpOptLeaseTime:
		if len(v) != 4 {
			return ErrMalformed
		}
		if !m.HasLeaseTime {
			m.LeaseTime, m.HasLeaseTime = binary.BigEndian.Uint32(v), true
		}
	case dhcpOptOverload:
		if len(v) != 1 {
			return ErrMalformed
		}
		m.Overload = v[0] & 3
	case dhcpOptHostname:
		bytes(&m.Hostname)
	case dhcpOptDomainName:
		bytes(&m.DomainName)
	case dhcpOptClientID:
		bytes(&m.ClientID)
	case dhcpOptVendorClass:
		bytes(&m.VendorClass)
	case dhcpOptMessage:
		bytes(&m.Message)
	case dhcpOptParamRequest:
		bytes(&m.ParameterRequestList)
	}
	return nil
}

// Options returns the option codes seen, in order (pad and end excluded), up
// to DHCPMaxOptions.
func (m *DHCPMessage) Options() []uint8 { return m.options[:m.nOptions] }

// NumDNS returns how many DNS server addresses option 6 held.
func (m *DHCPMessage) NumDNS() int { return len(m.DNS) / 4 }

// DNSServer returns the i-th DNS server address of option 6.
func (m *DHCPMessage) DNSServer(i int) netip.Addr {
	if i < 0 || 4*i+4 > len(m.DNS) {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(m.DNS[4*i : 4*i+4]))
}

// Broadcast reports the broadcast flag.
func (m *DHCPMessage) Broadcast() bool { return m.Flags&0x8000 != 0 }

// OpName returns "request" or "reply".
func (m *DHCPMessage) OpName() string {
	if m.Op == BOOTReply {
		return "reply"
	}
	return "request"
}

var dhcpTypeNames = [...]string{
	"", "DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE", "INFORM",
	"FORCERENEW", "LEASEQUERY", "LEASEUNASSIGNED", "LEASEUNKNOWN", "LEASEACTIVE",
	"BULKLEASEQUERY", "LEASEQUERYDONE", "ACTIVELEASEQUERY", "LEASEQUERYSTATUS", "TLS",
}

// MessageTypeName names option 53 ("DISCOVER", "OFFER", "REQUEST", "ACK",
// ...); "" when the option is absent (plain BOOTP), "UNKNOWN" when unassigned.
func (m *DHCPMessage) MessageTypeName() string { return DHCPMessageTypeName(m.MessageType) }

// DHCPMessageTypeName names a DHCP message type (option 53 value).
func DHCPMessageTypeName(t uint8) string {
	if int(t) < len(dhcpTypeNames) {
		return dhcpTypeNames[t]
	}
	return "UNKNOWN"
}

// Wireshark's spelling of the message types in the Info column.
var dhcpInfoNames = [...]string{
	"", "Discover", "Offer", "Request", "Decline", "ACK", "NAK", "Release", "Inform",
	"Force Renew", "Lease query", "Lease Unassigned", "Lease Unknown", "Lease Active",
	"Bulk Lease Query", "Lease Query Done", "Active LeaseQuery", "Lease Query Status", "TLS",
}

// AppendText appends a tcpdump-like summary:
//
//	BOOTP/DHCP, Request from 00:0b:82:01:fc:42, length 272
//	BOOTP/DHCP, Reply, length 300
func (m *DHCPMessage) AppendText(dst []byte) []byte {
	dst = append(dst, "BOOTP/DHCP, "...)
	if m.Op == BOOTReply {
		dst = append(dst, "Reply"...)
	} else {
		dst = append(dst, "Request from "...)
		dst = appendColonHex(dst, m.ClientMAC)
	}
	dst = append(dst, ", length "...)
	return appendDecimal(dst, uint64(m.Length))
}

// AppendInfo appends Wireshark's Info column text: "DHCP Discover -
// Transaction ID 0x3903f326" (the name padded to 8 characters as Wireshark
// does: "DHCP ACK      - Transaction ID 0xabc"), or without option 53 (plain
// BOOTP, or options cut off) "Boot Request from 00:0b:82:01:fc:42" / "Boot
// Reply" (Wireshark adds the MAC's resolved name in parentheses).
func (m *DHCPMessage) AppendInfo(dst []byte) []byte {
	if m.MessageType == 0 {
		if m.Op == BOOTReply {
			return append(dst, "Boot Reply"...)
		}
		dst = append(dst, "Boot Request from "...)
		return appendColonHex(dst, m.ClientMAC)
	}
	dst = append(dst, "DHCP "...)
	if int(m.MessageType) < len(dhcpInfoNames) {
		// Wireshark pads the name to 8 characters ("DHCP Offer    - ...").
		name := dhcpInfoNames[m.MessageType]
		dst = append(dst, name...)
		for i := len(name); i < 8; i++ {
			dst = append(dst, ' ')
		}
	} else {
		dst = append(dst, "Unknown Message Type (0x"...)
		dst = append(dst, hexLowerDigits[m.MessageType>>4], hexLowerDigits[m.MessageType&15], ')')
	}
	dst = append(dst, " - Transaction ID 0x"...)
	return appendHexTrim(dst, uint64(m.XID))
}
