package pattern

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func seedConformance(f *testing.F) (patterns, events [][]byte) {
	b, err := os.ReadFile(filepath.Join(conformanceDir, "cases.json"))
	if err != nil {
		f.Fatalf("conformance data missing: %v", err)
	}
	var cases []confCase
	if err := json.Unmarshal(b, &cases); err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		patterns = append(patterns, c.Pattern)
		events = append(events, c.Event)
	}
	for _, c := range opCases {
		patterns = append(patterns, []byte(c.pattern))
		events = append(events, []byte(c.event))
	}
	return patterns, events
}

func FuzzCompile(f *testing.F) {
	patterns, _ := seedConformance(f)
	for _, p := range patterns {
		f.Add(p)
	}
	f.Add([]byte(`{"a":[{"wildcard":"a\\*b*"}]}`))
	f.Add([]byte(`{"$or":[{"a":[1]},{"$or":[{"b":[2]},{"c":[{"numeric":[">",0,"<",1]}]}]}]}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Compile(src)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error is not *CompileError: %T %v", err, err)
			}
			return
		}
		if _, err := p.MatchJSON([]byte(`{"a":"x","b":[1,{"c":true}],"detail":{"Port":514}}`)); err != nil {
			t.Fatalf("match on a valid event: %v", err)
		}
	})
}

func FuzzMatch(f *testing.F) {
	patterns, events := seedConformance(f)
	for i := range patterns {
		f.Add(string(patterns[i]), events[i])
	}
	f.Fuzz(func(t *testing.T, pat string, event []byte) {
		p, err := Compile([]byte(pat))
		if err != nil {
			return
		}
		want, err := p.MatchJSON(event)
		if err != nil && json.Valid(event) && !strings.Contains(err.Error(), "nesting too deep") {
			t.Fatalf("valid json rejected: %v", err)
		}
		if err == nil && json.Valid(event) {
			var root any
			dec := json.NewDecoder(bytesReader(event))
			dec.UseNumber()
			if dec.Decode(&root) == nil {
				p.Match(NewMapEvent(root)) // must not panic
				// The scalar path answers as the JSON does (decoding
				// replaces invalid UTF-8 and keeps the last of duplicate
				// keys, so only for events where the tree is the JSON).
				comparable := utf8.Valid(event) && utf8.ValidString(pat) && !hasDuplicateKeys(event)
				if got := p.Match(scalarMapEvent{NewMapEvent(root)}); comparable && got != want {
					t.Fatalf("scalar event matches %v, JSON %v", got, want)
				}
			}
		}
	})
}

// hasDuplicateKeys reports whether some JSON object of event repeats a key:
// the JSON path sees every value, a decoded map only the last.
func hasDuplicateKeys(event []byte) bool {
	type frame struct {
		keys      map[string]bool // nil for an array
		expectKey bool
	}
	dec := json.NewDecoder(bytesReader(event))
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].expectKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if n := len(stack); n > 0 && stack[n-1].keys != nil && stack[n-1].expectKey {
			if k, ok := tok.(string); ok {
				if stack[n-1].keys[k] {
					return true
				}
				stack[n-1].keys[k] = true
				stack[n-1].expectKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, expectKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}
