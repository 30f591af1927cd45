package source

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// UDPConfig configures a udp source.
type UDPConfig struct {
	Common
	Listen     []string // host:port; ":514" listens on every IPv4 and IPv6 address
	Readers    int      // goroutines reading each address's one socket; default 1
	RecvBuffer int      // SO_RCVBUF bytes; 0 keeps the system default
	Batch      int      // datagrams per recvmmsg; default 256 (see NewUDP)
}

// UDP is a udp source: datagrams received on listening sockets, each emitted
// as a synthesised IPv4 or IPv6 + UDP packet (LinkRaw) around its payload.
//
// Each listen address is one socket, bound exclusively: without
// SO_REUSEPORT or SO_REUSEADDR. So the kernel refuses the bind when any
// other socket holds the port (with or without SO_REUSEPORT, on the same
// address, a wildcard or a specific address under ours), and refuses every
// later bind of the port by anyone else while we hold it: no other process
// can take a share of the datagrams silently. A reuseport group cannot give
// that guarantee: the kernel lets any socket of the same user join it (root
// runs wirebridge and many other daemons), and a socket bound with
// SO_REUSEPORT to a specific address beside our wildcard group takes all of
// that address's datagrams (TestUDPOtherProcessCannotJoin saw it take 20 of
// 20 before this design).
//
// Readers > 1 runs that many goroutines on the one socket. They take turns
// at recvmmsg (the socket's queue is one queue: only one reader waits on it
// at a time) and build, filter and hand over their batches in the order they
// were received, so one sender's datagrams reach the pipeline in arrival
// order whichever reader read them. A single reader does the same with no
// locking. (The reuseport alternatives were weighed in issue 11: a group
// steered by a reuseport BPF program still lets a more specific bind win
// the lookup, and watching the group with sock_diag only detects a thief
// after datagrams were lost to it.)
type UDP struct {
	cfg   UDPConfig
	addrs []netip.AddrPort
	socketSet
}

// NewUDP opens the listening sockets (so address errors surface at once;
// port 0 picks a free port, see Addrs). Run reads them.
func NewUDP(cfg UDPConfig) (*UDP, error) {
	if len(cfg.Listen) == 0 {
		return nil, fmt.Errorf("udp source %q: no listen address", cfg.Name)
	}
	if cfg.Readers <= 0 {
		cfg.Readers = 1
	}
	if cfg.Batch <= 0 {
		// 256: at a few hundred thousand datagrams a second a batch is
		// handed from the reader to a pipeline worker to the target's
		// goroutine, and each hand-off can wake a thread; batches of 256
		// rather than 64 wake them a quarter as often (bench/archive.sh
		// and docs/performance.md). The slots cost 256 x 9.3 KiB of
		// address space per reader, of which only the pages datagrams
		// land in are touched.
		cfg.Batch = 256
	}
	u := &UDP{cfg: cfg}
	u.adm = newAdmitter(&u.cfg.Common, &u.stats)
	max := cfg.maxDatagram()
	aps := make([]netip.AddrPort, len(cfg.Listen))
	for i, l := range cfg.Listen {
		ap, err := resolveListen(l)
		if err != nil {
			return nil, fmt.Errorf("udp source %q: %w", cfg.Name, err)
		}
		aps[i] = ap
	}
	for i, l := range cfg.Listen {
		ap := aps[i]
		f, bound, rb, err := openUDP(ap, cfg.RecvBuffer, v6Only(ap, aps))
		if err != nil {
			u.Close()
			return nil, fmt.Errorf("udp source %q: listen %s: %w", cfg.Name, l, err)
		}
		u.addrs = append(u.addrs, bound)
		u.rcvbuf = rb
		sh := &sockShare{multi: cfg.Readers > 1}
		for range cfg.Readers {
			r, err := newMmsgReader(f, sh, cfg.Batch, headRoom, max)
			if err != nil {
				f.Close()
				u.Close()
				return nil, fmt.Errorf("udp source %q: %w", cfg.Name, err)
			}
			r.build = u.builder(r, bound)
			u.readers = append(u.readers, r)
		}
	}
	return u, nil
}

func resolveListen(l string) (netip.AddrPort, error) {
	host, _, err := net.SplitHostPort(l)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("listen address %q: %w", l, err)
	}
	if host == "" {
		l = "[::]" + l
	}
	ua, err := net.ResolveUDPAddr("udp", l)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("listen address %q: %w", l, err)
	}
	return ua.AddrPort(), nil
}

