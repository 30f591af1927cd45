package appliance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Receiving: recvmmsg(2) on each reader's SO_REUSEPORT UDP socket, through
// the runtime poller, into buffers allocated once. Sending: sendmmsg(2) on
// the reader's raw IPv4 socket (IPPROTO_RAW: the appliance writes the
// outer IPv4 and UDP headers itself, so the reply keeps the load
// balancer's UDP ports), in receive order: a flow stays on one socket (the
// kernel picks the socket by the outer 4-tuple) and one reader, so its
// packets go back in the order they came.

const ctrlSize = 64 // IP_PKTINFO (28) + SCM_TIMESTAMPNS (32)

type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// reader is one socket and its goroutine's buffers.
type reader struct {
	id    int
	a     *Appliance
	conn  *net.UDPConn
	rc    syscall.RawConn
	raw   int // raw IPv4 send socket
	bound netip.AddrPort
	w     *worker
	st    readerStats

	slot  int // bytes per slot: the MTU
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet4
	ctrl  []byte
	buf   []byte
	rxts  []int64 // kernel receive time of each slot's datagram (ns), 0 if none

	out      []mmsghdr
	outIovs  []unix.Iovec
	outNames []unix.RawSockaddrInet4
	outSlot  []int

	// busyPoll (ns) is how long doRead keeps polling an empty socket
	// before the reader waits in the runtime's poller; pollUntil ends the
	// current poll (a time on the appliance's monotonic clock).
	busyPoll, pollUntil int64
	// fd is the socket's descriptor, for the other readers' polls to look
	// at its queue (sockets are closed only after every reader stopped);
	// waiting is set while the reader waits in the poller.
	fd      int
	waiting atomic.Bool
	mem     [unix.SK_MEMINFO_VARS]uint32 // behind's SO_MEMINFO

	n      int
	err    error
	readFn func(fd uintptr) bool
}

// openReaders binds the readers' sockets: the first on addr, the others on
// the port it got.
func openReaders(a *Appliance, addr netip.AddrPort, s *Spec) ([]*reader, error) {
	var rs []*reader
	fail := func(err error) ([]*reader, error) {
		for _, r := range rs {
			r.close()
		}
		return nil, err
	}
	for i := range s.Readers {
		conn, err := listenUDP(addr, int(s.RecvBuffer))
		if err != nil {
			return fail(fmt.Errorf("listen %s: %w", addr, err))
		}
		if addr.Port() == 0 {
			addr = conn.LocalAddr().(*net.UDPAddr).AddrPort()
			addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
		}
		raw, err := rawSender(int(s.SendBuffer))
		if err != nil {
			conn.Close()
			return fail(err)
		}
		r, err := newReader(a, i, conn, raw, addr, s.Batch, s.MTU)
		if err != nil {
			conn.Close()
			unix.Close(raw)
			return fail(err)
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// listenUDP opens one IPv4 UDP socket of the reuseport group on addr with
// IP_PKTINFO (the local address of each datagram, for wildcard binds) and
// kernel receive timestamps.
func listenUDP(addr netip.AddrPort, rcvbuf int) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			s := int(fd)
			if serr = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); serr != nil {
				return
			}
			if serr = unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_PKTINFO, 1); serr != nil {
				return
			}
			if serr = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); serr != nil {
				return
			}
			if rcvbuf > 0 {
				if unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
					serr = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", addr.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// rawSender opens the raw IPv4 socket replies are sent on (IPPROTO_RAW
// implies IP_HDRINCL). It needs CAP_NET_RAW.
func rawSender(sndbuf int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return -1, fmt.Errorf("raw ipv4 socket for replies (needs CAP_NET_RAW): %w", err)
	}
	if sndbuf > 0 {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sndbuf) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sndbuf)
		}
	}
	// sendmmsg blocks while the send buffer is full (back pressure), but
	// not for ever: a reply that cannot leave within a second is counted as
	// a send error, so a wedged interface cannot hold a reader (and
	// shutdown) indefinitely.
	tv := unix.NsecToTimeval(int64(time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("raw ipv4 socket: send timeout: %w", err)
	}
	return fd, nil
}

