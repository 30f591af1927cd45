package stdout

import (
	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// Kind is the stdout target kind.
var Kind = &component.TargetKind{
	Description: "write events to standard output as NDJSON",
	NewSpec:     func() component.TargetSpec { return new(Spec) },
	Caps: func(component.TargetSpec) component.Caps {
		return component.Caps{Body: true, Stdout: true}
	},
	New: func(env component.Env, _ string, s component.TargetSpec) (component.Target, error) {
		c := Config{Writer: env.Stdout}
		if sp, ok := s.(*Spec); ok && sp != nil {
			c.Pretty = sp.Pretty
		}
		return New(c)
	},
}

// Spec is the configuration of a stdout target.
type Spec struct {
	Pretty bool `yaml:"pretty"` // indented JSON instead of one line per event
}

// SetDefaults implements component.TargetSpec.
func (t *Spec) SetDefaults() {}

// Validate implements component.TargetSpec: every spec is valid.
func (t *Spec) Validate(*spec.Checker) {}

// Where implements component.Wherer.
func (t *Spec) Where() string { return "standard output" }
