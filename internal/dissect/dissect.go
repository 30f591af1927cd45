// Package dissect turns the application-layer bytes of one decoded packet
// (the transport payload, or an ARP frame's body) into typed fields: DNS,
// HTTP/1.x, syslog, TLS ClientHello, DHCPv4, NTP and ARP. It sits beside the
// packet decoder on the wirebridge data path:
//
//	source ──► packet ──► dissect ──► event ──► rule match ──► deliver ──► target
//
// Each parser fills a caller-owned value that is reused from packet to packet:
// no allocation per packet, bounded work (every list has a fixed capacity and
// a Truncated/More flag when the message holds more), and no panic on any
// input. Byte-slice fields point either into the packet or into the value's own
// scratch storage; they stay valid until the value is reset or reused, and a
// value must not be copied while its slices are in use.
//
// Which parser runs for a packet is chosen by Table (well-known ports by
// default, overridden by configuration like Wireshark's "Decode As").
package dissect

import "errors"

// Proto names an application protocol a dissector understands.
type Proto uint8

// Protocols. None means no dissector applied (or the payload did not parse).
const (
	None Proto = iota
	DNS
	HTTP
	Syslog
	TLS
	DHCP
	NTP
	ARP
)

var protoNames = [...]string{"", "dns", "http", "syslog", "tls", "dhcp", "ntp", "arp"}

// String returns the lower-case protocol name used in configuration and the
// UI ("dns", "http", ...), or "" for None.
func (p Proto) String() string {
	if int(p) < len(protoNames) {
		return protoNames[p]
	}
	return ""
}

// Parse errors. Parsers return one of these (or a value wrapping one) and keep
// the fields parsed before the problem.
var (
	// ErrTruncated: the bytes end inside a field (a later segment may hold the rest).
	ErrTruncated = errors.New("truncated")
	// ErrMalformed: a field holds a value the protocol does not allow.
	ErrMalformed = errors.New("malformed")
	// ErrNotProtocol: the bytes are not this protocol (a port match that was wrong).
	ErrNotProtocol = errors.New("not this protocol")
)
