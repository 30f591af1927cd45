package pattern

import (
	"math"
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
	str        strMap
	ip4        u64Map // IPv4 addresses (netip.Addr.Is4) by their 32 bits
	ip         map[netip.Addr][]int32
	num        u64Map // exact numbers by numBits of their value
	lit        map[string][]int32
	fold       strMap
	tru, fal   []int32
	nul, any   []int32
	prefix     affixIndex
	suffix     affixIndex
	prefixFold affixIndex
	suffixFold affixIndex
	cidr4      u64Map // IPv4 blocks by bits<<32 | masked address
	cidr       map[netip.Prefix][]int32
	cidrBits4  []int
	cidrBits6  []int
	ranges     segTree
	rangeList  []rangeEntry
	slow       []slowEntry
	has        uint16 // has* bits: which of the above are in use (set by finish)
	fast       uint8  // fast*: the index holds one kind of condition with a direct lookup
}

// valueIndex.fast values.
const (
	fastNone  uint8 = iota
	fastNum         // only exact numbers
	fastStr         // only exact strings
	fastCIDR4       // only IPv4 CIDR blocks
	fastAffix       // only prefixes and suffixes (not ignoring case)
)

// valueIndex.has bits.
const (
	hasAny uint16 = 1 << iota
	hasTrue
	hasFalse
	hasNull
	hasNum   // num, lit or ranges
	hasIP    // ip4, ip, cidr4 or cidr
	hasStr   // str
	hasAffix // prefix or suffix
	hasFold  // fold, prefixFold or suffixFold
	hasSlow
)

// appendTargets appends t to out; unlike append it makes no call when t is
// empty, the usual case.
func appendTargets(out, t []int32) []int32 {
	if len(t) == 0 {
		return out
	}
	return append(out, t...)
}

// smallIndex is the most keys an index keeps in a list searched linearly
// rather than in a hash map: for a few keys a comparison is cheaper than
// hashing the looked-up value.
const smallIndex = 8

// strMap maps strings to targets: a list while small, then a hash map.
type strMap struct {
	m    map[string][]int32
	keys []string
	vals [][]int32
}

func (sm *strMap) add(k string, t int32) { addTo(&sm.m, k, t) }

// finish turns a small map into lists.
func (sm *strMap) finish() {
	if len(sm.m) == 0 || len(sm.m) > smallIndex {
		return
	}
	for k, v := range sm.m {
		sm.keys = append(sm.keys, k)
		sm.vals = append(sm.vals, v)
	}
	sm.m = nil
}

func (sm *strMap) empty() bool { return sm.m == nil && sm.keys == nil }

func (sm *strMap) get(b []byte) []int32 {
	if sm.m != nil {
		return sm.m[string(b)]
	}
	for i, k := range sm.keys {
		if len(k) == len(b) && k == string(b) {
			return sm.vals[i]
		}
	}
	return nil
}

func (sm *strMap) getString(b string) []int32 {
	if sm.m != nil {
		return sm.m[b]
	}
	for i, k := range sm.keys {
		if k == b {
			return sm.vals[i]
		}
	}
	return nil
}

// u64Map maps uint64 keys to targets. It is built in a Go map (add), then
// finish moves it to an open-addressing table of its own: a power-of-two
// number of slots at most half full, probed linearly from a multiplicative
// hash of the key. A lookup is a multiply, a shift and usually one or two
// compares, several times cheaper than a Go map or a binary search.
type u64Map struct {
	m     map[uint64][]int32
	keys  []uint64
	vals  [][]int32 // nil in an empty slot (a key always has targets)
	shift uint8     // 64 - log2(len(keys))
}

func (um *u64Map) add(k uint64, t int32) { addTo(&um.m, k, t) }

