package source

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// AFPacketKind is the afpacket source kind.
var AFPacketKind = &component.SourceKind{
	Description: "capture frames on an interface with a TPACKET_V3 ring",
	MaxDatagram: 262144,
	NewSpec:     func() component.SourceSpec { return new(AFPacketSpec) },
	New: func(_ component.Env, common component.SourceCommon, s component.SourceSpec) (component.Source, error) {
		a := s.(*AFPacketSpec)
		f, err := FilterFrom(a.Filter)
		if err != nil {
			return nil, err
		}
		return NewAFPacket(AFPacketConfig{
			Common: CommonFrom(common), Interface: a.Interface, Filter: f, Readers: a.Readers, Fanout: a.Fanout,
			RingSize: int(a.RingSize), BlockSize: int(a.BlockSize), BlockTimeout: a.BlockTimeout, Promiscuous: a.Promiscuous,
		})
	},
}

// AFPacketSpec is the configuration of an afpacket source.
type AFPacketSpec struct {
	Interface string `yaml:"interface"`
	// Filter is compiled to a classic BPF program; empty accepts everything.
	Filter spec.Filter `yaml:"filter"`
	// Readers > 1 joins a PACKET_FANOUT group with that many sockets.
	Readers      int           `yaml:"readers"`
	Fanout       string        `yaml:"fanout"` // hash | lb | cpu
	RingSize     spec.ByteSize `yaml:"ring_size"`
	BlockSize    spec.ByteSize `yaml:"block_size"`
	BlockTimeout time.Duration `yaml:"block_timeout"`
	Promiscuous  bool          `yaml:"promiscuous"`
}

// SetDefaults implements component.SourceSpec.
func (s *AFPacketSpec) SetDefaults() {
	*s = AFPacketSpec{Readers: 1, Fanout: "hash", RingSize: 16 * spec.MiB, BlockSize: 1 * spec.MiB, BlockTimeout: 10 * time.Millisecond}
}

var filterProtocols = []string{"udp", "tcp", "icmp", "icmpv6"}

// Validate implements component.SourceSpec; the ring against max_datagram is checked by
// CheckMaxDatagram.
func (s *AFPacketSpec) Validate(c *spec.Checker) {
	switch {
	case s.Interface == "":
		c.Errorf("interface", "required for an afpacket source: the interface to capture on, such as eth0")
	case len(s.Interface) > 15 || strings.ContainsAny(s.Interface, "/ \t\n"):
		c.Errorf("interface", "invalid interface name %q", s.Interface)
	}
	for j, proto := range s.Filter.Protocols {
		if !slices.Contains(filterProtocols, proto) {
			c.Errorf(fmt.Sprintf("filter.protocols[%d]", j), "unknown protocol %q (want one of %s)", proto, strings.Join(filterProtocols, ", "))
		}
	}
	if len(s.Filter.Ports) > 0 && len(s.Filter.Protocols) > 0 && !slices.Contains(s.Filter.Protocols, "udp") && !slices.Contains(s.Filter.Protocols, "tcp") {
		c.Errorf("filter.ports", "ports apply to udp and tcp, but protocols lists neither")
	}
	c.IntRange("readers", s.Readers, 1, 256)
	c.OneOf("fanout", s.Fanout, "hash", "lb", "cpu")
	c.Positive("block_timeout", s.BlockTimeout)
}

// CheckMaxDatagram implements component.DatagramChecker: a ring block holds the largest frame.
func (s *AFPacketSpec) CheckMaxDatagram(c *spec.Checker, maxDG spec.ByteSize) {
	bs := s.BlockSize
	switch {
	case bs < 4096 || bs&(bs-1) != 0:
		c.Errorf("block_size", "%s must be a power of two of at least 4KiB", bs)
	case bs < maxDG+128:
		c.Errorf("block_size", "%s is too small for max_datagram %d", bs, maxDG)
	case s.RingSize < bs || s.RingSize%bs != 0:
		c.Errorf("ring_size", "%s must be a multiple of block_size %s", s.RingSize, bs)
	case s.RingSize > 4*spec.GiB:
		c.Errorf("ring_size", "%s is larger than 4GiB", s.RingSize)
	}
}

// Where implements component.SourceWherer.
func (s *AFPacketSpec) Where(component.Source) string { return "interface " + s.Interface }
