package pattern

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

const conformanceDir = "../testdata/conformance/event-ruler"

type confCase struct {
	Name    string          `json:"name"`
	Pattern json.RawMessage `json:"pattern"`
	Event   json.RawMessage `json:"event"`
	Match   bool            `json:"match"`
}

type compileCase struct {
	Name    string          `json:"name"`
	Pattern json.RawMessage `json:"pattern"`
	Valid   bool            `json:"valid"`
}

func readConformance(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(conformanceDir, name))
	if err != nil {
		t.Fatalf("conformance data missing (testdata/conformance/event-ruler in the repository): %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

func TestConformanceCases(t *testing.T) {
	var cases []confCase
	readConformance(t, "cases.json", &cases)
	if len(cases) != 68 {
		t.Fatalf("cases.json has %d cases, want 68", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			p, err := Compile(c.Pattern)
			if err != nil {
				t.Fatalf("compile %s: %v", c.Pattern, err)
			}
			got, err := p.MatchJSON(c.Event)
			if err != nil {
				t.Fatalf("match: %v", err)
			}
			if got != c.Match {
				t.Errorf("json: got %v, want %v\npattern %s\nevent %s", got, c.Match, c.Pattern, c.Event)
			}
			if acc := p.Match(mapEvent(t, c.Event)); acc != c.Match {
				t.Errorf("accessor: got %v, want %v", acc, c.Match)
			}
		})
	}
}

func TestConformanceCompile(t *testing.T) {
	var cases []compileCase
	readConformance(t, "compile.json", &cases)
	if len(cases) != 11 {
		t.Fatalf("compile.json has %d cases, want 11", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			_, err := Compile(c.Pattern)
			if c.Valid && err != nil {
				t.Errorf("want valid, got %v", err)
			}
			if !c.Valid {
				var ce *CompileError
				if !errors.As(err, &ce) {
					t.Errorf("want *CompileError, got %v", err)
				}
			}
		})
	}
}

func mapEvent(t testing.TB, event []byte) *MapEvent {
	t.Helper()
	var root any
	dec := json.NewDecoder(bytesReader(event))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		t.Fatalf("decode event: %v", err)
	}
	return NewMapEvent(root)
}