func (um *u64Map) finish() {
	if len(um.m) == 0 {
		um.m = nil
		return
	}
	size, bits := 2, 1
	for size < 2*len(um.m) {
		size *= 2
		bits++
	}
	um.keys = make([]uint64, size)
	um.vals = make([][]int32, size)
	um.shift = uint8(64 - bits)
	for k, v := range um.m {
		i := um.slot(k)
		for um.vals[i] != nil {
			i = (i + 1) & (len(um.keys) - 1)
		}
		um.keys[i], um.vals[i] = k, v
	}
	um.m = nil
}

// slot is the first slot probed for k.
func (um *u64Map) slot(k uint64) int {
	return int((k * 0x9e3779b97f4a7c15) >> um.shift)
}

func (um *u64Map) empty() bool { return um.m == nil && um.keys == nil }

func (um *u64Map) get(k uint64) []int32 {
	if um.m != nil {
		return um.m[k] // before finish
	}
	if len(um.keys) == 0 {
		return nil
	}
	mask := len(um.keys) - 1
	for i := um.slot(k) & mask; ; i = (i + 1) & mask {
		v := um.vals[i]
		if v == nil {
			return nil
		}
		if um.keys[i] == k {
			return v
		}
	}
}

// numBits is the key of an exact number: its float64 bits, with -0 as 0.
func numBits(f float64) uint64 {
	if f == 0 {
		return 0
	}
	return math.Float64bits(f)
}

