package dissect

import "encoding/binary"

// TLS record content types, handshake types and the extensions this parser
// reads (RFC 8446, RFC 6066, RFC 7301).
const (
	tlsChangeCipherSpec = 20
	tlsAlert            = 21
	tlsHandshake        = 22
	tlsApplicationData  = 23
	tlsHeartbeat        = 24

	TLSClientHello = 1
	TLSServerHello = 2

	tlsExtServerName          = 0x0000
	tlsExtSignatureAlgorithms = 0x000d
	tlsExtALPN                = 0x0010
	tlsExtSupportedVersions   = 0x002b
)

// Capacities of the lists TLSHello keeps. A ClientHello with more entries
// sets TLSHello.More and keeps the first ones; when the list is one JA4
// reads (all but ALPN, of which JA4 uses only the first) it gets no JA4 (a
// fingerprint over part of a list would be wrong).
const (
	TLSMaxCiphers    = 256
	TLSMaxExtensions = 64
	TLSMaxSigAlgs    = 64
	TLSMaxVersions   = 16
	TLSMaxALPN       = 16
	// TLSMaxReassembly bounds a hello split over several TLS records (not
	// TCP segments: records inside the bytes given to Parse); a longer one
	// is parsed as far as it goes and reported truncated.
	TLSMaxReassembly = 8192
	// tlsMaxRecord is the largest record body TLS allows (2^14 plus
	// expansion for protected records).
	tlsMaxRecord = 16384 + 2048
)

// TLSHello is the first handshake message of a TLS record stream when it is a
// ClientHello (or, more briefly, a ServerHello). Event fields: detail.TLS
// {HandshakeType ("client_hello"/"server_hello"), SNI, ALPN [..], Versions
// [..] (names) and VersionCodes [..], CipherSuite (ServerHello), JA4}.
//
// The bytes given to Parse start at a TLS record boundary (a TCP segment's
// payload at the start of a connection). ChangeCipherSpec records before the
// handshake are skipped (TLS 1.3 middlebox compatibility); a hello split over
// several records in b is reassembled into the value's own storage (up to
// TLSMaxReassembly bytes); a hello cut short by the end of b is parsed as far
// as it goes and Parse returns ErrTruncated (the fields read so far are kept;
// JA4 needs the whole hello and stays empty).
//
// Lists keep GREASE values (RFC 8701) as sent, except Versions, which holds
// real versions only; the JA4 computation ignores GREASE everywhere, as the
// JA4 specification says.
type TLSHello struct {
	ContentType   uint8  // of the record holding the hello (22), or of the first record when it is not a handshake
	RecordVersion uint16 // record layer version (0x0301 for most ClientHellos)
	HandshakeType uint8  // TLSClientHello or TLSServerHello
	LegacyVersion uint16 // client_version / server legacy_version

	SessionID []byte
	// SNI is the first host_name of the server_name extension.
	SNI []byte
	// HasSNI reports the server_name extension (JA4's "d"), even when it
	// held no host name.
	HasSNI bool
	// CipherSuite is the ServerHello's selected suite.
	CipherSuite uint16
	// HasSupportedVersions reports the supported_versions extension.
	HasSupportedVersions bool
	// Complete reports that the whole hello message was in b.
	Complete bool
	// More reports a list longer than its capacity (see TLSMax*).
	More bool

	// JA4 is the JA4 fingerprint of a complete ClientHello
	// ("t13d1516h2_8daaf6152771_e5627efa2ab1"), nil otherwise. It points
	// into the value.
	JA4 []byte

	ciphers  [TLSMaxCiphers]uint16
	nCiphers int
	exts     [TLSMaxExtensions]uint16
	nExts    int
	sigAlgs  [TLSMaxSigAlgs]uint16
	nSigAlgs int
	versions [TLSMaxVersions]uint16
	nVers    int
	alpn     [TLSMaxALPN][]byte
	nALPN    int

	ja4        [ja4Len]byte
	ja4Partial bool // a list JA4 reads (ciphers, extensions, signature algorithms, versions) overflowed
	frag       [TLSMaxReassembly]byte
}

