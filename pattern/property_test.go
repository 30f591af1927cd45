package pattern

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

var (
	genKeys    = []string{"a", "b", "d", "x", "y"}
	genStrings = []string{"x", "y", "Xy", "xY", "abc", "aBc", "10.0.0.1", "10.0.0.001", "10.0.1.9", "2001:db8::1", "a*c", ""}
	genNumbers = []string{"1", "1.0", "5", "10", "3e2", "300", "-2", "0.5", "123456789012345678901"}
)

func genLeaf(r *rand.Rand) any {
	switch r.IntN(6) {
	case 0, 1:
		return genStrings[r.IntN(len(genStrings))]
	case 2, 3:
		return json.Number(genNumbers[r.IntN(len(genNumbers))])
	case 4:
		return r.IntN(2) == 0
	}
	return nil
}

func genValue(r *rand.Rand, depth int) any {
	if depth > 3 {
		return genLeaf(r)
	}
	switch r.IntN(6) {
	case 0:
		return genObject(r, depth+1)
	case 1:
		n := r.IntN(4)
		arr := make([]any, n)
		for i := range arr {
			if r.IntN(2) == 0 {
				arr[i] = genObject(r, depth+1)
			} else {
				arr[i] = genLeaf(r)
			}
		}
		return arr
	}
	return genLeaf(r)
}