func ip4Bits(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func cidr4Key(masked uint32, bits int) uint64 { return uint64(bits)<<32 | uint64(masked) }

// affixIndex finds the prefixes (or suffixes) of a value: while small, a
// list checked one by one; then one hash lookup per distinct length.
type affixIndex struct {
	m     map[string][]int32
	lens  []int
	small []affixEntry
}

type affixEntry struct {
	s       string
	targets []int32
}

func (a *affixIndex) empty() bool { return a.m == nil && a.small == nil }

func (a *affixIndex) finish() {
	if len(a.m) == 0 || len(a.m) > smallIndex {
		return
	}
	for k, v := range a.m {
		a.small = append(a.small, affixEntry{k, v})
	}
	a.m = nil
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
		ix.str.add(m.s, t)
	case mExactIP:
		if m.ip.Is4() {
			ix.ip4.add(uint64(ip4Bits(m.ip)), t)
		} else {
			addTo(&ix.ip, m.ip, t)
		}
	case mExactNum:
		ix.num.add(numBits(m.f), t)
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
		ix.fold.add(m.s, t)
	case mPrefix:
		ix.prefix.add(m.s, t)
	case mSuffix:
		ix.suffix.add(m.s, t)
	case mPrefixFold:
		ix.prefixFold.add(m.s, t)
	case mSuffixFold:
		ix.suffixFold.add(m.s, t)
	case mCIDR:
		bits := &ix.cidrBits6
		if m.pfx.Addr().Is4() {
			bits = &ix.cidrBits4
			ix.cidr4.add(cidr4Key(ip4Bits(m.pfx.Addr()), m.pfx.Bits()), t)
		} else {
			addTo(&ix.cidr, m.pfx, t)
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
	if len(ix.rangeList) > 0 || len(ix.num.m) > 0 {
		// Exact numbers and ranges in one sorted point list.
		keys := make([]float64, 0, len(ix.num.m))
		for k := range ix.num.m {
			keys = append(keys, math.Float64frombits(k))
		}
		slices.Sort(keys)
		vals := make([][]int32, len(keys))
		for i, k := range keys {
			vals[i] = ix.num.m[numBits(k)]
		}
		ix.ranges.build(ix.rangeList, keys, vals)
		ix.num = u64Map{}
	}
	ix.str.finish()
	ix.fold.finish()
	ix.ip4.finish()
	ix.num.finish()
	ix.cidr4.finish()
	ix.prefix.finish()
	ix.suffix.finish()
	ix.prefixFold.finish()
	ix.suffixFold.finish()
	ix.has = 0
	set := func(b uint16, on bool) {
		if on {
			ix.has |= b
		}
	}
	set(hasAny, len(ix.any) > 0)
	set(hasTrue, len(ix.tru) > 0)
	set(hasFalse, len(ix.fal) > 0)
	set(hasNull, len(ix.nul) > 0)
	set(hasNum, ix.ranges.pts != nil || ix.lit != nil)
	set(hasIP, !ix.ip4.empty() || ix.ip != nil || !ix.cidr4.empty() || ix.cidr != nil)
	set(hasStr, !ix.str.empty())
	set(hasAffix, !ix.prefix.empty() || !ix.suffix.empty())
	set(hasFold, !ix.fold.empty() || !ix.prefixFold.empty() || !ix.suffixFold.empty())
	set(hasSlow, len(ix.slow) > 0)
	switch {
	case ix.has == hasNum && ix.lit == nil:
		ix.fast = fastNum
	case ix.has == hasStr:
		ix.fast = fastStr
	case ix.has == hasIP && ix.ip4.empty() && ix.ip == nil && ix.cidr == nil:
		ix.fast = fastCIDR4
	case ix.has == hasAffix:
		ix.fast = fastAffix
	}
}

func (a *affixIndex) lookupPrefix(b []byte, out []int32) []int32 { return lookupPrefix(a, b, out) }

func lookupPrefix[S string | []byte](a *affixIndex, b S, out []int32) []int32 {
	if a.m == nil {
		for i := range a.small {
			e := &a.small[i]
			if len(e.s) <= len(b) && e.s == string(b[:len(e.s)]) {
				out = appendTargets(out, e.targets)
			}
		}
		return out
	}
	for _, n := range a.lens {
		if n > len(b) {
			break
		}
		out = appendTargets(out, a.m[string(b[:n])])
	}
	return out
}

func (a *affixIndex) lookupSuffix(b []byte, out []int32) []int32 { return lookupSuffix(a, b, out) }

func lookupSuffix[S string | []byte](a *affixIndex, b S, out []int32) []int32 {
	if a.m == nil {
		for i := range a.small {
			e := &a.small[i]
			if len(e.s) <= len(b) && e.s == string(b[len(b)-len(e.s):]) {
				out = appendTargets(out, e.targets)
			}
		}
		return out
	}
	for _, n := range a.lens {
		if n > len(b) {
			break
		}
		out = appendTargets(out, a.m[string(b[len(b)-n:])])
	}
	return out
}

// lookup appends to out the targets of every condition value v satisfies.
// A target may appear more than once.
func (ix *valueIndex) lookup(v *val, s *scratch, out []int32) []int32 {
	switch ix.fast {
	case fastNum:
		if v.kind != vNumber {
			return out
		}
		if v.flags&(flFloatDone|flNumExact|flNumFloat) == flFloatDone|flNumExact|flNumFloat {
			return ix.ranges.query(v.f, true, out)
		}
	case fastStr:
		if v.kind != vString {
			return out
		}
		if v.flags&flLazyText == 0 {
			return appendTargets(out, ix.str.get(s.buf[v.off:v.off+v.n]))
		}
	case fastCIDR4:
		if v.kind != vString {
			return out
		}
		if v.flags&(flIPDone|flIP4) == flIPDone|flIP4 {
			return ix.lookupCIDR4(ip4Bits(netip.AddrFrom4([4]byte(v.ip[12:]))), out)
		}
	}
	h := ix.has
	if h&hasAny != 0 {
		out = append(out, ix.any...)
	}
	switch v.kind {
	case vString:
		if h&(hasIP|hasStr|hasAffix|hasFold) != 0 {
			out = ix.lookupString(v, s, out)
		}
	case vNumber:
		if h&hasNum != 0 {
			out = ix.lookupNumber(v, s, out)
		}
	case vTrue:
		out = appendTargets(out, ix.tru)
	case vFalse:
		out = appendTargets(out, ix.fal)
	case vNull:
		out = appendTargets(out, ix.nul)
	}
	if h&hasSlow != 0 {
		for i := range ix.slow {
			if ix.slow[i].m.match(v, s) {
				out = append(out, ix.slow[i].target)
			}
		}
	}
	return out
}

func (ix *valueIndex) lookupNumber(v *val, s *scratch, out []int32) []int32 {
	f, exact, ok := s.number(v)
	if !exact && ix.lit != nil {
		k, _ := s.numKey(v)
		out = appendTargets(out, ix.lit[string(k)])
	}
	if ok && ix.ranges.pts != nil {
		out = ix.ranges.query(f, exact, out)
	}
	return out
}

func (ix *valueIndex) lookupString(v *val, s *scratch, out []int32) []int32 {
	h := ix.has
	if h&hasIP != 0 {
		out = ix.lookupIP(v, s, out)
	}
	if h&hasStr != 0 {
		out = appendTargets(out, ix.str.get(s.bytes(v)))
	}
	if h&hasAffix != 0 {
		if !ix.prefix.empty() {
			out = ix.prefix.lookupPrefix(s.bytes(v), out)
		}
		if !ix.suffix.empty() {
			out = ix.suffix.lookupSuffix(s.bytes(v), out)
		}
	}
	if h&hasFold != 0 {
		f := s.folded(v)
		if !ix.fold.empty() {
			out = appendTargets(out, ix.fold.get(f))
		}
		if !ix.prefixFold.empty() {
			out = ix.prefixFold.lookupPrefix(f, out)
		}
		if !ix.suffixFold.empty() {
			out = ix.suffixFold.lookupSuffix(f, out)
		}
	}
	return out
}

// lookupCIDR4 appends the targets of the IPv4 blocks holding address a.
func (ix *valueIndex) lookupCIDR4(a uint32, out []int32) []int32 {
	for _, n := range ix.cidrBits4 {
		masked := a
		if n < 32 {
			masked = a &^ (1<<(32-n) - 1)
		}
		out = appendTargets(out, ix.cidr4.get(cidr4Key(masked, n)))
	}
	return out
}

// lookupIP appends the targets of the exact IP and CIDR conditions string v
// satisfies when it is an IP address.
func (ix *valueIndex) lookupIP(v *val, s *scratch, out []int32) []int32 {
	ip, ok := s.addr(v)
	if !ok {
		return out
	}
	if ip.Is4() {
		a := ip4Bits(ip)
		if !ix.ip4.empty() {
			out = appendTargets(out, ix.ip4.get(uint64(a)))
		}
		if !ix.cidr4.empty() {
			out = ix.lookupCIDR4(a, out)
		}
		return out
	}
	if ix.ip != nil {
		out = appendTargets(out, ix.ip[ip])
	}
	if ix.cidr != nil {
		for _, n := range ix.cidrBits6 {
			p, _ := ip.Prefix(n)
			out = appendTargets(out, ix.cidr[p])
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
	// flat, when the ranges overlap little, lists the targets of every
	// unit directly, so a query is one binary search and one append.
	flat [][]int32
	// exact lists, per point, the targets of the exact-number conditions
	// on it (nil when the index keeps exact numbers in num), so one binary
	// search serves exact numbers and ranges.
	exact [][]int32
	// dense, when every point is an integer and they span at most
	// denseSpan values, holds lowerBound(pts, x) for each integer x from
	// pts[0] to the last point: ports, lengths, TTLs and the like are then
	// found without a search.
	dense   []uint16
	denseLo int64
}

// denseSpan bounds segTree.dense: 8 KiB per index.
const denseSpan = 4096

func (t *segTree) build(rs []rangeEntry, exactKeys []float64, exactVals [][]int32) {
	pts := slices.Clone(exactKeys)
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
	t.buildDense()
	if len(exactKeys) > 0 {
		t.exact = make([][]int32, len(pts))
		for i, k := range exactKeys {
			j, _ := slices.BinarySearch(pts, k)
			t.exact[j] = append(t.exact[j], exactVals[i]...)
		}
	}
	t.n = len(rs)
	if len(rs) == 0 {
		return
	}
	units := 2*len(pts) + 1
	type span struct {
		a, b   int
		target int32
	}
	spans := make([]span, 0, len(rs))
	total := 0
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
		spans = append(spans, span{a, b, r.target})
		total += b - a + 1
	}
	if total <= 4*len(rs)+2*units {
		t.flat = make([][]int32, units)
		for _, sp := range spans {
			for u := sp.a; u <= sp.b; u++ {
				addList(&t.flat[u], sp.target)
			}
		}
		return
	}
	t.size = 1
	for t.size < units {
		t.size *= 2
	}
	t.nodes = make([][]int32, 2*t.size)
	for _, sp := range spans {
		t.insert(1, 0, t.size-1, sp.a, sp.b, sp.target)
	}
}

func (t *segTree) buildDense() {
	pts := t.pts
	if len(pts) == 0 {
		return
	}
	lo, hi := pts[0], pts[len(pts)-1]
	if lo < -1<<40 || hi > 1<<40 || hi-lo >= denseSpan {
		return
	}
	for _, p := range pts {
		if p != float64(int64(p)) {
			return
		}
	}
	t.denseLo = int64(lo)
	t.dense = make([]uint16, int64(hi)-t.denseLo+1)
	for i := range t.dense {
		t.dense[i] = uint16(lowerBound(pts, float64(t.denseLo+int64(i))))
	}
}

// search returns lowerBound(t.pts, x).
func (t *segTree) search(x float64) int {
	if t.dense != nil {
		if !(x >= t.pts[0]) { // NaN never reaches here: numbers are finite
			return 0
		}
		if d := int64(x) - t.denseLo; d >= int64(len(t.dense)) {
			return len(t.pts)
		} else if float64(int64(x)) == x {
			return int(t.dense[d])
		}
	}
	return lowerBound(t.pts, x)
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

// query appends the targets of the ranges holding x and, when exact is set
// (x is an exact number), of the exact numbers equal to x.
func (t *segTree) query(x float64, exact bool, out []int32) []int32 {
	// i is the first point >= x.
	i := t.search(x)
	u := 2 * i
	if i < len(t.pts) && t.pts[i] == x {
		u = 2*i + 1
		if exact && t.exact != nil {
			out = appendTargets(out, t.exact[i])
		}
	}
	if t.n == 0 {
		return out
	}
	if t.flat != nil {
		return appendTargets(out, t.flat[u])
	}
	node := u + t.size
	for node >= 1 {
		out = appendTargets(out, t.nodes[node])
		node /= 2
	}
	return out
}

// lowerBound returns the index of the first element of sorted a that is not
// less than x (len(a) if none).
func lowerBound[T uint64 | float64](a []T, x T) int {
	i, j := 0, len(a)
	for i < j {
		h := int(uint(i+j) >> 1)
		if a[h] < x {
			i = h + 1
		} else {
			j = h
		}
	}
	return i
}

// find returns the targets of query(x, true, nil) as two lists, without
// copying them when it can: the exact numbers equal to x and the ranges
// holding x. The lists must not be modified; out is used for the second
// when the tree has to collect it.
func (t *segTree) find(x float64, out []int32) (exact, ranges []int32) {
	i := t.search(x)
	u := 2 * i
	if i < len(t.pts) && t.pts[i] == x {
		u = 2*i + 1
		if t.exact != nil {
			exact = t.exact[i]
		}
	}
	if t.n == 0 {
		return exact, nil
	}
	if t.flat != nil {
		return exact, t.flat[u]
	}
	node := u + t.size
	for node >= 1 {
		out = appendTargets(out, t.nodes[node])
		node /= 2
	}
	return exact, out
}

func isInf(f float64) bool { return f > 1.7976931348623157e308 || f < -1.7976931348623157e308 }
