package dissect

import (
	"crypto/sha256"
	"slices"
)

// JA4 TLS client fingerprint, implemented from FoxIO's public specification
// (technical_details/JA4.md in github.com/FoxIO-LLC/ja4; JA4 is BSD-3-Clause
// licensed). Shape: t13d1516h2_8daaf6152771_e5627efa2ab1
//
//	t        TLS over TCP (this parser reads TLS records, so never q or d)
//	13       highest supported_versions entry, else the ClientHello version
//	d / i    server_name extension present / absent
//	15       number of cipher suites, GREASE ignored, at most 99
//	16       number of extensions, GREASE ignored, SNI and ALPN included, at most 99
//	h2       first and last character of the first ALPN value ("00" if none;
//	         the first and last hex digit of the value when either end is
//	         not an ASCII letter or digit)
//	_8daaf6152771  first 12 hex digits of SHA-256 of the sorted cipher
//	         suites as 4-digit lower-case hex joined with ","
//	_e5627efa2ab1  first 12 hex digits of SHA-256 of the sorted extensions
//	         without SNI (0000) and ALPN (0010), then "_" and the signature
//	         algorithms in their order (no "_" when there are none)
//
// An empty list hashes to "000000000000". GREASE values are dropped from
// every list.

// ja4Len is the length of a JA4 fingerprint.
const ja4Len = 36

// ja4ListBuf bounds the text a JA4 list can need: 5 bytes per entry.
const ja4ListBuf = 5 * max(TLSMaxCiphers, TLSMaxExtensions+TLSMaxSigAlgs+1)

// computeJA4 appends the fingerprint of the parsed ClientHello to dst.
func (m *TLSHello) computeJA4(dst []byte) []byte {
	dst = m.appendJA4a(dst)
	var buf [ja4ListBuf]byte
	dst = append(dst, '_')
	dst = appendTruncHash(dst, m.appendJA4Ciphers(buf[:0]))
	dst = append(dst, '_')
	return appendTruncHash(dst, m.appendJA4Extensions(buf[:0]))
}

// AppendJA4Raw appends the unhashed form of the fingerprint (JA4_r): the
// first part, then the sorted cipher list, the sorted extension list and the
// signature algorithms, separated by "_". It appends nothing unless JA4 is
// set.
func (m *TLSHello) AppendJA4Raw(dst []byte) []byte {
	if m.JA4 == nil {
		return dst
	}
	dst = m.appendJA4a(dst)
	dst = append(dst, '_')
	dst = m.appendJA4Ciphers(dst)
	dst = append(dst, '_')
	return m.appendJA4Extensions(dst)
}

// appendJA4a appends the 10-character first part.
func (m *TLSHello) appendJA4a(dst []byte) []byte {
	dst = append(dst, 't')
	v := m.LegacyVersion
	if m.HasSupportedVersions {
		v = 0
		for _, x := range m.Versions() { // GREASE already dropped
			v = max(v, x)
		}
	}
	dst = append(dst, ja4Version(v)...)
	if m.HasSNI {
		dst = append(dst, 'd')
	} else {
		dst = append(dst, 'i')
	}
	dst = appendCount99(dst, countNotGREASE(m.CipherSuites()))
	dst = appendCount99(dst, countNotGREASE(m.Extensions()))
	if m.nALPN == 0 || len(m.alpn[0]) == 0 {
		return append(dst, "00"...)
	}
	p := m.alpn[0]
	f, l := p[0], p[len(p)-1]
	if isAlnum(f) && isAlnum(l) {
		return append(dst, f, l)
	}
	return append(dst, hexLowerDigits[f>>4], hexLowerDigits[l&15])
}

func ja4Version(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

func countNotGREASE(l []uint16) int {
	n := 0
	for _, v := range l {
		if !isGREASE(v) {
			n++
		}
	}
	return n
}

// appendCount99 appends n as two decimal digits, capped at 99.
func appendCount99(dst []byte, n int) []byte {
	n = min(n, 99)
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}

// appendJA4Ciphers appends the sorted cipher suites without GREASE.
func (m *TLSHello) appendJA4Ciphers(dst []byte) []byte {
	var s [TLSMaxCiphers]uint16
	n := 0
	for _, v := range m.CipherSuites() {
		if !isGREASE(v) {
			s[n] = v
			n++
		}
	}
	slices.Sort(s[:n])
	return appendHexList(dst, s[:n])
}

// appendJA4Extensions appends the sorted extensions without GREASE, SNI and
// ALPN, then "_" and the signature algorithms without GREASE in their order.
func (m *TLSHello) appendJA4Extensions(dst []byte) []byte {
	var s [TLSMaxExtensions]uint16
	n := 0
	for _, v := range m.Extensions() {
		if !isGREASE(v) && v != tlsExtServerName && v != tlsExtALPN {
			s[n] = v
			n++
		}
	}
	if n == 0 {
		return dst
	}
	slices.Sort(s[:n])
	dst = appendHexList(dst, s[:n])
	first := true
	for _, v := range m.SignatureAlgorithms() {
		if isGREASE(v) {
			continue
		}
		if first {
			dst = append(dst, '_')
			first = false
		} else {
			dst = append(dst, ',')
		}
		dst = appendHex4(dst, v)
	}
	return dst
}

func appendHexList(dst []byte, l []uint16) []byte {
	for i, v := range l {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendHex4(dst, v)
	}
	return dst
}

// appendTruncHash appends the first 12 hex digits of SHA-256(s), or
// "000000000000" for an empty s.
func appendTruncHash(dst, s []byte) []byte {
	if len(s) == 0 {
		return append(dst, "000000000000"...)
	}
	sum := sha256.Sum256(s)
	for _, c := range sum[:6] {
		dst = append(dst, hexLowerDigits[c>>4], hexLowerDigits[c&15])
	}
	return dst
}
