package pattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Limits enforced by Compile. A pattern that exceeds one is rejected with a
// *CompileError naming the limit.
const (
	// MaxPatternBytes is the largest pattern document accepted, in bytes.
	MaxPatternBytes = 64 << 10
	// MaxDepth is the deepest nesting of objects (fields and $or alternatives).
	MaxDepth = 32
	// MaxValuesPerField is the largest number of values in one field's list,
	// and in one anything-but list.
	MaxValuesPerField = 1024
	// MaxValueBytes is the longest string value (prefix, suffix, wildcard ...).
	MaxValueBytes = 4096
	// MaxWildcardStars is the largest number of '*' in one wildcard value.
	MaxWildcardStars = 16
	// MaxBranches is the largest number of alternatives a pattern expands to
	// once every $or (and every list mixing {"exists": false} with other
	// values) is multiplied out.
	MaxBranches = 1024
)

// CompileError is the error Compile returns for an invalid pattern.
type CompileError struct {
	// Path locates the problem: field names joined by '.', value list
	// indexes in brackets, then the operator, for example
	// "detail.Destination.Port[0].numeric". Empty for the whole document.
	Path string
	// Reason says what is wrong, in lower case.
	Reason string
}

func (e *CompileError) Error() string { return "pattern: " + e.Detail() }

// Detail is the error without the "pattern: " prefix, as a configuration
// reports it under the pattern's own key: "path: reason", or the reason
// alone for the whole document.
func (e *CompileError) Detail() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