func newReader(a *Appliance, id int, conn *net.UDPConn, raw int, bound netip.AddrPort, batch, mtu int) (*reader, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("raw conn: %w", err)
	}
	slot := (mtu + 7) &^ 7
	r := &reader{
		id: id, a: a, conn: conn, rc: rc, raw: raw, bound: bound, slot: slot,
		hdrs:     make([]mmsghdr, batch),
		iovs:     make([]unix.Iovec, batch),
		names:    make([]unix.RawSockaddrInet4, batch),
		ctrl:     make([]byte, batch*ctrlSize),
		buf:      make([]byte, batch*slot),
		rxts:     make([]int64, batch),
		out:      make([]mmsghdr, batch),
		outIovs:  make([]unix.Iovec, batch),
		outNames: make([]unix.RawSockaddrInet4, batch),
		outSlot:  make([]int, batch),
	}
	r.st.init()
	for i := range r.hdrs {
		// The datagram lands after room for the outer headers, and may be
		// MTU - 28 bytes long: a larger one is truncated (MSG_TRUNC) and
		// counted as oversize.
		r.iovs[i].Base = &r.buf[i*slot+outerLen]
		r.iovs[i].SetLen(mtu - outerLen)
		h := &r.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Control = &r.ctrl[i*ctrlSize]
		o := &r.out[i].hdr
		o.Name = (*byte)(unsafe.Pointer(&r.outNames[i]))
		o.Namelen = unix.SizeofSockaddrInet4
		o.Iov = &r.outIovs[i]
		o.SetIovlen(1)
	}
	r.readFn = r.doRead
	r.busyPoll = int64(a.spec.BusyPoll)
	r.fd = -1
	_ = rc.Control(func(fd uintptr) { r.fd = int(fd) })
	r.w = newWorker(a, &r.st)
	return r, nil
}

func (r *reader) close() {
	r.conn.Close()
	if r.raw >= 0 {
		unix.Close(r.raw)
		r.raw = -1
	}
}

// doRead reads a batch without waiting. On an empty socket it polls again
// until pollUntil (or until another reader that waits in the poller has
// datagrams queued: with fewer CPUs than readers, it may need this one's
// thread), then returns false: the reader waits in the poller.
func (r *reader) doRead(fd uintptr) bool {
	r.waiting.Store(false)
	for {
		// A raw system call (no entersyscall): with MSG_DONTWAIT it never
		// blocks, and the runtime's sysmon does not hand the reader's P to
		// another thread while it runs (see send).
		n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)),
			unix.MSG_TRUNC|unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			r.n, r.err = int(n), nil
			return true
		case unix.EAGAIN, unix.EINTR:
			if r.pollUntil == 0 || monoNow(r.a.start, time.Now()) >= r.pollUntil || r.othersWait() {
				r.pollUntil = 0
				r.waiting.Store(true)
				return false
			}
		default:
			r.n, r.err = 0, e
			return true
		}
	}
}

// othersWait reports whether another reader waits in the poller while its
// socket has a datagram queued.
func (r *reader) othersWait() bool {
	for _, o := range r.a.readers {
		if o == r || !o.waiting.Load() || o.fd < 0 {
			continue
		}
		var queued int32
		_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(o.fd), unix.SIOCINQ, uintptr(unsafe.Pointer(&queued)))
		if e == 0 && queued > 0 {
			return true
		}
	}
	return false
}

// recv reads up to one batch, waiting for the first datagram.
func (r *reader) recv() (int, error) {
	for i := range r.hdrs {
		h := &r.hdrs[i].hdr
		h.Namelen = unix.SizeofSockaddrInet4
		h.SetControllen(ctrlSize)
		h.Flags = 0
		r.hdrs[i].n = 0
	}
	if r.busyPoll > 0 {
		r.pollUntil = monoNow(r.a.start, time.Now()) + r.busyPoll
	}
	if err := r.rc.Read(r.readFn); err != nil {
		return 0, err
	}
	return r.n, r.err
}

// info returns datagram i's sender, the address it was sent to (IP_PKTINFO)
// and the kernel's receive time in ns (0 if absent).
func (r *reader) info(i int) (from netip.AddrPort, dst netip.Addr, rx int64) {
	sa := &r.names[i]
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	from = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(p[0])<<8|uint16(p[1]))
	h := &r.hdrs[i].hdr
	cl := min(int(h.Controllen), ctrlSize)
	c := r.ctrl[i*ctrlSize : i*ctrlSize+cl]
	for len(c) >= unix.SizeofCmsghdr {
		cm := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
		l := int(cm.Len)
		if l < unix.SizeofCmsghdr || l > len(c) {
			break
		}
		data := c[unix.SizeofCmsghdr:l]
		switch {
		case cm.Level == unix.IPPROTO_IP && cm.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			dst = netip.AddrFrom4(pi.Addr)
		case cm.Level == unix.SOL_SOCKET && cm.Type == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})):
			ts := (*unix.Timespec)(unsafe.Pointer(&data[0]))
			rx = ts.Nano()
		}
		next := unix.CmsgSpace(l - unix.SizeofCmsghdr)
		if next > len(c) {
			break
		}
		c = c[next:]
	}
	return from, dst, rx
}