// v6Only reports whether the IPv6 wildcard ap must be bound IPv6-only: when
// the source also listens on an IPv4 address with the same port, that
// socket takes the IPv4 datagrams (a dual-stack wildcard would hold the
// IPv4 port too, and the exclusive binds would collide).
func v6Only(ap netip.AddrPort, all []netip.AddrPort) bool {
	if !ap.Addr().Is6() || !ap.Addr().IsUnspecified() || ap.Port() == 0 {
		return false
	}
	for _, o := range all {
		if o.Port() == ap.Port() && o.Addr().Unmap().Is4() {
			return true
		}
	}
	return false
}

// openUDP opens, configures and binds one socket, exclusively (no
// SO_REUSEPORT, no SO_REUSEADDR: see UDP). The wildcard "::" is dual stack
// unless v6only. A port someone else holds fails with an error naming it
// and wrapping EADDRINUSE.
func openUDP(ap netip.AddrPort, rcvbuf int, v6only bool) (*os.File, netip.AddrPort, int, error) {
	a := ap.Addr().Unmap()
	v4 := a.Is4()
	family := unix.AF_INET6
	if v4 {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, ap, 0, fmt.Errorf("socket: %w", err)
	}
	fail := func(what string, err error) (*os.File, netip.AddrPort, int, error) {
		unix.Close(fd)
		return nil, ap, 0, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fail("SO_TIMESTAMPNS", err)
	}
	rb, err := setRecvBuffer(fd, rcvbuf)
	if err != nil {
		return fail("receive buffer", err)
	}
	var sa unix.Sockaddr
	if v4 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1); err != nil {
			return fail("IP_PKTINFO", err)
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVTTL, 1)
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	} else {
		dual := a.IsUnspecified() && !v6only
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, b2i(!dual)); err != nil {
			return fail("IPV6_V6ONLY", err)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1); err != nil {
			return fail("IPV6_RECVPKTINFO", err)
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1)
		if dual { // IPv4 datagrams on a dual-stack socket report IPv4 ancillary data
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVTTL, 1)
		}
		s6 := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
		if z := ap.Addr().Zone(); z != "" {
			if ifi, err := net.InterfaceByName(z); err == nil {
				s6.ZoneId = uint32(ifi.Index)
			}
		}
		sa = s6
	}
	if err := unix.Bind(fd, sa); err != nil {
		if errors.Is(err, unix.EADDRINUSE) {
			return fail(fmt.Sprintf("bind: udp port %d is already in use by another socket (wirebridge does not share ports)", ap.Port()), err)
		}
		return fail("bind", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	bound := ap
	switch g := got.(type) {
	case *unix.SockaddrInet4:
		bound = netip.AddrPortFrom(netip.AddrFrom4(g.Addr), uint16(g.Port))
	case *unix.SockaddrInet6:
		bound = netip.AddrPortFrom(netip.AddrFrom16(g.Addr), uint16(g.Port))
	}
	return os.NewFile(uintptr(fd), "udp:"+bound.String()), bound, rb, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// builder returns the function turning message i of r into a frame.
func (u *UDP) builder(r *mmsgReader, local netip.AddrPort) func(int, time.Time) (Frame, netip.Addr) {
	localAddr := local.Addr()
	port := local.Port()
	return func(i int, now time.Time) (Frame, netip.Addr) {
		mi := r.info(i)
		wire, _ := r.length(i)
		captured := min(wire, r.max)
		dst := mi.dst
		if !dst.IsValid() {
			dst = localAddr
		}
		v4 := mi.v4 && mi.from.Addr().Is4()
		if v4 {
			dst = dst.Unmap()
			if !dst.Is4() { // dual-stack socket without IPv4 pktinfo
				dst = netip.IPv4Unspecified()
			}
		} else if dst.Is4() {
			dst = netip.AddrFrom16(dst.As16())
		}
		data, wireLen := synthUDP(r.slotBuf(i), v4, mi.from, netip.AddrPortFrom(dst, port), mi.ttl, captured, wire)
		return Frame{Data: data, Info: packet.CaptureInfo{
			Timestamp:      mi.time(now),
			CaptureLength:  len(data),
			Length:         wireLen,
			InterfaceIndex: mi.ifindex,
			LinkType:       packet.LinkRaw,
		}}, mi.from.Addr()
	}
}

// Name is the source's configured name.
func (u *UDP) Name() string { return u.cfg.Name }

// Addrs are the bound addresses, one per listen address (port 0 resolved).
func (u *UDP) Addrs() []netip.AddrPort { return u.addrs }

// Run reads every socket until ctx is cancelled, then closes them.
func (u *UDP) Run(ctx context.Context, emit Emit) error {
	return u.run(ctx, "udp", &u.cfg.Common, emit)
}
