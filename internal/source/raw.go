package source

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// RawConfig configures a raw source.
type RawConfig struct {
	Common
	IPv4, IPv6 bool // which families to read; both false reads both
	RecvBuffer int  // SO_RCVBUF bytes; 0 keeps the system default
	Batch      int  // datagrams per recvmmsg; default 64
}

// ErrNeedCapNetRaw is wrapped by NewRaw's and NewAFPacket's error when the
// process may not open the socket.
var ErrNeedCapNetRaw = errors.New("permission denied: needs CAP_NET_RAW (run as root, or `setcap cap_net_raw+ep` on the binary)")

// Raw is a raw source: a copy of every UDP datagram arriving at the host
// (SOCK_RAW, IPPROTO_UDP), whether or not a socket listens on its port. IPv4
// packets come with the header the kernel received; IPv6 raw sockets deliver
// no IPv6 header, so one is rebuilt from the sender address, IPV6_PKTINFO
// (destination, interface) and IPV6_HOPLIMIT. Frames are LinkRaw.
type Raw struct {
	cfg RawConfig
	socketSet
}

// NewRaw opens the raw sockets.
func NewRaw(cfg RawConfig) (*Raw, error) {
	if !cfg.IPv4 && !cfg.IPv6 {
		cfg.IPv4, cfg.IPv6 = true, true
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	r := &Raw{cfg: cfg}
	r.adm = newAdmitter(&r.cfg.Common, &r.stats)
	max := cfg.maxDatagram()
	for _, v4 := range []bool{true, false} {
		if (v4 && !cfg.IPv4) || (!v4 && !cfg.IPv6) {
			continue
		}
		f, rb, err := openRaw(v4, cfg.RecvBuffer)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("raw source %q: %w", cfg.Name, err)
		}
		r.rcvbuf = rb
		// IPv4: the kernel's IP header is part of the datagram, so read up to
		// 60 bytes of header beyond max.
		rmax := max + 60
		if !v4 {
			rmax = max + 8
		}
		rd, err := newMmsgReader(f, &sockShare{}, cfg.Batch, ipv6Len, rmax)
		if err != nil {
			f.Close()
			r.Close()
			return nil, fmt.Errorf("raw source %q: %w", cfg.Name, err)
		}
		if v4 {
			rd.build = rawBuilder4(rd)
		} else {
			rd.build = rawBuilder6(rd)
		}
		r.readers = append(r.readers, rd)
	}
	return r, nil
}

func openRaw(v4 bool, rcvbuf int) (*os.File, int, error) {
	family, name := unix.AF_INET, "raw4"
	if !v4 {
		family, name = unix.AF_INET6, "raw6"
	}
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, 0, fmt.Errorf("%s socket: %w: %w", name, ErrNeedCapNetRaw, err)
		}
		return nil, 0, fmt.Errorf("%s socket: %w", name, err)
	}
	rb, err := setRecvBuffer(fd, rcvbuf)
	if err != nil {
		unix.Close(fd)
		return nil, 0, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("%s SO_TIMESTAMPNS: %w", name, err)
	}
	if !v4 {
		for _, o := range []int{unix.IPV6_RECVPKTINFO, unix.IPV6_RECVHOPLIMIT} {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, o, 1); err != nil {
				unix.Close(fd)
				return nil, 0, fmt.Errorf("%s ancillary data: %w", name, err)
			}
		}
	} else if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1); err != nil {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("%s IP_PKTINFO: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), rb, nil
}

func rawBuilder4(r *mmsgReader) func(int, time.Time) (Frame, netip.Addr) {
	return func(i int, now time.Time) (Frame, netip.Addr) {
		wire, _ := r.length(i)
		captured := min(wire, r.max)
		data := r.slotBuf(i)[r.room : r.room+captured]
		var ifindex int
		var from netip.Addr
		if len(data) >= 20 && data[0]>>4 == 4 {
			from = netip.AddrFrom4([4]byte(data[12:16]))
		}
		mi := r.info(i)
		if mi.ifindex != 0 {
			ifindex = mi.ifindex
			if !from.IsValid() {
				from = mi.from.Addr()
			}
		}
		return Frame{Data: data, Info: packet.CaptureInfo{
			Timestamp: mi.time(now), CaptureLength: captured, Length: wire, InterfaceIndex: ifindex, LinkType: packet.LinkRaw,
		}}, from
	}
}

func rawBuilder6(r *mmsgReader) func(int, time.Time) (Frame, netip.Addr) {
	return func(i int, now time.Time) (Frame, netip.Addr) {
		wire, _ := r.length(i)
		captured := min(wire, r.max)
		mi := r.info(i)
		slot := r.slotBuf(i)
		dst := mi.dst
		if !dst.IsValid() {
			dst = netip.IPv6Unspecified()
		}
		src := mi.from.Addr()
		if !src.IsValid() {
			src = netip.IPv6Unspecified()
		}
		putIPv6(slot[:ipv6Len], netip.AddrFrom16(src.As16()), netip.AddrFrom16(dst.As16()), mi.ttl, wire, 17)
		data := slot[:ipv6Len+captured]
		return Frame{Data: data, Info: packet.CaptureInfo{
			Timestamp: mi.time(now), CaptureLength: len(data), Length: ipv6Len + wire, InterfaceIndex: mi.ifindex, LinkType: packet.LinkRaw,
		}}, mi.from.Addr()
	}
}

// Name is the source's configured name.
func (r *Raw) Name() string { return r.cfg.Name }

// Run reads the raw sockets until ctx is cancelled, then closes them.
func (r *Raw) Run(ctx context.Context, emit Emit) error {
	return r.run(ctx, "raw", &r.cfg.Common, emit)
}
