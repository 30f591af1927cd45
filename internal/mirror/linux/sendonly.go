package linux

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/vishvananda/netlink"
)

// makeSendOnly keeps the vxlan device from delivering anything it receives
// to this host. The device listens on the collector's UDP port: with a
// collector on this host it decapsulates its own copies, and any sender can
// reach it. Unicast frames for other MAC addresses are dropped anyway;
// without this, broadcast and multicast frames would reach local programs a
// second time. So: no ARP, no IPv6 on the device, and strict reverse-path
// filtering for IPv4 (no source is routed through the device, so every
// IPv4 packet received on it is dropped).
func (p *Provider) makeSendOnly(l netlink.Link) error {
	if err := p.h.LinkSetARPOff(l); err != nil {
		return fmt.Errorf("arp off: %w", err)
	}
	name := l.Attrs().Name
	return inNetns(p.ns, func() error {
		for _, s := range []struct {
			path     string
			optional bool // absent when the kernel has no IPv6
		}{
			{"/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6", true},
			{"/proc/sys/net/ipv4/conf/" + name + "/rp_filter", false},
		} {
			// /proc/sys/net is the namespace of the thread that opens it.
			err := os.WriteFile(s.path, []byte("1"), 0)
			if err != nil && !(s.optional && errors.Is(err, fs.ErrNotExist)) {
				return fmt.Errorf("sysctl %s: %w", s.path, err)
			}
		}
		return nil
	})
}
