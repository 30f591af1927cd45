package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// jsonValue is a parsed JSON value that keeps its object keys in order.
type jsonValue struct {
	scalar string // the JSON text of a string, number, true, false or null
	delim  byte   // '{' or '[' for objects and arrays
	keys   []string
	vals   []*jsonValue
}

func parseJSON(d *json.Decoder) (*jsonValue, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		v := &jsonValue{delim: byte(tok)}
		for d.More() {
			if v.delim == '{' {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				v.keys = append(v.keys, k.(string))
			}
			e, err := parseJSON(d)
			if err != nil {
				return nil, err
			}
			v.vals = append(v.vals, e)
		}
		if _, err := d.Token(); err != nil {
			return nil, err
		}
		return v, nil
	case string:
		return &jsonValue{scalar: quote(tok)}, nil
	case json.Number:
		return &jsonValue{scalar: tok.String()}, nil
	case nil:
		return &jsonValue{scalar: "null"}, nil
	default:
		return &jsonValue{scalar: fmt.Sprint(tok)}, nil
	}
}

// inline is v on one line.
func (v *jsonValue) inline() string {
	if v.delim == 0 {
		return v.scalar
	}
	var b strings.Builder
	b.WriteByte(v.delim)
	for i, e := range v.vals {
		if i > 0 {
			b.WriteString(", ")
		}
		if v.delim == '{' {
			b.WriteString(quote(v.keys[i]) + ": ")
		}
		b.WriteString(e.inline())
	}
	b.WriteByte(v.delim + 2) // '}' or ']'
	return b.String()
}

// lineWidth is the width up to which an object or array stays on one line.
const lineWidth = 110

// write writes v at the given indentation; col is where v starts.
func (v *jsonValue) write(b *bytes.Buffer, indent string, col int) {
	if s := v.inline(); v.delim == 0 || col+len(s) <= lineWidth {
		b.WriteString(s)
		return
	}
	inner := indent + "  "
	b.WriteByte(v.delim)
	for i, e := range v.vals {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n" + inner)
		col := len(inner)
		if v.delim == '{' {
			k := quote(v.keys[i]) + ": "
			b.WriteString(k)
			col += len(k)
		}
		e.write(b, inner, col)
	}
	b.WriteString("\n" + indent)
	b.WriteByte(v.delim + 2)
}

// indentJSON lays out JSON text with two-space indentation, keeping objects
// and arrays that fit on one line there.
func indentJSON(text []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(text))
	d.UseNumber()
	v, err := parseJSON(d)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	v.write(&b, "", 0)
	b.WriteByte('\n')
	return b.Bytes(), nil
}
