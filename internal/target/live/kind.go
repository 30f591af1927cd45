package live

import (
	"errors"
	"strings"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/names"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// Kind is the live target kind: browsers watching a live channel.
var Kind = &component.TargetKind{
	Description: "fan events out to browsers watching a live channel",
	NewSpec:     func() component.TargetSpec { return new(Spec) },
	Caps: func(s component.TargetSpec) component.Caps {
		c := component.Caps{Body: true, BestEffort: true}
		if l, ok := s.(*Spec); ok && l.Frames {
			c.Frame = component.FrameWanted
		}
		return c
	},
	New: func(env component.Env, _ string, s component.TargetSpec) (component.Target, error) {
		if env.Live == nil {
			return nil, errors.New("live target without the live hub")
		}
		l := s.(*Spec)
		return New(Config{Hub: env.Live, Channel: l.Channel, Frames: l.Frames})
	},
}

// Spec is the configuration of a live target.
type Spec struct {
	// Channel is a path such as /packets/all (default: "/" and the target's name).
	Channel string `yaml:"channel"`
	// Frames adds each packet's captured frame (base64) to what subscribers receive, so that the
	// UI can show a hex dump and export pcap. It is not part of the event.
	Frames bool `yaml:"frames"`
}

// SetDefaults implements component.TargetSpec.
func (t *Spec) SetDefaults() { *t = Spec{Frames: true} }

// Finish implements component.Finisher: the channel defaults to the target's name, and a
// leading slash is added.
func (t *Spec) Finish(name string) {
	if t.Channel == "" {
		t.Channel = "/" + name
	} else if !strings.HasPrefix(t.Channel, "/") {
		t.Channel = "/" + t.Channel
	}
}

// Validate implements component.TargetSpec.
func (t *Spec) Validate(c *spec.Checker) {
	if err := names.Channel(t.Channel); err != nil {
		c.Errorf("channel", "%v", err)
	}
}

// Where implements component.Wherer.
func (t *Spec) Where() string { return "live channel " + t.Channel }

// LiveChannel implements component.LiveChannel.
func (t *Spec) LiveChannel() string { return t.Channel }
