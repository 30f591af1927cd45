package rule

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Path is a parsed EventBridge input-transformer JSON path: "$" followed by
// any number of ".key" and "[index]" steps, for example
// "$.detail.Source.IP" or "$.resources[0]". Keys are letters, digits, '_',
// '@' and '-' (the syntax internal/config accepts).
type Path struct {
	src   string
	steps []step
}

type step struct {
	key   string
	index int // used when key == "" (an array index)
}

// maxPathSteps bounds the steps of one path.
const maxPathSteps = 64

// ParsePath parses a JSON path.
func ParsePath(s string) (Path, error) {
	if s == "" || s[0] != '$' {
		return Path{}, fmt.Errorf("invalid path %q: must start with $", s)
	}
	p := Path{src: s}
	for i := 1; i < len(s); {
		if len(p.steps) == maxPathSteps {
			return Path{}, fmt.Errorf("invalid path %q: more than %d steps", s, maxPathSteps)
		}
		switch s[i] {
		case '.':
			j := i + 1
			for j < len(s) && isKeyByte(s[j]) {
				j++
			}
			if j == i+1 {
				return Path{}, fmt.Errorf("invalid path %q: empty or invalid key at offset %d", s, i+1)
			}
			p.steps = append(p.steps, step{key: s[i+1 : j]})
			i = j
		case '[':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i+1 || j >= len(s) || s[j] != ']' {
				return Path{}, fmt.Errorf("invalid path %q: want [index] at offset %d", s, i)
			}
			n, err := strconv.Atoi(s[i+1 : j])
			if err != nil || n > 1<<20 {
				return Path{}, fmt.Errorf("invalid path %q: index out of range at offset %d", s, i)
			}
			p.steps = append(p.steps, step{index: n})
			i = j + 1
		default:
			return Path{}, fmt.Errorf("invalid path %q: unexpected %q at offset %d", s, s[i], i)
		}
	}
	return p, nil
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '@'
}

// String returns the path as written.
func (p Path) String() string { return p.src }

// Lookup returns the raw JSON text of the value p selects in doc, and false
// when the document has no such value or is not valid JSON along the way.
// It allocates nothing for documents whose keys hold no escapes.
func (p Path) Lookup(doc []byte) ([]byte, bool) {
	i := skipWS(doc, 0)
	for _, st := range p.steps {
		if i >= len(doc) {
			return nil, false
		}
		var ok bool
		if st.key != "" {
			i, ok = findKey(doc, i, st.key)
		} else {
			i, ok = findIndex(doc, i, st.index)
		}
		if !ok {
			return nil, false
		}
	}
	end, ok := skipValue(doc, i, 0)
	if !ok {
		return nil, false
	}
	return doc[i:end], true
}

// maxJSONDepth bounds nesting while skipping values.
const maxJSONDepth = 512

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"',
// and whether it holds a backslash escape.
func skipString(b []byte, i int) (end int, escaped, ok bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped, true
		}
	}
	return 0, false, false
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxJSONDepth {
		return 0, false
	}
	switch b[i] {
	case '"':
		end, _, ok := skipString(b, i)
		return end, ok
	case '{':
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return 0, false
			}
			end, _, ok := skipString(b, i)
			if !ok {
				return 0, false
			}
			i = skipWS(b, end)
			if i >= len(b) || b[i] != ':' {
				return 0, false
			}
			i, ok = skipValue(b, skipWS(b, i+1), depth+1)
			if !ok {
				return 0, false
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return 0, false
			}
			if b[i] == '}' {
				return i + 1, true
			}
			if b[i] != ',' {
				return 0, false
			}
			i = skipWS(b, i+1)
		}
	case '[':
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			i, ok = skipValue(b, i, depth+1)
			if !ok {
				return 0, false
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return 0, false
			}
			if b[i] == ']' {
				return i + 1, true
			}
			if b[i] != ',' {
				return 0, false
			}
			i = skipWS(b, i+1)
		}
	default:
		j := i
		for j < len(b) {
			c := b[j]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				break
			}
			if c == '"' || c == '{' || c == '[' || c == ':' {
				return 0, false
			}
			j++
		}
		if j == i {
			return 0, false
		}
		return j, true
	}
}

// findKey returns the start of the value of member key in the object at b[i].
func findKey(b []byte, i int, key string) (int, bool) {
	if b[i] != '{' {
		return 0, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return 0, false
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		end, escaped, ok := skipString(b, i)
		if !ok {
			return 0, false
		}
		raw := b[i+1 : end-1]
		var match bool
		if escaped {
			match = string(appendUnescaped(nil, raw)) == key
		} else {
			match = string(raw) == key
		}
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		i = skipWS(b, i+1)
		if match {
			return i, true
		}
		i, ok = skipValue(b, i, 1)
		if !ok {
			return 0, false
		}
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ',' {
			return 0, false
		}
		i = skipWS(b, i+1)
	}
}

// findIndex returns the start of element n of the array at b[i].
func findIndex(b []byte, i, n int) (int, bool) {
	if b[i] != '[' {
		return 0, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return 0, false
	}
	for k := 0; ; k++ {
		if k == n {
			return i, i < len(b)
		}
		var ok bool
		i, ok = skipValue(b, i, 1)
		if !ok {
			return 0, false
		}
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ',' {
			return 0, false
		}
		i = skipWS(b, i+1)
	}
}

// appendUnescaped appends the decoded content of a JSON string literal
// (without its quotes). Invalid escapes are copied as they are.
func appendUnescaped(dst, raw []byte) []byte {
	if bytes.IndexByte(raw, '\\') < 0 {
		return append(dst, raw...)
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 >= len(raw) {
			dst = append(dst, c)
			continue
		}
		i++
		switch raw[i] {
		case '"', '\\', '/':
			dst = append(dst, raw[i])
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
			r, n := decodeU(raw[i+1:])
			if n == 0 {
				dst = append(dst, '\\', 'u')
				continue
			}
			i += n
			if utf16.IsSurrogate(r) {
				if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if r2, n2 := decodeU(raw[i+3:]); n2 > 0 {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							i += 2 + n2
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = append(dst, '\\', raw[i])
		}
	}
	return dst
}

func decodeU(b []byte) (rune, int) {
	if len(b) < 4 {
		return 0, 0
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, 0
		}
	}
	return r, 4
}

// appendEscaped appends s escaped for the inside of a JSON string literal.
func appendEscaped(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