// Parse decodes the hello at the start of b. Errors: ErrNotProtocol (not a
// TLS record), ErrUnsupported (a TLS record, but no hello: application data,
// alert, another handshake message; ContentType, RecordVersion and
// HandshakeType are set), ErrTruncated (the hello is cut short; fields read
// so far kept), ErrMalformed (lengths that contradict each other).
func (m *TLSHello) Parse(b []byte) error {
	m.reset()
	p := 0
	for {
		if len(b)-p < 5 {
			if p == 0 {
				return ErrTruncated
			}
			return ErrUnsupported // only ChangeCipherSpec records
		}
		ct := b[p]
		if ct < tlsChangeCipherSpec || ct > tlsHeartbeat || b[p+1] != 3 {
			if p == 0 {
				return ErrNotProtocol
			}
			return ErrMalformed
		}
		n := int(binary.BigEndian.Uint16(b[p+3 : p+5]))
		if n > tlsMaxRecord {
			return ErrMalformed
		}
		m.ContentType = ct
		m.RecordVersion = binary.BigEndian.Uint16(b[p+1 : p+3])
		if ct != tlsChangeCipherSpec {
			break
		}
		p += 5 + n
	}
	if m.ContentType != tlsHandshake {
		return ErrUnsupported
	}
	msg, partial, err := m.handshake(b[p:])
	if err != nil {
		return err
	}
	c := tlsCursor{b: msg, partial: partial}
	switch m.HandshakeType {
	case TLSClientHello:
		err = m.clientHello(&c)
	case TLSServerHello:
		err = m.serverHello(&c)
	default:
		return ErrUnsupported
	}
	if err != nil {
		return err
	}
	if partial {
		return ErrTruncated
	}
	m.Complete = true
	if m.HandshakeType == TLSClientHello && !m.HasSupportedVersions {
		m.versions[0], m.nVers = m.LegacyVersion, 1
	}
	if m.HandshakeType == TLSClientHello && !m.ja4Partial {
		m.JA4 = m.computeJA4(m.ja4[:0])
	}
	return nil
}

func (m *TLSHello) reset() {
	m.ContentType, m.RecordVersion, m.HandshakeType, m.LegacyVersion = 0, 0, 0, 0
	m.SessionID, m.SNI, m.HasSNI, m.CipherSuite = nil, nil, false, 0
	m.HasSupportedVersions, m.Complete, m.More, m.JA4, m.ja4Partial = false, false, false, nil, false
	m.nCiphers, m.nExts, m.nSigAlgs, m.nVers = 0, 0, 0, 0
	for i := range m.nALPN {
		m.alpn[i] = nil
	}
	m.nALPN = 0
}

// handshake returns the first handshake message's body from b (which starts
// with a handshake record), and whether it is cut short by the end of b. A
// message spanning records is copied into m.frag.
func (m *TLSHello) handshake(b []byte) (msg []byte, partial bool, err error) {
	recLen := int(binary.BigEndian.Uint16(b[3:5]))
	body, cut := b[5:], true
	if len(body) >= recLen {
		body, cut = body[:recLen], false
	}
	if len(body) >= 1 {
		m.HandshakeType = body[0]
	}
	if len(body) >= 4 {
		n := int(body[1])<<16 | int(body[2])<<8 | int(body[3])
		if 4+n <= len(body) {
			return body[4 : 4+n], false, nil
		}
		if cut {
			return body[4:], true, nil
		}
	} else if cut {
		return nil, false, ErrTruncated
	}
	if recLen == 0 {
		return nil, false, ErrMalformed
	}
	// The message continues in the next handshake record(s).
	f := copy(m.frag[:], body)
	rest := b[5+recLen:]
	for {
		if f >= 4 {
			n := int(m.frag[1])<<16 | int(m.frag[2])<<8 | int(m.frag[3])
			m.HandshakeType = m.frag[0]
			if 4+n <= f {
				return m.frag[4 : 4+n], false, nil
			}
			if f == len(m.frag) {
				return m.frag[4:f], true, nil
			}
		}
		if len(rest) < 5 {
			if f < 4 {
				return nil, false, ErrTruncated
			}
			return m.frag[4:f], true, nil
		}
		if rest[0] != tlsHandshake || rest[1] != 3 {
			return nil, false, ErrMalformed
		}
		n := int(binary.BigEndian.Uint16(rest[3:5]))
		if n == 0 || n > tlsMaxRecord {
			return nil, false, ErrMalformed
		}
		rb := rest[5:]
		if len(rb) > n {
			rb = rb[:n]
		}
		f += copy(m.frag[f:], rb)
		rest = rest[5+len(rb):]
	}
}

