package pattern

import (
	"math"
	"net/netip"
	"strconv"
)

type vkind uint8

const (
	vString vkind = iota
	vNumber
	vTrue
	vFalse
	vNull
)

const (
	flIPDone uint16 = 1 << iota
	flIP
	flIP4 // with flIP: ip holds an IPv4 address in ip[12:]
	flFoldDone
	flNumDone   // koff/kn hold the number's key
	flNumExact  // the key is the canonical form (f is exact)
	flNumFloat  // f holds the value
	flFloatDone // flNumExact and flNumFloat are known (the key may not be)
	flLazyText  // the text is not in buf yet: bytes() writes it from f (a number) or ip (an address)
)

// val is one leaf value of an event: bytes (string or number literal) in
// scratch.buf, lazily computed forms, and its array trail. It holds no
// pointers, so appending one is a plain copy.
type val struct {
	kind     vkind
	flags    uint16
	field    int32
	off, n   int32
	foff, fn int32
	koff, kn int32
	toff, tn int32
	f        float64
	ip       [16]byte
}

type arrEntry struct{ arr, idx uint32 }

type state struct {
	node     int32
	coff, cn int32 // constraint in scratch.cons
	next     int32 // next state of the same node
}

// scratch is the per-Match working memory, pooled per snapshot.
type scratch struct {
	snap   *snapshot
	buf    []byte
	keyBuf []byte
	vals   []val
	vals2  []val
	trails []arrEntry
	stack  []arrEntry
	fslots []fslot
	sslots []sslot
	curFld int32
	ev     Event
	sev    ScalarEvent // ev, when it is one

	states   []state
	cons     []arrEntry
	nodeHead []int32
	nodeEp   []uint32
	patEp    []uint32
	matched  []int32
	tbuf     []int32
	todo     []int32
	epoch    uint32 // fields fetched in this Match: fslot.ep == epoch
	nep      uint32 // automaton run: nodeEp, patEp == nep
	arrCount uint32
}

// fslot locates the values of one field in scratch.vals: [start, end) when
// ep is the scratch's epoch, not fetched yet otherwise.
type fslot struct {
	ep         uint32
	start, end int32
}

func newScratch(sn *snapshot) *scratch {
	return &scratch{
		snap:     sn,
		fslots:   make([]fslot, len(sn.fields)),
		sslots:   make([]sslot, len(sn.fields)),
		nodeHead: make([]int32, len(sn.nodes)),
		nodeEp:   make([]uint32, len(sn.nodes)),
		patEp:    make([]uint32, len(sn.names)),
	}
}

func (s *scratch) reset() {
	s.epoch++
	if s.epoch == 0 {
		clear(s.fslots)
		clear(s.sslots)
		s.epoch = 1
	}
	s.buf = s.buf[:0]
	s.vals = s.vals[:0]
	s.trails = s.trails[:0]
	s.stack = s.stack[:0]
	s.ev = nil
	s.sev = nil
	s.arrCount = 0
	s.restart()
}

// restart forgets the automaton's progress (states, accepted patterns) but
// keeps the fields fetched so far.
func (s *scratch) restart() {
	s.nep++
	if s.nep == 0 {
		clear(s.nodeEp)
		clear(s.patEp)
		s.nep = 1
	}
	s.states = s.states[:0]
	s.cons = s.cons[:0]
	s.matched = s.matched[:0]
}

func (s *scratch) pushValue(k vkind) *val {
	// Grow in place and set the fields there: appending a struct literal
	// builds it on the stack piecewise and copies it with wide loads, which
	// stalls on store forwarding.
	n := len(s.vals)
	if n == cap(s.vals) {
		s.vals = append(s.vals, val{})
	} else {
		s.vals = s.vals[:n+1]
	}
	v := &s.vals[n]
	*v = val{}
	v.kind = k
	v.field = s.curFld
	v.off = int32(len(s.buf))
	if len(s.stack) > 0 {
		v.toff = int32(len(s.trails))
		v.tn = int32(len(s.stack))
		s.trails = append(s.trails, s.stack...)
	}
	return v
}

