package event

import (
	"encoding/binary"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/wirebridge/wirebridge/pattern"
)

// appendString appends s as a string of the event JSON: exactly what
// encoding/json writes by default (HTML characters escaped).
func appendString(dst []byte, s string) []byte {
	return pattern.AppendJSONString(dst, s, true)
}

// appendStringBytes appends b as appendString does, without copying it to
// a string.
func appendStringBytes(dst []byte, b []byte) []byte {
	return appendString(dst, bytesString(b))
}

// bytesString returns a string over b's bytes, for a use that ends before b
// changes.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// appendStringBody appends s escaped as appendString does with html, without
// quotes.
func appendStringBody(dst []byte, s string, html bool) []byte {
	return pattern.AppendJSONEscaped(dst, s, html)
}

// stamp is a time formatted once in RFC 3339 UTC, for both the envelope
// "time" (whole seconds) and detail.Timestamp (with the fraction).
type stamp struct {
	b [30]byte // "2006-01-02T15:04:05" + ".999999999" (no 'Z')
	n int      // bytes of b in use (19 without a fraction)
}

// makeStamp formats t, which must be UTC-convertible with year 0..9999
// (usableTime). The fraction follows time.RFC3339Nano: trailing zeros
// dropped, no fraction when zero.
func makeStamp(t time.Time) (s stamp) {
	secs := t.Unix()
	days := secs / 86400
	sod := secs - days*86400
	if sod < 0 {
		sod += 86400
		days--
	}
	// Civil date from days since 1970-01-01 (proleptic Gregorian; the
	// era-based algorithm of H. Hinnant, "chrono-compatible low-level date
	// algorithms").
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
		y++
	}
	b := s.b[:0]
	b = append4(b, int(y))
	b = append(b, '-')
	b = append2(b, int(m))
	b = append(b, '-')
	b = append2(b, int(d))
	b = append(b, 'T')
	b = append2(b, int(sod/3600))
	b = append(b, ':')
	b = append2(b, int(sod/60%60))
	b = append(b, ':')
	b = append2(b, int(sod%60))
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		put3(frac[1:4], ns/1e6)
		put3(frac[4:7], ns/1e3%1000)
		put3(frac[7:10], ns%1000)
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	s.n = len(b)
	return s
}

// appendSeconds appends the whole-seconds form ("...:05Z").
func (s *stamp) appendSeconds(dst []byte) []byte {
	return append(append(dst, s.b[:19]...), 'Z')
}

// appendNano appends the full form ("...:05.123Z").
func (s *stamp) appendNano(dst []byte) []byte {
	return append(append(dst, s.b[:s.n]...), 'Z')
}

// appendTime appends t in RFC 3339 UTC: whole seconds when nano is false,
// otherwise as time.RFC3339Nano writes it.
func appendTime(dst []byte, t time.Time, nano bool) []byte {
	s := makeStamp(t)
	if nano {
		return s.appendNano(dst)
	}
	return s.appendSeconds(dst)
}

func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

func append4(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// usableTime reports whether t can be written by appendTime (and by
// time.Time.MarshalJSON): not zero, year 0..9999.
func usableTime(t time.Time) bool {
	if t.IsZero() {
		return false
	}
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}

// put3 writes v (0..999) as three decimal digits.
func put3(b []byte, v int) {
	_ = b[2]
	b[0] = byte('0' + v/100)
	b[1] = byte('0' + v/10%10)
	b[2] = byte('0' + v%10)
}

// b64Std is the standard base64 alphabet (RFC 4648 section 4).
const b64Std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// b64Pairs maps 12 bits to their two base64 characters (first in the high byte).
var b64Pairs = func() (t [4096]uint16) {
	for v := range t {
		t[v] = uint16(b64Std[v>>6])<<8 | uint16(b64Std[v&63])
	}
	return t
}()

// appendBase64 appends src in standard padded base64, exactly as
// base64.StdEncoding.AppendEncode does, two table lookups per 3 bytes.
func appendBase64(dst, src []byte) []byte {
	if len(src) == 0 {
		return dst
	}
	n, m := len(dst), (len(src)+2)/3*4
	dst = slices.Grow(dst, m)[:n+m]
	out := dst[n:]
	for len(src) >= 8 && len(out) >= 8 { // 6 bytes to 8 characters, one load and one store
		x := binary.BigEndian.Uint64(src)
		binary.BigEndian.PutUint64(out, uint64(b64Pairs[x>>52])<<48|uint64(b64Pairs[x>>40&0xFFF])<<32|
			uint64(b64Pairs[x>>28&0xFFF])<<16|uint64(b64Pairs[x>>16&0xFFF]))
		src, out = src[6:], out[8:]
	}
	for len(src) >= 3 && len(out) >= 4 {
		v := uint32(src[0])<<16 | uint32(src[1])<<8 | uint32(src[2])
		binary.BigEndian.PutUint32(out, uint32(b64Pairs[v>>12])<<16|uint32(b64Pairs[v&0xFFF]))
		src, out = src[3:], out[4:]
	}
	switch len(src) {
	case 1:
		p := b64Pairs[uint32(src[0])<<4]
		binary.BigEndian.PutUint32(out, uint32(p)<<16|'='<<8|'=')
	case 2:
		v := uint32(src[0])<<16 | uint32(src[1])<<8
		binary.BigEndian.PutUint32(out, uint32(b64Pairs[v>>12])<<16|uint32(b64Std[v>>6&63])<<8|'=')
	}
	return dst
}

// digits2 holds the two decimal digits of 0..99, in order.
const digits2 = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// appendUint appends v in decimal, exactly as strconv.AppendUint(dst, v, 10)
// does; values below 100000 (every 16-bit field) take a table path.
func appendUint(dst []byte, v uint64) []byte {
	switch {
	case v < 10:
		return append(dst, byte('0'+v))
	case v < 100:
		return append(dst, digits2[2*v], digits2[2*v+1])
	case v < 1000:
		lo := v % 100 * 2
		return append(dst, byte('0'+v/100), digits2[lo], digits2[lo+1])
	case v < 10000:
		hi, lo := v/100*2, v%100*2
		return append(dst, digits2[hi], digits2[hi+1], digits2[lo], digits2[lo+1])
	case v < 100000:
		r := v % 10000
		hi, lo := r/100*2, r%100*2
		return append(dst, byte('0'+v/10000), digits2[hi], digits2[hi+1], digits2[lo], digits2[lo+1])
	}
	return strconv.AppendUint(dst, v, 10)
}

// appendIPv4 appends a as a dotted quad, exactly as netip.Addr.AppendTo
// writes an IPv4 address.
func appendIPv4(dst []byte, a [4]byte) []byte {
	dst = appendUint(dst, uint64(a[0]))
	dst = append(dst, '.')
	dst = appendUint(dst, uint64(a[1]))
	dst = append(dst, '.')
	dst = appendUint(dst, uint64(a[2]))
	dst = append(dst, '.')
	return appendUint(dst, uint64(a[3]))
}
