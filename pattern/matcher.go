package pattern

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Matcher holds named patterns and tells which of them match an event.
//
// Match and MatchJSON may be called from many goroutines at once, also while
// Add and Remove run: they read an immutable snapshot of the pattern set
// behind an atomic pointer. Add and Remove only record the change; the next
// Match builds the new snapshot once (copy-on-write), so loading many
// patterns costs one build.
//
// The snapshot is an automaton over field conditions, shared between
// patterns: each pattern alternative (after $or expansion) is a sequence of
// field conditions in field-name order, and patterns with the same leading
// conditions share automaton states. Leaving a state, each field has one
// value index (hash maps for exact values, per-length maps for prefixes and
// suffixes, a segment tree for numeric ranges ...), so matching costs about
// one lookup per event value of each field the patterns use, whatever the
// number of patterns.
type Matcher struct {
	mu       sync.Mutex
	patterns map[string]*Pattern
	snap     atomic.Pointer[snapshot]
}

// NewMatcher returns an empty Matcher.
func NewMatcher() *Matcher { return &Matcher{patterns: map[string]*Pattern{}} }

// Add adds p under name, replacing any pattern of that name.
func (m *Matcher) Add(name string, p *Pattern) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.patterns == nil {
		m.patterns = map[string]*Pattern{}
	}
	m.patterns[name] = p
	m.snap.Store(nil)
}

// Remove removes the pattern called name and reports whether it was there.
func (m *Matcher) Remove(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.patterns[name]; !ok {
		return false
	}
	delete(m.patterns, name)
	m.snap.Store(nil)
	return true
}

// Len returns the number of patterns.
func (m *Matcher) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.patterns)
}

func (m *Matcher) current() *snapshot {
	if s := m.snap.Load(); s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.snap.Load(); s != nil {
		return s
	}
	names := make([]string, 0, len(m.patterns))
	for n := range m.patterns {
		names = append(names, n)
	}
	sort.Strings(names)
	ps := make([]*Pattern, len(names))
	for i, n := range names {
		ps[i] = m.patterns[n]
	}
	s := buildSnapshot(names, ps)
	m.snap.Store(s)
	return s
}

// MatchJSON appends to dst the names of the patterns matching the JSON event
// and returns the extended slice. Names come in sorted order. It returns an
// error, and dst unchanged, when event is not valid JSON.
func (m *Matcher) MatchJSON(event []byte, dst []string) ([]string, error) {
	return m.current().matchJSON(event, dst)
}

// Match appends to dst the names of the patterns matching the in-memory event
// e and returns the extended slice. Names come in sorted order. For the same
// event it answers exactly as MatchJSON on the event's JSON.
func (m *Matcher) Match(e Event, dst []string) []string {
	return m.current().match(e, dst)
}

type node struct {
	accept []int32
	trans  []trans
}

type trans struct {
	field  int32
	idx    *valueIndex
	absent []int32
}

// pnode is the JSON flattener's trie of the field paths patterns use.
type pnode struct {
	children map[string]*pnode
	// keys and kids hold children too, in insertion order: a node with few
	// children is looked up by comparing keys, cheaper than hashing one.
	keys  []string
	kids  []*pnode
	field int32
}

type snapshot struct {
	names  []string
	fields []Field // the field paths patterns use, by local index
	nodes  []node
	trie   *pnode
	pool   sync.Pool
	// spare holds one scratch for the common single-goroutine case: taking
	// and returning it is one atomic swap each, cheaper than the pool.
	spare atomic.Pointer[scratch]
}

type bnode struct {
	accept []int32
	trans  map[int32]*btrans
}

type btrans struct {
	field  int32
	byKey  map[string]int32
	idx    *valueIndex
	absent int32
}

