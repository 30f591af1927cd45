package source

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The udp and raw sources read with recvmmsg(2) on their own sockets, called
// through the runtime poller (syscall.RawConn.Read), into buffers allocated
// once per reader: no allocation per packet or per batch. (x/net's
// ipv4/ipv6 PacketConn.ReadBatch allocates a net.Addr per message and hides
// the MSG_TRUNC length, so it is not used here.)

const (
	headRoom   = 48                     // room before each payload for a synthesised IPv6 (40) + UDP (8) header
	ctrlSize   = 128                    // ancillary data per message: pktinfo, ttl/hop limit, timestamp (96 at most)
	dropPoll   = 250 * time.Millisecond // kernel drops read at most this often while packets arrive
	idlePoll   = time.Second            // and this long after the last read when none do
	skMemDrops = 8                      // SK_MEMINFO_DROPS in the SO_MEMINFO array
	skMemVars  = 9                      // SK_MEMINFO_VARS
)

type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// msgInfo is what one received message's ancillary data and address say.
type msgInfo struct {
	from    netip.AddrPort // sender (unmapped)
	dst     netip.Addr     // destination address from IP_PKTINFO / IPV6_PKTINFO; invalid if absent
	ifindex int
	ttl     int // TTL or hop limit; -1 if absent
	v4      bool
	ts      time.Time // the kernel's receive time (SO_TIMESTAMPNS); zero if absent
}

// time is the message's capture time: the kernel's per-packet receive
// timestamp (SO_TIMESTAMPNS), or read, the time its batch was read, when the
// kernel gave none.
func (mi *msgInfo) time(read time.Time) time.Time {
	if mi.ts.IsZero() {
		return read
	}
	return mi.ts
}

// sockShare is what the readers of one socket share: the order in which
// their batches are handed over, and the socket's kernel drop counter.
//
// With several readers (multi), a reader holds recvMu around recvmmsg and
// takes a ticket for the batch it read while still holding it, so tickets
// follow the socket's queue order; it emits when the ticket's turn comes
// and then passes the turn on. Building and filtering run in parallel.
type sockShare struct {
	multi  bool
	recvMu sync.Mutex
	mu     sync.Mutex
	cond   *sync.Cond
	issued uint64 // next ticket (under recvMu)
	turn   uint64 // ticket whose batch is handed over next (under mu)

	dropMu    sync.Mutex
	lastDrops uint32
}

// waitTurn blocks until ticket t may emit.
func (s *sockShare) waitTurn(t uint64) {
	s.mu.Lock()
	for s.turn != t {
		s.cond.Wait()
	}
	s.mu.Unlock()
}

// done passes the turn on after ticket t.
func (s *sockShare) done(t uint64) {
	s.mu.Lock()
	s.turn = t + 1
	s.mu.Unlock()
	s.cond.Broadcast()
}

// mmsgReader is one socket read in batches.
type mmsgReader struct {
	f      *os.File
	sh     *sockShare
	rc     syscall.RawConn
	hdrs   []mmsghdr
	iovs   []unix.Iovec
	names  []unix.RawSockaddrInet6
	ctrl   []byte
	buf    []byte
	slot   int // bytes per message slot in buf
	room   int // bytes before the iovec base in each slot
	max    int // iovec length (largest datagram read whole)
	n      int
	err    error
	readFn func(fd uintptr) bool

	// build turns message i into a frame and its sender. Set by the source.
	build func(i int, now time.Time) (Frame, netip.Addr)

	frames   []Frame
	senders  []netip.Addr
	pause    time.Duration // after a short read: readPause, or 0 with a small socket buffer
	lastPoll time.Time
	stopping atomic.Bool // set by runReaders before its deadline in the past
}

