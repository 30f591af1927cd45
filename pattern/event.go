package pattern

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// FieldID is a process-wide small integer naming a dotted field path such as
// "detail.Destination.Port". IDs are assigned by PathID on first use and never
// change or get reused while the process runs, so an Event implementation can
// resolve the paths it serves once, at init time, and switch on the ID.
type FieldID uint32

// ArrayID identifies one array of an event for array-consistent matching.
// See Values.Enter.
type ArrayID uint32

var pathReg struct {
	mu    sync.Mutex
	ids   atomic.Pointer[map[string]FieldID]
	paths []string
}

// PathID returns the FieldID of a dotted field path, assigning the next free
// ID on first use. It is safe for concurrent use; after the first call for a
// path it does not allocate.
func PathID(path string) FieldID {
	if m := pathReg.ids.Load(); m != nil {
		if id, ok := (*m)[path]; ok {
			return id
		}
	}
	pathReg.mu.Lock()
	defer pathReg.mu.Unlock()
	old := pathReg.ids.Load()
	if old != nil {
		if id, ok := (*old)[path]; ok {
			return id
		}
	}
	next := make(map[string]FieldID, len(pathReg.paths)+1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	id := FieldID(len(pathReg.paths))
	next[path] = id
	pathReg.paths = append(pathReg.paths, path)
	pathReg.ids.Store(&next)
	return id
}

// Field names one field the Matcher needs: ID is PathID(Path).
type Field struct {
	ID   FieldID
	Path string
}

// Event is an event held in memory, matched without encoding it as JSON
// (Matcher.Match). The Matcher asks only for the fields its patterns use, each
// at most once per Match call, and only when the answer can still change the
// result.
//
// VisitField reports, through v, every leaf value found at the dotted path
// f.Path (objects along the path are walked into; arrays are transparent: the
// leaf values of every element are reported). A leaf is a string, number,
// boolean or null; an object or an empty array found at the path reports
// nothing. Report nothing for a field the event does not have.
//
// Implementations for hot paths should switch on f.ID against IDs resolved
// once with PathID, and report values with the typed methods of Values, which
// copy what they need: the bytes passed in may be reused as soon as the call
// returns, so VisitField can format into a stack buffer and never allocate.
//
// Array elements: a leaf inside an array must be reported between
// v.Enter(array, index) and v.Leave(), once per enclosing array, outermost
// first. The ArrayID must be the same for the same array instance in every
// VisitField call of one Match, and different for different arrays. For an
// array that is not inside another array, uint32(PathID(arrayPath)) is a good
// choice; an array nested inside another array can reuse the same scheme with
// its own path, since the enclosing element index already tells instances
// apart. The Matcher never combines, in one pattern match, leaves reported
// under different indexes of the same ArrayID (array-consistent matching).
//
// The answer of Matcher.Match for an Event must equal the answer of
// Matcher.MatchJSON for the event's JSON encoding; numbers in particular must
// be reported with the value the JSON would carry (Int and Uint are exact, Float
// is compared through its shortest decimal form, NumberText takes a JSON
// number literal as is).
type Event interface {
	VisitField(f Field, v *Values)
}

// ScalarEvent is an Event that can also return a field's value directly
// when the field holds a single leaf outside any array, which most fields of
// most events do. The Matcher asks Scalar first and calls VisitField only
// when Scalar answers ScalarMany; a Scalar call costs much less than a
// VisitField call because nothing is reported through Values.
//
// Scalar must agree with VisitField: a ScalarNone answer means VisitField
// would report nothing; any other answer except ScalarMany means VisitField
// would report exactly that one value outside arrays.
type ScalarEvent interface {
	Event
	Scalar(f Field) Scalar
}

// ScalarKind says what a Scalar holds.
type ScalarKind uint8

// Scalar kinds. The zero Scalar is ScalarNone: the field is absent.
const (
	ScalarNone   ScalarKind = iota // no value: the event does not have the field
	ScalarMany                     // not one leaf outside arrays (or not known here): ask VisitField
	ScalarString                   // Str
	ScalarUint                     // Num
	ScalarInt                      // int64(Num)
	ScalarIPv4                     // an IPv4 address, Num holding its 32 bits (a.b.c.d is a<<24|b<<16|c<<8|d), reported as its dotted form
	ScalarTrue
	ScalarFalse
	ScalarNull
	ScalarIPv6 // an IPv6 address without zone, Str holding its 16 bytes in network order (not its text), reported as its text form (RFC 5952)
)

// Scalar is a single leaf value (ScalarEvent). It is four machine words, so
// it is returned in registers. Str must not change while the Match runs (a
// string's bytes never do; a string over a reused buffer must not be
// returned). An IPv6 address does not fit in Num: ScalarIPv6 carries its 16
// bytes in Str, which an event may point at memory of its own that outlives
// the Match (IPv6Scalar makes such a string, with an allocation); a
// ScalarIPv6 whose Str is not 16 bytes long is taken as ScalarMany.
type Scalar struct {
	Kind ScalarKind
	Num  uint64
	Str  string
}

// IPv4Scalar returns the Scalar of IPv4 address a (a.Is4() must hold).
func IPv4Scalar(a netip.Addr) Scalar {
	return Scalar{Kind: ScalarIPv4, Num: uint64(ip4Bits(a))}
}

// IPv6Scalar returns the Scalar of IPv6 address a (a.Is6() must hold and a
// must have no zone). It allocates the 16-byte string; an event that answers
// many Scalar calls keeps the bytes in memory of its own instead.
func IPv6Scalar(a netip.Addr) Scalar {
	b := a.As16()
	return Scalar{Kind: ScalarIPv6, Str: string(b[:])}
}

// Scalar reports sc as Values.Str, Uint, Int, Addr, Bool or Null would;
// ScalarNone and ScalarMany report nothing.
func (v *Values) Scalar(sc Scalar) {
	switch sc.Kind {
	case ScalarString:
		v.Str(sc.Str)
	case ScalarUint:
		v.Uint(sc.Num)
	case ScalarInt:
		v.Int(int64(sc.Num))
	case ScalarIPv4:
		n := uint32(sc.Num)
		v.Addr(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}))
	case ScalarIPv6:
		if len(sc.Str) == 16 {
			v.Addr(netip.AddrFrom16([16]byte([]byte(sc.Str))))
		}
	case ScalarTrue:
		v.Bool(true)
	case ScalarFalse:
		v.Bool(false)
	case ScalarNull:
		v.Null()
	}
}

