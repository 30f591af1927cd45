// Package jsontext is the one JSON string scanner and escaper of wirebridge:
// the small, allocation-free pieces every reader and writer of event JSON
// shares.
//
//   - pattern's streaming JSON reader (matching events given as JSON) scans
//     strings and decodes their escapes here;
//   - internal/rule's input transformers find values by JSON path and skip
//     the rest with SkipValue, decode string values with AppendUnquoted and
//     escape text with AppendEscaped;
//   - internal/event encodes every string of the event JSON with AppendQuoted,
//     and the targets write text bodies as JSON strings the same way.
//
// It sits beside the data path, under the public pattern package so that
// pattern keeps importing nothing but the standard library (this package
// imports only the standard library too).
//
// Scanning is strict (RFC 8259): control characters inside strings, bad
// escapes and bad literals are syntax errors, reported with their byte offset.
// Escaping writes exactly what encoding/json writes.
package jsontext

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrUnexpectedEnd is returned when the input ends inside a value.
var ErrUnexpectedEnd = errors.New("unexpected end of input")

// SyntaxError is malformed JSON at byte Offset of the input.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid json at byte %d: %s", e.Offset, e.Msg)
}

// MaxDepth is the deepest nesting of objects and arrays SkipValue accepts.
const MaxDepth = 512

// Space reports the JSON whitespace bytes.
var Space = func() (t [256]bool) {
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

// SkipSpace returns the index of the first byte at or after i that is not
// JSON whitespace, or len(b).
func SkipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && Space[b[i]] {
		i++
	}
	return i
}

