package pattern

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		_, err = p.MatchJSON(event)
		if err != nil && json.Valid(event) && !strings.Contains(err.Error(), "nesting too deep") {
			t.Fatalf("valid json rejected: %v", err)
		}
		if err == nil && json.Valid(event) {
			var root any
			dec := json.NewDecoder(bytesReader(event))
			dec.UseNumber()
			if dec.Decode(&root) == nil {
				p.Match(NewMapEvent(root)) // must not panic
			}
		}
	})
}