func buildSnapshot(names []string, ps []*Pattern) *snapshot {
	s := &snapshot{names: names, trie: &pnode{field: -1}}
	fieldOf := map[string]int32{}
	var bnodes []*bnode
	newNode := func() int32 {
		bnodes = append(bnodes, &bnode{trans: map[int32]*btrans{}})
		return int32(len(bnodes) - 1)
	}
	newNode()
	order := selectiveOrder(ps)
	for pi, p := range ps {
		for _, br := range p.branches {
			br = order(br)
			n := int32(0)
			for _, c := range br {
				f, ok := fieldOf[c.path]
				if !ok {
					f = int32(len(s.fields))
					fieldOf[c.path] = f
					s.fields = append(s.fields, Field{ID: PathID(c.path), Path: c.path})
					s.addTrie(c.path, f)
				}
				t := bnodes[n].trans[f]
				if t == nil {
					t = &btrans{field: f, byKey: map[string]int32{}, absent: -1}
					bnodes[n].trans[f] = t
				}
				if c.absent {
					if t.absent < 0 {
						t.absent = newNode()
					}
					n = t.absent
					continue
				}
				tgt, ok := t.byKey[c.key]
				if !ok {
					tgt = newNode()
					t.byKey[c.key] = tgt
					if t.idx == nil {
						t.idx = &valueIndex{}
					}
					for _, m := range c.alts {
						t.idx.add(m, tgt)
					}
				}
				n = tgt
			}
			addList(&bnodes[n].accept, int32(pi))
		}
	}
	s.nodes = make([]node, len(bnodes))
	for i, b := range bnodes {
		nd := &s.nodes[i]
		nd.accept = b.accept
		for _, t := range b.trans {
			tr := trans{field: t.field, idx: t.idx}
			if t.absent >= 0 {
				tr.absent = []int32{t.absent}
			}
			if tr.idx != nil {
				tr.idx.finish()
			}
			nd.trans = append(nd.trans, tr)
		}
		sort.Slice(nd.trans, func(a, b int) bool { return nd.trans[a].field < nd.trans[b].field })
	}
	s.pool.New = func() any { return newScratch(s) }
	return s
}

// selectiveOrder returns a function that orders the conditions of a branch
// for the automaton: the positive conditions (which compile puts first) by
// decreasing selectivity of their field, estimated as the number of distinct
// conditions the pattern set has on it, then by path; the absent conditions
// stay last, in their order. Testing the most selective field first lets a
// miss end a branch before the fields many patterns share (source,
// detail-type, Protocol) are fetched. A conjunction of positive conditions
// answers the same in any order (array consistency is pairwise), so this
// changes the cost of matching, not its result.
func selectiveOrder(ps []*Pattern) func([]*cond) []*cond {
	keys := map[string]map[string]bool{}
	for _, p := range ps {
		for _, br := range p.branches {
			for _, c := range br {
				if c.absent {
					continue
				}
				if keys[c.path] == nil {
					keys[c.path] = map[string]bool{}
				}
				keys[c.path][c.key] = true
			}
		}
	}
	return func(br []*cond) []*cond {
		npos := 0
		for npos < len(br) && !br[npos].absent {
			npos++
		}
		if npos < 2 {
			return br
		}
		out := slices.Clone(br)
		sort.SliceStable(out[:npos], func(i, j int) bool {
			a, b := out[i], out[j]
			if na, nb := len(keys[a.path]), len(keys[b.path]); na != nb {
				return na > nb
			}
			if a.path != b.path {
				return a.path < b.path
			}
			return a.key < b.key
		})
		return out
	}
}

func (s *snapshot) addTrie(path string, f int32) {
	n := s.trie
	for _, seg := range strings.Split(path, ".") {
		c := n.children[seg]
		if c == nil {
			if n.children == nil {
				n.children = map[string]*pnode{}
			}
			c = &pnode{field: -1}
			n.children[seg] = c
			n.keys = append(n.keys, seg)
			n.kids = append(n.kids, c)
		}
		n = c
	}
	n.field = f
}

func (s *snapshot) matchJSON(event []byte, dst []string) ([]string, error) {
	sc := s.pool.Get().(*scratch)
	defer s.pool.Put(sc)
	sc.reset()
	if err := sc.flatten(event); err != nil {
		return dst, fmt.Errorf("pattern: match json: %w", err)
	}
	sc.bucket()
	return sc.run(dst), nil
}

func (s *snapshot) getScratch() *scratch {
	if sc := s.spare.Swap(nil); sc != nil {
		return sc
	}
	return s.pool.Get().(*scratch)
}

func (s *snapshot) putScratch(sc *scratch) {
	if s.spare.Load() == nil {
		sc = s.spare.Swap(sc)
		if sc == nil {
			return
		}
	}
	s.pool.Put(sc)
}

func (s *snapshot) match(e Event, dst []string) []string {
	// No defer: if e panics, the scratch is simply not reused.
	sc := s.getScratch()
	dst = sc.matchEvent(e, dst)
	s.putScratch(sc)
	return dst
}

// matchEvent matches e with this scratch: first the scalar run, which holds
// for events whose fields each have at most one value outside arrays, then,
// if a field turns out to have more, the general run (the fields fetched so
// far are kept).
func (sc *scratch) matchEvent(e Event, dst []string) []string {
	sc.reset()
	sc.ev = e
	sc.sev, _ = e.(ScalarEvent)
	n := len(dst)
	dst, ok := sc.runScalar(dst)
	if !ok {
		sc.restart()
		dst = sc.run(dst[:n])
	}
	sc.ev, sc.sev = nil, nil
	return dst
}

