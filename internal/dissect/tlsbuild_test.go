package dissect

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// testHello describes a ClientHello for tests; encode returns its TLS
// record(s).
type testHello struct {
	legacy     uint16 // 0: 0x0303
	sessionID  []byte
	ciphers    []uint16
	exts       []testExt // in order
	noExts     bool      // omit the extensions block
	recordSize int       // >0: split the handshake message into records of this size
}

type testExt struct {
	typ  uint16
	data []byte
}

func u16s(l ...uint16) []byte {
	var b []byte
	for _, v := range l {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

func vec8(b []byte) []byte  { return append([]byte{byte(len(b))}, b...) }
func vec16(b []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...) }

func extSNI(name string) testExt {
	return testExt{tlsExtServerName, vec16(append([]byte{0}, vec16([]byte(name))...))}
}

func extALPN(protos ...string) testExt {
	var l []byte
	for _, p := range protos {
		l = append(l, vec8([]byte(p))...)
	}
	return testExt{tlsExtALPN, vec16(l)}
}

func extVersions(v ...uint16) testExt { return testExt{tlsExtSupportedVersions, vec8(u16s(v...))} }
func extSigAlgs(v ...uint16) testExt  { return testExt{tlsExtSignatureAlgorithms, vec16(u16s(v...))} }
func extEmpty(t uint16) testExt       { return testExt{t, nil} }

func (h testHello) body() []byte {
	legacy := h.legacy
	if legacy == 0 {
		legacy = 0x0303
	}
	b := binary.BigEndian.AppendUint16(nil, legacy)
	for i := range 32 {
		b = append(b, byte(i))
	}
	b = append(b, vec8(h.sessionID)...)
	b = append(b, vec16(u16s(h.ciphers...))...)
	b = append(b, 1, 0) // compression: null
	if !h.noExts {
		var e []byte
		for _, x := range h.exts {
			e = binary.BigEndian.AppendUint16(e, x.typ)
			e = append(e, vec16(x.data)...)
		}
		b = append(b, vec16(e)...)
	}
	return b
}

// message returns the handshake message (type, 3-byte length, body).
func handshakeMsg(typ byte, body []byte) []byte {
	return append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

func tlsRecord(ct byte, body []byte) []byte {
	return append([]byte{ct, 3, 1, byte(len(body) >> 8), byte(len(body))}, body...)
}

func (h testHello) encode() []byte {
	msg := handshakeMsg(TLSClientHello, h.body())
	if h.recordSize <= 0 {
		return tlsRecord(tlsHandshake, msg)
	}
	var out []byte
	for len(msg) > 0 {
		n := min(h.recordSize, len(msg))
		out = append(out, tlsRecord(tlsHandshake, msg[:n])...)
		msg = msg[n:]
	}
	return out
}

// specHello is the ClientHello of the JA4 specification's worked example
// (technical_details/JA4.md): its ciphers, extensions (in the order given
// there), signature algorithms and ALPN "h2", with GREASE values added (which
// JA4 must ignore). Published fingerprint: t13d1516h2_8daaf6152771_e5627efa2ab1.
func specHello() testHello {
	exts := []testExt{extEmpty(0x3a3a)}
	for _, t := range []uint16{0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015} {
		switch t {
		case 0x0000:
			exts = append(exts, extSNI("example.com"))
		case 0x0010:
			exts = append(exts, extALPN("h2", "http/1.1"))
		case 0x000d:
			exts = append(exts, extSigAlgs(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601))
		case 0x002b:
			exts = append(exts, extVersions(0xdada, 0x0304, 0x0303))
		default:
			exts = append(exts, extEmpty(t))
		}
	}
	exts = append(exts, extEmpty(0x8a8a))
	return testHello{
		sessionID: make([]byte, 32),
		ciphers:   []uint16{0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035},
		exts:      exts,
	}
}

// sha12 returns the first 12 hex digits of SHA-256(s).
func sha12(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}
