package linux

import (
	"fmt"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// DefaultPort is the collector's UDP port when the entry does not set one
// (the IANA VXLAN port, where a wirebridge vxlan source listens by default).
const DefaultPort = 4789

// MaxVNI is the largest VXLAN network identifier (24 bits).
const MaxVNI = 1<<24 - 1

// Spec is a linux mirror entry's settings: its keys sit beside name,
// provider and scan_interval in the entry.
type Spec struct {
	// Interfaces are the glob patterns (path.Match syntax: *, ?, [a-z]) of
	// the interface names to mirror, in the namespace wirebridge runs in.
	Interfaces []string `yaml:"interfaces"`
	// Exclude are globs of interface names never mirrored, even when an
	// Interfaces pattern selects them.
	Exclude []string `yaml:"exclude"`
	// Collector is where the mirrored packets go, VXLAN-encapsulated.
	Collector Collector `yaml:"collector"`
}

// Collector is the far end of the managed vxlan device.
type Collector struct {
	// Address is the collector's IP address.
	Address string `yaml:"address"`
	// Port is its UDP port (default 4789).
	Port int `yaml:"port"`
	// VNI is the VXLAN network identifier of the mirrored packets.
	VNI int `yaml:"vni"`
}

// SetDefaults fills the defaults.
func (s *Spec) SetDefaults() { s.Collector.Port = DefaultPort }

// Validate reports every problem, paths relative to the entry.
func (s *Spec) Validate(c *spec.Checker) {
	if len(s.Interfaces) == 0 {
		c.Errorf("interfaces", "required: at least one interface name or glob (such as eth* or veth*)")
	}
	for i, g := range s.Interfaces {
		checkGlob(c, fmt.Sprintf("interfaces[%d]", i), g)
	}
	for i, g := range s.Exclude {
		checkGlob(c, fmt.Sprintf("exclude[%d]", i), g)
	}
	switch a, err := netip.ParseAddr(s.Collector.Address); {
	case s.Collector.Address == "":
		c.Errorf("collector.address", "required: the collector's IP address")
	case err != nil || a.Zone() != "":
		c.Errorf("collector.address", "invalid IP address %q", s.Collector.Address)
	case a.IsUnspecified() || a.IsMulticast():
		c.Errorf("collector.address", "%s cannot be a collector: give the address of the host that captures", a)
	}
	c.IntRange("collector.port", s.Collector.Port, 1, 65535)
	c.IntRange("collector.vni", s.Collector.VNI, 0, MaxVNI)
}

func checkGlob(c *spec.Checker, p, g string) {
	switch {
	case strings.TrimSpace(g) == "":
		c.Errorf(p, "must not be empty")
	case strings.ContainsAny(g, "/ \t\n:"):
		c.Errorf(p, "%q cannot match an interface name (no /, :, or white space)", g)
	default:
		if _, err := path.Match(g, ""); err != nil {
			c.Errorf(p, "invalid glob %q: %v", g, err)
		}
	}
}

// Where says what the entry mirrors where, for the start-up banner.
func (s *Spec) Where() string {
	w := "interfaces " + strings.Join(s.Interfaces, ", ")
	if len(s.Exclude) > 0 {
		w += " (except " + strings.Join(s.Exclude, ", ") + ")"
	}
	return w + fmt.Sprintf(" -> vxlan %s vni %d",
		net.JoinHostPort(s.Collector.Address, strconv.Itoa(s.Collector.Port)), s.Collector.VNI)
}

// Kind is the linux mirror provider's component kind.
var Kind = &component.MirrorKind{
	Description: "Linux tc mirroring: clsact + u32 + mirred from every selected interface into a managed vxlan device toward the collector",
	NewSpec:     func() component.MirrorSpec { return new(Spec) },
	New:         newComponent,
}

var _ component.MirrorWherer = (*Spec)(nil)

func newComponent(_ component.Env, common component.MirrorCommon, s component.MirrorSpec) (component.MirrorProvider, error) {
	sp, ok := s.(*Spec)
	if !ok {
		return nil, fmt.Errorf("mirror %s: spec %T is not a linux mirror spec", common.Name, s)
	}
	// The provider works in the namespace wirebridge runs in.
	return New(Config{Name: common.Name, Spec: *sp})
}
