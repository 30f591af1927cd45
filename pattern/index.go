package pattern

import (
	"net/netip"
	"slices"
	"sort"
)

// valueIndex maps a leaf value to the automaton targets of the conditions it
// satisfies, for one field leaving one automaton node. Exact values, IPs,
// numbers and case-folded strings are hash lookups; prefixes and suffixes are
// one hash lookup per distinct length; CIDR blocks one per distinct prefix
// length; numeric ranges a segment tree. Wildcards and anything-but are
// checked one by one (their number, not the number of patterns, bounds that).
type valueIndex struct {
	str        map[string][]int32
	ip         map[netip.Addr][]int32
	num        map[string][]int32
	lit        map[string][]int32
	fold       map[string][]int32
	tru, fal   []int32
	nul, any   []int32
	prefix     affixIndex
	suffix     affixIndex
	prefixFold affixIndex
	suffixFold affixIndex
	cidr       map[netip.Prefix][]int32
	cidrBits4  []int
	cidrBits6  []int
	ranges     segTree
	rangeList  []rangeEntry
	slow       []slowEntry
}

type affixIndex struct {
	m    map[string][]int32
	lens []int
}

type slowEntry struct {
	m      *matcher
	target int32
}

type rangeEntry struct {
	m      *matcher
	target int32
}

func addTo[K comparable](mp *map[K][]int32, k K, t int32) {
	if *mp == nil {
		*mp = map[K][]int32{}
	}
	l := (*mp)[k]
	if !slices.Contains(l, t) {
		(*mp)[k] = append(l, t)
	}
}

func addList(l *[]int32, t int32) {
	if !slices.Contains(*l, t) {
		*l = append(*l, t)
	}
}

func (a *affixIndex) add(s string, t int32) {
	addTo(&a.m, s, t)
	if !slices.Contains(a.lens, len(s)) {
		a.lens = append(a.lens, len(s))
		slices.Sort(a.lens)
	}
}

func (ix *valueIndex) add(m *matcher, t int32) {
	switch m.kind {
	case mExactStr:
		addTo(&ix.str, m.s, t)
	case mExactIP:
		addTo(&ix.ip, m.ip, t)
	case mExactNum:
		addTo(&ix.num, m.s, t)
	case mExactLit:
		addTo(&ix.lit, m.s, t)
	case mTrue:
		addList(&ix.tru, t)
	case mFalse:
		addList(&ix.fal, t)
	case mNull:
		addList(&ix.nul, t)
	case mExists:
		addList(&ix.any, t)
	case mEqFold:
		addTo(&ix.fold, m.s, t)
	case mPrefix:
		ix.prefix.add(m.s, t)
	case mSuffix:
		ix.suffix.add(m.s, t)
	case mPrefixFold:
		ix.prefixFold.add(m.s, t)
	case mSuffixFold:
		ix.suffixFold.add(m.s, t)
	case mCIDR:
		addTo(&ix.cidr, m.pfx, t)
		bits := &ix.cidrBits6
		if m.pfx.Addr().Is4() {
			bits = &ix.cidrBits4
		}
		if !slices.Contains(*bits, m.pfx.Bits()) {
			*bits = append(*bits, m.pfx.Bits())
		}
	case mNumeric:
		ix.rangeList = append(ix.rangeList, rangeEntry{m, t})
	default: // wildcard, anything-but
		ix.slow = append(ix.slow, slowEntry{m, t})
	}
}

func (ix *valueIndex) finish() {
	if len(ix.rangeList) > 0 {
		ix.ranges.build(ix.rangeList)
	}
}

func (a *affixIndex) lookupPrefix(b []byte, out []int32) []int32 {
	for _, n := range a.lens {
		if n > len(b) {
			break
		}
		out = append(out, a.m[string(b[:n])]...)
	}
	return out
}

func (a *affixIndex) lookupSuffix(b []byte, out []int32) []int32 {
	for _, n := range a.lens {
		if n > len(b) {
			break
		}
		out = append(out, a.m[string(b[len(b)-n:])]...)
	}
	return out
}

