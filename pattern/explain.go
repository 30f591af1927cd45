package pattern

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Explanation says why a pattern matched an event or not (Explain).
type Explanation struct {
	// Matched reports whether the pattern matches the event.
	Matched bool
	// Fields lists, when Matched, the field conditions of the matching
	// alternative and the event value that satisfied each.
	Fields []FieldMatch
	// Unmatched lists, when not Matched, the conditions of the alternative
	// that came closest (fewest failing conditions) that no value satisfied.
	Unmatched []FieldMatch
}

// FieldMatch is one field condition of a pattern and the event value that
// satisfied it.
type FieldMatch struct {
	Path      string // dotted field path
	Condition string // the condition, e.g. `exact "udp.raw" | prefix "ab"`, `exists false`
	Value     string // the event value as JSON; empty for a condition on absence or when unmatched
}

// Explain evaluates p against the JSON event and reports which fields and
// values decided the answer. It is meant for tools (wirebridge test-pattern
// --explain), not for hot paths: it decodes the whole event. Its Matched
// answer equals p.MatchJSON's.
func Explain(p *Pattern, event []byte) (Explanation, error) {
	if _, err := p.MatchJSON(event); err != nil {
		return Explanation{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return Explanation{}, fmt.Errorf("pattern: explain: %w", err)
	}
	var leaves []xLeaf
	var ids uint32
	xFlatten(root, "", nil, &ids, &leaves)
	s := &scratch{}
	for i := range leaves {
		leaves[i].v = xValue(s, leaves[i].value)
	}
	var best []FieldMatch
	for _, br := range p.branches {
		var chosen []int
		if fm, ok := xBranch(br, leaves, s, chosen); ok {
			return Explanation{Matched: true, Fields: fm}, nil
		}
		var un []FieldMatch
		for _, c := range br {
			if c.absent {
				continue
			}
			found := false
			for i := range leaves {
				if leaves[i].path == c.path && c.matchLeaf(&s.vals[leaves[i].v], s) {
					found = true
					break
				}
			}
			if !found {
				un = append(un, FieldMatch{Path: c.path, Condition: c.describe()})
			}
		}
		if best == nil || len(un) < len(best) {
			best = un
		}
	}
	return Explanation{Unmatched: best}, nil
}

type xLeaf struct {
	path  string
	value any
	trail []arrEntry
	v     int
}

func xFlatten(node any, path string, trail []arrEntry, ids *uint32, out *[]xLeaf) {
	switch n := node.(type) {
	case map[string]any:
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			xFlatten(n[k], join(path, k), trail, ids, out)
		}
	case []any:
		*ids++
		id := *ids
		for i, v := range n {
			t := append(append([]arrEntry(nil), trail...), arrEntry{id, uint32(i)})
			xFlatten(v, path, t, ids, out)
		}
	default:
		*out = append(*out, xLeaf{path: path, value: node, trail: trail})
	}
}

func xValue(s *scratch, v any) int {
	switch x := v.(type) {
	case string:
		s.addValueString(vString, x)
	case json.Number:
		s.addValueString(vNumber, string(x))
	case bool:
		if x {
			s.addValue(vTrue, nil)
		} else {
			s.addValue(vFalse, nil)
		}
	default:
		s.addValue(vNull, nil)
	}
	return len(s.vals) - 1
}

func (c *cond) matchLeaf(v *val, s *scratch) bool {
	for _, m := range c.alts {
		if m.match(v, s) {
			return true
		}
	}
	return false
}

func xCompatible(leaves []xLeaf, chosen []int, t []arrEntry) bool {
	for _, i := range chosen {
		if !compatible(leaves[i].trail, t) {
			return false
		}
	}
	return true
}

func xBranch(conds []*cond, leaves []xLeaf, s *scratch, chosen []int) ([]FieldMatch, bool) {
	if len(conds) == 0 {
		return nil, true
	}
	c := conds[0]
	if c.absent {
		for i := range leaves {
			if leaves[i].path == c.path && xCompatible(leaves, chosen, leaves[i].trail) {
				return nil, false
			}
		}
		rest, ok := xBranch(conds[1:], leaves, s, chosen)
		if !ok {
			return nil, false
		}
		return append([]FieldMatch{{Path: c.path, Condition: c.describe()}}, rest...), true
	}
	for i := range leaves {
		l := &leaves[i]
		if l.path != c.path || !xCompatible(leaves, chosen, l.trail) || !c.matchLeaf(&s.vals[l.v], s) {
			continue
		}
		rest, ok := xBranch(conds[1:], leaves, s, append(chosen, i))
		if ok {
			b, _ := json.Marshal(l.value)
			return append([]FieldMatch{{Path: c.path, Condition: c.describe(), Value: string(b)}}, rest...), true
		}
	}
	return nil, false
}

func (c *cond) describe() string {
	if c.absent {
		return "exists false"
	}
	parts := make([]string, len(c.alts))
	for i, m := range c.alts {
		parts[i] = m.describe()
	}
	return strings.Join(parts, " | ")
}

func (m *matcher) describe() string {
	switch m.kind {
	case mExactStr:
		return fmt.Sprintf("exact %q", m.s)
	case mExactIP:
		return "ip " + m.ip.String()
	case mExactNum:
		return "number " + canonToText(m.s)
	case mExactLit:
		return "number " + m.s
	case mTrue:
		return "true"
	case mFalse:
		return "false"
	case mNull:
		return "null"
	case mPrefix:
		return fmt.Sprintf("prefix %q", m.s)
	case mSuffix:
		return fmt.Sprintf("suffix %q", m.s)
	case mPrefixFold:
		return fmt.Sprintf("prefix ignoring case %q", m.s)
	case mSuffixFold:
		return fmt.Sprintf("suffix ignoring case %q", m.s)
	case mEqFold:
		return fmt.Sprintf("equals ignoring case %q", m.s)
	case mWildcard:
		return fmt.Sprintf("wildcard %q", strings.Join(m.wc.segs, "*"))
	case mNumeric:
		var b strings.Builder
		b.WriteString("numeric")
		if !isInf(m.lo) {
			op := ">"
			if m.loInc {
				op = ">="
			}
			fmt.Fprintf(&b, " %s %v", op, m.lo)
		}
		if !isInf(m.hi) {
			op := "<"
			if m.hiInc {
				op = "<="
			}
			fmt.Fprintf(&b, " %s %v", op, m.hi)
		}
		return b.String()
	case mCIDR:
		return "cidr " + m.pfx.String()
	case mExists:
		return "exists true"
	case mAnyBut:
		parts := make([]string, len(m.neg))
		for i, n := range m.neg {
			parts[i] = n.describe()
		}
		return "anything-but (" + strings.Join(parts, " | ") + ")"
	}
	return kindNames[m.kind]
}

// canonToText renders a canonical number ("514e2" = 5.14e2) readably.
func canonToText(c string) string {
	i := strings.IndexByte(c, 'e')
	if i < 0 {
		return c
	}
	d, exp := c[:i], c[i:]
	neg := strings.HasPrefix(d, "-")
	d = strings.TrimPrefix(d, "-")
	lit := d[:1] + "." + d[1:] + exp
	if len(d) == 1 {
		lit = d + exp
	}
	if neg {
		lit = "-" + lit
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return lit
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