// tlsCursor reads big-endian fields from a handshake message. Running out of
// bytes is ErrTruncated when the message is cut short, ErrMalformed when it
// is whole (an inner length overran the message).
type tlsCursor struct {
	b       []byte
	p       int
	partial bool
}

func (c *tlsCursor) short() error {
	if c.partial {
		return ErrTruncated
	}
	return ErrMalformed
}

func (c *tlsCursor) left() int { return len(c.b) - c.p }

func (c *tlsCursor) u8() (uint8, error) {
	if c.left() < 1 {
		return 0, c.short()
	}
	c.p++
	return c.b[c.p-1], nil
}

func (c *tlsCursor) u16() (uint16, error) {
	if c.left() < 2 {
		return 0, c.short()
	}
	c.p += 2
	return binary.BigEndian.Uint16(c.b[c.p-2:]), nil
}

func (c *tlsCursor) bytes(n int) ([]byte, error) {
	if c.left() < n {
		return nil, c.short()
	}
	c.p += n
	return c.b[c.p-n : c.p : c.p], nil
}

// vec reads a vector with a 1- or 2-byte length prefix.
func (c *tlsCursor) vec(prefix int) ([]byte, error) {
	var n int
	if prefix == 1 {
		v, err := c.u8()
		if err != nil {
			return nil, err
		}
		n = int(v)
	} else {
		v, err := c.u16()
		if err != nil {
			return nil, err
		}
		n = int(v)
	}
	return c.bytes(n)
}

func (m *TLSHello) clientHello(c *tlsCursor) error {
	var err error
	if m.LegacyVersion, err = c.u16(); err != nil {
		return err
	}
	if _, err = c.bytes(32); err != nil { // random
		return err
	}
	if m.SessionID, err = c.vec(1); err != nil {
		return err
	}
	if len(m.SessionID) > 32 {
		return ErrMalformed
	}
	// Cipher suites: keep those present even when the list is cut.
	n, err := c.u16()
	if err != nil {
		return err
	}
	if n%2 != 0 {
		return ErrMalformed
	}
	for i := 0; i < int(n)/2; i++ {
		v, err := c.u16()
		if err != nil {
			return err
		}
		if m.nCiphers < len(m.ciphers) {
			m.ciphers[m.nCiphers] = v
			m.nCiphers++
		} else {
			m.More, m.ja4Partial = true, true
		}
	}
	if _, err = c.vec(1); err != nil { // compression methods
		return err
	}
	return m.extensions(c, true)
}

func (m *TLSHello) serverHello(c *tlsCursor) error {
	var err error
	if m.LegacyVersion, err = c.u16(); err != nil {
		return err
	}
	if _, err = c.bytes(32); err != nil {
		return err
	}
	if m.SessionID, err = c.vec(1); err != nil {
		return err
	}
	if m.CipherSuite, err = c.u16(); err != nil {
		return err
	}
	if _, err = c.u8(); err != nil { // compression method
		return err
	}
	if err = m.extensions(c, false); err != nil {
		return err
	}
	if m.nVers == 0 {
		m.versions[0], m.nVers = m.LegacyVersion, 1
	}
	return nil
}

