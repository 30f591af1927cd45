package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// leafOrder maps each leaf path to its position in Leaves, the order of the
// definition in internal/event/schema.
func leafOrder() map[string]int {
	m := make(map[string]int, len(Leaves))
	for i, l := range Leaves {
		m[strings.Join(l.Path, ".")] = i
	}
	return m
}

// reporter is where walkJSON reports disagreements: a *testing.T, or a
// recorder in the test of walkJSON itself.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// jsonLeaf is a leaf value found in encoded JSON: its path (array indexes
// left out, as patterns address them) and the kind its JSON value has.
type jsonLeaf struct {
	path string
	kind Kind
}

// walkJSON reports the leaves of JSON b in document order. Each object's
// keys are checked to follow the order of the definition (by the position
// of the first leaf under each key); arrays of numbers or strings are one
// leaf.
func walkJSON(t reporter, b []byte, order map[string]int) []jsonLeaf {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out []jsonLeaf
	var value func(path string) int // returns the smallest definition position under path
	value = func(path string) int {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch tok := tok.(type) {
		case json.Delim:
			if tok == '{' {
				first, last, lastKey := len(order), -1, ""
				for d.More() {
					k, err := d.Token()
					if err != nil {
						t.Fatalf("%s: %v", path, err)
					}
					key := k.(string)
					p := key
					if path != "" {
						p = path + "." + key
					}
					pos := value(p)
					if pos < last {
						t.Errorf("key %s comes after %s, against the definition's order", p, lastKey)
					}
					last, lastKey, first = pos, p, min(first, pos)
				}
				_, _ = d.Token()
				return first
			}
			// An array: of objects (each walked), or of scalars (one leaf).
			first, kinds := len(order), map[Kind]bool{}
			for d.More() {
				n := len(out)
				first = min(first, value(path))
				if len(out) == n+1 && out[n].path == path {
					kinds[out[n].kind] = true
					out = out[:n]
				}
			}
			_, _ = d.Token()
			switch {
			case kinds[KindString] && kinds[KindNumber]:
				t.Errorf("%s: array mixes strings and numbers", path)
			case kinds[KindNumber]:
				out = append(out, jsonLeaf{path, KindNumberArray})
			case kinds[KindString] || first == len(order):
				// An array of strings, or an empty one (TCP.Flags, resources).
				out = append(out, jsonLeaf{path, KindStringArray})
			}
			if pos, ok := order[path]; ok {
				return pos
			}
			return first
		case string:
			out = append(out, jsonLeaf{path, KindString})
		case json.Number:
			out = append(out, jsonLeaf{path, KindNumber})
		case bool:
			out = append(out, jsonLeaf{path, KindBool})
		default:
			t.Errorf("%s: unexpected %v", path, tok)
		}
		pos, ok := order[path]
		if !ok {
			t.Errorf("%s: not a field of the definition", path)
			return len(order)
		}
		return pos
	}
	value("")
	return out
}

// The encoder writes exactly the fields of the definition, with the
// definition's JSON types, in its order, and every field of the definition
// appears in some event of the test corpus (every frame of every shared
// capture and the hand-built packets).
func TestEncoderFollowsDefinition(t *testing.T) {
	order := leafOrder()
	kinds := map[string]Kind{}
	for _, l := range Leaves {
		kinds[strings.Join(l.Path, ".")] = l.Kind
	}
	seen := map[string]bool{}
	for _, ev := range viewEvents(t) {
		b := viewEncoder(ev.k).AppendJSON(nil, ev.p, ev.m)
		for _, l := range walkJSON(t, b, order) {
			want, ok := kinds[l.path]
			switch {
			case !ok:
				t.Errorf("%s: %s is not a leaf of the definition", ev.name, l.path)
			case l.kind == KindStringArray && want == KindNumberArray:
				// An empty array has no element to tell its kind.
			case l.kind != want:
				t.Errorf("%s: %s has JSON kind %d, the definition says %d", ev.name, l.path, l.kind, want)
			}
			seen[l.path] = true
		}
		if t.Failed() {
			t.Fatalf("%s: %s", ev.name, b)
		}
	}
	for _, l := range Leaves {
		if p := strings.Join(l.Path, "."); !seen[p] {
			t.Errorf("no event of the corpus has %s: the test cannot check it", p)
		}
	}
}

// The walk itself notices misplaced, unknown and mistyped fields, or the test
// above could not fail.
func TestWalkJSONCatchesDisagreement(t *testing.T) {
	cases := []struct{ name, json string }{
		{"order", `{"version":"0","source":"s","id":"x"}`},
		{"unknown", `{"version":"0","bogus":1}`},
		{"nested order", `{"detail":{"Length":1,"Timestamp":"t"}}`},
		{"option order", `{"detail":{"Tunnel":{"Type":"geneve","Options":[{"Type":1,"Class":2,"Data":""}]}}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r recorder
			done := make(chan struct{})
			go func() { // Fatalf ends this goroutine
				defer close(done)
				walkJSON(&r, []byte(c.json), leafOrder())
			}()
			<-done
			if len(r.msgs) == 0 {
				t.Errorf("walk accepted %s", c.json)
			}
		})
	}
}

// recorder is a reporter that keeps the messages.
type recorder struct{ msgs []string }

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// The Go structs (Event's wire form, written by hand, and PacketDetail and its
// blocks, generated) carry the definition's fields, by their JSON names, in
// its order, with matching kinds. json.Marshal of Build's Event is compared
// byte for byte with the encoder elsewhere.
func TestStructsFollowDefinition(t *testing.T) {
	var got []Leaf
	var walk func(prefix []string, typ reflect.Type)
	walk = func(prefix []string, typ reflect.Type) {
		for i := range typ.NumField() {
			sf := typ.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				t.Fatalf("%s.%s has no JSON name", typ, sf.Name)
			}
			path := append(slices.Clone(prefix), name)
			ft := sf.Type
			if name == KeyDetail && len(prefix) == 0 {
				ft = reflect.TypeFor[PacketDetail]()
			}
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if k, ok := structKind(ft); ok {
				got = append(got, Leaf{path, k})
				continue
			}
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() != reflect.Struct {
				t.Fatalf("%s: unexpected type %s", strings.Join(path, "."), sf.Type)
			}
			walk(path, ft)
		}
	}
	walk(nil, reflect.TypeFor[eventJSON]())
	if !reflect.DeepEqual(got, Leaves) {
		t.Errorf("structs and definition differ:\nstructs:    %v\ndefinition: %v", fmtLeaves(got), fmtLeaves(Leaves))
	}
}

func structKind(t reflect.Type) (Kind, bool) {
	switch {
	case t == reflect.TypeFor[time.Time](), t.Kind() == reflect.String, t == reflect.TypeFor[[]byte]():
		return KindString, true
	case t.Kind() == reflect.Bool:
		return KindBool, true
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return KindNumber, true
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return KindStringArray, true
	case t.Kind() == reflect.Slice && t.Elem().Kind() >= reflect.Int && t.Elem().Kind() <= reflect.Uint64:
		return KindNumberArray, true
	}
	return 0, false
}

func fmtLeaves(ls []Leaf) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "\n  %s %d", strings.Join(l.Path, "."), l.Kind)
	}
	return b.String()
}
