package source

import (
	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// PCAPKind is the pcap source kind.
var PCAPKind = &component.SourceKind{
	Description: "replay a pcap or pcapng file",
	MaxDatagram: 262144,
	NewSpec:     func() component.SourceSpec { return new(PCAPSpec) },
	New: func(_ component.Env, common component.SourceCommon, s component.SourceSpec) (component.Source, error) {
		p := s.(*PCAPSpec)
		return NewPCAP(PCAPConfig{Common: CommonFrom(common), File: p.File, Speed: p.Speed, Loop: p.Loop})
	},
}

// PCAPSpec is the configuration of a pcap source.
type PCAPSpec struct {
	File  string     `yaml:"file"`
	Speed spec.Speed `yaml:"speed"`
	Loop  bool       `yaml:"loop"`
}

// SetDefaults implements component.SourceSpec.
func (s *PCAPSpec) SetDefaults() {
	*s = PCAPSpec{Speed: spec.Speed{Mode: spec.SpeedRecorded, Factor: 1}}
}

// Validate implements component.SourceSpec.
func (s *PCAPSpec) Validate(c *spec.Checker) {
	if s.File == "" {
		c.Errorf("file", "required for a pcap source: the capture file to replay")
	} else {
		spec.CheckInputFile(c, "file", s.File)
	}
}

// Where implements component.SourceWherer.
func (s *PCAPSpec) Where(component.Source) string {
	return "file " + s.File + " at " + s.Speed.String() + " speed"
}