func (s *scratch) addValue(k vkind, b []byte) {
	v := s.pushValue(k)
	s.buf = append(s.buf, b...)
	v.n = int32(len(b))
}

func (s *scratch) addValueString(k vkind, b string) {
	v := s.pushValue(k)
	s.buf = append(s.buf, b...)
	v.n = int32(len(b))
}

// bytes returns the text of v: a string's bytes or a number's literal.
func (s *scratch) bytes(v *val) []byte {
	if v.flags&flLazyText != 0 {
		s.writeText(v)
	}
	return s.buf[v.off : v.off+v.n]
}

// writeText writes the text of a value reported without it (Values.Uint,
// Int, Addr) to buf.
func (s *scratch) writeText(v *val) {
	v.flags &^= flLazyText
	start := len(s.buf)
	if v.kind == vNumber {
		s.buf = strconv.AppendInt(s.buf, int64(v.f), 10)
	} else if a, ok := s.addr(v); ok {
		s.buf = a.AppendTo(s.buf)
	}
	v.off, v.n = int32(start), int32(len(s.buf)-start)
}

func (s *scratch) trail(v *val) []arrEntry { return s.trails[v.toff : v.toff+v.tn] }

func (s *scratch) folded(v *val) []byte {
	if v.flags&flFoldDone == 0 {
		v.flags |= flFoldDone
		v.foff = int32(len(s.buf))
		b := s.bytes(v)
		s.buf = appendFold(s.buf, b)
		v.fn = int32(len(s.buf)) - v.foff
	}
	return s.buf[v.foff : v.foff+v.fn]
}

// setAddr records a as v's parsed IP address.
func (v *val) setAddr(a netip.Addr) {
	v.flags |= flIPDone | flIP
	if a.Is4() {
		v.flags |= flIP4
		b := a.As4()
		copy(v.ip[12:], b[:])
		return
	}
	v.ip = a.As16()
}

func (s *scratch) addr(v *val) (netip.Addr, bool) {
	if v.flags&flIPDone == 0 {
		v.flags |= flIPDone
		if ip, ok := parseIP(s.bytes(v)); ok {
			v.setAddr(ip)
		}
	}
	if v.flags&flIP == 0 {
		return netip.Addr{}, false
	}
	if v.flags&flIP4 != 0 {
		return netip.AddrFrom4([4]byte(v.ip[12:])), true
	}
	return netip.AddrFrom16(v.ip), true
}

// numKey returns the key under which number v is compared for equality (see
// numberKey) and whether it is the canonical form.
func (s *scratch) numKey(v *val) ([]byte, bool) {
	if v.flags&flNumDone == 0 {
		v.flags |= flNumDone
		start := len(s.buf)
		var exact, ok bool
		var f float64
		s.buf, exact, f, ok = numberKey(s.buf, s.bytes(v))
		v.koff, v.kn = int32(start), int32(len(s.buf)-start)
		if v.flags&flFloatDone == 0 {
			v.flags |= flFloatDone
			if exact {
				v.flags |= flNumExact
			}
			if ok {
				v.f = f
				v.flags |= flNumFloat
			}
		}
	}
	return s.buf[v.koff : v.koff+v.kn], v.flags&flNumExact != 0
}

// number returns v's float64 value (ok false when it has none) and whether
// that value is exact: whether the number's canonical key is the one of f,
// so two exact numbers are equal exactly when their float64 values are.
func (s *scratch) number(v *val) (f float64, exact, ok bool) {
	if v.flags&flFloatDone == 0 {
		s.numKey(v)
	}
	return v.f, v.flags&flNumExact != 0, v.flags&flNumFloat != 0
}

func (s *scratch) float(v *val) (float64, bool) {
	f, _, ok := s.number(v)
	return f, ok
}

// maxExactInt bounds the integers reported as exact without parsing: those
// of at most 15 digits, as numberKey's smallInt fast path.
const maxExactInt = 1e15 - 1

