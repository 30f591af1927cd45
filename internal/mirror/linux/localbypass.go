package linux

import (
	"fmt"
	"syscall"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// A collector on an address of the provider's own namespace (the one-host
// demo: this host's interfaces into this host's vxlan source) needs the
// vxlan device to send real UDP packets: by default (Linux 6.7+) a vxlan
// device hands a frame for a local address straight to the local vxlan
// device of that port and VNI, itself here, and nothing reaches the wire or
// a capture on lo. The device holds the UDP port, so such a collector reads
// the packets with AF_PACKET on lo (a vxlan source with interface: lo).

// disableLocalBypass clears the device's IFLA_VXLAN_LOCALBYPASS flag
// (changelink). A kernel without the flag (before 6.7) has no bypass: its
// refusal of the attribute is not an error.
func (p *Provider) disableLocalBypass(ifindex int) error {
	s, err := nl.GetNetlinkSocketAt(p.ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer s.Close()
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(ifindex)
	req.AddData(msg)
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("vxlan"))
	data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	data.AddRtAttr(unix.IFLA_VXLAN_LOCALBYPASS, []byte{0})
	req.AddData(info)
	if err := s.Send(req); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	for {
		msgs, _, err := s.Receive()
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != req.Seq || m.Header.Type != unix.NLMSG_ERROR {
				continue
			}
			if len(m.Data) < 4 {
				return fmt.Errorf("short netlink answer")
			}
			errno := -int32(nl.NativeEndian().Uint32(m.Data[0:4]))
			switch syscall.Errno(errno) {
			case 0:
				return nil
			case unix.EINVAL, unix.EOPNOTSUPP:
				return nil // no such flag: no bypass either
			default:
				return fmt.Errorf("set nolocalbypass: %w", syscall.Errno(errno))
			}
		}
	}
}
