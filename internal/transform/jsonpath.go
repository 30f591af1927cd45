package transform

import (
	syntax "github.com/wirebridge/wirebridge/internal/names"
	"github.com/wirebridge/wirebridge/pattern"
)

// Path is a parsed EventBridge input-transformer JSON path: "$" followed by
// any number of ".key" and "[index]" steps, for example
// "$.detail.Source.IP" or "$.resources[0]". The syntax is names.ParsePath,
// which internal/config checks too.
type Path struct {
	src   string
	steps []step
}

type step struct {
	key   string
	index int // used when key == "" (an array index)
}

// ParsePath parses a JSON path.
func ParsePath(s string) (Path, error) {
	ns, err := syntax.ParsePath(s)
	if err != nil {
		return Path{}, err
	}
	p := Path{src: s, steps: make([]step, len(ns))}
	for i, st := range ns {
		p.steps[i] = step{key: st.Key, index: st.Index}
	}
	return p, nil
}

// String returns the path as written.
func (p Path) String() string { return p.src }

// Lookup returns the raw JSON text of the value p selects in doc, and false
// when the document has no such value or is not valid JSON along the way.
// It allocates nothing for documents whose keys hold no escapes (nor for
// escaped keys up to 64 bytes).
func (p Path) Lookup(doc []byte) ([]byte, bool) {
	i := pattern.JSONSkipSpace(doc, 0)
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
	end, err := pattern.JSONSkipValue(doc, i, 0)
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
	i = pattern.JSONSkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return 0, false
	}
	var buf [64]byte
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		end, escaped, err := pattern.JSONSkipString(b, i)
		if err != nil {
			return 0, false
		}
		var match bool
		if escaped {
			k, _, err := pattern.AppendJSONUnquoted(buf[:0], b, i)
			match = err == nil && string(k) == key
		} else {
			match = string(b[i+1:end-1]) == key
		}
		if i, err = pattern.JSONColon(b, end); err != nil {
			return 0, false
		}
		if match {
			return i, true
		}
		if i, err = pattern.JSONSkipValue(b, i, 1); err != nil {
			return 0, false
		}
		var more bool
		if i, more, err = pattern.JSONNext(b, i, '}'); err != nil || !more {
			return 0, false
		}
	}
}

// findIndex returns the start of element n of the array at b[i].
func findIndex(b []byte, i, n int) (int, bool) {
	if i >= len(b) || b[i] != '[' {
		return 0, false
	}
	i = pattern.JSONSkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return 0, false
	}
	for k := 0; ; k++ {
		if k == n {
			return i, i < len(b)
		}
		var err error
		if i, err = pattern.JSONSkipValue(b, i, 1); err != nil {
			return 0, false
		}
		var more bool
		if i, more, err = pattern.JSONNext(b, i, ']'); err != nil || !more {
			return 0, false
		}
	}
}
