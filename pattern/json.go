package pattern

import (
	"errors"
	"fmt"
)

// MaxEventDepth is the deepest nesting of objects and arrays MatchJSON
// accepts in an event.
const MaxEventDepth = 512

var errUnexpectedEnd = errors.New("unexpected end of input")

// flattener is a streaming JSON reader that records only the leaf values at
// field paths some pattern uses, skipping everything else without
// materialising it.
type flattener struct {
	s   *scratch
	b   []byte
	i   int
	key []byte
}

func (s *scratch) flatten(event []byte) error {
	f := flattener{s: s, b: event, key: s.keyBuf[:0]}
	defer func() { s.keyBuf = f.key }()
	f.ws()
	if err := f.value(s.snap.trie, 0); err != nil {
		return err
	}
	f.ws()
	if f.i != len(f.b) {
		return &syntaxError{Offset: f.i, Msg: "data after the top-level value"}
	}
	return nil
}

func (f *flattener) ws() { f.i = JSONSkipSpace(f.b, f.i) }

func (f *flattener) value(n *pnode, depth int) error {
	if depth > MaxEventDepth {
		return &syntaxError{Offset: f.i, Msg: "nesting too deep"}
	}
	if f.i >= len(f.b) {
		return errUnexpectedEnd
	}
	leaf := n != nil && n.field >= 0
	switch c := f.b[f.i]; {
	case c == '{':
		return f.object(n, depth)
	case c == '[':
		return f.array(n, depth)
	case c == '"':
		if !leaf {
			return f.skipString()
		}
		f.s.curFld = n.field
		v := f.s.pushValue(vString)
		start := len(f.s.buf)
		var err error
		f.s.buf, err = f.str(f.s.buf)
		v = &f.s.vals[len(f.s.vals)-1]
		v.n = int32(len(f.s.buf) - start)
		return err
	case c == 't':
		return f.lit("true", n, vTrue)
	case c == 'f':
		return f.lit("false", n, vFalse)
	case c == 'n':
		return f.lit("null", n, vNull)
	case c == '-' || (c >= '0' && c <= '9'):
		start := f.i
		b, i := f.b, f.i
		for i < len(b) && numChar[b[i]] {
			i++
		}
		f.i = i
		lit := b[start:i]
		if !isJSONNumber(lit) {
			return &syntaxError{Offset: start, Msg: "invalid number"}
		}
		if leaf {
			f.s.curFld = n.field
			f.s.addValue(vNumber, lit)
		}
		return nil
	}
	return &syntaxError{Offset: f.i, Msg: fmt.Sprintf("unexpected character %q", f.b[f.i])}
}

func (f *flattener) lit(word string, n *pnode, k vkind) error {
	end, err := jsonLiteral(f.b, f.i, word)
	if err != nil {
		return err
	}
	f.i = end
	if n != nil && n.field >= 0 {
		f.s.curFld = n.field
		f.s.addValue(k, nil)
	}
	return nil
}

func (f *flattener) object(n *pnode, depth int) error {
	f.i++ // '{'
	f.ws()
	if f.i < len(f.b) && f.b[f.i] == '}' {
		f.i++
		return nil
	}
	for {
		f.ws()
		if f.i >= len(f.b) {
			return errUnexpectedEnd
		}
		if f.b[f.i] != '"' {
			return &syntaxError{Offset: f.i, Msg: "expected a string key"}
		}
		var child *pnode
		if n != nil && n.children != nil {
			// A key without escapes is looked up where it is.
			b := f.b
			i := plainRun(b, f.i+1)
			if i < len(b) && b[i] == '"' {
				child = n.lookup(b[f.i+1 : i])
				f.i = i + 1
			} else {
				var err error
				if f.key, err = f.str(f.key[:0]); err != nil {
					return err
				}
				child = n.lookup(f.key)
			}
		} else if err := f.skipString(); err != nil {
			return err
		}
		var err error
		if f.i, err = JSONColon(f.b, f.i); err != nil {
			return err
		}
		if err := f.value(child, depth+1); err != nil {
			return err
		}
		if more, err := f.next('}'); !more {
			return err
		}
	}
}

// next moves past what follows an element of an object (closer '}') or an
// array (closer ']'): more is true after a ','.
func (f *flattener) next(closer byte) (more bool, err error) {
	f.i, more, err = JSONNext(f.b, f.i, closer)
	return more, err
}

// lookup finds the trie node for an object key; a key containing dots walks
// one level per dotted segment (dotted names equal nested objects).
func (n *pnode) lookup(key []byte) *pnode {
	if c := n.child(key); c != nil {
		return c
	}
	for i := 0; i < len(key); i++ {
		if key[i] == '.' {
			c := n.child(key[:i])
			if c == nil {
				return nil
			}
			return c.lookup(key[i+1:])
		}
	}
	return nil
}

// maxScanKids is the most children a node looks up by comparing keys.
const maxScanKids = 8

// child returns n's child for key, nil if none.
func (n *pnode) child(key []byte) *pnode {
	if len(n.keys) > maxScanKids {
		return n.children[string(key)]
	}
	for j, k := range n.keys {
		if len(k) == len(key) && k == string(key) {
			return n.kids[j]
		}
	}
	return nil
}

func (f *flattener) array(n *pnode, depth int) error {
	f.i++ // '['
	f.ws()
	if f.i < len(f.b) && f.b[f.i] == ']' {
		f.i++
		return nil
	}
	var id uint32
	if n != nil {
		f.s.arrCount++
		id = f.s.arrCount
	}
	for idx := 0; ; idx++ {
		f.ws()
		if n != nil {
			f.s.stack = append(f.s.stack, arrEntry{arr: id, idx: uint32(idx)})
		}
		if err := f.value(n, depth+1); err != nil {
			return err
		}
		if n != nil {
			f.s.stack = f.s.stack[:len(f.s.stack)-1]
		}
		if more, err := f.next(']'); !more {
			return err
		}
	}
}

func (f *flattener) skipString() error {
	end, _, err := JSONSkipString(f.b, f.i)
	f.i = end
	return err
}

// str decodes the string at f.i (which holds '"') and appends it to dst.
func (f *flattener) str(dst []byte) ([]byte, error) {
	dst, end, err := AppendJSONUnquoted(dst, f.b, f.i)
	f.i = end
	return dst, err
}