// addInt adds an integer number. A small one is kept as its exact float64
// value, its text written only if needed; a larger one as its digits.
func (s *scratch) addInt(neg bool, u uint64) {
	v := s.pushValue(vNumber)
	if u <= maxExactInt {
		v.f = float64(u)
		if neg && u != 0 {
			v.f = -v.f
		}
		v.flags |= flFloatDone | flNumExact | flNumFloat | flLazyText
		return
	}
	if neg {
		s.buf = append(s.buf, '-')
	}
	s.buf = strconv.AppendUint(s.buf, u, 10)
	v.n = int32(len(s.buf)) - v.off
}

// addAddr adds an IP address without zone, its text written only if needed.
func (s *scratch) addAddr(a netip.Addr) {
	v := s.pushValue(vString)
	v.setAddr(a)
	v.flags |= flLazyText
}

// match reports whether leaf value v satisfies m.
func (m *matcher) match(v *val, s *scratch) bool {
	switch m.kind {
	case mExists:
		return true
	case mAnyBut:
		for _, n := range m.neg {
			if n.match(v, s) {
				return false
			}
		}
		return true
	case mTrue:
		return v.kind == vTrue
	case mFalse:
		return v.kind == vFalse
	case mNull:
		return v.kind == vNull
	case mExactNum:
		if v.kind != vNumber {
			return false
		}
		f, exact, ok := s.number(v)
		return exact && ok && f == m.f
	case mExactLit:
		if v.kind != vNumber {
			return false
		}
		k, exact := s.numKey(v)
		return !exact && string(k) == m.s
	case mNumeric:
		if v.kind != vNumber {
			return false
		}
		f, ok := s.float(v)
		return ok && m.inRange(f)
	}
	if v.kind != vString {
		return false
	}
	switch m.kind {
	case mExactStr:
		return string(s.bytes(v)) == m.s
	case mExactIP:
		ip, ok := s.addr(v)
		return ok && ip == m.ip
	case mCIDR:
		ip, ok := s.addr(v)
		return ok && m.pfx.Contains(ip)
	case mPrefix:
		b := s.bytes(v)
		return len(b) >= len(m.s) && string(b[:len(m.s)]) == m.s
	case mSuffix:
		b := s.bytes(v)
		return len(b) >= len(m.s) && string(b[len(b)-len(m.s):]) == m.s
	case mPrefixFold:
		b := s.folded(v)
		return len(b) >= len(m.s) && string(b[:len(m.s)]) == m.s
	case mSuffixFold:
		b := s.folded(v)
		return len(b) >= len(m.s) && string(b[len(b)-len(m.s):]) == m.s
	case mEqFold:
		return string(s.folded(v)) == m.s
	case mWildcard:
		return m.wc.match(s.bytes(v))
	}
	return false
}

func (m *matcher) inRange(f float64) bool {
	if f < m.lo || (f == m.lo && !m.loInc) {
		return false
	}
	if f > m.hi || (f == m.hi && !m.hiInc) {
		return false
	}
	return true
}

func inf(sign int) float64 { return math.Inf(sign) }

// addScalar adds the value of a ScalarEvent answer (not ScalarMany); the
// stack of arrays is empty, so the value has no trail.
func (s *scratch) addScalar(kind ScalarKind, num uint64, str string) {
	switch kind {
	case ScalarString:
		v := s.pushValue(vString)
		s.buf = append(s.buf, str...)
		v.n = int32(len(str))
	case ScalarUint:
		s.addInt(false, num)
	case ScalarIPv4:
		v := s.pushValue(vString)
		v.flags |= flIPDone | flIP | flIP4 | flLazyText
		n := uint32(num)
		v.ip[12], v.ip[13], v.ip[14], v.ip[15] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	case ScalarIPv6:
		// fetchScalar let only 16-byte ones through; an IPv4-mapped address
		// stays IPv6, as Values.Addr keeps it.
		v := s.pushValue(vString)
		v.flags |= flIPDone | flIP | flLazyText
		copy(v.ip[:], str)
	case ScalarNone:
	default:
		(*Values)(s).Scalar(Scalar{Kind: kind, Num: num, Str: str})
	}
}
