package rule

import (
	"fmt"
	"strconv"

	"github.com/wirebridge/wirebridge/pattern/jsontext"
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
// It allocates nothing for documents whose keys hold no escapes (nor for
// escaped keys up to 64 bytes).
func (p Path) Lookup(doc []byte) ([]byte, bool) {
	i := jsontext.SkipSpace(doc, 0)
	for _, st := range p.steps {
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
	end, err := jsontext.SkipValue(doc, i, 0)
	if err != nil {
		return nil, false
	}
	return doc[i:end], true
}

// findKey returns the start of the value of member key in the object at b[i].
func findKey(b []byte, i int, key string) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	i = jsontext.SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return 0, false
	}
	var buf [64]byte
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		end, escaped, err := jsontext.SkipString(b, i)
		if err != nil {
			return 0, false
		}
		var match bool
		if escaped {
			k, _, err := jsontext.AppendUnquoted(buf[:0], b, i)
			match = err == nil && string(k) == key
		} else {
			match = string(b[i+1:end-1]) == key
		}
		if i, err = jsontext.Colon(b, end); err != nil {
			return 0, false
		}
		if match {
			return i, true
		}
		if i, err = jsontext.SkipValue(b, i, 1); err != nil {
			return 0, false
		}
		var more bool
		if i, more, err = jsontext.Next(b, i, '}'); err != nil || !more {
			return 0, false
		}
	}
}

// findIndex returns the start of element n of the array at b[i].
func findIndex(b []byte, i, n int) (int, bool) {
	if i >= len(b) || b[i] != '[' {
		return 0, false
	}
	i = jsontext.SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return 0, false
	}
	for k := 0; ; k++ {
		if k == n {
			return i, i < len(b)
		}
		var err error
		if i, err = jsontext.SkipValue(b, i, 1); err != nil {
			return 0, false
		}
		var more bool
		if i, more, err = jsontext.Next(b, i, ']'); err != nil || !more {
			return 0, false
		}
	}
}
