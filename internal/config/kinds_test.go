package config

import (
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/kinds"
	"github.com/wirebridge/wirebridge/internal/source"
	"github.com/wirebridge/wirebridge/internal/target/stdout"
)

// testKinds is the registry the tests parse with: every kind of the binary.
var testKinds = kinds.Default()

// specOf returns a target's spec as a T, or the zero T when it is another kind's.
func specOf[T component.TargetSpec](t Target) T {
	s, _ := t.Spec.(T)
	return s
}

// srcSpec returns a source's spec as a T, or the zero T when it is another kind's.
func srcSpec[T component.SourceSpec](s Source) T {
	sp, _ := s.Spec.(T)
	return sp
}

// TestSpecOfAnotherKind: a Config built in code whose target or source spec
// is not its type's kind is refused at the type, naming the kind it holds.
func TestSpecOfAnotherKind(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"target", func(c *Config) { c.Targets[0].Spec = &stdout.Spec{} }, "targets[0].type: type file needs exactly its own settings, but [stdout] are set"},
		{"target without spec", func(c *Config) { c.Targets[0].Spec = nil }, "targets[0].type: type file needs exactly its own settings, but [] are set"},
		{"source", func(c *Config) { c.Sources[0].Spec = &source.RawSpec{IPv4: true} }, "sources[0].type: type udp needs exactly its own settings, but [raw] are set"},
		{"unknown target type", func(c *Config) { c.Targets[0].Type = "nope" }, `targets[0].type: unknown type "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, "sources:\n  - {name: u, type: udp, listen: ['127.0.0.1:0']}\n"+
				"rules:\n  - {name: r, pattern: {source: [x]}, targets: [f]}\n"+
				"targets:\n  - {name: f, type: file, path: 'f/%Y.ndjson'}\n")
			tt.edit(c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
