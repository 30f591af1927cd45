// The JSON string scanner and escaper of wirebridge, in package pattern so
// that pattern still imports nothing but the standard library: pattern's own
// streaming reader (matching events given as JSON) scans strings and decodes
// their escapes here; internal/transform finds values by JSON path and skips
// the rest with JSONSkipValue, decodes strings with AppendJSONUnquoted and
// escapes text with AppendJSONEscaped; internal/event encodes every string of
// the event JSON with AppendJSONString, and the targets write text bodies as
// JSON strings the same way.
//
// Scanning is strict (RFC 8259): control characters inside strings, bad
// escapes and bad literals are syntax errors, reported with their byte offset.
// Escaping writes exactly what encoding/json writes.

package pattern

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// syntaxError is malformed JSON at byte Offset of the input.
type syntaxError struct {
	Offset int
	Msg    string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid json at byte %d: %s", e.Offset, e.Msg)
}

// jsonSpace reports the JSON whitespace bytes.
var jsonSpace = func() (t [256]bool) {
	for _, c := range []byte(" \t\n\r") {
		t[c] = true
	}
	return
}()

// strPlain holds the bytes a string holds as they are (not '"', '\\' or a
// control character).
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()

// JSONSkipSpace returns the index of the first byte at or after i that is not
// JSON whitespace, or len(b).
func JSONSkipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && jsonSpace[b[i]] {
		i++
	}
	return i
}

// plainRun returns the index of the first byte at or after i that a JSON
// string does not hold as it is ('"', '\\' or a control character), or
// len(b). It tests eight bytes at a time: a byte equal to c is a zero byte of
// x^c*lo, a byte below 0x20 one where x-0x20*lo borrows without the byte's
// high bit set; the lowest flagged byte of each test is exact.
func plainRun(b []byte, i int) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ ('"' * lo)
		e := x ^ ('\\' * lo)
		if t := ((q - lo) &^ q) | ((e - lo) &^ e) | ((x - 0x20*lo) &^ x); t&hi != 0 {
			return i + bits.TrailingZeros64(t&hi)>>3
		}
		i += 8
	}
	for i < len(b) && strPlain[b[i]] {
		i++
	}
	return i
}

// JSONSkipString returns the index after the string whose opening quote is at
// b[i], and whether it holds a backslash escape, checking its escapes.
func JSONSkipString(b []byte, i int) (end int, escaped bool, err error) {
	i++ // the opening '"'
	for i < len(b) {
		i = plainRun(b, i)
		if i >= len(b) {
			break
		}
		switch b[i] {
		case '"':
			return i + 1, escaped, nil
		case '\\':
			escaped = true
			if i+1 >= len(b) {
				return len(b), escaped, errUnexpectedEnd
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(b, i+2); !ok {
					return i + 2, escaped, &syntaxError{i + 2, "invalid \\u escape"}
				}
				i += 6
			default:
				return i + 1, escaped, &syntaxError{i + 1, "invalid escape"}
			}
		default:
			return i, escaped, &syntaxError{i, "control character in string"}
		}
	}
	return len(b), escaped, errUnexpectedEnd
}

// AppendJSONUnquoted decodes the string whose opening quote is at b[i], appends
// its content to dst and returns the index after its closing quote. A lone
// or invalid UTF-16 surrogate becomes U+FFFD, as in encoding/json; bytes that
// are not UTF-8 are copied as they are (encoding/json replaces them).
func AppendJSONUnquoted(dst, b []byte, i int) ([]byte, int, error) {
	i++ // the opening '"'
	for i < len(b) {
		start := i
		i = plainRun(b, i)
		dst = append(dst, b[start:i]...)
		if i >= len(b) {
			break
		}
		c := b[i]
		if c == '"' {
			return dst, i + 1, nil
		}
		if c < 0x20 {
			return dst, i, &syntaxError{i, "control character in string"}
		}
		if i+1 >= len(b) {
			return dst, len(b), errUnexpectedEnd
		}
		e := b[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(b, i)
			if !ok {
				return dst, i, &syntaxError{i, "invalid \\u escape"}
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if r2, ok := hex4(b, i+2); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							i += 6
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, i - 1, &syntaxError{i - 1, "invalid escape"}
		}
	}
	return dst, len(b), errUnexpectedEnd
}

func hex4(b []byte, i int) (rune, bool) {
	if len(b)-i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// numChar reports the bytes a JSON number literal is made of; a reader
// takes a run of them as one literal and checks it with isJSONNumber.
var numChar = func() (t [256]bool) {
	for _, c := range []byte("0123456789+-.eE") {
		t[c] = true
	}
	return
}()

// isJSONNumber reports whether lit is a JSON number (RFC 8259 grammar).
func isJSONNumber(lit []byte) bool {
	i := 0
	if i < len(lit) && lit[i] == '-' {
		i++
	}
	switch {
	case i < len(lit) && lit[i] == '0':
		i++
	case i < len(lit) && lit[i] >= '1' && lit[i] <= '9':
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(lit) && lit[i] == '.' {
		i++
		if i >= len(lit) || lit[i] < '0' || lit[i] > '9' {
			return false
		}
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			i++
		}
	}
	if i < len(lit) && (lit[i] == 'e' || lit[i] == 'E') {
		i++
		if i < len(lit) && (lit[i] == '+' || lit[i] == '-') {
			i++
		}
		if i >= len(lit) || lit[i] < '0' || lit[i] > '9' {
			return false
		}
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			i++
		}
	}
	return i == len(lit)
}

// jsonLiteral checks the literal word (true, false or null) at b[i] and returns
// the index after it.
func jsonLiteral(b []byte, i int, word string) (int, error) {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return i, &syntaxError{i, "invalid literal"}
	}
	return i + len(word), nil
}