func errAt(path, format string, args ...any) *CompileError {
	return &CompileError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// Pattern is a compiled event pattern. It is immutable and safe for
// concurrent use.
type Pattern struct {
	src      string
	branches [][]*cond
	paths    []string
	single   singleCache
}

// String returns the pattern's source text.
func (p *Pattern) String() string { return p.src }

// Fields returns the sorted field paths the pattern reads.
func (p *Pattern) Fields() []string { return append([]string(nil), p.paths...) }

// cond is one field condition of a branch: some leaf value of the field
// (compatible with the values chosen for the other conditions) matches one
// of alts; or, when absent is set, no compatible leaf value exists.
type cond struct {
	path   string
	absent bool
	alts   []*matcher
	key    string // identifies equal conditions, for sharing in the automaton
}

type mkind uint8

const (
	mExactStr   mkind = iota // s: raw string (also "exactly")
	mExactIP                 // ip: string that is an IP address
	mExactNum                // s: canonical number
	mExactLit                // s: number literal text (not exactly representable)
	mTrue                    //
	mFalse                   //
	mNull                    //
	mPrefix                  // s
	mSuffix                  // s
	mPrefixFold              // s folded
	mSuffixFold              // s folded
	mEqFold                  // s folded
	mWildcard                // wc
	mNumeric                 // lo, hi
	mCIDR                    // pfx
	mExists                  // any leaf value
	mAnyBut                  // neg: matches a value none of neg matches
)

var kindNames = [...]string{"exact", "exact-ip", "exact-number", "exact-number-text", "true", "false", "null",
	"prefix", "suffix", "prefix-ignore-case", "suffix-ignore-case", "equals-ignore-case", "wildcard",
	"numeric", "cidr", "exists", "anything-but"}

type matcher struct {
	kind         mkind
	s            string
	f            float64 // mExactNum: the value (exact numbers are equal when their float64 values are)
	ip           netip.Addr
	pfx          netip.Prefix
	lo, hi       float64
	loInc, hiInc bool
	wc           *wildcard
	neg          []*matcher
}

// key returns a string identifying the matcher's semantics.
func (m *matcher) key() string {
	var b strings.Builder
	b.WriteString(kindNames[m.kind])
	b.WriteByte(':')
	switch m.kind {
	case mExactIP:
		b.WriteString(m.ip.String())
	case mNumeric:
		fmt.Fprintf(&b, "%v,%v,%v,%v", m.lo, m.loInc, m.hi, m.hiInc)
	case mCIDR:
		b.WriteString(m.pfx.String())
	case mWildcard:
		b.WriteString(strconv.Quote(strings.Join(m.wc.segs, "\x00*")))
	case mAnyBut:
		b.WriteByte('[')
		for _, n := range m.neg {
			b.WriteString(strconv.Quote(n.key()))
			b.WriteByte(',')
		}
		b.WriteByte(']')
	default:
		b.WriteString(strconv.Quote(m.s))
	}
	return b.String()
}

// Compile parses and checks an event pattern (a JSON object).
// Every error is a *CompileError.
func Compile(src []byte) (*Pattern, error) {
	if len(src) > MaxPatternBytes {
		return nil, errAt("", "pattern is %d bytes, more than the limit of %d", len(src), MaxPatternBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, errAt("", "invalid json: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errAt("", "invalid json: data after the pattern object")
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, errAt("", "a pattern must be a json object")
	}
	c := compiler{}
	branches, err := c.object(obj, "", "", 1)
	if err != nil {
		return nil, err
	}
	p := &Pattern{src: string(src)}
	seen := map[string]bool{}
	for _, br := range branches {
		sortConds(br)
		for _, cd := range br {
			if !seen[cd.path] {
				seen[cd.path] = true
				p.paths = append(p.paths, cd.path)
			}
		}
	}
	sort.Strings(p.paths)
	p.branches = branches
	return p, nil
}

// MustCompile is like Compile but panics on error. For tests and constants.
func MustCompile(src string) *Pattern {
	p, err := Compile([]byte(src))
	if err != nil {
		panic(err)
	}
	return p
}

func sortConds(br []*cond) {
	sort.SliceStable(br, func(i, j int) bool {
		a, b := br[i], br[j]
		if a.absent != b.absent {
			return !a.absent
		}
		if a.path != b.path {
			return a.path < b.path
		}
		return a.key < b.key
	})
}

type compiler struct{}

var operators = map[string]bool{
	"prefix": true, "suffix": true, "equals-ignore-case": true, "wildcard": true, "anything-but": true,
	"numeric": true, "cidr": true, "exists": true, "exactly": true,
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// isOrOperator reports whether the value of a "$or" key is the or-operator
// rather than the value list of a field named "$or": it is an array holding
// at least one object that is not a single-operator matcher object.
func isOrOperator(v any) bool {
	arr, ok := v.([]any)
	if !ok {
		return false
	}
	for _, e := range arr {
		if m, ok := e.(map[string]any); ok {
			if len(m) != 1 {
				return true
			}
			for k := range m {
				if !operators[k] {
					return true
				}
			}
		}
	}
	return false
}

// object compiles a pattern object whose fields sit under field path prefix;
// epath is the error path of the object itself.
func (c *compiler) object(obj map[string]any, prefix, epath string, depth int) ([][]*cond, error) {
	if depth > MaxDepth {
		return nil, errAt(epath, "nesting deeper than the limit of %d", MaxDepth)
	}
	if len(obj) == 0 {
		return nil, errAt(epath, "empty object")
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	branches := [][]*cond{nil}
	for _, k := range keys {
		v := obj[k]
		kpath := join(epath, k)
		var alts [][]*cond
		var err error
		if k == "$or" && isOrOperator(v) {
			arr := v.([]any)
			if len(arr) < 2 {
				return nil, errAt(kpath, "$or needs at least 2 alternatives, got %d", len(arr))
			}
			for i, e := range arr {
				ipath := fmt.Sprintf("%s[%d]", kpath, i)
				m, ok := e.(map[string]any)
				if !ok {
					return nil, errAt(ipath, "each $or alternative must be an object")
				}
				sub, err := c.object(m, prefix, ipath, depth+1)
				if err != nil {
					return nil, err
				}
				alts = append(alts, sub...)
				if len(alts) > MaxBranches {
					return nil, errAt(kpath, "pattern expands to more than %d alternatives", MaxBranches)
				}
			}
		} else {
			if k == "" {
				return nil, errAt(kpath, "empty field name")
			}
			fpath := join(prefix, k)
			switch tv := v.(type) {
			case map[string]any:
				alts, err = c.object(tv, fpath, kpath, depth+1)
			case []any:
				alts, err = c.valueList(tv, fpath, kpath)
			default:
				return nil, errAt(kpath, "a field's value must be an array of values or an object")
			}
			if err != nil {
				return nil, err
			}
		}
		if len(branches)*len(alts) > MaxBranches {
			return nil, errAt(kpath, "pattern expands to more than %d alternatives", MaxBranches)
		}
		next := make([][]*cond, 0, len(branches)*len(alts))
		for _, b := range branches {
			for _, a := range alts {
				nb := make([]*cond, 0, len(b)+len(a))
				nb = append(append(nb, b...), a...)
				next = append(next, nb)
			}
		}
		branches = next
	}
	return branches, nil
}

// valueList compiles the value list of field fpath. It returns one or two
// alternatives (two when the list mixes {"exists": false} with other values).
func (c *compiler) valueList(arr []any, fpath, epath string) ([][]*cond, error) {
	if len(arr) == 0 {
		return nil, errAt(epath, "empty value list")
	}
	if len(arr) > MaxValuesPerField {
		return nil, errAt(epath, "%d values, more than the limit of %d", len(arr), MaxValuesPerField)
	}
	var alts []*matcher
	absent := false
	seen := map[string]bool{}
	for i, e := range arr {
		ipath := fmt.Sprintf("%s[%d]", epath, i)
		ms, isAbsent, err := c.value(e, ipath)
		if err != nil {
			return nil, err
		}
		if isAbsent {
			absent = true
			continue
		}
		for _, m := range ms {
			k := m.key()
			if !seen[k] {
				seen[k] = true
				alts = append(alts, m)
			}
		}
	}
	var out [][]*cond
	if len(alts) > 0 {
		sort.Slice(alts, func(i, j int) bool { return alts[i].key() < alts[j].key() })
		var kb strings.Builder
		for _, m := range alts {
			kb.WriteString(strconv.Quote(m.key()))
			kb.WriteByte('|')
		}
		out = append(out, []*cond{{path: fpath, alts: alts, key: kb.String()}})
	}
	if absent {
		out = append(out, []*cond{{path: fpath, absent: true, key: "absent"}})
	}
	return out, nil
}

func str(v any, epath, what string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", errAt(epath, "%s must be a string", what)
	}
	if len(s) > MaxValueBytes {
		return "", errAt(epath, "%s is %d bytes, more than the limit of %d", what, len(s), MaxValueBytes)
	}
	return s, nil
}

// exactValue compiles a plain value of a value list.
func exactValue(e any, epath string) (*matcher, error) {
	switch v := e.(type) {
	case string:
		if len(v) > MaxValueBytes {
			return nil, errAt(epath, "string is %d bytes, more than the limit of %d", len(v), MaxValueBytes)
		}
		if ip, ok := parseIP([]byte(v)); ok {
			return &matcher{kind: mExactIP, ip: ip}, nil
		}
		return &matcher{kind: mExactStr, s: v}, nil
	case json.Number:
		key, exact, f, ok := numberKey(nil, []byte(v))
		if !ok && len(key) == 0 {
			return nil, errAt(epath, "invalid number %q", string(v))
		}
		if exact {
			return &matcher{kind: mExactNum, s: string(key), f: f}, nil
		}
		return &matcher{kind: mExactLit, s: string(key)}, nil
	case bool:
		if v {
			return &matcher{kind: mTrue}, nil
		}
		return &matcher{kind: mFalse}, nil
	case nil:
		return &matcher{kind: mNull}, nil
	}
	return nil, errAt(epath, "unsupported value")
}

// value compiles one element of a value list.
func (c *compiler) value(e any, epath string) ([]*matcher, bool, error) {
	obj, ok := e.(map[string]any)
	if !ok {
		if _, isArr := e.([]any); isArr {
			return nil, false, errAt(epath, "nested arrays are not allowed in a value list")
		}
		m, err := exactValue(e, epath)
		if err != nil {
			return nil, false, err
		}
		return []*matcher{m}, false, nil
	}
	if len(obj) != 1 {
		return nil, false, errAt(epath, "a matcher object must have exactly one key, got %d", len(obj))
	}
	var op string
	var arg any
	for k, v := range obj {
		op, arg = k, v
	}
	opath := epath + "." + op
	switch op {
	case "exactly":
		s, err := str(arg, opath, "exactly")
		if err != nil {
			return nil, false, err
		}
		return []*matcher{{kind: mExactStr, s: s}}, false, nil
	case "prefix", "suffix":
		m, err := affix(op, arg, opath)
		return []*matcher{m}, false, err
	case "equals-ignore-case":
		s, err := str(arg, opath, "equals-ignore-case")
		if err != nil {
			return nil, false, err
		}
		return []*matcher{{kind: mEqFold, s: foldString(s)}}, false, nil
	case "wildcard":
		m, err := compileWildcard(arg, opath)
		return []*matcher{m}, false, err
	case "numeric":
		m, err := numeric(arg, opath)
		return []*matcher{m}, false, err
	case "cidr":
		s, err := str(arg, opath, "cidr")
		if err != nil {
			return nil, false, err
		}
		p, perr := netip.ParsePrefix(s)
		if perr != nil {
			return nil, false, errAt(opath, "invalid cidr %q", s)
		}
		return []*matcher{{kind: mCIDR, pfx: p.Masked()}}, false, nil
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return nil, false, errAt(opath, "exists takes true or false")
		}
		if !b {
			return nil, true, nil
		}
		return []*matcher{{kind: mExists}}, false, nil
	case "anything-but":
		m, err := anythingBut(arg, opath)
		return []*matcher{m}, false, err
	}
	return nil, false, errAt(opath, "unknown operator %q", op)
}

func affix(op string, arg any, opath string) (*matcher, error) {
	kind, foldKind := mPrefix, mPrefixFold
	if op == "suffix" {
		kind, foldKind = mSuffix, mSuffixFold
	}
	if o, ok := arg.(map[string]any); ok {
		if len(o) != 1 {
			return nil, errAt(opath, "%s takes a string or {\"equals-ignore-case\": string}", op)
		}
		v, ok := o["equals-ignore-case"]
		if !ok {
			return nil, errAt(opath, "%s takes a string or {\"equals-ignore-case\": string}", op)
		}
		s, err := str(v, opath+".equals-ignore-case", op)
		if err != nil {
			return nil, err
		}
		return &matcher{kind: foldKind, s: foldString(s)}, nil
	}
	s, err := str(arg, opath, op)
	if err != nil {
		return nil, err
	}
	return &matcher{kind: kind, s: s}, nil
}

func compileWildcard(arg any, opath string) (*matcher, error) {
	s, err := str(arg, opath, "wildcard")
	if err != nil {
		return nil, err
	}
	var segs []string
	var cur []byte
	prevStar := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*':
			if prevStar {
				return nil, errAt(opath, "consecutive wildcard characters (**) are not allowed")
			}
			prevStar = true
			segs = append(segs, string(cur))
			cur = cur[:0]
			if len(segs) > MaxWildcardStars {
				return nil, errAt(opath, "more than %d wildcard characters", MaxWildcardStars)
			}
			continue
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '*' && s[i+1] != '\\') {
				return nil, errAt(opath, "invalid escape at byte %d: only \\* and \\\\ are allowed", i)
			}
			i++
			cur = append(cur, s[i])
		default:
			cur = append(cur, s[i])
		}
		prevStar = false
	}
	segs = append(segs, string(cur))
	return &matcher{kind: mWildcard, wc: &wildcard{segs: segs}}, nil
}

