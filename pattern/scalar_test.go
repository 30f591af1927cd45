package pattern

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// scalarMapEvent is a MapEvent that also answers ScalarEvent.Scalar, for
// every kind a Scalar can hold: a field reached through objects only (no
// dotted keys, no arrays) whose leaf is a string (an IP address in its
// canonical form as ScalarIPv4 or ScalarIPv6), an integer (ScalarUint or ScalarInt), a
// boolean or null. Anything else answers ScalarMany, so the Matcher falls
// back to VisitField; a missing field answers ScalarNone.
type scalarMapEvent struct{ *MapEvent }

func (e scalarMapEvent) Scalar(f Field) Scalar {
	node := e.Root
	for _, seg := range strings.Split(f.Path, ".") {
		obj, ok := node.(map[string]any)
		if !ok {
			return Scalar{Kind: ScalarMany}
		}
		for k := range obj {
			if strings.Contains(k, ".") {
				return Scalar{Kind: ScalarMany} // dotted keys: let VisitField combine them
			}
		}
		child, ok := obj[seg]
		if !ok {
			return Scalar{}
		}
		node = child
	}
	switch n := node.(type) {
	case string:
		if a, err := netip.ParseAddr(n); err == nil && a.Zone() == "" && a.String() == n {
			if a.Is4() {
				return IPv4Scalar(a)
			}
			return IPv6Scalar(a)
		}
		return Scalar{Kind: ScalarString, Str: n}
	case json.Number:
		if u, err := strconv.ParseUint(n.String(), 10, 64); err == nil {
			return Scalar{Kind: ScalarUint, Num: u}
		}
		if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
			return Scalar{Kind: ScalarInt, Num: uint64(i)}
		}
	case bool:
		if n {
			return Scalar{Kind: ScalarTrue}
		}
		return Scalar{Kind: ScalarFalse}
	case nil:
		return Scalar{Kind: ScalarNull}
	}
	return Scalar{Kind: ScalarMany}
}

// scalarTypedEvent answers Scalar for typedEvent's fields.
type scalarTypedEvent struct{ *typedEvent }

func (e scalarTypedEvent) Scalar(f Field) Scalar {
	switch f.ID {
	case fieldV:
		switch e.kind {
		case 0:
			if e.i >= 0 {
				return Scalar{Kind: ScalarUint, Num: uint64(e.i)}
			}
			return Scalar{Kind: ScalarInt, Num: uint64(e.i)}
		case 1:
			return Scalar{Kind: ScalarUint, Num: e.u}
		case 2:
			switch {
			case e.a.Is4():
				return IPv4Scalar(e.a)
			case e.a.Is6() && e.a.Zone() == "":
				return IPv6Scalar(e.a)
			}
			return Scalar{Kind: ScalarMany}
		}
	case fieldW:
		return Scalar{Kind: ScalarString, Str: e.w}
	}
	return Scalar{}
}

// matchTypedScalar matches every typed accessor event through its
// ScalarEvent with Match and with MatchState, checks both against the
// event's JSON, and returns how many matches the JSON gave.
func matchTypedScalar(t *testing.T, what string, m *Matcher, st *State) int {
	t.Helper()
	matches := 0
	for _, e := range accessorEvents() {
		want, err := m.MatchJSON([]byte(e.json()), nil)
		if err != nil {
			t.Fatalf("%s: %v", e.json(), err)
		}
		matches += len(want)
		se := scalarTypedEvent{e}
		if got := m.Match(se, nil); !slices.Equal(got, want) {
			t.Errorf("%s on %s: scalar Match %v, JSON %v", what, e.json(), got, want)
		}
		if got := m.MatchState(st, se, nil); !slices.Equal(got, want) {
			t.Errorf("%s on %s: scalar MatchState %v, JSON %v", what, e.json(), got, want)
		}
	}
	return matches
}