// JSONSkipValue returns the index after the JSON value starting at b[i] (no
// whitespace before it), checking it on the way. depth is the nesting of the
// value (0 for a document's top-level value); deeper than MaxEventDepth is an
// error.
func JSONSkipValue(b []byte, i, depth int) (int, error) {
	if depth > MaxEventDepth {
		return i, &syntaxError{i, "nesting too deep"}
	}
	if i >= len(b) {
		return i, errUnexpectedEnd
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := JSONSkipString(b, i)
		return end, err
	case c == '{':
		return jsonSkipContainer(b, i, depth, '}', true)
	case c == '[':
		return jsonSkipContainer(b, i, depth, ']', false)
	case c == 't':
		return jsonLiteral(b, i, "true")
	case c == 'f':
		return jsonLiteral(b, i, "false")
	case c == 'n':
		return jsonLiteral(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		j := i
		for j < len(b) && numChar[b[j]] {
			j++
		}
		if !isJSONNumber(b[i:j]) {
			return i, &syntaxError{i, "invalid number"}
		}
		return j, nil
	}
	return i, &syntaxError{i, fmt.Sprintf("unexpected character %q", b[i])}
}

// jsonSkipContainer skips the object (members true) or array at b[i].
func jsonSkipContainer(b []byte, i, depth int, closer byte, members bool) (int, error) {
	i = JSONSkipSpace(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, nil
	}
	for {
		var err error
		if members {
			if i, err = jsonSkipMember(b, i); err != nil {
				return i, err
			}
		}
		if i, err = JSONSkipValue(b, i, depth+1); err != nil {
			return i, err
		}
		var more bool
		if i, more, err = JSONNext(b, i, closer); err != nil || !more {
			return i, err
		}
	}
}

// jsonSkipMember checks the "key": of an object member starting at b[i] and
// returns the index of its value (after the colon and any whitespace).
func jsonSkipMember(b []byte, i int) (int, error) {
	if i >= len(b) {
		return i, errUnexpectedEnd
	}
	if b[i] != '"' {
		return i, &syntaxError{i, "expected a string key"}
	}
	end, _, err := JSONSkipString(b, i)
	if err != nil {
		return end, err
	}
	return JSONColon(b, end)
}

// JSONColon checks for the ':' after an object key ending at b[i] (whitespace
// allowed around it) and returns the index of the value after it.
func JSONColon(b []byte, i int) (int, error) {
	i = JSONSkipSpace(b, i)
	if i >= len(b) {
		return i, errUnexpectedEnd
	}
	if b[i] != ':' {
		return i, &syntaxError{i, "expected ':'"}
	}
	return JSONSkipSpace(b, i+1), nil
}

// JSONNext reads what follows an element of an object (closer '}') or array
// (closer ']') ending at b[i]: after a ',' it returns the index of the next
// element and more; after the closer, the index after it.
func JSONNext(b []byte, i int, closer byte) (next int, more bool, err error) {
	i = JSONSkipSpace(b, i)
	if i >= len(b) {
		return i, false, errUnexpectedEnd
	}
	switch b[i] {
	case ',':
		return JSONSkipSpace(b, i+1), true, nil
	case closer:
		return i + 1, false, nil
	}
	return i, false, &syntaxError{i, "expected ',' or '" + string(closer) + "'"}
}

// AppendJSONString appends s as a quoted JSON string, escaped as encoding/json
// escapes it: control characters, '"' and '\\' (with the short forms \b \f
// \n \r \t where JSON has them), U+2028 and U+2029; invalid UTF-8 becomes
// U+FFFD. With html it also escapes the HTML-sensitive '<', '>' and '&', as
// encoding/json does by default; without, text keeps them as written.
func AppendJSONString(dst []byte, s string, html bool) []byte {
	dst = append(dst, '"')
	dst = AppendJSONEscaped(dst, s, html)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// AppendJSONEscaped appends s escaped as AppendJSONString does, without the quotes.
func AppendJSONEscaped(dst []byte, s string, html bool) []byte {
	safe := &textSafe
	if html {
		safe = &htmlSafe
	}
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// textSafe reports the ASCII bytes that appear unescaped in a JSON string;
// htmlSafe the same without '<', '>' and '&'.
var textSafe, htmlSafe = func() (text, html [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		text[b] = true
	}
	text['"'], text['\\'] = false, false
	html = text
	html['<'], html['>'], html['&'] = false, false, false
	return text, html
}()
