package source

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// UDPKind is the udp source kind.
var UDPKind = &component.SourceKind{
	Description: "listen on UDP sockets (one exclusive socket per address, recvmmsg)",
	NewSpec:     func() component.SourceSpec { return new(UDPSpec) },
	New: func(_ component.Env, common component.SourceCommon, s component.SourceSpec) (component.Source, error) {
		u := s.(*UDPSpec)
		return NewUDP(UDPConfig{Common: CommonFrom(common), Listen: u.Listen, Readers: u.Readers, RecvBuffer: int(u.RecvBuffer), Batch: u.Batch})
	},
}

// UDPSpec is the configuration of a udp source: UDP sockets (one exclusive socket per address,
// readers taking turns on it, recvmmsg, IP_PKTINFO, SO_TIMESTAMPNS).
type UDPSpec struct {
	Listen     []string      `yaml:"listen"`      // host:port, IPv4 or IPv6
	Readers    int           `yaml:"readers"`     // reader goroutines on each address's one socket
	RecvBuffer spec.ByteSize `yaml:"recv_buffer"` // SO_RCVBUF
	Batch      int           `yaml:"batch"`       // datagrams per recvmmsg
}

// SetDefaults implements component.SourceSpec.
func (s *UDPSpec) SetDefaults() { *s = UDPSpec{Readers: 2, RecvBuffer: 4 * spec.MiB, Batch: 256} }

// Validate implements component.SourceSpec; the listen addresses are checked by the
// configuration (component.UDPListener).
func (s *UDPSpec) Validate(c *spec.Checker) {
	c.IntRange("readers", s.Readers, 1, 256)
	spec.CheckRecvBuffer(c, s.RecvBuffer)
	c.IntRange("batch", s.Batch, 1, 1024)
}

// UDPListen implements component.UDPListener.
func (s *UDPSpec) UDPListen() ([]string, bool) { return s.Listen, true }

// addrser is a built source that knows the addresses it bound.
type addrser interface{ Addrs() []netip.AddrPort }

// Where implements component.SourceWherer: the addresses bound (a port 0 resolved).
func (s *UDPSpec) Where(built component.Source) string {
	if u, ok := built.(addrser); ok {
		var as []string
		for _, a := range u.Addrs() {
			as = append(as, a.String())
		}
		return strings.Join(as, " ")
	}
	return strings.Join(s.Listen, " ")
}

// TryCommand implements component.TryCommand: a logger line to the first address.
func (s *UDPSpec) TryCommand(built component.Source) string {
	u, ok := built.(addrser)
	if !ok || len(u.Addrs()) == 0 {
		return ""
	}
	a := u.Addrs()[0]
	host := a.Addr()
	if host.IsUnspecified() {
		host = netip.MustParseAddr("127.0.0.1")
		if a.Addr().Is6() && !a.Addr().Is4In6() {
			host = netip.IPv6Loopback()
		}
	}
	return fmt.Sprintf("logger -n %s -P %d -d hello", host, a.Port())
}
