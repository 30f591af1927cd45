package source

import (
	"strings"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// RawKind is the raw source kind.
var RawKind = &component.SourceKind{
	Description: "read every UDP datagram arriving at the host (SOCK_RAW, IPPROTO_UDP)",
	NewSpec:     func() component.SourceSpec { return new(RawSpec) },
	New: func(_ component.Env, common component.SourceCommon, s component.SourceSpec) (component.Source, error) {
		r := s.(*RawSpec)
		return NewRaw(RawConfig{Common: CommonFrom(common), IPv4: r.IPv4, IPv6: r.IPv6, RecvBuffer: int(r.RecvBuffer), Batch: r.Batch})
	},
}

// RawSpec is the configuration of a raw source.
type RawSpec struct {
	IPv4       bool          `yaml:"ipv4"`
	IPv6       bool          `yaml:"ipv6"`
	RecvBuffer spec.ByteSize `yaml:"recv_buffer"`
	Batch      int           `yaml:"batch"`
}

// SetDefaults implements component.SourceSpec.
func (s *RawSpec) SetDefaults() {
	*s = RawSpec{IPv4: true, IPv6: true, RecvBuffer: 4 * spec.MiB, Batch: 64}
}

// Validate implements component.SourceSpec.
func (s *RawSpec) Validate(c *spec.Checker) {
	if !s.IPv4 && !s.IPv6 {
		c.Errorf("ipv4", "at least one of ipv4 and ipv6 must be true")
	}
	spec.CheckRecvBuffer(c, s.RecvBuffer)
	c.IntRange("batch", s.Batch, 1, 1024)
}

// Where implements component.SourceWherer.
func (s *RawSpec) Where(component.Source) string {
	fams := []string{}
	if s.IPv4 || !s.IPv6 {
		fams = append(fams, "IPv4")
	}
	if s.IPv6 || !s.IPv4 {
		fams = append(fams, "IPv6")
	}
	return "every UDP datagram arriving at this host (raw socket, " + strings.Join(fams, "+") + ")"
}

// TryCommand implements component.TryCommand: a logger line to port 514.
func (s *RawSpec) TryCommand(component.Source) string {
	return "logger --udp -n 127.0.0.1 -P 514 hello"
}
