package pcap

import (
	"bytes"
	"time"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// Kind is the pcap target kind: the matched packets' original frames in rotating pcap files.
var Kind = &component.TargetKind{
	Description: "archive the matched packets' original frames in rotating pcap files",
	NewSpec:     func() component.TargetSpec { return new(Spec) },
	Caps:        func(component.TargetSpec) component.Caps { return component.Caps{Frame: component.FrameRequired} },
	New: func(_ component.Env, _ string, s component.TargetSpec) (component.Target, error) {
		p := s.(*Spec)
		return New(Config{
			Path:     string(p.Path),
			MaxSize:  int64(p.Rotate.Size),
			Interval: p.Rotate.Interval,
			Snaplen:  p.Snaplen,
		})
	},
}

// Spec is the configuration of a pcap target.
type Spec struct {
	Path    spec.TimePattern `yaml:"path"`
	Rotate  spec.Rotate      `yaml:"rotate"`
	Snaplen int              `yaml:"snaplen"`
}

// SetDefaults implements component.TargetSpec.
func (t *Spec) SetDefaults() {
	*t = Spec{Rotate: spec.Rotate{Size: 128 * spec.MiB, Interval: time.Hour}, Snaplen: 65535}
}

// Validate implements component.TargetSpec. The path is checked by the configuration
// (component.Output).
func (t *Spec) Validate(c *spec.Checker) {
	t.Rotate.Check(c, "")
	c.IntRange("snaplen", t.Snaplen, 64, 262144)
}

// Where implements component.Wherer.
func (t *Spec) Where() string { return string(t.Path) }

// OutputPath implements component.Output.
func (t *Spec) OutputPath() *spec.TimePattern { return &t.Path }

// pcapMagic are the leading bytes of pcap and pcapng files.
var pcapMagic = [][]byte{
	{0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4}, // microseconds, both byte orders
	{0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d}, // nanoseconds
	{0x0a, 0x0d, 0x0d, 0x0a}, // pcapng
}

// LooksLikeArchive implements component.Output: empty, or a pcap or pcapng header.
func (t *Spec) LooksLikeArchive(head []byte) bool {
	if len(head) == 0 {
		return true
	}
	for _, m := range pcapMagic {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return false
}
