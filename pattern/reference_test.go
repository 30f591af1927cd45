package pattern

import (
	"encoding/json"
	"math/big"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The reference evaluator: a deliberately simple, slow matcher written
// independently of the automaton, the index, the JSON flattener and the leaf
// value code. It flattens the decoded event completely and, for every
// pattern alternative, searches by backtracking for one leaf per condition
// with no two leaves taken from different elements of the same array.

type refLeaf struct {
	path  string
	value any // string, json.Number, bool, nil
	trail []arrEntry
}

func refFlatten(node any, path string, trail []arrEntry, ids *uint32, out *[]refLeaf) {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			p := k
			if path != "" {
				p = path + "." + k
			}
			refFlatten(v, p, trail, ids, out)
		}
	case []any:
		*ids++
		id := *ids
		for i, v := range n {
			t := append(append([]arrEntry(nil), trail...), arrEntry{id, uint32(i)})
			refFlatten(v, path, t, ids, out)
		}
	default:
		*out = append(*out, refLeaf{path, node, trail})
	}
}

func refCompatible(a, b []arrEntry) bool {
	for _, x := range a {
		for _, y := range b {
			if x.arr == y.arr && x.idx != y.idx {
				return false
			}
		}
	}
	return true
}

func refMatch(t testing.TB, p *Pattern, event []byte) bool {
	t.Helper()
	var root any
	dec := json.NewDecoder(bytesReader(event))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		t.Fatalf("reference: decode event: %v", err)
	}
	var leaves []refLeaf
	var ids uint32
	refFlatten(root, "", nil, &ids, &leaves)
	for _, br := range p.branches {
		if refBranch(br, leaves, nil) {
			return true
		}
	}
	return false
}

func refBranch(conds []*cond, leaves []refLeaf, chosen []refLeaf) bool {
	if len(conds) == 0 {
		return true
	}
	c := conds[0]
	if c.absent {
		for _, l := range leaves {
			if l.path != c.path {
				continue
			}
			ok := true
			for _, ch := range chosen {
				if !refCompatible(ch.trail, l.trail) {
					ok = false
					break
				}
			}
			if ok {
				return false
			}
		}
		return refBranch(conds[1:], leaves, chosen)
	}
	for _, l := range leaves {
		if l.path != c.path {
			continue
		}
		ok := true
		for _, ch := range chosen {
			if !refCompatible(ch.trail, l.trail) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		matched := false
		for _, m := range c.alts {
			if refLeafMatch(m, l.value) {
				matched = true
				break
			}
		}
		if matched && refBranch(conds[1:], leaves, append(chosen, l)) {
			return true
		}
	}
	return false
}

func refIP(s string) (netip.Addr, bool) {
	if strings.Count(s, ".") == 3 && !strings.Contains(s, ":") {
		parts := strings.Split(s, ".")
		for i, p := range parts {
			if len(p) == 0 || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
				return netip.Addr{}, false
			}
			p = strings.TrimLeft(p, "0")
			if p == "" {
				p = "0"
			}
			parts[i] = p
		}
		a, err := netip.ParseAddr(strings.Join(parts, "."))
		return a, err == nil
	}
	if !strings.Contains(s, ":") || strings.Contains(s, "%") {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil
}

// refNumber returns the exact rational value of a literal and whether it
// counts as exactly representable (its float64's shortest form has the same
// value).
func refNumber(lit string) (*big.Rat, bool) {
	r, ok := new(big.Rat).SetString(lit)
	if !ok {
		return nil, false
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return r, false
	}
	r2, _ := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	return r, r.Cmp(r2) == 0
}

func refRunePrefix(s string, n int) (string, bool) {
	i := 0
	for k := 0; k < n; k++ {
		if i >= len(s) {
			return "", false
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i], true
}

func refRuneSuffix(s string, n int) (string, bool) {
	i := len(s)
	for k := 0; k < n; k++ {
		if i <= 0 {
			return "", false
		}
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return s[i:], true
}

func refLeafMatch(m *matcher, v any) bool {
	switch m.kind {
	case mExists:
		return true
	case mAnyBut:
		for _, n := range m.neg {
			if refLeafMatch(n, v) {
				return false
			}
		}
		return true
	case mTrue:
		return v == true
	case mFalse:
		return v == false
	case mNull:
		return v == nil
	case mExactNum, mExactLit, mNumeric:
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		if m.kind == mNumeric {
			f, err := strconv.ParseFloat(string(n), 64)
			return err == nil && m.inRange(f)
		}
		r, exact := refNumber(string(n))
		if m.kind == mExactLit {
			return !exact && string(n) == m.s
		}
		pr, _ := refNumber(canonToLiteral(m.s))
		return exact && r != nil && pr != nil && r.Cmp(pr) == 0
	}
	s, ok := v.(string)
	if !ok {
		return false
	}
	switch m.kind {
	case mExactStr:
		return s == m.s
	case mExactIP:
		a, ok := refIP(s)
		return ok && a == m.ip
	case mCIDR:
		a, ok := refIP(s)
		return ok && m.pfx.Contains(a)
	case mPrefix:
		return strings.HasPrefix(s, m.s)
	case mSuffix:
		return strings.HasSuffix(s, m.s)
	case mEqFold:
		return strings.EqualFold(s, m.s)
	case mPrefixFold:
		p, ok := refRunePrefix(s, utf8.RuneCountInString(m.s))
		return ok && strings.EqualFold(p, m.s)
	case mSuffixFold:
		p, ok := refRuneSuffix(s, utf8.RuneCountInString(m.s))
		return ok && strings.EqualFold(p, m.s)
	case mWildcard:
		parts := make([]string, len(m.wc.segs))
		for i, seg := range m.wc.segs {
			parts[i] = regexp.QuoteMeta(seg)
		}
		return regexp.MustCompile(`(?s)\A` + strings.Join(parts, ".*") + `\z`).MatchString(s)
	}
	return false
}

// canonToLiteral turns the canonical "d1d2..e<exp>" form back into a literal
// big.Rat accepts ("0.d1d2...e<exp+1>").
func canonToLiteral(c string) string {
	if c == "0" {
		return "0"
	}
	neg := strings.HasPrefix(c, "-")
	c = strings.TrimPrefix(c, "-")
	i := strings.IndexByte(c, 'e')
	e, _ := strconv.Atoi(c[i+1:])
	s := "0." + c[:i] + "e" + strconv.Itoa(e+1)
	if neg {
		s = "-" + s
	}
	return s
}
