package gwlb

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// tunDev is an open TUN interface.
type tunDev struct {
	file    *os.File
	name    string
	created bool // the interface did not exist before: remove it on close
}

// openTUN creates the TUN interface name (IFF_TUN|IFF_NO_PI), or attaches to
// it when it exists (a persistent TUN made with `ip tuntap add`), then sets
// its MTU, adds the addresses and sets it up.
func openTUN(name string, mtu int, addrs []netip.Prefix) (*tunDev, error) {
	if len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("tun %q: name longer than %d bytes", name, unix.IFNAMSIZ-1)
	}
	_, err := netlink.LinkByName(name)
	existed := err == nil
	var nf netlink.LinkNotFoundError
	if err != nil && !errors.As(err, &nf) {
		return nil, fmt.Errorf("tun %q: %w", name, err)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	var req struct {
		name  [unix.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(req.name[:], name)
	req.flags = unix.IFF_TUN | unix.IFF_NO_PI
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req))); errno != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("tun %q: TUNSETIFF: %w", name, errno)
	}
	// A non-blocking descriptor goes through the runtime's poller: a Read
	// blocked in it returns when the file is closed.
	t := &tunDev{file: os.NewFile(uintptr(fd), "/dev/net/tun"), name: name, created: !existed}
	if err := t.setup(mtu, addrs); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

func (t *tunDev) setup(mtu int, addrs []netip.Prefix) error {
	link, err := netlink.LinkByName(t.name)
	if err != nil {
		return fmt.Errorf("tun %q: %w", t.name, err)
	}
	if err := netlink.LinkSetMTU(link, mtu); err != nil {
		return fmt.Errorf("tun %q: set mtu %d: %w", t.name, mtu, err)
	}
	for _, p := range addrs {
		a, err := netlink.ParseAddr(p.String())
		if err != nil {
			return fmt.Errorf("tun %q: address %s: %w", t.name, p, err)
		}
		if err := netlink.AddrReplace(link, a); err != nil {
			return fmt.Errorf("tun %q: add address %s: %w", t.name, p, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("tun %q: set up: %w", t.name, err)
	}
	return nil
}

// close closes the TUN and removes the interface if openTUN created it (a
// non-persistent TUN goes away with its last descriptor; the delete is for
// one made persistent meanwhile).
func (t *tunDev) close() error {
	err := t.file.Close()
	if t.created {
		if link, lerr := netlink.LinkByName(t.name); lerr == nil {
			_ = netlink.LinkDel(link)
		}
	}
	return err
}