// PlainRun returns the index of the first byte at or after i that a JSON
// string does not hold as it is ('"', '\\' or a control character), or
// len(b). It tests eight bytes at a time: a byte equal to c is a zero byte of
// x^c*lo, a byte below 0x20 one where x-0x20*lo borrows without the byte's
// high bit set; the lowest flagged byte of each test is exact.
func PlainRun(b []byte, i int) int {
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

// SkipString returns the index after the string whose opening quote is at
// b[i], and whether it holds a backslash escape, checking its escapes.
func SkipString(b []byte, i int) (end int, escaped bool, err error) {
	i++ // the opening '"'
	for i < len(b) {
		i = PlainRun(b, i)
		if i >= len(b) {
			break
		}
		switch b[i] {
		case '"':
			return i + 1, escaped, nil
		case '\\':
			escaped = true
			if i+1 >= len(b) {
				return len(b), escaped, ErrUnexpectedEnd
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(b, i+2); !ok {
					return i + 2, escaped, &SyntaxError{i + 2, "invalid \\u escape"}
				}
				i += 6
			default:
				return i + 1, escaped, &SyntaxError{i + 1, "invalid escape"}
			}
		default:
			return i, escaped, &SyntaxError{i, "control character in string"}
		}
	}
	return len(b), escaped, ErrUnexpectedEnd
}

// AppendUnquoted decodes the string whose opening quote is at b[i], appends
// its content to dst and returns the index after its closing quote. A lone
// or invalid UTF-16 surrogate becomes U+FFFD, as in encoding/json; bytes that
// are not UTF-8 are copied as they are (encoding/json replaces them).
func AppendUnquoted(dst, b []byte, i int) ([]byte, int, error) {
	i++ // the opening '"'
	for i < len(b) {
		start := i
		i = PlainRun(b, i)
		dst = append(dst, b[start:i]...)
		if i >= len(b) {
			break
		}
		c := b[i]
		if c == '"' {
			return dst, i + 1, nil
		}
		if c < 0x20 {
			return dst, i, &SyntaxError{i, "control character in string"}
		}
		if i+1 >= len(b) {
			return dst, len(b), ErrUnexpectedEnd
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
				return dst, i, &SyntaxError{i, "invalid \\u escape"}
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
			return dst, i - 1, &SyntaxError{i - 1, "invalid escape"}
		}
	}
	return dst, len(b), ErrUnexpectedEnd
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

// NumberByte reports the bytes a JSON number literal is made of; a reader
// takes a run of them as one literal and checks it with IsNumber.
var NumberByte = func() (t [256]bool) {
	for _, c := range []byte("0123456789+-.eE") {
		t[c] = true
	}
	return
}()

// IsNumber reports whether lit is a JSON number (RFC 8259 grammar).
func IsNumber(lit []byte) bool {
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

// Literal checks the literal word (true, false or null) at b[i] and returns
// the index after it.
func Literal(b []byte, i int, word string) (int, error) {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return i, &SyntaxError{i, "invalid literal"}
	}
	return i + len(word), nil
}

// SkipValue returns the index after the JSON value starting at b[i] (no
// whitespace before it), checking it on the way. depth is the nesting of the
// value (0 for a document's top-level value); deeper than MaxDepth is an
// error.
func SkipValue(b []byte, i, depth int) (int, error) {
	if depth > MaxDepth {
		return i, &SyntaxError{i, "nesting too deep"}
	}
	if i >= len(b) {
		return i, ErrUnexpectedEnd
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := SkipString(b, i)
		return end, err
	case c == '{':
		return skipContainer(b, i, depth, '}', true)
	case c == '[':
		return skipContainer(b, i, depth, ']', false)
	case c == 't':
		return Literal(b, i, "true")
	case c == 'f':
		return Literal(b, i, "false")
	case c == 'n':
		return Literal(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		j := i
		for j < len(b) && NumberByte[b[j]] {
			j++
		}
		if !IsNumber(b[i:j]) {
			return i, &SyntaxError{i, "invalid number"}
		}
		return j, nil
	}
	return i, &SyntaxError{i, fmt.Sprintf("unexpected character %q", b[i])}
}

// skipContainer skips the object (members true) or array at b[i].
func skipContainer(b []byte, i, depth int, closer byte, members bool) (int, error) {
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, nil
	}
	for {
		var err error
		if members {
			if i, err = SkipMember(b, i); err != nil {
				return i, err
			}
		}
		if i, err = SkipValue(b, i, depth+1); err != nil {
			return i, err
		}
		var more bool
		if i, more, err = Next(b, i, closer); err != nil || !more {
			return i, err
		}
	}
}

// SkipMember checks the "key": of an object member starting at b[i] and
// returns the index of its value (after the colon and any whitespace).
func SkipMember(b []byte, i int) (int, error) {
	if i >= len(b) {
		return i, ErrUnexpectedEnd
	}
	if b[i] != '"' {
		return i, &SyntaxError{i, "expected a string key"}
	}
	end, _, err := SkipString(b, i)
	if err != nil {
		return end, err
	}
	return Colon(b, end)
}

// Colon checks for the ':' after an object key ending at b[i] (whitespace
// allowed around it) and returns the index of the value after it.
func Colon(b []byte, i int) (int, error) {
	i = SkipSpace(b, i)
	if i >= len(b) {
		return i, ErrUnexpectedEnd
	}
	if b[i] != ':' {
		return i, &SyntaxError{i, "expected ':'"}
	}
	return SkipSpace(b, i+1), nil
}

// Next reads what follows an element of an object (closer '}') or array
// (closer ']') ending at b[i]: after a ',' it returns the index of the next
// element and more; after the closer, the index after it.
func Next(b []byte, i int, closer byte) (next int, more bool, err error) {
	i = SkipSpace(b, i)
	if i >= len(b) {
		return i, false, ErrUnexpectedEnd
	}
	switch b[i] {
	case ',':
		return SkipSpace(b, i+1), true, nil
	case closer:
		return i + 1, false, nil
	}
	return i, false, &SyntaxError{i, "expected ',' or '" + string(closer) + "'"}
}

// AppendQuoted appends s as a quoted JSON string, escaped as encoding/json
// escapes it: control characters, '"' and '\\' (with the short forms \b \f
// \n \r \t where JSON has them), U+2028 and U+2029; invalid UTF-8 becomes
// U+FFFD. With html it also escapes the HTML-sensitive '<', '>' and '&', as
// encoding/json does by default; without, text keeps them as written.
func AppendQuoted(dst []byte, s string, html bool) []byte {
	dst = append(dst, '"')
	dst = AppendEscaped(dst, s, html)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// AppendEscaped appends s escaped as AppendQuoted does, without the quotes.
func AppendEscaped(dst []byte, s string, html bool) []byte {
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