func numArg(v any, epath string) (float64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, errAt(epath, "numeric bound must be a number")
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return 0, errAt(epath, "numeric bound %s is out of range", string(n))
	}
	return f, nil
}

func numeric(arg any, opath string) (*matcher, error) {
	arr, ok := arg.([]any)
	if !ok {
		return nil, errAt(opath, "numeric takes an array like [\">\", 0, \"<=\", 5]")
	}
	m := &matcher{kind: mNumeric, lo: inf(-1), hi: inf(1), loInc: true, hiInc: true}
	if len(arr) != 2 && len(arr) != 4 {
		return nil, errAt(opath, "numeric takes 2 or 4 elements, got %d", len(arr))
	}
	op, ok := arr[0].(string)
	if !ok {
		return nil, errAt(opath, "numeric operator must be a string")
	}
	f, err := numArg(arr[1], opath)
	if err != nil {
		return nil, err
	}
	lower := false
	switch op {
	case "=":
		if len(arr) != 2 {
			return nil, errAt(opath, "\"=\" takes exactly one number")
		}
		m.lo, m.hi = f, f
		return m, nil
	case ">", ">=":
		m.lo, m.loInc, lower = f, op == ">=", true
	case "<", "<=":
		m.hi, m.hiInc = f, op == "<="
	default:
		return nil, errAt(opath, "unknown numeric operator %q", op)
	}
	if len(arr) == 2 {
		return m, nil
	}
	if !lower {
		return nil, errAt(opath, "upper bound before lower bound")
	}
	op2, ok := arr[2].(string)
	if !ok {
		return nil, errAt(opath, "numeric operator must be a string")
	}
	f2, err := numArg(arr[3], opath)
	if err != nil {
		return nil, err
	}
	switch op2 {
	case "<", "<=":
		m.hi, m.hiInc = f2, op2 == "<="
	case ">", ">=":
		return nil, errAt(opath, "two lower bounds")
	case "=":
		return nil, errAt(opath, "\"=\" cannot be combined with a range")
	default:
		return nil, errAt(opath, "unknown numeric operator %q", op2)
	}
	if m.lo > m.hi || (m.lo == m.hi && !(m.loInc && m.hiInc)) {
		return nil, errAt(opath, "empty range: lower bound %v is not below upper bound %v", m.lo, m.hi)
	}
	return m, nil
}