// Values receives the leaf values of one field from Event.VisitField. Its
// methods never retain the slices they are given. A Values is only valid
// during the VisitField call it was passed to.
type Values scratch

// Bytes reports a string value.
func (v *Values) Bytes(b []byte) { (*scratch)(v).addValue(vString, b) }

// Str reports a string value.
func (v *Values) Str(s string) { (*scratch)(v).addValueString(vString, s) }

// Addr reports an IP address as its string form (what the JSON event holds).
func (v *Values) Addr(a netip.Addr) {
	s := (*scratch)(v)
	if a.Is4() || (a.IsValid() && a.Zone() == "") {
		s.addAddr(a)
		return
	}
	var buf [64]byte
	s.addValue(vString, a.AppendTo(buf[:0]))
}

// Int reports an integer number.
func (v *Values) Int(i int64) {
	if i < 0 {
		(*scratch)(v).addInt(true, uint64(-i))
	} else {
		(*scratch)(v).addInt(false, uint64(i))
	}
}

// Uint reports an unsigned integer number.
func (v *Values) Uint(i uint64) { (*scratch)(v).addInt(false, i) }

// Float reports a number by its float64 value.
func (v *Values) Float(f float64) {
	var buf [32]byte
	(*scratch)(v).addValue(vNumber, strconv.AppendFloat(buf[:0], f, 'g', -1, 64))
}

// NumberText reports a number given as a JSON number literal.
func (v *Values) NumberText(lit []byte) { (*scratch)(v).addValue(vNumber, lit) }

// Bool reports true or false.
func (v *Values) Bool(b bool) {
	if b {
		(*scratch)(v).addValue(vTrue, nil)
	} else {
		(*scratch)(v).addValue(vFalse, nil)
	}
}

// Null reports a JSON null.
func (v *Values) Null() { (*scratch)(v).addValue(vNull, nil) }

// Enter starts reporting the leaves of element index of array a; pair it
// with Leave. Calls nest for arrays inside arrays.
func (v *Values) Enter(a ArrayID, index int) {
	s := (*scratch)(v)
	s.stack = append(s.stack, arrEntry{arr: uint32(a), idx: uint32(index)})
}

// Leave ends the innermost Enter.
func (v *Values) Leave() {
	s := (*scratch)(v)
	if len(s.stack) > 0 {
		s.stack = s.stack[:len(s.stack)-1]
	}
}

// MapEvent is a simple Event over a decoded JSON tree: map[string]any,
// []any, string, float64 or json.Number, bool and nil, as produced by
// encoding/json. It is meant for tests and tools, not for hot paths (it
// allocates).
type MapEvent struct {
	Root any
	ids  map[*any]ArrayID
}

// NewMapEvent returns an Event over root.
func NewMapEvent(root any) *MapEvent { return &MapEvent{Root: root} }

// VisitField implements Event.
func (e *MapEvent) VisitField(f Field, v *Values) {
	e.visit(e.Root, strings.Split(f.Path, "."), v)
}

func (e *MapEvent) arrayID(arr []any) ArrayID {
	if e.ids == nil {
		e.ids = map[*any]ArrayID{}
	}
	k := &arr[0]
	id, ok := e.ids[k]
	if !ok {
		id = ArrayID(len(e.ids) + 1)
		e.ids[k] = id
	}
	return id
}

func (e *MapEvent) visit(node any, segs []string, v *Values) {
	switch n := node.(type) {
	case []any:
		if len(n) == 0 {
			return
		}
		id := e.arrayID(n)
		for i, el := range n {
			v.Enter(id, i)
			e.visit(el, segs, v)
			v.Leave()
		}
		return
	case map[string]any:
		if len(segs) == 0 {
			return
		}
		key := ""
		for k := range segs {
			if k == 0 {
				key = segs[0]
			} else {
				key += "." + segs[k]
			}
			if child, ok := n[key]; ok {
				e.visit(child, segs[k+1:], v)
			}
		}
		return
	}
	if len(segs) != 0 {
		return
	}
	switch n := node.(type) {
	case string:
		v.Str(n)
	case float64:
		v.Float(n)
	case interface{ String() string }: // json.Number
		v.NumberText([]byte(n.String()))
	case bool:
		v.Bool(n)
	case nil:
		v.Null()
	}
}
