package dissect

import (
	"fmt"
	"strconv"
	"strings"
)

// Transport is the transport a port rule applies to.
type Transport uint8

// Transports.
const (
	UDP Transport = iota + 1
	TCP
)

// String returns "udp" or "tcp".
func (t Transport) String() string {
	switch t {
	case UDP:
		return "udp"
	case TCP:
		return "tcp"
	}
	return ""
}

// ParseTransport parses "udp" or "tcp" (any case).
func ParseTransport(s string) (Transport, bool) {
	switch strings.ToLower(s) {
	case "udp":
		return UDP, true
	case "tcp":
		return TCP, true
	}
	return 0, false
}

// ParseProto parses a protocol name as Proto.String writes it (any case);
// "none" is None (a Decode-As rule that turns a port's dissector off).
func ParseProto(s string) (Proto, bool) {
	s = strings.ToLower(s)
	if s == "none" {
		return None, true
	}
	for i, n := range protoNames {
		if i > 0 && n == s {
			return Proto(i), true
		}
	}
	return None, false
}

// Carries reports whether protocol p can be dissected over transport t:
// DNS and syslog over UDP and TCP, HTTP and TLS over TCP, DHCP and NTP over
// UDP. ARP is chosen by EtherType, never by port. None (no dissector) fits
// every transport.
func Carries(t Transport, p Proto) bool {
	switch p {
	case None:
		return true
	case DNS, Syslog:
		return t == UDP || t == TCP
	case HTTP, TLS:
		return t == TCP
	case DHCP, NTP:
		return t == UDP
	}
	return false
}

// PortRule maps one port of one transport to a protocol: Wireshark's
// "Decode As" (tshark -d udp.port==5300,dns).
type PortRule struct {
	Transport Transport
	Port      uint16
	Proto     Proto // None: no dissector on this port
}

// String returns the rule in the --decode-as form: "udp.port==5300,dns".
func (r PortRule) String() string {
	name := r.Proto.String()
	if r.Proto == None {
		name = "none"
	}
	return r.Transport.String() + ".port==" + strconv.Itoa(int(r.Port)) + "," + name
}

// ParsePortRule parses the --decode-as form "udp.port==5300,dns" (tshark's
// -d syntax; "tcp.port==8888,http"; protocol "none" turns a port off).
func ParsePortRule(s string) (PortRule, error) {
	sel, proto, ok := strings.Cut(s, ",")
	if !ok {
		return PortRule{}, fmt.Errorf("decode-as %q: want <udp|tcp>.port==<port>,<protocol>", s)
	}
	layer, port, ok := strings.Cut(sel, ".port==")
	if !ok {
		return PortRule{}, fmt.Errorf("decode-as %q: want <udp|tcp>.port==<port>,<protocol>", s)
	}
	t, ok := ParseTransport(strings.TrimSpace(layer))
	if !ok {
		return PortRule{}, fmt.Errorf("decode-as %q: transport %q: want udp or tcp", s, layer)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(port), 10, 16)
	if err != nil || n == 0 {
		return PortRule{}, fmt.Errorf("decode-as %q: port %q: want 1..65535", s, port)
	}
	p, ok := ParseProto(strings.TrimSpace(proto))
	if !ok {
		return PortRule{}, fmt.Errorf("decode-as %q: unknown protocol %q (want %s)", s, proto, ProtoNames())
	}
	r := PortRule{Transport: t, Port: uint16(n), Proto: p}
	if !Carries(t, p) {
		return PortRule{}, fmt.Errorf("decode-as %q: %s is not dissected over %s", s, p, t)
	}
	return r, nil
}

// ProtoNames lists the protocol names a Decode-As rule accepts, for messages.
func ProtoNames() string {
	return strings.Join(append(protoNames[1:len(protoNames):len(protoNames)], "none"), ", ")
}

// DefaultPayloadTextMax is the default of Config.PayloadTextMax: the most
// payload bytes detail.PayloadText holds.
const DefaultPayloadTextMax = 256

// Config is what the configuration's dissect section sets.
type Config struct {
	// DecodeAs maps ports to protocols, over the defaults (a later rule for
	// the same transport and port wins).
	DecodeAs []PortRule
	// Disable turns protocols off everywhere (default ports, Decode-As rules
	// and content detection).
	Disable []Proto
	// PayloadTextMax is the most payload bytes detail.PayloadText holds; 0
	// turns PayloadText off. Negative means DefaultPayloadTextMax.
	PayloadTextMax int
}

// portEntry is a port's protocol in a Table; user marks a Decode-As rule.
type portEntry struct {
	proto Proto
	user  bool
}

// Table chooses the dissector for a packet: by port (well-known defaults,
// overridden by Decode-As rules), by content for a TLS ClientHello on a TCP
// port that has no dissector, and by EtherType for ARP. A Table is
// read-only once built and safe for concurrent use.
type Table struct {
	udp, tcp       [1 << 16]portEntry
	off            [len(protoNames)]bool
	payloadTextMax int
}

