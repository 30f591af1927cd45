package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Pattern is a rule's EventBridge event pattern as compact JSON. In YAML it is written either as
// a mapping (converted to JSON, key order kept) or as a string holding JSON.
type Pattern []byte

// MarshalJSON returns the pattern itself.
func (p Pattern) MarshalJSON() ([]byte, error) {
	if len(p) == 0 {
		return []byte("null"), nil
	}
	return p, nil
}

// String returns the JSON text.
func (p Pattern) String() string { return string(p) }

// patternAt remembers where a pattern was written, to place errors inside it.
type patternAt struct {
	node    *yaml.Node // the mapping, or the scalar holding JSON
	json    []byte     // what was decoded from node
	jsonErr error      // the pattern was not a JSON object
}

func (p *Pattern) decodeNode(d *decoder, n *yaml.Node, path string) {
	at := &patternAt{node: n}
	d.patterns[path] = at
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() != tagStr {
			at.jsonErr = fmt.Errorf("pattern must be a JSON object or a YAML mapping, got %s", describeScalar(n.Value, n.ShortTag()))
			return
		}
		if err := checkJSONObject([]byte(n.Value)); err != nil {
			at.jsonErr = withFilterHint(err, n.Value)
			return
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, []byte(n.Value))
		*p = buf.Bytes()
		at.json = *p
	case yaml.MappingNode:
		var buf bytes.Buffer
		if err := d.nodeJSON(&buf, n, 0); err != nil {
			at.jsonErr = err
			return
		}
		*p = buf.Bytes()
		at.json = *p
	default:
		at.jsonErr = errors.New("pattern must be a JSON object or a YAML mapping, got a list")
	}
}

// bpfHint follows the error for a pattern that is not JSON at all: most often a tcpdump/BPF
// filter such as `tcp port 80`.
const bpfHint = `a pattern is an EventBridge event pattern (JSON or a YAML mapping), not a tcpdump/BPF filter: ` +
	`for tcp port 80, write {"detail": {"Protocol": ["tcp"], "Destination": {"Port": [80]}}} (docs/patterns.md)`

// withFilterHint adds bpfHint to err when text does not even start like JSON.
func withFilterHint(err error, text string) error {
	t := strings.TrimSpace(text)
	if t == "" || t[0] == '{' || t[0] == '[' {
		return err
	}
	return fmt.Errorf("%w; %s", err, bpfHint)
}

// checkJSONObject reports why data is not a single JSON object.
func checkJSONObject(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("pattern is not valid JSON: %s at offset %d", se.Error(), se.Offset)
		}
		return fmt.Errorf("pattern is not valid JSON: %w", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return errors.New("pattern must be a JSON object")
	}
	if dec.More() {
		return errors.New("pattern is not valid JSON: data after the object")
	}
	if _, err := dec.Token(); err == nil {
		return errors.New("pattern is not valid JSON: data after the object")
	}
	return nil
}

// nodeJSON writes a YAML node as JSON, keeping mapping key order.
func (d *decoder) nodeJSON(buf *bytes.Buffer, n *yaml.Node, depth int) error {
	if depth > 64 {
		return errors.New("pattern nests too deeply")
	}
	if !d.spend() {
		return errors.New("pattern is too large")
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return errors.New("pattern has an unresolved alias")
		}
		return d.nodeJSON(buf, n.Alias, depth+1)
	}
	switch n.Kind {
	case yaml.MappingNode:
		buf.WriteByte('{')
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: pattern keys must be strings", k.Line)
			}
			if seen[k.Value] {
				return fmt.Errorf("line %d: duplicate pattern key %q", k.Line, k.Value)
			}
			seen[k.Value] = true
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k.Value)
			buf.Write(kb)
			buf.WriteByte(':')
			if err := d.nodeJSON(buf, n.Content[i+1], depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := d.nodeJSON(buf, c, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); tag {
		case tagNull:
			buf.WriteString("null")
		case tagBool:
			b, err := strconv.ParseBool(strings.ToLower(n.Value))
			if err != nil {
				return fmt.Errorf("line %d: invalid boolean %q", n.Line, n.Value)
			}
			buf.WriteString(strconv.FormatBool(b))
		case tagInt:
			if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
				buf.WriteString(strconv.FormatInt(i, 10))
			} else if u, err := strconv.ParseUint(n.Value, 0, 64); err == nil {
				buf.WriteString(strconv.FormatUint(u, 10))
			} else {
				return fmt.Errorf("line %d: number %q is out of range", n.Line, n.Value)
			}
		case tagFloat:
			f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return fmt.Errorf("line %d: number %q has no JSON form", n.Line, n.Value)
			}
			buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		default: // strings, timestamps, binary: the text as written
			b, _ := json.Marshal(n.Value)
			buf.Write(b)
		}
	default:
		return errors.New("pattern holds an unsupported YAML node")
	}
	return nil
}

// patternPos finds the position of a JSON path ("detail.Destination.Port[0]" or
// "$.detail.Destination.Port") inside a pattern written as a YAML mapping.
func patternPos(n *yaml.Node, jsonPath string) (Pos, bool) {
	if n == nil || n.Kind != yaml.MappingNode {
		return Pos{}, false
	}
	p := strings.TrimPrefix(strings.TrimPrefix(jsonPath, "$"), ".")
	if p == "" {
		return Pos{n.Line, n.Column}, true
	}
	cur := n
	for _, seg := range splitJSONPath(p) {
		for cur.Kind == yaml.AliasNode && cur.Alias != nil {
			cur = cur.Alias
		}
		found := false
		switch {
		case cur.Kind == yaml.SequenceNode && seg.index >= 0:
			if seg.index < len(cur.Content) {
				cur, found = cur.Content[seg.index], true
			}
		case cur.Kind == yaml.MappingNode && seg.index < 0:
			for i := 0; i+1 < len(cur.Content); i += 2 {
				if cur.Content[i].Value == seg.key {
					cur, found = cur.Content[i+1], true
					break
				}
			}
		}
		if !found {
			break // the deepest part that exists (an operator may not be a key)
		}
	}
	return Pos{cur.Line, cur.Column}, true
}

type pathSeg struct {
	key   string
	index int // -1 for a key
}

func splitJSONPath(p string) []pathSeg {
	var segs []pathSeg
	for _, part := range strings.Split(p, ".") {
		key, rest, _ := strings.Cut(part, "[")
		if key != "" {
			segs = append(segs, pathSeg{key: key, index: -1})
		}
		for rest != "" {
			num, after, ok := strings.Cut(rest, "]")
			if !ok {
				break
			}
			i, err := strconv.Atoi(num)
			if err != nil {
				// a quoted key such as ["a.b"]
				segs = append(segs, pathSeg{key: strings.Trim(num, `"'`), index: -1})
			} else {
				segs = append(segs, pathSeg{index: i})
			}
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return segs
}