// State is one goroutine's working memory for matching: with it,
// Matcher.MatchState matches without taking memory from a shared pool,
// which costs atomic operations on every call. The zero State is ready to
// use; it follows the Matcher's pattern set by itself. A State must not be
// used by two goroutines at once; one per worker goroutine is the intent.
type State struct {
	sc *scratch
}

// MatchState is Match using st's memory instead of a pooled one.
func (m *Matcher) MatchState(st *State, e Event, dst []string) []string {
	sn := m.current()
	sc := st.sc
	if sc == nil || sc.snap != sn {
		sc = newScratch(sn)
		st.sc = sc
	}
	return sc.matchEvent(e, dst)
}

// bucket groups the flattened values by field (counting sort, stable).
func (s *scratch) bucket() {
	fs := s.fslots
	for f := range fs {
		fs[f] = fslot{ep: s.epoch}
	}
	for i := range s.vals {
		fs[s.vals[i].field].end++
	}
	pos := int32(0)
	for f := range fs {
		c := fs[f].end
		fs[f].start = pos
		fs[f].end = pos
		pos += c
	}
	if cap(s.vals2) < len(s.vals) {
		s.vals2 = make([]val, len(s.vals), 2*len(s.vals))
	}
	s.vals2 = s.vals2[:len(s.vals)]
	for i := range s.vals {
		f := s.vals[i].field
		s.vals2[fs[f].end] = s.vals[i]
		fs[f].end++
	}
	// The grouped values become s.vals, where run reads every field's.
	s.vals, s.vals2 = s.vals2, s.vals
}

// fetch asks the Event for the leaf values of local field f (once per
// Match; the JSON path has them all from the start) and returns their slot.
func (s *scratch) fetch(f int32) *fslot {
	fs := &s.fslots[f]
	if fs.ep != s.epoch {
		fs.ep = s.epoch
		fs.start = int32(len(s.vals))
		s.curFld = f
		s.stack = s.stack[:0]
		s.ev.VisitField(s.snap.fields[f], (*Values)(s))
		fs.end = int32(len(s.vals))
	}
	return fs
}

// compatible reports whether a value with trail t can join the values
// already chosen under constraint c: no array appears in both with
// different element indexes.
func compatible(c, t []arrEntry) bool {
	for _, e := range t {
		for _, x := range c {
			if x.arr == e.arr && x.idx != e.idx {
				return false
			}
		}
	}
	return true
}

// push adds automaton state (n, constraint) unless already present. A node
// without transitions only accepts: its patterns are recorded at once,
// without a state.
func (s *scratch) push(n int32, coff, cn int32) {
	nd := &s.snap.nodes[n]
	if len(nd.trans) == 0 {
		s.accept(nd.accept)
		return
	}
	head := int32(-1)
	if s.nodeEp[n] != s.nep {
		s.nodeEp[n] = s.nep
	} else {
		head = s.nodeHead[n]
		c := s.cons[coff : coff+cn]
		for i := head; i >= 0; i = s.states[i].next {
			st := &s.states[i]
			if st.cn == cn && sameEntries(s.cons[st.coff:st.coff+st.cn], c) {
				return
			}
		}
	}
	k := len(s.states)
	if k == cap(s.states) {
		s.states = append(s.states, state{})
	} else {
		s.states = s.states[:k+1]
	}
	st := &s.states[k]
	st.node, st.coff, st.cn, st.next = n, coff, cn, head
	s.nodeHead[n] = int32(k)
}

// accept records the patterns of an accepting node.
func (s *scratch) accept(ps []int32) {
	for _, p := range ps {
		if s.patEp[p] != s.nep {
			s.patEp[p] = s.nep
			s.matched = append(s.matched, p)
		}
	}
}

