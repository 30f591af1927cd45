package eventbridge

import (
	"regexp"
	"strings"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// Kind is the eventbridge target kind.
var Kind = &component.TargetKind{
	Description: "call PutEvents on Amazon EventBridge",
	NewSpec:     func() component.TargetSpec { return new(Spec) },
	Caps: func(component.TargetSpec) component.Caps {
		return component.Caps{Body: true, DurableByDefault: true}
	},
	New: func(_ component.Env, _ string, s component.TargetSpec) (component.Target, error) {
		e := s.(*Spec)
		return New(Config{
			Region:       e.Region,
			Endpoint:     e.Endpoint,
			EventBusName: e.EventBusName,
			DetailType:   e.DetailType,
			Source:       e.Source,
		})
	},
}

// Spec is the configuration of an eventbridge target.
type Spec struct {
	Region       string `yaml:"region"`   // empty: the AWS SDK's default chain
	Endpoint     string `yaml:"endpoint"` // override, e.g. a local emulator
	EventBusName string `yaml:"event_bus_name"`
	DetailType   string `yaml:"detail_type"` // empty: the event's detail-type
	Source       string `yaml:"source"`      // empty: the event's source
}

// SetDefaults implements component.TargetSpec.
func (t *Spec) SetDefaults() { *t = Spec{EventBusName: "default"} }

var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// Validate implements component.TargetSpec.
func (t *Spec) Validate(c *spec.Checker) {
	if t.Region != "" && !regionPattern.MatchString(t.Region) {
		c.Errorf("region", "invalid region %q (such as eu-west-1)", t.Region)
	}
	if t.Endpoint != "" {
		if err := spec.CheckHTTPURL(t.Endpoint); err != nil {
			c.Errorf("endpoint", "%v", err)
		}
	}
	if t.EventBusName == "" {
		c.Errorf("event_bus_name", "must not be empty (the default bus is \"default\")")
	} else if len(t.EventBusName) > 1600 {
		c.Errorf("event_bus_name", "too long")
	}
	if len(t.DetailType) > 128 {
		c.Errorf("detail_type", "longer than 128 characters")
	}
	if strings.HasPrefix(t.Source, "aws.") {
		c.Errorf("source", "sources starting with aws. are reserved by AWS")
	} else if len(t.Source) > 256 {
		c.Errorf("source", "longer than 256 characters")
	}
}

// Where implements component.Wherer.
func (t *Spec) Where() string { return "event bus " + t.EventBusName }
