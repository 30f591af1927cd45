package dissect

import "errors"

// Messages holds one value of every parser, to be reused packet after packet
// (one per goroutine): Parse runs the chosen protocol's parser into its value
// and says whether the value holds a message to report. Its byte slices point
// into the parsed bytes or into the values, as each parser documents.
type Messages struct {
	DNS    DNSMessage
	HTTP   HTTPMessage
	Syslog SyslogMessage
	TLS    TLSHello
	DHCP   DHCPMessage
	NTP    NTPPacket
	ARP    ARPMessage
}

// Parse dissects b as protocol p (b is the transport payload, or for ARP the
// bytes after the link header; overTCP says
// it came in a TCP segment, which matters to DNS's length prefix) and
// returns p when its value in m holds a message to report, None otherwise:
// when b is not that protocol or is malformed, or ends before the protocol's
// header does. A message cut short after its header (a capture cut, a DNS
// message continued in the next TCP segment) is reported with what was read.
func (m *Messages) Parse(p Proto, b []byte, overTCP bool) Proto {
	var err error
	switch p {
	case DNS:
		err = m.DNS.Parse(b, overTCP)
		hdr := 12
		if overTCP {
			hdr += 2
		}
		if errors.Is(err, ErrTruncated) && len(b) >= hdr {
			err = nil
		}
	case HTTP:
		err = m.HTTP.Parse(b)
		if errors.Is(err, ErrTruncated) {
			err = nil
		}
		h := &m.HTTP
		if len(h.Version) == 0 || (h.Response && h.Status == 0) || (!h.Response && (len(h.Method) == 0 || len(h.Path) == 0)) {
			return None // no complete start line
		}
	case Syslog:
		err = m.Syslog.Parse(b)
		if errors.Is(err, ErrTruncated) {
			err = nil
		}
	case TLS:
		err = m.TLS.Parse(b)
		if errors.Is(err, ErrTruncated) {
			err = nil
		}
		if m.TLS.HandshakeType != TLSClientHello && m.TLS.HandshakeType != TLSServerHello {
			return None
		}
	case DHCP:
		err = m.DHCP.Parse(b) // a message cut inside its fixed header is not reported
	case NTP:
		err = m.NTP.Parse(b)
	case ARP:
		err = m.ARP.Parse(b)
		if errors.Is(err, ErrUnsupported) {
			err = nil // not Ethernet/IPv4: the header fields are still reported
		}
	default:
		return None
	}
	if err != nil {
		return None
	}
	return p
}