// extensions reads the extensions block (absent in old hellos).
func (m *TLSHello) extensions(c *tlsCursor, client bool) error {
	if c.left() == 0 {
		return nil
	}
	n, err := c.u16()
	if err != nil {
		return err
	}
	if !c.partial && c.left() != int(n) {
		return ErrMalformed
	}
	end := c.p + int(n)
	for c.p < end {
		typ, err := c.u16()
		if err != nil {
			return err
		}
		data, err := c.vec(2)
		if err != nil {
			return err
		}
		if c.p > end {
			return ErrMalformed
		}
		if m.nExts < len(m.exts) {
			m.exts[m.nExts] = typ
			m.nExts++
		} else {
			m.More, m.ja4Partial = true, true
		}
		d := tlsCursor{b: data}
		switch typ {
		case tlsExtServerName:
			m.HasSNI = true
			if client {
				err = m.serverName(&d)
			}
		case tlsExtALPN:
			err = m.alpnList(&d)
		case tlsExtSupportedVersions:
			m.HasSupportedVersions = true
			err = m.supportedVersions(&d, client)
		case tlsExtSignatureAlgorithms:
			err = m.signatureAlgorithms(&d)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (m *TLSHello) serverName(d *tlsCursor) error {
	list, err := d.vec(2)
	if err != nil {
		return err
	}
	l := tlsCursor{b: list}
	for l.left() > 0 {
		typ, err := l.u8()
		if err != nil {
			return err
		}
		name, err := l.vec(2)
		if err != nil {
			return err
		}
		if typ == 0 && m.SNI == nil {
			m.SNI = name
		}
	}
	return nil
}

func (m *TLSHello) alpnList(d *tlsCursor) error {
	list, err := d.vec(2)
	if err != nil {
		return err
	}
	l := tlsCursor{b: list}
	for l.left() > 0 {
		p, err := l.vec(1)
		if err != nil {
			return err
		}
		if m.nALPN < len(m.alpn) {
			m.alpn[m.nALPN] = p
			m.nALPN++
		} else {
			m.More = true
		}
	}
	return nil
}

func (m *TLSHello) supportedVersions(d *tlsCursor, client bool) error {
	if !client { // ServerHello: the selected version
		v, err := d.u16()
		if err != nil {
			return err
		}
		m.versions[0], m.nVers = v, 1
		return nil
	}
	list, err := d.vec(1)
	if err != nil {
		return err
	}
	if len(list)%2 != 0 {
		return ErrMalformed
	}
	for i := 0; i+1 < len(list); i += 2 {
		v := binary.BigEndian.Uint16(list[i:])
		if isGREASE(v) {
			continue
		}
		if m.nVers < len(m.versions) {
			m.versions[m.nVers] = v
			m.nVers++
		} else {
			m.More, m.ja4Partial = true, true
		}
	}
	return nil
}

func (m *TLSHello) signatureAlgorithms(d *tlsCursor) error {
	list, err := d.vec(2)
	if err != nil {
		return err
	}
	if len(list)%2 != 0 {
		return ErrMalformed
	}
	for i := 0; i+1 < len(list); i += 2 {
		if m.nSigAlgs < len(m.sigAlgs) {
			m.sigAlgs[m.nSigAlgs] = binary.BigEndian.Uint16(list[i:])
			m.nSigAlgs++
		} else {
			m.More, m.ja4Partial = true, true
		}
	}
	return nil
}

// isGREASE reports a GREASE value (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa.
func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

// CipherSuites returns the offered cipher suites in order (GREASE included),
// or the ServerHello's selected one.
func (m *TLSHello) CipherSuites() []uint16 {
	if m.HandshakeType == TLSServerHello {
		return nil
	}
	return m.ciphers[:m.nCiphers]
}

// Extensions returns the extension types in order (GREASE included).
func (m *TLSHello) Extensions() []uint16 { return m.exts[:m.nExts] }

// SignatureAlgorithms returns the signature_algorithms extension's list.
func (m *TLSHello) SignatureAlgorithms() []uint16 { return m.sigAlgs[:m.nSigAlgs] }

// ALPN returns the protocols of the ALPN extension ("h2", "http/1.1"), in
// order; each points into the parsed bytes (or the value's reassembly buffer).
func (m *TLSHello) ALPN() [][]byte { return m.alpn[:m.nALPN] }

// Versions returns the offered versions (supported_versions without GREASE,
// or, for a complete hello without that extension, the legacy version); for
// a ServerHello the selected version.
func (m *TLSHello) Versions() []uint16 { return m.versions[:m.nVers] }

// HandshakeName returns "client_hello", "server_hello" or "".
func (m *TLSHello) HandshakeName() string {
	switch m.HandshakeType {
	case TLSClientHello:
		return "client_hello"
	case TLSServerHello:
		return "server_hello"
	}
	return ""
}

// TLSVersionName names a protocol version: "TLS 1.3", "TLS 1.2", "TLS 1.1",
// "TLS 1.0", "SSL 3.0", "SSL 2.0", "DTLS 1.0", "DTLS 1.2", "DTLS 1.3", or
// "unknown".
func TLSVersionName(v uint16) string {
	switch v {
	case 0x0304:
		return "TLS 1.3"
	case 0x0303:
		return "TLS 1.2"
	case 0x0302:
		return "TLS 1.1"
	case 0x0301:
		return "TLS 1.0"
	case 0x0300:
		return "SSL 3.0"
	case 0x0002:
		return "SSL 2.0"
	case 0xfeff:
		return "DTLS 1.0"
	case 0xfefd:
		return "DTLS 1.2"
	case 0xfefc:
		return "DTLS 1.3"
	}
	return "unknown"
}

// AppendText appends a one-line summary in the tcpdump style (tcpdump itself
// does not decode TLS):
//
//	TLS ClientHello, SNI example.com, ALPN [h2, http/1.1], versions [TLS 1.3, TLS 1.2], JA4 t13d1516h2_8daaf6152771_e5627efa2ab1
//	TLS ServerHello, version TLS 1.3, cipher 0x1301
func (m *TLSHello) AppendText(dst []byte) []byte {
	if m.HandshakeType == TLSServerHello {
		dst = append(dst, "TLS ServerHello, version "...)
		if m.nVers > 0 {
			dst = append(dst, TLSVersionName(m.versions[0])...)
		}
		dst = append(dst, ", cipher 0x"...)
		return appendHex4(dst, m.CipherSuite)
	}
	dst = append(dst, "TLS ClientHello"...)
	if m.SNI != nil {
		dst = append(dst, ", SNI "...)
		dst = appendPrintable(dst, m.SNI)
	}
	if m.nALPN > 0 {
		dst = append(dst, ", ALPN ["...)
		for i, p := range m.ALPN() {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendPrintable(dst, p)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, ", versions ["...)
	for i, v := range m.Versions() {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, TLSVersionName(v)...)
	}
	dst = append(dst, ']')
	if m.JA4 != nil {
		dst = append(dst, ", JA4 "...)
		dst = append(dst, m.JA4...)
	}
	return dst
}

// AppendInfo appends Wireshark's Info column text: "Client Hello
// (SNI=example.com)", "Client Hello", "Server Hello".
func (m *TLSHello) AppendInfo(dst []byte) []byte {
	if m.HandshakeType == TLSServerHello {
		return append(dst, "Server Hello"...)
	}
	dst = append(dst, "Client Hello"...)
	if m.SNI != nil {
		dst = append(dst, " (SNI="...)
		dst = appendPrintable(dst, m.SNI)
		dst = append(dst, ')')
	}
	return dst
}