// defaultPorts are the well-known ports dissected without configuration.
// Syslog over TCP is 601 (RFC 6587 framing over IANA's syslog-conn port);
// 6514 is syslog over TLS, whose bytes are TLS records (its ClientHello is
// found by content), and TCP 514 is rsh by IANA: map it with Decode-As where
// it carries plain syslog.
var defaultPorts = []PortRule{
	{UDP, 53, DNS}, {TCP, 53, DNS},
	{UDP, 5353, DNS},                   // mDNS
	{UDP, 5355, DNS}, {TCP, 5355, DNS}, // LLMNR
	{TCP, 80, HTTP}, {TCP, 8000, HTTP}, {TCP, 8008, HTTP}, {TCP, 8080, HTTP}, {TCP, 3128, HTTP},
	{UDP, 514, Syslog}, {TCP, 601, Syslog},
	{TCP, 443, TLS}, {TCP, 8443, TLS},
	{UDP, 67, DHCP}, {UDP, 68, DHCP},
	{UDP, 123, NTP},
}

// DefaultPorts returns the port rules of the default table.
func DefaultPorts() []PortRule { return append([]PortRule(nil), defaultPorts...) }

var defaultTable = mustTable(Config{PayloadTextMax: -1})

func mustTable(c Config) *Table {
	t, err := NewTable(c)
	if err != nil {
		panic(err) // the defaults are constants
	}
	return t
}

// Default returns the table of the defaults (no Decode-As, nothing
// disabled, PayloadText up to DefaultPayloadTextMax bytes). It is shared:
// do not modify it.
func Default() *Table { return defaultTable }

// NewTable builds the table for c.
func NewTable(c Config) (*Table, error) {
	t := new(Table)
	for _, p := range c.Disable {
		if p == None || int(p) >= len(protoNames) {
			return nil, fmt.Errorf("disable: unknown protocol %d", p)
		}
		t.off[p] = true
	}
	set := func(r PortRule, user bool) {
		e := portEntry{proto: r.Proto, user: user}
		if t.off[r.Proto] {
			e.proto = None
		}
		if r.Transport == UDP {
			t.udp[r.Port] = e
		} else {
			t.tcp[r.Port] = e
		}
	}
	for _, r := range defaultPorts {
		set(r, false)
	}
	for _, r := range c.DecodeAs {
		if !Carries(r.Transport, r.Proto) || r.Port == 0 {
			return nil, fmt.Errorf("decode-as %s: %s is not dissected over %s", r, r.Proto, r.Transport)
		}
		set(r, true)
	}
	t.payloadTextMax = c.PayloadTextMax
	if t.payloadTextMax < 0 {
		t.payloadTextMax = DefaultPayloadTextMax
	}
	return t, nil
}

// PayloadTextMax returns the most payload bytes detail.PayloadText holds (0:
// no PayloadText).
func (t *Table) PayloadTextMax() int { return t.payloadTextMax }

// Enabled reports whether protocol p is dissected at all.
func (t *Table) Enabled(p Proto) bool { return p != None && int(p) < len(t.off) && !t.off[p] }

// Lookup returns the protocol for a segment or datagram between ports src
// and dst over transport tr, from the ports alone: a Decode-As rule on
// either port first (the destination's when both have one), then the
// default of the lower port, then the other's (as Wireshark tries the lower
// port first). None: no dissector by port.
func (t *Table) Lookup(tr Transport, src, dst uint16) Proto {
	var tab *[1 << 16]portEntry
	switch tr {
	case UDP:
		tab = &t.udp
	case TCP:
		tab = &t.tcp
	default:
		return None
	}
	s, d := tab[src], tab[dst]
	switch {
	case d.user:
		return d.proto
	case s.user:
		return s.proto
	case src <= dst:
		if s.proto != None {
			return s.proto
		}
		return d.proto
	default:
		if d.proto != None {
			return d.proto
		}
		return s.proto
	}
}

// explicitNone reports whether a Decode-As rule turned the port off on
// either side.
func (t *Table) explicitNone(tab *[1 << 16]portEntry, src, dst uint16) bool {
	s, d := tab[src], tab[dst]
	return (s.user && s.proto == None) || (d.user && d.proto == None)
}

// Choose returns the protocol to dissect a transport payload with: Lookup,
// and for a TCP payload on ports without a dissector, TLS when the payload
// starts like a TLS handshake record carrying a ClientHello (content type
// 22, version 3.x, handshake type 1) and TLS is enabled.
func (t *Table) Choose(tr Transport, src, dst uint16, payload []byte) Proto {
	p := t.Lookup(tr, src, dst)
	if p != None || tr != TCP || t.off[TLS] || t.explicitNone(&t.tcp, src, dst) {
		return p
	}
	if LooksLikeClientHello(payload) {
		return TLS
	}
	return None
}

// LooksLikeClientHello reports whether b starts with a TLS handshake record
// header (type 22, version 3.0 to 3.4) whose first handshake message is a
// ClientHello (type 1).
func LooksLikeClientHello(b []byte) bool {
	return len(b) >= 6 && b[0] == 22 && b[1] == 3 && b[2] <= 4 && b[5] == 1
}

// ARP reports whether ARP frames are dissected.
func (t *Table) ARP() bool { return !t.off[ARP] }
