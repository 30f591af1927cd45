package source

import (
	"fmt"
	"strings"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// VXLANKind is the vxlan source kind.
var VXLANKind = &component.SourceKind{
	Description: "decapsulate VXLAN mirror traffic (AWS VPC Traffic Mirroring, tc mirred)",
	NewSpec:     func() component.SourceSpec { return new(VXLANSpec) },
	New: func(_ component.Env, common component.SourceCommon, s component.SourceSpec) (component.Source, error) {
		v := s.(*VXLANSpec)
		return NewVXLAN(VXLANConfig{
			Common: CommonFrom(common), Listen: v.Listen, Interface: v.Interface, Port: v.Port,
			VNI: v.VNI, DenyVNI: v.DenyVNI, Readers: v.Readers, RecvBuffer: int(v.RecvBuffer), Batch: v.Batch,
		})
	},
}

// VXLANSpec is the configuration of a vxlan source.
type VXLANSpec struct {
	Listen []string `yaml:"listen"` // host:port, usually :4789 (listener mode)
	// Interface reads the VXLAN packets with AF_PACKET on an interface instead of a listener.
	Interface  string        `yaml:"interface"`
	Port       uint16        `yaml:"port"`     // interface mode: the VXLAN UDP port (4789)
	VNI        []uint32      `yaml:"vni"`      // accepted VNIs; empty accepts all
	DenyVNI    []uint32      `yaml:"deny_vni"` // refused VNIs
	Readers    int           `yaml:"readers"`
	RecvBuffer spec.ByteSize `yaml:"recv_buffer"`
	Batch      int           `yaml:"batch"`
}

// SetDefaults implements component.SourceSpec.
func (s *VXLANSpec) SetDefaults() { *s = VXLANSpec{Readers: 2, RecvBuffer: 4 * spec.MiB, Batch: 64} }

// Validate implements component.SourceSpec; in listener mode the listen addresses are checked by
// the configuration (component.UDPListener).
func (s *VXLANSpec) Validate(c *spec.Checker) {
	if s.Interface != "" {
		if len(s.Listen) > 0 {
			c.Errorf("interface", "listen and interface are exclusive")
		}
	} else if s.Port != 0 {
		c.Errorf("port", "only with interface (a listener's port is in listen)")
	}
	for j, vni := range s.VNI {
		if vni >= 1<<24 {
			c.Errorf(fmt.Sprintf("vni[%d]", j), "VNI %d does not fit in 24 bits", vni)
		}
	}
	for j, vni := range s.DenyVNI {
		if vni >= 1<<24 {
			c.Errorf(fmt.Sprintf("deny_vni[%d]", j), "VNI %d does not fit in 24 bits", vni)
		}
	}
	c.IntRange("readers", s.Readers, 1, 256)
	spec.CheckRecvBuffer(c, s.RecvBuffer)
	c.IntRange("batch", s.Batch, 1, 1024)
}

// UDPListen implements component.UDPListener: listener mode only.
func (s *VXLANSpec) UDPListen() ([]string, bool) { return s.Listen, s.Interface == "" }

// Where implements component.SourceWherer.
func (s *VXLANSpec) Where(component.Source) string {
	if s.Interface != "" {
		return fmt.Sprintf("VXLAN port %d on interface %s", s.Port, s.Interface)
	}
	return "VXLAN on " + strings.Join(s.Listen, " ")
}
