package pattern

import (
	"net/netip"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// canonNumber appends to dst the canonical decimal form of the JSON number
// literal lit: optional '-', the significant digits without leading or
// trailing zeros, 'e' and the decimal exponent of the first digit. Two
// literals denote the same decimal value exactly when their canonical forms
// are equal (300, 3.0e2 and 300.0 all give "3e2"). ok is false when lit is not
// a JSON number.
func canonNumber(dst []byte, lit []byte) ([]byte, bool) {
	if !isJSONNumber(lit) {
		return dst, false
	}
	// The grammar holds: collect the digits and the exponent.
	start := len(dst)
	i := 0
	if lit[0] == '-' {
		dst = append(dst, '-')
		i++
	}
	digStart := len(dst)
	intDigits := 0
	for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
		dst = append(dst, lit[i])
		intDigits++
		i++
	}
	if i < len(lit) && lit[i] == '.' {
		for i++; i < len(lit) && lit[i] >= '0' && lit[i] <= '9'; i++ {
			dst = append(dst, lit[i])
		}
	}
	exp := 0
	if i < len(lit) { // 'e' or 'E', an optional sign, digits
		i++
		eneg := lit[i] == '-'
		if lit[i] == '+' || lit[i] == '-' {
			i++
		}
		for ; i < len(lit); i++ {
			if exp < 1_000_000_000 {
				exp = exp*10 + int(lit[i]-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	digits := dst[digStart:]
	z := 0
	for z < len(digits) && digits[z] == '0' {
		z++
	}
	if z == len(digits) {
		return append(dst[:start], '0'), true
	}
	e := intDigits - 1 - z + exp
	n := copy(digits, digits[z:])
	dst = dst[:digStart+n]
	for dst[len(dst)-1] == '0' {
		dst = dst[:len(dst)-1]
	}
	dst = append(dst, 'e')
	dst = strconv.AppendInt(dst, int64(e), 10)
	return dst, true
}

// numberKey appends to dst the key under which the number literal lit is
// compared for equality, and reports whether it is the canonical decimal form
// (exact=true) or the literal text itself: a literal float64 cannot represent
// exactly (more than 17 significant digits, out of range) is compared as text.
// f is the float64 value of lit, ok false when lit does not parse as a finite
// float64.
func numberKey(dst []byte, lit []byte) (key []byte, exact bool, f float64, ok bool) {
	start := len(dst)
	if k, f, ok := smallInt(dst, lit); ok {
		return k, true, f, true
	}
	dst, valid := canonNumber(dst, lit)
	if !valid {
		return dst[:start], false, 0, false
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return append(dst[:start], lit...), false, 0, false
	}
	// The value is exact when the shortest float64 repr denotes the same decimal.
	var tmp [40]byte
	repr := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	var tmp2 [48]byte
	c2, _ := canonNumber(tmp2[:0], repr)
	if string(c2) != string(dst[start:]) {
		return append(dst[:start], lit...), false, f, true
	}
	return dst, true, f, true
}

// parseIP parses s as an IPv4 address (four decimal parts of 1-3 digits, so
// leading zeros are accepted: "10.0.0.001" is 10.0.0.1) or an IPv6 address
// without zone. ok is false for anything else.
func parseIP(s []byte) (netip.Addr, bool) {
	if len(s) < 2 || len(s) > 45 {
		return netip.Addr{}, false
	}
	dots, colon := 0, false
	for _, c := range s {
		switch {
		case c == '.':
			dots++
		case c == ':':
			colon = true
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return netip.Addr{}, false
		}
	}
	if !colon {
		if dots != 3 {
			return netip.Addr{}, false
		}
		var b [4]byte
		part, n, v := 0, 0, 0
		for i := 0; i <= len(s); i++ {
			if i == len(s) || s[i] == '.' {
				if n == 0 || v > 255 {
					return netip.Addr{}, false
				}
				b[part] = byte(v)
				part++
				n, v = 0, 0
				continue
			}
			c := s[i]
			if c < '0' || c > '9' || n == 3 {
				return netip.Addr{}, false
			}
			v = v*10 + int(c-'0')
			n++
		}
		return netip.AddrFrom4(b), true
	}
	var buf [45]byte
	n := copy(buf[:], s)
	a, err := netip.ParseAddr(string(buf[:n]))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// foldRune maps r to the smallest rune of its Unicode simple case folding
// orbit, so two runes are equal under simple folding exactly when their
// foldRune values are equal.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < m {
			m = f
		}
	}
	return m
}

// appendFold appends the case-folded form of s to dst (see foldRune). Invalid
// UTF-8 bytes are copied unchanged.
func appendFold(dst []byte, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, c)
			i++
			continue
		}
		dst = utf8.AppendRune(dst, foldRune(r))
		i += size
	}
	return dst
}

func foldString(s string) string { return string(appendFold(nil, []byte(s))) }

// wildcard is a compiled wildcard value: literal segments separated by '*'.
type wildcard struct {
	segs []string // len(segs) == stars+1
}

func (w *wildcard) match(v []byte) bool {
	segs := w.segs
	if len(segs) == 1 {
		return string(v) == segs[0]
	}
	first, last := segs[0], segs[len(segs)-1]
	if len(v) < len(first)+len(last) || string(v[:len(first)]) != first || string(v[len(v)-len(last):]) != last {
		return false
	}
	rest := v[len(first) : len(v)-len(last)]
	for _, s := range segs[1 : len(segs)-1] {
		i := indexBytes(rest, s)
		if i < 0 {
			return false
		}
		rest = rest[i+len(s):]
	}
	return true
}

func indexBytes(b []byte, s string) int {
	if len(s) == 0 {
		return 0
	}
	for i := 0; i+len(s) <= len(b); i++ {
		if b[i] == s[0] && string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}

// smallInt is numberKey's fast path for integer literals of at most 15
// digits, which float64 represents exactly.
func smallInt(dst []byte, lit []byte) ([]byte, float64, bool) {
	i := 0
	if len(lit) > 0 && lit[0] == '-' {
		i = 1
	}
	n := len(lit) - i
	if n == 0 || n > 15 || (lit[i] == '0' && n > 1) {
		return dst, 0, false
	}
	var v int64
	for _, c := range lit[i:] {
		if c < '0' || c > '9' {
			return dst, 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if v == 0 {
		return append(dst, '0'), 0, true
	}
	if i == 1 {
		dst = append(dst, '-')
	}
	// Significant digits without trailing zeros, exponent n-1.
	end := len(lit)
	for lit[end-1] == '0' {
		end--
	}
	dst = append(dst, lit[i:end]...)
	dst = append(dst, 'e')
	dst = strconv.AppendInt(dst, int64(n-1), 10)
	f := float64(v)
	if i == 1 {
		f = -f
	}
	return dst, f, true
}