// lookup appends to out the targets of every condition value v satisfies.
// A target may appear more than once.
func (ix *valueIndex) lookup(v *val, s *scratch, out []int32) []int32 {
	out = append(out, ix.any...)
	switch v.kind {
	case vTrue:
		out = append(out, ix.tru...)
	case vFalse:
		out = append(out, ix.fal...)
	case vNull:
		out = append(out, ix.nul...)
	case vNumber:
		if ix.num != nil || ix.lit != nil || ix.ranges.n > 0 {
			k, exact := s.numKey(v)
			if exact {
				out = append(out, ix.num[string(k)]...)
			} else {
				out = append(out, ix.lit[string(k)]...)
			}
			if ix.ranges.n > 0 {
				if f, ok := s.float(v); ok {
					out = ix.ranges.query(f, out)
				}
			}
		}
	case vString:
		b := s.bytes(v)
		if ix.str != nil {
			out = append(out, ix.str[string(b)]...)
		}
		if ix.ip != nil || ix.cidr != nil {
			if ip, ok := s.addr(v); ok {
				out = append(out, ix.ip[ip]...)
				if ix.cidr != nil {
					bits := ix.cidrBits6
					if ip.Is4() {
						bits = ix.cidrBits4
					}
					for _, n := range bits {
						p, _ := ip.Prefix(n)
						out = append(out, ix.cidr[p]...)
					}
				}
			}
		}
		if ix.prefix.m != nil {
			out = ix.prefix.lookupPrefix(b, out)
		}
		if ix.suffix.m != nil {
			out = ix.suffix.lookupSuffix(b, out)
		}
		if ix.fold != nil || ix.prefixFold.m != nil || ix.suffixFold.m != nil {
			f := s.folded(v)
			if ix.fold != nil {
				out = append(out, ix.fold[string(f)]...)
			}
			if ix.prefixFold.m != nil {
				out = ix.prefixFold.lookupPrefix(f, out)
			}
			if ix.suffixFold.m != nil {
				out = ix.suffixFold.lookupSuffix(f, out)
			}
		}
	}
	for i := range ix.slow {
		if ix.slow[i].m.match(v, s) {
			out = append(out, ix.slow[i].target)
		}
	}
	return out
}

// segTree answers "which ranges contain x" in O(log n + answers). The real
// line is cut at the distinct range endpoints p[0] < ... < p[m-1] into 2m+1
// elementary units: unit 2i is the open gap below p[i] (above p[i-1]), unit
// 2i+1 the point p[i], unit 2m the gap above p[m-1]. Each range is stored at
// the O(log n) tree nodes that exactly cover its units.
type segTree struct {
	pts   []float64
	size  int
	nodes [][]int32
	n     int
}

func (t *segTree) build(rs []rangeEntry) {
	var pts []float64
	for _, r := range rs {
		if !isInf(r.m.lo) {
			pts = append(pts, r.m.lo)
		}
		if !isInf(r.m.hi) {
			pts = append(pts, r.m.hi)
		}
	}
	sort.Float64s(pts)
	pts = slices.Compact(pts)
	t.pts = pts
	units := 2*len(pts) + 1
	t.size = 1
	for t.size < units {
		t.size *= 2
	}
	t.nodes = make([][]int32, 2*t.size)
	t.n = len(rs)
	for _, r := range rs {
		a, b := 0, units-1
		if !isInf(r.m.lo) {
			i, _ := slices.BinarySearch(pts, r.m.lo)
			if r.m.loInc {
				a = 2*i + 1
			} else {
				a = 2*i + 2
			}
		}
		if !isInf(r.m.hi) {
			j, _ := slices.BinarySearch(pts, r.m.hi)
			if r.m.hiInc {
				b = 2*j + 1
			} else {
				b = 2 * j
			}
		}
		if a > b {
			continue
		}
		t.insert(1, 0, t.size-1, a, b, r.target)
	}
}

func (t *segTree) insert(node, lo, hi, a, b int, target int32) {
	if b < lo || hi < a {
		return
	}
	if a <= lo && hi <= b {
		addList(&t.nodes[node], target)
		return
	}
	mid := (lo + hi) / 2
	t.insert(2*node, lo, mid, a, b, target)
	t.insert(2*node+1, mid+1, hi, a, b, target)
}

func (t *segTree) query(x float64, out []int32) []int32 {
	i, found := slices.BinarySearch(t.pts, x)
	u := 2 * i
	if found {
		u = 2*i + 1
	}
	node := u + t.size
	for node >= 1 {
		out = append(out, t.nodes[node]...)
		node /= 2
	}
	return out
}

func isInf(f float64) bool { return f > 1.7976931348623157e308 || f < -1.7976931348623157e308 }
