package dissect

import "net/netip"

// Formatting helpers shared by the TLS, DHCP, NTP and ARP parsers: append-style,
// no allocation.

func ipv4Of(b []byte) netip.Addr {
	if len(b) != 4 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(b))
}

// allZero reports whether every byte of b is zero.
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

const hexLowerDigits = "0123456789abcdef"

// appendColonHex appends a hardware address as colon-separated hex bytes.
func appendColonHex(dst, a []byte) []byte {
	for i, c := range a {
		if i > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, hexLowerDigits[c>>4], hexLowerDigits[c&15])
	}
	return dst
}

// appendProtoAddr appends a 4-byte protocol address in dotted decimal, any
// other length as hex bytes.
func appendProtoAddr(dst, a []byte) []byte {
	if len(a) != 4 {
		return appendColonHex(dst, a)
	}
	return appendDotted(dst, [4]byte(a))
}

func appendDotted(dst []byte, a [4]byte) []byte {
	for i, c := range a {
		if i > 0 {
			dst = append(dst, '.')
		}
		dst = appendDecimal(dst, uint64(c))
	}
	return dst
}

// appendDecimal appends v in decimal.
func appendDecimal(dst []byte, v uint64) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

// appendSignedDecimal appends v in decimal.
func appendSignedDecimal(dst []byte, v int64) []byte {
	if v < 0 {
		dst = append(dst, '-')
		return appendDecimal(dst, uint64(-v))
	}
	return appendDecimal(dst, uint64(v))
}

// appendHex4 appends v as four lower-case hex digits.
func appendHex4(dst []byte, v uint16) []byte {
	return append(dst, hexLowerDigits[v>>12], hexLowerDigits[v>>8&15], hexLowerDigits[v>>4&15], hexLowerDigits[v&15])
}

// appendHex8 appends v as eight lower-case hex digits.
func appendHex8(dst []byte, v uint32) []byte {
	return appendHex4(appendHex4(dst, uint16(v>>16)), uint16(v))
}

// appendPrintable appends b with bytes outside printable ASCII replaced by '.'.
func appendPrintable(dst, b []byte) []byte {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendHexTrim appends v in lower-case hex without leading zeros.
func appendHexTrim(dst []byte, v uint64) []byte {
	var buf [16]byte
	i := len(buf)
	for {
		i--
		buf[i] = hexLowerDigits[v&15]
		v >>= 4
		if v == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}