func sameEntries(a, b []arrEntry) bool {
	for _, e := range b {
		found := false
		for _, x := range a {
			if x == e {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// merge returns the constraint c extended with trail t.
func (s *scratch) merge(coff, cn int32, t []arrEntry) (int32, int32) {
	if len(t) == 0 {
		return coff, cn
	}
	start := int32(len(s.cons))
	s.cons = append(s.cons, s.cons[coff:coff+cn]...)
	for _, e := range t {
		dup := false
		for _, x := range s.cons[start:] {
			if x == e {
				dup = true
				break
			}
		}
		if !dup {
			s.cons = append(s.cons, e)
		}
	}
	return start, int32(len(s.cons)) - start
}

// run simulates the automaton over the event's values and appends the names
// of accepted patterns.
func (s *scratch) run(dst []string) []string {
	sn := s.snap
	if len(sn.nodes) == 0 {
		return dst
	}
	s.push(0, 0, 0)
	for i := 0; i < len(s.states); i++ {
		st := s.states[i]
		nd := &sn.nodes[st.node]
		if len(nd.accept) > 0 {
			s.accept(nd.accept)
		}
		for ti := range nd.trans {
			tr := &nd.trans[ti]
			fs := &s.fslots[tr.field]
			if fs.ep != s.epoch {
				fs = s.fetch(tr.field)
			}
			vals := s.vals[fs.start:fs.end]
			if len(vals) == 1 && vals[0].tn == 0 {
				// One value outside arrays (most fields of most events):
				// no array constraint to check or extend.
				if tr.idx != nil {
					s.tbuf = tr.idx.lookup(&vals[0], s, s.tbuf[:0])
					for _, tgt := range s.tbuf {
						s.push(tgt, st.coff, st.cn)
					}
				}
				continue
			}
			anyCompat := false
			for vi := range vals {
				v := &vals[vi]
				t := s.trails[v.toff : v.toff+v.tn]
				if st.cn > 0 && len(t) > 0 && !compatible(s.cons[st.coff:st.coff+st.cn], t) {
					continue
				}
				anyCompat = true
				if tr.idx == nil {
					break
				}
				s.tbuf = tr.idx.lookup(v, s, s.tbuf[:0])
				if len(s.tbuf) == 0 {
					continue
				}
				coff, cn := s.merge(st.coff, st.cn, t)
				for _, tgt := range s.tbuf {
					s.push(tgt, coff, cn)
				}
			}
			if !anyCompat {
				for _, tgt := range tr.absent {
					s.push(tgt, st.coff, st.cn)
				}
			}
		}
	}
	return s.names(dst)
}

// names appends the names of the accepted patterns, in sorted order.
func (s *scratch) names(dst []string) []string {
	m := s.matched
	for i := 1; i < len(m); i++ {
		for j := i; j > 0 && m[j] < m[j-1]; j-- {
			m[j], m[j-1] = m[j-1], m[j]
		}
	}
	names := s.snap.names
	for _, p := range m {
		dst = append(dst, names[p])
	}
	return dst
}

// runScalar runs the automaton for an event whose fields each have at most
// one value, outside arrays (most packet events): no array constraints, so
// a state is just a node, visited once. Fields come from ScalarEvent.Scalar
// when the event has it, and the common indexes (exact numbers and ranges,
// exact strings, IPv4 CIDR blocks) are looked up with the scalar as it is,
// without making a val. It returns false as soon as a field has several
// values or one inside an array; the caller then restarts with the general
// run.
func (s *scratch) runScalar(dst []string) ([]string, bool) {
	nodes := s.snap.nodes
	if len(nodes) == 0 {
		return dst, true
	}
	s.todo = append(s.todo[:0], 0)
	s.nodeEp[0] = s.nep
	for len(s.todo) > 0 {
		nd := &nodes[s.todo[len(s.todo)-1]]
		s.todo = s.todo[:len(s.todo)-1]
		if len(nd.accept) > 0 {
			s.accept(nd.accept)
		}
		for i := range nd.trans {
			tr := &nd.trans[i]
			sl := &s.sslots[tr.field]
			if sl.ep != s.epoch {
				s.fetchScalar(tr.field)
			}
			var tgts, more []int32
			switch sl.kind {
			case ScalarNone:
				tgts = tr.absent
			case ScalarMany:
				fs := &s.fslots[tr.field]
				switch fs.end - fs.start {
				case 0:
					tgts = tr.absent
				case 1:
					v := &s.vals[fs.start]
					if v.tn != 0 {
						s.materialize()
						return dst, false
					}
					if tr.idx != nil {
						s.tbuf = tr.idx.lookup(v, s, s.tbuf[:0])
						tgts = s.tbuf
					}
				default:
					s.materialize()
					return dst, false
				}
			default:
				if tr.idx != nil {
					tgts, more = s.lookupScalar(tr.idx, tr.field, sl)
				}
			}
			if len(tgts) > 0 {
				s.visit(nodes, tgts)
			}
			if len(more) > 0 {
				s.visit(nodes, more)
			}
		}
	}
	return s.names(dst), true
}

// visit adds target nodes to runScalar's work list, each once; a node
// without transitions only accepts, at once.
func (s *scratch) visit(nodes []node, tgts []int32) {
	for _, t := range tgts {
		if s.nodeEp[t] == s.nep {
			continue
		}
		s.nodeEp[t] = s.nep
		if tn := &nodes[t]; len(tn.trans) == 0 {
			s.accept(tn.accept)
		} else {
			s.todo = append(s.todo, t)
		}
	}
}

// sslot holds the value of one field for runScalar: a scalar (kind, num,
// str) when the field's ep is the scratch's epoch, or ScalarMany when the
// values are in scratch.vals (fslots); vi is the val made from the scalar
// for a generic lookup, -1 until then.
type sslot struct {
	ep   uint32
	kind ScalarKind
	vi   int32
	num  uint64
	str  string
}

// fetchScalar gets the value of field f for runScalar.
func (s *scratch) fetchScalar(f int32) {
	sl := &s.sslots[f]
	sl.ep = s.epoch
	sl.vi = -1
	if s.sev != nil {
		sc := s.sev.Scalar(s.snap.fields[f])
		if sc.Kind != ScalarMany && (sc.Kind != ScalarIPv6 || len(sc.Str) == 16) {
			sl.kind, sl.num, sl.str = sc.Kind, sc.Num, sc.Str
			return
		}
	}
	sl.kind, sl.str = ScalarMany, ""
	s.fetch(f)
}

// lookupScalar looks up the scalar value of field f in ix and returns the
// targets as two lists (read only; either may be empty).
func (s *scratch) lookupScalar(ix *valueIndex, f int32, sl *sslot) ([]int32, []int32) {
	switch ix.fast {
	case fastNum:
		switch sl.kind {
		case ScalarUint:
			if sl.num <= maxExactInt {
				a, b := ix.ranges.find(float64(sl.num), s.tbuf[:0])
				if ix.ranges.flat == nil {
					s.tbuf = b // collected in tbuf: keep its memory
				}
				return a, b
			}
		case ScalarInt:
			if i := int64(sl.num); i >= -maxExactInt && i <= maxExactInt {
				a, b := ix.ranges.find(float64(i), s.tbuf[:0])
				if ix.ranges.flat == nil {
					s.tbuf = b // collected in tbuf: keep its memory
				}
				return a, b
			}
		default:
			return nil, nil // only numbers match
		}
	case fastStr:
		switch sl.kind {
		case ScalarString:
			return ix.str.getString(sl.str), nil
		case ScalarIPv4, ScalarIPv6:
		default:
			return nil, nil // only strings match
		}
	case fastAffix:
		switch sl.kind {
		case ScalarString:
			out := s.tbuf[:0]
			if !ix.prefix.empty() {
				out = lookupPrefix(&ix.prefix, sl.str, out)
			}
			if !ix.suffix.empty() {
				out = lookupSuffix(&ix.suffix, sl.str, out)
			}
			s.tbuf = out
			return out, nil
		case ScalarIPv4, ScalarIPv6:
		default:
			return nil, nil // only strings match
		}
	case fastCIDR4:
		switch sl.kind {
		case ScalarIPv4:
			if len(ix.cidrBits4) == 1 {
				n := ix.cidrBits4[0]
				a := uint32(sl.num)
				if n < 32 {
					a &^= 1<<(32-n) - 1
				}
				return ix.cidr4.get(cidr4Key(a, n)), nil
			}
			s.tbuf = ix.lookupCIDR4(uint32(sl.num), s.tbuf[:0])
			return s.tbuf, nil
		case ScalarString:
		default:
			return nil, nil // only strings match; an IPv4 block never holds an IPv6 address
		}
	}
	if sl.vi < 0 {
		sl.vi = int32(len(s.vals))
		s.curFld = f
		s.stack = s.stack[:0]
		s.addScalar(sl.kind, sl.num, sl.str)
	}
	s.tbuf = ix.lookup(&s.vals[sl.vi], s, s.tbuf[:0])
	return s.tbuf, nil
}

// materialize puts the values runScalar fetched as scalars into vals, where
// the general run reads them.
func (s *scratch) materialize() {
	for f := range s.sslots {
		sl := &s.sslots[f]
		if sl.ep != s.epoch || sl.kind == ScalarMany {
			continue
		}
		fs := &s.fslots[f]
		fs.ep = s.epoch
		fs.start = int32(len(s.vals))
		if sl.vi >= 0 {
			// Made for a lookup: it is the one value.
			fs.start = sl.vi
			fs.end = sl.vi + 1
			continue
		}
		s.curFld = int32(f)
		s.stack = s.stack[:0]
		s.addScalar(sl.kind, sl.num, sl.str)
		fs.end = int32(len(s.vals))
	}
}
