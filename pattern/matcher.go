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

type fieldInfo struct {
	path string
	gid  FieldID
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
	field    int32
}

type snapshot struct {
	names  []string
	fields []fieldInfo
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
					s.fields = append(s.fields, fieldInfo{path: c.path, gid: PathID(c.path)})
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
		}
		n = c
	}
	n.field = f
}

func (s *snapshot) matchJSON(event []byte, dst []string) ([]string, error) {
	sc := s.pool.Get().(*scratch)
	defer s.pool.Put(sc)
	sc.reset()
	sc.json = true
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
	sc.reset()
	sc.json = false
	sc.ev = e
	dst = sc.run(dst)
	sc.ev = nil
	s.putScratch(sc)
	return dst
}

// bucket groups the flattened values by field (counting sort, stable).
func (s *scratch) bucket() {
	nf := len(s.snap.fields)
	for f := 0; f < nf; f++ {
		s.fstart[f] = 0
		s.fend[f] = 0
		s.fepoch[f] = s.epoch
	}
	for i := range s.vals {
		s.fend[s.vals[i].field]++
	}
	pos := int32(0)
	for f := 0; f < nf; f++ {
		c := s.fend[f]
		s.fstart[f] = pos
		s.fend[f] = pos
		pos += c
	}
	if cap(s.vals2) < len(s.vals) {
		s.vals2 = make([]val, len(s.vals), 2*len(s.vals))
	}
	s.vals2 = s.vals2[:len(s.vals)]
	for i := range s.vals {
		f := s.vals[i].field
		s.vals2[s.fend[f]] = s.vals[i]
		s.fend[f]++
	}
	// The grouped values become s.vals, where run reads every field's.
	s.vals, s.vals2 = s.vals2, s.vals
}

// values returns the leaf values of local field f, fetching them from the
// Event on first use.
func (s *scratch) values(f int32) []val {
	if s.fepoch[f] != s.epoch && !s.json {
		s.fepoch[f] = s.epoch
		s.fstart[f] = int32(len(s.vals))
		s.curFld = f
		s.stack = s.stack[:0]
		fi := s.snap.fields[f]
		s.ev.VisitField(Field{ID: fi.gid, Path: fi.path}, (*Values)(s))
		s.fend[f] = int32(len(s.vals))
	}
	return s.vals[s.fstart[f]:s.fend[f]]
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
	if s.nodeEp[n] != s.epoch {
		s.nodeEp[n] = s.epoch
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
		if s.patEp[p] != s.epoch {
			s.patEp[p] = s.epoch
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
			var vals []val
			if f := tr.field; s.fepoch[f] == s.epoch {
				vals = s.vals[s.fstart[f]:s.fend[f]]
			} else {
				vals = s.values(f)
			}
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
	m := s.matched
	for i := 1; i < len(m); i++ {
		for j := i; j > 0 && m[j] < m[j-1]; j-- {
			m[j], m[j-1] = m[j-1], m[j]
		}
	}
	for _, p := range m {
		dst = append(dst, sn.names[p])
	}
	return dst
}
