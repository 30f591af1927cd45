package pattern

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxEventDepth is the deepest nesting of objects and arrays MatchJSON
// accepts in an event.
const MaxEventDepth = 512

var errUnexpectedEnd = errors.New("unexpected end of input")

type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("invalid json at byte %d: %s", e.off, e.msg) }

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
		return &syntaxError{f.i, "data after the top-level value"}
	}
	return nil
}

func (f *flattener) ws() {
	b, i := f.b, f.i
	for i < len(b) && b[i] <= ' ' && jsonSpace[b[i]] {
		i++
	}
	f.i = i
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

// jsonSpace holds the JSON whitespace bytes; strPlain the bytes a string
// holds as they are (not '"', '\\' or a control character). Loops over the
// bytes of an event test one table entry per byte, on local copies of the
// flattener's slice and position.
var jsonSpace, strPlain = func() (sp, pl [256]bool) {
	for _, c := range []byte(" \t\n\r") {
		sp[c] = true
	}
	for c := 0x20; c < 256; c++ {
		pl[c] = c != '"' && c != '\\'
	}
	return
}()

func (f *flattener) value(n *pnode, depth int) error {
	if depth > MaxEventDepth {
		return &syntaxError{f.i, "nesting too deep"}
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
			return &syntaxError{start, "invalid number"}
		}
		if leaf {
			f.s.curFld = n.field
			f.s.addValue(vNumber, lit)
		}
		return nil
	}
	return &syntaxError{f.i, fmt.Sprintf("unexpected character %q", f.b[f.i])}
}

func (f *flattener) lit(word string, n *pnode, k vkind) error {
	if len(f.b)-f.i < len(word) || string(f.b[f.i:f.i+len(word)]) != word {
		return &syntaxError{f.i, "invalid literal"}
	}
	f.i += len(word)
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
			return &syntaxError{f.i, "expected a string key"}
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
		f.ws()
		if f.i >= len(f.b) || f.b[f.i] != ':' {
			return &syntaxError{f.i, "expected ':'"}
		}
		f.i++
		f.ws()
		if err := f.value(child, depth+1); err != nil {
			return err
		}
		f.ws()
		if f.i >= len(f.b) {
			return errUnexpectedEnd
		}
		switch f.b[f.i] {
		case ',':
			f.i++
		case '}':
			f.i++
			return nil
		default:
			return &syntaxError{f.i, "expected ',' or '}'"}
		}
	}
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
		f.ws()
		if f.i >= len(f.b) {
			return errUnexpectedEnd
		}
		switch f.b[f.i] {
		case ',':
			f.i++
		case ']':
			f.i++
			return nil
		default:
			return &syntaxError{f.i, "expected ',' or ']'"}
		}
	}
}

func (f *flattener) skipString() error {
	b, i := f.b, f.i+1 // after '"'
	for i < len(b) {
		i = plainRun(b, i)
		if i >= len(b) {
			break
		}
		switch b[i] {
		case '"':
			f.i = i + 1
			return nil
		case '\\':
			i += 2
		default:
			f.i = i
			return &syntaxError{i, "control character in string"}
		}
	}
	f.i = i
	return errUnexpectedEnd
}

// str decodes the string at f.i (which holds '"') and appends it to dst.
func (f *flattener) str(dst []byte) ([]byte, error) {
	f.i++
	for f.i < len(f.b) {
		start := f.i
		b := f.b
		i := plainRun(b, f.i)
		f.i = i
		dst = append(dst, b[start:i]...)
		if f.i >= len(f.b) {
			break
		}
		c := f.b[f.i]
		if c == '"' {
			f.i++
			return dst, nil
		}
		if c < 0x20 {
			return dst, &syntaxError{f.i, "control character in string"}
		}
		// escape
		if f.i+1 >= len(f.b) {
			return dst, errUnexpectedEnd
		}
		e := f.b[f.i+1]
		f.i += 2
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
			r, ok := f.hex4()
			if !ok {
				return dst, &syntaxError{f.i, "invalid \\u escape"}
			}
			if utf16.IsSurrogate(r) {
				save := f.i
				if f.i+1 < len(f.b) && f.b[f.i] == '\\' && f.b[f.i+1] == 'u' {
					f.i += 2
					r2, ok := f.hex4()
					if ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							continue
						}
					}
				}
				f.i = save
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, &syntaxError{f.i - 1, "invalid escape"}
		}
	}
	return dst, errUnexpectedEnd
}

func (f *flattener) hex4() (rune, bool) {
	if len(f.b)-f.i < 4 {
		return 0, false
	}
	var r rune
	for k := 0; k < 4; k++ {
		c := f.b[f.i+k]
		switch {
		case c >= '0' && c <= '9':
			r = r*16 + rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r*16 + rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r*16 + rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	f.i += 4
	return r, true
}