func genObject(r *rand.Rand, depth int) map[string]any {
	m := map[string]any{}
	for i := r.IntN(4); i >= 0; i-- {
		m[genKeys[r.IntN(len(genKeys))]] = genValue(r, depth)
	}
	return m
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func genMatcher(r *rand.Rand) string {
	s := quote(genStrings[r.IntN(len(genStrings))])
	n := genNumbers[r.IntN(len(genNumbers))]
	switch r.IntN(17) {
	case 0:
		return s
	case 1:
		return n
	case 2:
		return []string{"true", "false", "null"}[r.IntN(3)]
	case 3:
		return `{"prefix":` + quote([]string{"a", "x", "10.0.", "X"}[r.IntN(4)]) + `}`
	case 4:
		return `{"suffix":"c"}`
	case 5:
		return `{"equals-ignore-case":` + s + `}`
	case 6:
		return `{"prefix":{"equals-ignore-case":"XY"}}`
	case 7:
		return `{"wildcard":"*c"}`
	case 8:
		return `{"anything-but":` + s + `}`
	case 9:
		return `{"anything-but":[` + n + `,5]}`
	case 10:
		return `{"anything-but":{"prefix":"a"}}`
	case 11:
		return `{"numeric":[">",` + n + `]}`
	case 12:
		return `{"numeric":[">=",1,"<",10]}`
	case 13:
		return `{"cidr":"10.0.0.0/24"}`
	case 14:
		return `{"exists":` + []string{"true", "false"}[r.IntN(2)] + `}`
	case 15:
		return `{"exactly":` + s + `}`
	}
	return `{"anything-but":{"equals-ignore-case":["xy","abc"]}}`
}

func genPatternObj(r *rand.Rand, depth int) string {
	var parts []string
	used := map[string]bool{}
	for i := r.IntN(3); i >= 0; i-- {
		k := genKeys[r.IntN(len(genKeys))]
		if used[k] {
			continue
		}
		used[k] = true
		if depth < 3 && r.IntN(3) == 0 {
			parts = append(parts, quote(k)+":"+genPatternObj(r, depth+1))
			continue
		}
		var vals []string
		for j := r.IntN(2); j >= 0; j-- {
			vals = append(vals, genMatcher(r))
		}
		parts = append(parts, quote(k)+":["+strings.Join(vals, ",")+"]")
	}
	if depth < 2 && r.IntN(6) == 0 {
		parts = append(parts, `"$or":[`+genPatternObj(r, depth+1)+","+genPatternObj(r, depth+1)+"]")
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// TestPropertyMatcherAgreesWithReference checks, over random patterns and
// random events (seeded, so reproducible), that the indexed Matcher on JSON,
// the Matcher on the accessor path and the brute-force reference evaluator
// give the same answer for every (pattern, event) pair.
func TestPropertyMatcherAgreesWithReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const rounds, patterns, events = 40, 40, 60
	matchesSeen := 0
	for round := 0; round < rounds; round++ {
		m := NewMatcher()
		ps := map[string]*Pattern{}
		for len(ps) < patterns {
			src := genPatternObj(r, 0)
			p, err := Compile([]byte(src))
			if err != nil {
				var ce *CompileError
				if !errors.As(err, &ce) {
					t.Fatalf("compile %s: non-CompileError %v", src, err)
				}
				continue
			}
			name := fmt.Sprintf("p%03d", len(ps))
			ps[name] = p
			m.Add(name, p)
		}
		for e := 0; e < events; e++ {
			ev, _ := json.Marshal(genObject(r, 0))
			gotJSON, err := m.MatchJSON(ev, nil)
			if err != nil {
				t.Fatalf("match %s: %v", ev, err)
			}
			gotAcc := m.Match(mapEvent(t, ev), nil)
			var want []string
			for name, p := range ps {
				if refMatch(t, p, ev) {
					want = append(want, name)
				}
			}
			slices.Sort(want)
			matchesSeen += len(want)
			if !slices.Equal(gotJSON, want) || !slices.Equal(gotAcc, want) {
				for _, n := range want {
					if !slices.Contains(gotJSON, n) {
						t.Errorf("json misses %s %s", n, ps[n])
					}
				}
				for _, n := range gotJSON {
					if !slices.Contains(want, n) {
						t.Errorf("json extra %s %s", n, ps[n])
					}
				}
				t.Fatalf("event %s\njson     %v\naccessor %v\nref      %v", ev, gotJSON, gotAcc, want)
			}
		}
	}
	if matchesSeen < rounds*events/2 {
		t.Fatalf("generator too weak: only %d matches over %d checks", matchesSeen, rounds*events*patterns)
	}
	t.Logf("%d matching pairs", matchesSeen)
}

func TestMatcherAddRemove(t *testing.T) {
	m := NewMatcher()
	m.Add("a", MustCompile(`{"x":[1]}`))
	m.Add("b", MustCompile(`{"x":[{"numeric":[">",0]}]}`))
	ev := []byte(`{"x":1}`)
	got, _ := m.MatchJSON(ev, nil)
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("got %v", got)
	}
	if !m.Remove("a") || m.Remove("a") {
		t.Fatal("remove")
	}
	got, _ = m.MatchJSON(ev, nil)
	if !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after remove got %v", got)
	}
	m.Add("b", MustCompile(`{"x":[2]}`))
	got, _ = m.MatchJSON(ev, nil)
	if len(got) != 0 || m.Len() != 1 {
		t.Fatalf("after replace got %v", got)
	}
}

func TestMatchJSONErrors(t *testing.T) {
	m := NewMatcher()
	m.Add("a", MustCompile(`{"x":[1]}`))
	for _, ev := range []string{``, `{`, `{"x":}`, `{"x":1,}`, `{"x":"\q"}`, `{"x":01}`, `{"x":1} 2`, `[1,2`, `{"x":tru}`, `{"x":"a` + "\x01" + `"}`} {
		if _, err := m.MatchJSON([]byte(ev), nil); err == nil {
			t.Errorf("%q: want error", ev)
		}
	}
}

func TestConcurrentMatchAndUpdate(t *testing.T) {
	m := NewMatcher()
	m.Add("base", MustCompile(`{"x":[1]}`))
	ev := []byte(`{"x":1}`)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			name := fmt.Sprintf("p%d", i%10)
			m.Add(name, MustCompile(`{"x":[{"numeric":[">",0]}]}`))
			m.Remove(name)
		}
	}()
	for i := 0; i < 2000; i++ {
		got, err := m.MatchJSON(ev, nil)
		if err != nil || !slices.Contains(got, "base") {
			t.Fatalf("got %v %v", got, err)
		}
	}
	<-done
}