// newMmsgReader returns a reader of f. Readers of one socket share sh.
func newMmsgReader(f *os.File, sh *sockShare, batch, room, max int) (*mmsgReader, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("raw conn: %w", err)
	}
	if sh.cond == nil {
		sh.cond = sync.NewCond(&sh.mu)
	}
	awaitRxTimestamps()
	var pause time.Duration
	var rcvbuf int
	var serr error
	if err := rc.Control(func(fd uintptr) { rcvbuf, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) }); err == nil && serr == nil && rcvbuf >= pauseMinBuffer {
		pause = readPause
	}
	slot := (room + max + 7) &^ 7
	r := &mmsgReader{
		f: f, sh: sh, rc: rc, slot: slot, room: room, max: max, pause: pause,
		hdrs:    make([]mmsghdr, batch),
		iovs:    make([]unix.Iovec, batch),
		names:   make([]unix.RawSockaddrInet6, batch),
		ctrl:    make([]byte, batch*ctrlSize),
		buf:     make([]byte, batch*slot),
		frames:  make([]Frame, 0, batch),
		senders: make([]netip.Addr, 0, batch),
	}
	for i := range r.hdrs {
		r.iovs[i].Base = &r.buf[i*slot+room]
		r.iovs[i].SetLen(max)
		h := &r.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Control = &r.ctrl[i*ctrlSize]
	}
	r.readFn = r.doRead
	return r, nil
}

func (r *mmsgReader) doRead(fd uintptr) bool {
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)),
		unix.MSG_TRUNC|unix.MSG_DONTWAIT, 0, 0)
	switch e {
	case 0:
		r.n, r.err = int(n), nil
	case unix.EAGAIN, unix.EINTR:
		return false
	default:
		r.n, r.err = 0, e
	}
	return true
}

// recv reads up to one batch, waiting for the first message.
func (r *mmsgReader) recv() (int, error) {
	for i := range r.hdrs {
		h := &r.hdrs[i].hdr
		h.Namelen = unix.SizeofSockaddrInet6
		h.SetControllen(ctrlSize)
		h.Flags = 0
		r.hdrs[i].n = 0
	}
	if err := r.rc.Read(r.readFn); err != nil {
		return 0, err
	}
	return r.n, r.err
}

// slotBuf returns message i's whole slot (head room + iovec).
func (r *mmsgReader) slotBuf(i int) []byte { return r.buf[i*r.slot : i*r.slot+r.room+r.max] }

// length returns message i's real length (MSG_TRUNC) and whether it was truncated.
func (r *mmsgReader) length(i int) (int, bool) {
	n := int(r.hdrs[i].n)
	return n, n > r.max || r.hdrs[i].hdr.Flags&unix.MSG_TRUNC != 0
}

// info parses message i's sender and ancillary data.
func (r *mmsgReader) info(i int) msgInfo {
	mi := msgInfo{ttl: -1}
	h := &r.hdrs[i].hdr
	sa := &r.names[i]
	switch {
	case h.Namelen >= unix.SizeofSockaddrInet4 && sa.Family == unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&sa4.Port))
		mi.from = netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), uint16(p[0])<<8|uint16(p[1]))
		mi.v4 = true
	case h.Namelen >= unix.SizeofSockaddrInet6 && sa.Family == unix.AF_INET6:
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		a := netip.AddrFrom16(sa.Addr)
		mi.v4 = a.Is4In6()
		mi.from = netip.AddrPortFrom(a.Unmap(), uint16(p[0])<<8|uint16(p[1]))
	}
	cl := int(h.Controllen)
	if cl > ctrlSize {
		cl = ctrlSize
	}
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
			mi.dst = netip.AddrFrom4(pi.Addr)
			mi.ifindex = int(pi.Ifindex)
		case cm.Level == unix.IPPROTO_IPV6 && cm.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			mi.dst = netip.AddrFrom16(pi.Addr).Unmap()
			mi.ifindex = int(pi.Ifindex)
		case cm.Level == unix.IPPROTO_IP && cm.Type == unix.IP_TTL && len(data) >= 4:
			mi.ttl = int(*(*int32)(unsafe.Pointer(&data[0])))
		case cm.Level == unix.IPPROTO_IPV6 && cm.Type == unix.IPV6_HOPLIMIT && len(data) >= 4:
			mi.ttl = int(*(*int32)(unsafe.Pointer(&data[0])))
		case cm.Level == unix.SOL_SOCKET && cm.Type == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})):
			ts := (*unix.Timespec)(unsafe.Pointer(&data[0]))
			mi.ts = time.Unix(int64(ts.Sec), int64(ts.Nsec))
		}
		next := unix.CmsgSpace(l - unix.SizeofCmsghdr)
		if next > len(c) {
			break
		}
		c = c[next:]
	}
	return mi
}