// TestScalarEventMatchesJSON checks the scalar path (ScalarEvent, the fast
// indexes looked up on the scalar itself, the fall back to VisitField and to
// the general run) against MatchJSON, on the typed values and on random
// events and patterns, with Match and with MatchState.
func TestScalarEventMatchesJSON(t *testing.T) {
	t.Run("typed", func(t *testing.T) {
		var values []string
		for _, i := range accessorInts {
			values = append(values, strconv.FormatInt(i, 10))
		}
		for _, u := range accessorUints {
			values = append(values, strconv.FormatUint(u, 10))
		}
		var st State
		if matchTypedScalar(t, "accessor patterns", accessorPatterns(values), &st) == 0 {
			t.Fatal("degenerate: nothing matched")
		}
	})
	// One pattern per Matcher, so that a field's index holds one kind of
	// condition and the scalar lookups of the fast indexes (exact strings,
	// prefixes and suffixes, IPv4 blocks, numbers) are the ones taken, for
	// IPv4 and IPv6 (mapped or not) addresses as well as numbers.
	t.Run("fast indexes", func(t *testing.T) {
		var st State
		matches := 0
		for _, p := range []string{
			`{"v":[{"exactly":"2001:db8::1"}]}`, `{"v":[{"exactly":"::ffff:10.0.0.7"}]}`, `{"v":[{"exactly":"10.0.0.7"}]}`,
			`{"v":["x", "::"]}`, `{"v":[{"prefix":"2001:"}]}`, `{"v":[{"suffix":"::1"}]}`, `{"v":[{"prefix":"::ffff:10."}]}`,
			`{"v":[{"prefix":"10.0."}]}`, `{"v":[{"cidr":"10.0.0.0/8"}]}`, `{"v":[{"cidr":"10.0.0.0/8"}, {"cidr":"10.0.0.0/24"}]}`,
			`{"v":[{"cidr":"2001:db8::/32"}]}`, `{"v":[{"cidr":"::ffff:0:0/96"}]}`, `{"v":["2001:db8::1"]}`, `{"v":["10.0.0.7"]}`,
			`{"v":[514, 7]}`, `{"v":[{"numeric":[">", 0, "<", 600]}]}`,
		} {
			m := NewMatcher()
			m.Add("p", MustCompile(p))
			matches += matchTypedScalar(t, p, m, &st)
		}
		if matches == 0 {
			t.Fatal("degenerate: nothing matched")
		}
	})
	t.Run("random", func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		var st State
		scalars, matches := 0, 0
		for round := 0; round < 30; round++ {
			m := NewMatcher()
			for n := 0; n < 40; {
				p, err := Compile([]byte(genPatternObj(r, 0)))
				if err != nil {
					continue
				}
				m.Add("p"+strconv.Itoa(n), p)
				n++
			}
			for e := 0; e < 60; e++ {
				ev, _ := json.Marshal(genObject(r, 0))
				want, err := m.MatchJSON(ev, nil)
				if err != nil {
					t.Fatalf("match %s: %v", ev, err)
				}
				se := scalarMapEvent{mapEvent(t, ev)}
				if got := m.MatchState(&st, se, nil); !slices.Equal(got, want) {
					t.Fatalf("event %s: scalar MatchState %v, JSON %v", ev, got, want)
				}
				if got := m.Match(se, nil); !slices.Equal(got, want) {
					t.Fatalf("event %s: scalar Match %v, JSON %v", ev, got, want)
				}
				matches += len(want)
				for _, k := range genKeys {
					if sc := se.Scalar(Field{Path: k}); sc.Kind > ScalarMany {
						scalars++
					}
				}
			}
		}
		if matches == 0 || scalars == 0 {
			t.Fatalf("degenerate: %d matches, %d scalar answers", matches, scalars)
		}
		t.Logf("%d matching pairs, %d top-level scalar answers", matches, scalars)
	})
}

// TestMatchStateFollowsMatcher checks that a State stays right while the
// pattern set changes under it.
func TestMatchStateFollowsMatcher(t *testing.T) {
	m := NewMatcher()
	var st State
	ev := scalarMapEvent{mapEvent(t, []byte(`{"source":"udp.raw","detail":{"Port":514}}`))}
	if got := m.MatchState(&st, ev, nil); len(got) != 0 {
		t.Fatalf("empty matcher matched %v", got)
	}
	m.Add("port", MustCompile(`{"detail":{"Port":[514]}}`))
	if got := m.MatchState(&st, ev, nil); !slices.Equal(got, []string{"port"}) {
		t.Fatalf("after Add: %v", got)
	}
	m.Add("src", MustCompile(`{"source":[{"prefix":"udp."}]}`))
	if got := m.MatchState(&st, ev, nil); !slices.Equal(got, []string{"port", "src"}) {
		t.Fatalf("after second Add: %v", got)
	}
	m.Remove("port")
	if got := m.MatchState(&st, ev, nil); !slices.Equal(got, []string{"src"}) {
		t.Fatalf("after Remove: %v", got)
	}
}

// TestSegTreeDenseSearch checks the dense table of small integer points
// against the binary search, for integer, fractional, out-of-range and huge
// queries.
func TestSegTreeDenseSearch(t *testing.T) {
	tests := []struct {
		name  string
		pts   []float64
		dense bool
	}{
		{"ports", []float64{22, 53, 80, 443, 514, 515, 1024}, true},
		{"span over the limit", []float64{22, 8080}, false},
		{"negative", []float64{-300, -2, 0, 7}, true},
		{"one point", []float64{514}, true},
		{"fraction", []float64{1, 1.5, 3}, false},
		{"wide", []float64{0, 65535}, false},
	}
	queries := []float64{-1e300, -301, -300, -299.5, -2, -1, 0, 0.5, 1, 1.25, 1.5, 2, 3, 7, 21, 22, 22.5, 23, 80, 442.999,
		443, 514, 514.5, 515, 515.5, 516, 1023, 1024, 1024.5, 1025, 8079, 8080, 8080.5, 8081, 65535, 1e15, 9.3e18, 1e300}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tr segTree
			tr.build(nil, tc.pts, make([][]int32, len(tc.pts)))
			if (tr.dense != nil) != tc.dense {
				t.Fatalf("dense table built: %v, want %v", tr.dense != nil, tc.dense)
			}
			for _, x := range queries {
				if got, want := tr.search(x), lowerBound(tr.pts, x); got != want {
					t.Errorf("search(%v) = %d, want %d", x, got, want)
				}
			}
		})
	}
}