func anythingBut(arg any, opath string) (*matcher, error) {
	m := &matcher{kind: mAnyBut}
	switch v := arg.(type) {
	case string, json.Number:
		e, err := exactValue(v, opath)
		if err != nil {
			return nil, err
		}
		m.neg = []*matcher{e}
	case []any:
		if len(v) == 0 {
			return nil, errAt(opath, "anything-but list is empty")
		}
		if len(v) > MaxValuesPerField {
			return nil, errAt(opath, "%d values, more than the limit of %d", len(v), MaxValuesPerField)
		}
		_, firstStr := v[0].(string)
		for i, x := range v {
			ipath := fmt.Sprintf("%s[%d]", opath, i)
			_, isStr := x.(string)
			_, isNum := x.(json.Number)
			if !isStr && !isNum {
				return nil, errAt(ipath, "anything-but lists hold only strings or only numbers")
			}
			if isStr != firstStr {
				return nil, errAt(ipath, "anything-but lists cannot mix strings and numbers")
			}
			e, err := exactValue(x, ipath)
			if err != nil {
				return nil, err
			}
			m.neg = append(m.neg, e)
		}
	case map[string]any:
		if len(v) != 1 {
			return nil, errAt(opath, "anything-but takes one of prefix, suffix, equals-ignore-case, wildcard")
		}
		for op, a := range v {
			ipath := opath + "." + op
			switch op {
			case "prefix", "suffix":
				if _, ok := a.(string); !ok {
					return nil, errAt(ipath, "%s must be a string", op)
				}
				e, err := affix(op, a, ipath)
				if err != nil {
					return nil, err
				}
				m.neg = []*matcher{e}
			case "equals-ignore-case", "wildcard":
				list, isList := a.([]any)
				if !isList {
					list = []any{a}
				} else if len(list) == 0 {
					return nil, errAt(ipath, "%s list is empty", op)
				}
				if len(list) > MaxValuesPerField {
					return nil, errAt(ipath, "%d values, more than the limit of %d", len(list), MaxValuesPerField)
				}
				for i, x := range list {
					xpath := ipath
					if isList {
						xpath = fmt.Sprintf("%s[%d]", ipath, i)
					}
					if op == "wildcard" {
						e, err := compileWildcard(x, xpath)
						if err != nil {
							return nil, err
						}
						m.neg = append(m.neg, e)
						continue
					}
					s, err := str(x, xpath, op)
					if err != nil {
						return nil, err
					}
					m.neg = append(m.neg, &matcher{kind: mEqFold, s: foldString(s)})
				}
			default:
				return nil, errAt(ipath, "anything-but does not take %q", op)
			}
		}
	default:
		return nil, errAt(opath, "anything-but takes a string, a number, a list or an object")
	}
	return m, nil
}