// pollDrops adds the socket's new kernel drops (SO_MEMINFO's sk_drops:
// receive buffer overflows, bad checksums) to st. Readers of one socket
// share its last reading.
func (r *mmsgReader) pollDrops(st *Stats) {
	r.sh.dropMu.Lock()
	defer r.sh.dropMu.Unlock()
	var mem [skMemVars]uint32
	_ = r.rc.Control(func(fd uintptr) {
		l := uint32(unsafe.Sizeof(mem))
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&l)), 0)
		if e != 0 || l < (skMemDrops+1)*4 {
			return
		}
		d := mem[skMemDrops]
		st.Drop(DropKernel, uint64(d-r.sh.lastDrops))
		r.sh.lastDrops = d
	})
}

// loop reads batches until the reader's deadline is set (stop) or reading fails.
// It reads the socket's kernel drops at most every dropPoll while packets
// arrive, and idlePoll after the last poll when none do (a read deadline
// pushed forward at each poll wakes it), so that drops during a flood are in
// the counters soon after it ends, without waiting for the next packet.
func (r *mmsgReader) loop(name, eventSource string, st *Stats, adm *admitter, emit Emit) error {
	defer r.pollDrops(st)
	if r.armIdlePoll(time.Now()) {
		return nil
	}
	for {
		n, ticket, err := r.recvTicket()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && !r.stopping.Load() {
				now := time.Now()
				r.lastPoll = now
				r.pollDrops(st)
				if r.armIdlePoll(now) {
					return nil
				}
				continue
			}
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("recvmmsg: %w", err)
		}
		now := time.Now()
		frames, senders := r.frames[:0], r.senders[:0]
		var bytes, trunc uint64
		for i := 0; i < n; i++ {
			f, s := r.build(i, now)
			bytes += uint64(f.Info.Length)
			if f.Info.Length > f.Info.CaptureLength {
				trunc++
			}
			frames = append(frames, f)
			senders = append(senders, s)
		}
		st.Received.Add(uint64(n))
		st.Bytes.Add(bytes)
		st.Truncated.Add(trunc)
		frames = adm.filter(frames, senders)
		if r.sh.multi {
			r.sh.waitTurn(ticket)
		}
		if len(frames) > 0 {
			st.Emitted.Add(uint64(len(frames)))
			emit(Batch{Source: name, EventSource: eventSource, Frames: frames})
		}
		if r.sh.multi {
			r.sh.done(ticket)
		}
		if r.pause > 0 && n*4 < len(r.hdrs) {
			// A short read: the socket was all but empty. Let datagrams
			// gather for a moment (as a NIC's interrupt moderation does)
			// instead of waking for every few: see readPause.
			time.Sleep(r.pause)
		}
		if now.Sub(r.lastPoll) >= dropPoll {
			r.lastPoll = now
			r.pollDrops(st)
			if r.armIdlePoll(now) {
				return nil
			}
		}
	}
}

// readPause is how long a reader waits after a read that returned less
// than a quarter of its batch. Without it a reader that keeps up wakes and
// makes a system call for every few datagrams (at 190,000 datagrams/s: 4.5
// per recvmmsg, 44,000 calls and 24,000 epoll waits a second), which cost
// more CPU than the events themselves. The pause costs at most about a
// millisecond of latency (Go's timers round sub-millisecond sleeps of an
// idle process up to 1 ms) and no order or time: each datagram keeps the
// kernel's receive timestamp, and the socket buffer (4 MiB by default)
// holds thousands of datagrams. Under load reads return full batches and
// there is no pause. A socket whose receive buffer is under pauseMinBuffer
// (recv_buffer set small) is read without pauses: a millisecond at a high
// rate could overflow it.
const (
	readPause      = 500 * time.Microsecond
	pauseMinBuffer = 1 << 20
)