// behind reports whether the socket's receive queue holds more than half
// its buffer (SO_MEMINFO): the reader is not keeping up.
// It runs on the reader's goroutine, whose socket is open: on the
// descriptor directly, with the reader's own buffer (nothing allocated).
func (r *reader) behind() bool {
	l := uint32(unsafe.Sizeof(r.mem))
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(r.fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&r.mem[0])), uintptr(unsafe.Pointer(&l)), 0)
	rmem, rcvbuf := r.mem[unix.SK_MEMINFO_RMEM_ALLOC], r.mem[unix.SK_MEMINFO_RCVBUF]
	return e == 0 && rcvbuf > 0 && rmem > rcvbuf/2
}

// meminfo returns the socket's receive queue bytes, receive buffer and
// kernel drop count.
func (r *reader) meminfo() (rmem, rcvbuf, drops uint32) {
	var mem [9]uint32
	l := uint32(unsafe.Sizeof(mem))
	ok := false
	_ = r.rc.Control(func(fd uintptr) {
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&l)), 0)
		ok = e == 0
	})
	if !ok {
		// Closed: the drop count stays what it was last seen (a counter
		// never goes back).
		return 0, 0, uint32(r.st.kernelDrops.Load())
	}
	r.st.kernelDrops.Store(uint64(mem[8]))
	return mem[0], mem[1], mem[8]
}

// loop reads, processes and sends batches until the socket's read deadline
// is set in the past (stop).
func (r *reader) loop() error {
	a := r.a
	for {
		n, err := r.recv()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENOMEM) {
				continue // an ICMP error queued on the socket, or memory short for a moment
			}
			return fmt.Errorf("reader %d: recvmmsg: %w", r.id, err)
		}
		now := time.Now()
		r.st.busySince.Store(monoNow(a.start, now))
		overloaded := n == len(r.hdrs) && r.behind()
		// Counted once a batch: the counters have one writer, and an
		// atomic add per packet is measurable at these rates.
		r.st.received.Add(uint64(n))
		k, dropped := 0, 0
		for i := 0; i < n; i++ {
			length := int(r.hdrs[i].n)
			if length > r.slot-outerLen || r.hdrs[i].hdr.Flags&unix.MSG_TRUNC != 0 {
				r.st.oversizeRecv.Add(1)
				dropped++
				continue
			}
			from, dst, rx := r.info(i)
			local := r.bound
			if local.Addr().IsUnspecified() && dst.IsValid() {
				local = netip.AddrPortFrom(dst, local.Port())
			}
			slot := r.buf[i*r.slot : (i+1)*r.slot]
			out := r.w.process(slot[:a.mtu], length, from, local, now, overloaded)
			if out == 0 {
				dropped++
				continue
			}
			r.outIovs[k].Base = &slot[0]
			r.outIovs[k].SetLen(out)
			sa := &r.outNames[k]
			sa.Family = unix.AF_INET
			sa.Addr = from.Addr().As4()
			sa.Port = 0
			r.outSlot[k] = i
			if rx == 0 {
				rx = now.UnixNano()
			}
			r.rxts[k] = rx
			k++
		}
		if dropped > 0 {
			r.st.dropped.Add(uint64(dropped))
		}
		if k > 0 {
			r.send(k)
		}
		r.st.busySince.Store(0)
	}
}

// send writes the first k prepared replies with sendmmsg, in order. A reply
// the kernel refuses is counted and skipped.
//
// The reader's system calls that cannot block (recvmmsg and sendmmsg with
// MSG_DONTWAIT, SO_MEMINFO, SIOCINQ) are raw. An ordinary system call tells
// the runtime the goroutine may block: with one P (an appliance pinned to
// one CPU gets GOMAXPROCS=1) and no idle P, the runtime's sysmon takes the
// P from a system call still running at its next tick (20 µs apart while
// it finds work) and starts another thread for it, so the reader moves
// between threads and sysmon keeps waking on the reader's CPU
// (docs/performance.md, issue 14: three threads and ~85,000 wakeups where
// one thread and ~29,000 do the same 30,000 datagrams). Only a full send
// buffer takes the blocking path.
func (r *reader) send(k int) {
	sent, failed := 0, 0
	for sent < k {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(r.raw), uintptr(unsafe.Pointer(&r.out[sent])), uintptr(k-sent), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN {
			// The send buffer is full: wait for room (back pressure, up
			// to SO_SNDTIMEO) as an ordinary, blocking system call.
			n, _, e = unix.Syscall6(unix.SYS_SENDMMSG, uintptr(r.raw), uintptr(unsafe.Pointer(&r.out[sent])), uintptr(k-sent), 0, 0, 0)
		}
		switch {
		case e == unix.EINTR:
			continue
		case e != 0:
			r.st.sendErrors.Add(1)
			r.st.dropped.Add(1)
			failed++
			sent++
			continue
		}
		sent += int(n)
	}
	r.st.lat.observeSince(time.Now().UnixNano(), r.rxts[:k])
	r.st.returned.Add(uint64(k - failed))
}
