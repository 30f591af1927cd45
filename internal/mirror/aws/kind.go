// Package aws is the mirror controller's AWS provider, beside the event
// path: one EC2 Traffic Mirroring session per selected elastic network
// interface toward a traffic mirror target.
package aws

import (
	"errors"
	"fmt"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// Spec is an aws mirror entry's settings: its keys sit beside name,
// provider and scan_interval in the entry. (The provider's keys are added
// with the provider.)
type Spec struct{}

// SetDefaults fills the defaults.
func (s *Spec) SetDefaults() {}

// Validate reports every problem, paths relative to the entry.
func (s *Spec) Validate(c *spec.Checker) {}

// Kind is the aws mirror provider's component kind.
var Kind = &component.MirrorKind{
	Description: "AWS EC2 Traffic Mirroring: one mirror session per selected ENI toward a traffic mirror target; events from SQS or an authenticated endpoint",
	NewSpec:     func() component.MirrorSpec { return new(Spec) },
	New:         newComponent,
}

var errNotBuilt = errors.New("the aws mirror provider is not built yet")

func newComponent(_ component.Env, common component.MirrorCommon, s component.MirrorSpec) (component.MirrorProvider, error) {
	if _, ok := s.(*Spec); !ok {
		return nil, fmt.Errorf("mirror %s: spec %T is not an aws mirror spec", common.Name, s)
	}
	return nil, fmt.Errorf("mirror %s: %w", common.Name, errNotBuilt)
}