// recvTicket is recv for one of several readers of a socket: it takes the
// socket in turn and returns the batch's ticket (see sockShare). A lone
// reader reads without locking (ticket 0).
func (r *mmsgReader) recvTicket() (int, uint64, error) {
	if !r.sh.multi {
		n, err := r.recv()
		return n, 0, err
	}
	r.sh.recvMu.Lock()
	defer r.sh.recvMu.Unlock()
	if r.stopping.Load() {
		return 0, 0, os.ErrDeadlineExceeded
	}
	n, err := r.recv()
	if err != nil {
		return 0, 0, err
	}
	t := r.sh.issued
	r.sh.issued++
	return n, t, nil
}

// armIdlePoll sets the read deadline to idlePoll from now and reports
// whether the reader is stopping (whose deadline in the past must win).
func (r *mmsgReader) armIdlePoll(now time.Time) (stop bool) {
	if r.stopping.Load() {
		return true
	}
	if err := r.f.SetReadDeadline(now.Add(idlePoll)); err != nil {
		return true // closed
	}
	// runReaders sets stopping before its deadline: if that deadline came
	// before ours, stopping is visible now.
	return r.stopping.Load()
}

// runReaders runs every reader's loop until ctx is cancelled or one fails,
// then stops the others (read deadline in the past) and closes all files.
func runReaders(ctx context.Context, rs []*mmsgReader, name, eventSource string, st *Stats, adm *admitter, emit Emit) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(rs))
	for i, r := range rs {
		wg.Go(func() {
			errs[i] = r.loop(name, eventSource, st, adm, emit)
			cancel()
		})
	}
	<-ctx.Done()
	// Readers of one socket share its deadline: every reader is marked
	// stopping before any deadline moves, so none re-arms a future one.
	for _, r := range rs {
		r.stopping.Store(true)
	}
	for _, r := range rs {
		_ = r.f.SetReadDeadline(time.Unix(1, 0))
	}
	wg.Wait()
	for _, r := range rs {
		_ = r.f.Close()
	}
	return errors.Join(errs...)
}

// setRecvBuffer sets SO_RCVBUF, first with SO_RCVBUFFORCE (which needs
// CAP_NET_ADMIN and ignores net.core.rmem_max), and returns the effective size
// the kernel reports.
func setRecvBuffer(fd, size int) (int, error) {
	if size > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size); err != nil {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, size); err != nil {
				return 0, fmt.Errorf("set SO_RCVBUF %d: %w", size, err)
			}
		}
	}
	got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return 0, fmt.Errorf("get SO_RCVBUF: %w", err)
	}
	return got, nil
}

// socketSet is what the udp and raw sources share: their recvmmsg readers,
// counters and admission, and how they run and close.
type socketSet struct {
	stats   Stats
	adm     *admitter
	readers []*mmsgReader
	rcvbuf  int
	once    sync.Once
}

// Stats are the source's counters.
func (s *socketSet) Stats() *Stats { return &s.stats }

// RecvBuffer is the effective SO_RCVBUF the kernel reports (it doubles the
// requested size for bookkeeping; without CAP_NET_ADMIN it is capped by
// net.core.rmem_max).
func (s *socketSet) RecvBuffer() int { return s.rcvbuf }

// run reads every socket until ctx is cancelled, then closes them.
func (s *socketSet) run(ctx context.Context, kind string, c *Common, emit Emit) error {
	err := runReaders(ctx, s.readers, c.Name, c.EventSource, &s.stats, s.adm, emit)
	s.once.Do(func() {})
	if err != nil {
		return fmt.Errorf("%s source %q: %w", kind, c.Name, err)
	}
	return nil
}

// Close closes the sockets of a source that is not running.
func (s *socketSet) Close() error {
	s.once.Do(func() {
		for _, r := range s.readers {
			r.f.Close()
		}
	})
	return nil
}
