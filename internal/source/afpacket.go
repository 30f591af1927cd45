package source

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// AFPacketConfig configures an afpacket source.
type AFPacketConfig struct {
	Common
	Interface    string
	Filter       Filter
	Readers      int           // sockets in one PACKET_FANOUT group; default 1
	Fanout       string        // hash (default) | lb | cpu
	RingSize     int           // bytes per reader ring; default 16 MiB
	BlockSize    int           // bytes per ring block (a multiple of the page size); default 1 MiB
	BlockTimeout time.Duration // a partly filled block is handed over after this long; default 10ms
	Promiscuous  bool
}

// AFPacket captures frames on an interface through TPACKET_V3 rings. Frames
// are emitted straight from the ring (zero copy): a ring block is returned to
// the kernel after the emit calls for its frames. VLAN tags the kernel moved
// to metadata are written back into the frame in place.
type AFPacket struct {
	cfg     AFPacketConfig
	stats   Stats
	adm     *admitter
	readers []*ringReader
	link    packet.LinkType
	ifindex int
	once    sync.Once
}

type ringReader struct {
	fd        int
	ring      []byte
	blockSize int
	blocks    int
	cur       int
	pfd       []unix.PollFd
	frames    []Frame
	senders   []netip.Addr
	lastPoll  time.Time
}

var fanoutSeq atomic.Uint32

// Offsets in struct tpacket_block_desc / tpacket3_hdr (linux/if_packet.h).
const (
	bdStatus     = 8
	bdNumPkts    = 12
	bdFirstPkt   = 16
	tpNext       = 0
	tpSec        = 4
	tpNsec       = 8
	tpSnaplen    = 12
	tpLen        = 16
	tpStatus     = 20
	tpMac        = 24
	tpVLANTCI    = 32
	tpVLANTPID   = 36
	tpacket3Hdr  = 48
	sockaddrLL   = 20
	arphrdNone   = 0xfffe
	arphrdRawIP  = 519
	frameSize    = 2048 // TPACKET_V3 ignores it for packet size, but the ring geometry must be consistent
	vlanTagBytes = 4
)

// NewAFPacket opens the sockets and rings, attaches the filter and joins the
// fanout group. It needs CAP_NET_RAW.
func NewAFPacket(cfg AFPacketConfig) (*AFPacket, error) {
	if cfg.Interface == "" {
		return nil, fmt.Errorf("afpacket source %q: no interface", cfg.Name)
	}
	if cfg.Readers <= 0 {
		cfg.Readers = 1
	}
	if cfg.BlockSize <= 0 {
		cfg.BlockSize = 1 << 20
	}
	if cfg.RingSize <= 0 {
		cfg.RingSize = 16 << 20
	}
	if cfg.BlockTimeout <= 0 {
		cfg.BlockTimeout = 10 * time.Millisecond
	}
	page := os.Getpagesize()
	if cfg.BlockSize%page != 0 || cfg.BlockSize < frameSize {
		return nil, fmt.Errorf("afpacket source %q: block size %d is not a multiple of the page size %d", cfg.Name, cfg.BlockSize, page)
	}
	fanoutType := map[string]int{"": unix.PACKET_FANOUT_HASH, "hash": unix.PACKET_FANOUT_HASH, "lb": unix.PACKET_FANOUT_LB, "cpu": unix.PACKET_FANOUT_CPU}
	ft, ok := fanoutType[cfg.Fanout]
	if !ok {
		return nil, fmt.Errorf("afpacket source %q: unknown fanout %q (want hash, lb or cpu)", cfg.Name, cfg.Fanout)
	}
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("afpacket source %q: %w", cfg.Name, err)
	}
	a := &AFPacket{cfg: cfg, ifindex: ifi.Index}
	a.adm = newAdmitter(&a.cfg.Common, &a.stats)
	group := (uint32(os.Getpid()) + fanoutSeq.Add(1)) & 0xffff
	for i := 0; i < cfg.Readers; i++ {
		r, err := a.openRing(ft, int(group))
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("afpacket source %q on %s: %w", cfg.Name, cfg.Interface, err)
		}
		a.readers = append(a.readers, r)
	}
	return a, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (a *AFPacket) openRing(fanoutType, group int) (*ringReader, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("packet socket: %w: %w", ErrNeedCapNetRaw, err)
		}
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	r := &ringReader{fd: fd}
	ok := false
	defer func() {
		if !ok {
			r.close()
		}
	}()
	// Bound with protocol 0 the socket receives nothing yet; getsockname then
	// tells the interface's hardware type, which decides the link type.
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: a.ifindex}); err != nil {
		return nil, fmt.Errorf("bind: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, fmt.Errorf("getsockname: %w", err)
	}
	ll, _ := sa.(*unix.SockaddrLinklayer)
	if ll == nil {
		return nil, errors.New("getsockname: not a link-layer address")
	}
	// On lo every packet passes the taps twice, going out and coming back
	// in: the incoming copy is enough (for a fanout group, the group says so).
	loopback := ll.Hatype == unix.ARPHRD_LOOPBACK
	switch ll.Hatype {
	case unix.ARPHRD_LOOPBACK:
		a.link = packet.LinkEthernet
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
			return nil, fmt.Errorf("PACKET_IGNORE_OUTGOING: %w", err)
		}
	case unix.ARPHRD_ETHER:
		a.link = packet.LinkEthernet
	case arphrdNone, arphrdRawIP:
		a.link = packet.LinkRaw
	default:
		return nil, fmt.Errorf("hardware type %d not supported (Ethernet, loopback and raw IP are)", ll.Hatype)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, fmt.Errorf("PACKET_VERSION: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_RESERVE, vlanTagBytes); err != nil {
		return nil, fmt.Errorf("PACKET_RESERVE: %w", err)
	}
	cfg := &a.cfg
	r.blockSize = cfg.BlockSize
	r.blocks = max(cfg.RingSize/cfg.BlockSize, 2)
	req := unix.TpacketReq3{
		Block_size:     uint32(r.blockSize),
		Block_nr:       uint32(r.blocks),
		Frame_size:     frameSize,
		Frame_nr:       uint32(r.blockSize / frameSize * r.blocks),
		Retire_blk_tov: uint32(max(cfg.BlockTimeout.Milliseconds(), 1)),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, fmt.Errorf("PACKET_RX_RING (%d blocks of %d bytes): %w", r.blocks, r.blockSize, err)
	}
	r.ring, err = unix.Mmap(fd, 0, r.blockSize*r.blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("mmap ring: %w", err)
	}
	snap := cfg.maxDatagram()
	if a.link == packet.LinkEthernet {
		snap += 14
	}
	prog, err := cfg.Filter.Compile(a.link, snap)
	if err != nil {
		return nil, err
	}
	sf := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		sf[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(sf)), Filter: &sf[0]}); err != nil {
		return nil, fmt.Errorf("attach filter: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: a.ifindex}); err != nil {
		return nil, fmt.Errorf("bind: %w", err)
	}
	if cfg.Readers > 1 {
		ft := fanoutType
		if loopback {
			ft |= unix.PACKET_FANOUT_FLAG_IGNORE_OUTGOING
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, group|ft<<16); err != nil {
			return nil, fmt.Errorf("PACKET_FANOUT: %w", err)
		}
	}
	if cfg.Promiscuous {
		mreq := unix.PacketMreq{Ifindex: int32(a.ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return nil, fmt.Errorf("promiscuous mode: %w", err)
		}
	}
	// Packets that matched before the filter was attached are of no interest
	// but harmless; counters start now.
	_, _ = unix.GetsockoptTpacketStatsV3(fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	r.pfd = []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLERR}}
	r.frames = make([]Frame, 0, 256)
	r.senders = make([]netip.Addr, 0, 256)
	ok = true
	return r, nil
}

func (r *ringReader) close() {
	if r.ring != nil {
		_ = unix.Munmap(r.ring)
		r.ring = nil
	}
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

func (r *ringReader) pollStats(st *Stats) {
	s, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err == nil {
		st.Drop(DropKernel, uint64(s.Drops))
	}
}

func u32(b []byte, off int) uint32 { return *(*uint32)(unsafe.Pointer(&b[off])) }

func (a *AFPacket) loop(ctx context.Context, r *ringReader, emit Emit) error {
	defer r.pollStats(&a.stats)
	for {
		blk := r.ring[r.cur*r.blockSize : (r.cur+1)*r.blockSize]
		status := (*uint32)(unsafe.Pointer(&blk[bdStatus]))
		if atomic.LoadUint32(status)&unix.TP_STATUS_USER == 0 {
			if ctx.Err() != nil {
				return nil
			}
			if _, err := unix.Poll(r.pfd, 100); err != nil && !errors.Is(err, unix.EINTR) {
				return fmt.Errorf("poll: %w", err)
			}
			if now := time.Now(); now.Sub(r.lastPoll) >= dropPoll {
				r.lastPoll = now
				r.pollStats(&a.stats)
			}
			continue
		}
		a.block(r, blk, emit)
		atomic.StoreUint32(status, unix.TP_STATUS_KERNEL)
		r.cur = (r.cur + 1) % r.blocks
	}
}

// block emits the packets of one ring block, in batches of up to cap(r.frames).
func (a *AFPacket) block(r *ringReader, blk []byte, emit Emit) {
	n := int(u32(blk, bdNumPkts))
	off := int(u32(blk, bdFirstPkt))
	frames, senders := r.frames[:0], r.senders[:0]
	var bytes, trunc, received uint64
	flush := func() {
		a.stats.Received.Add(received)
		a.stats.Bytes.Add(bytes)
		a.stats.Truncated.Add(trunc)
		received, bytes, trunc = 0, 0, 0
		frames = a.adm.filter(frames, senders)
		if len(frames) > 0 {
			a.stats.Emitted.Add(uint64(len(frames)))
			emit(Batch{Source: a.cfg.Name, EventSource: a.cfg.EventSource, Frames: frames})
		}
		frames, senders = r.frames[:0], r.senders[:0]
	}
	for i := 0; i < n && off > 0 && off+tpacket3Hdr <= len(blk); i++ {
		h := blk[off:]
		snap, wire := int(u32(h, tpSnaplen)), int(u32(h, tpLen))
		mac := int(binary.NativeEndian.Uint16(h[tpMac:]))
		st := u32(h, tpStatus)
		start, end := off+mac, off+mac+snap
		if end > len(blk) || mac < tpacket3Hdr {
			break
		}
		if a.link == packet.LinkEthernet && st&unix.TP_STATUS_VLAN_VALID != 0 && snap >= 12 && mac-vlanTagBytes >= tpacket3Hdr+sockaddrLL {
			tpid := uint16(0x8100)
			if st&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
				tpid = binary.NativeEndian.Uint16(h[tpVLANTPID:])
			}
			tci := uint16(u32(h, tpVLANTCI))
			copy(blk[start-vlanTagBytes:start+8], blk[start:start+12])
			start -= vlanTagBytes
			binary.BigEndian.PutUint16(blk[start+12:], tpid)
			binary.BigEndian.PutUint16(blk[start+14:], tci)
			wire += vlanTagBytes
		}
		data := blk[start:end]
		frames = append(frames, Frame{Data: data, Info: packet.CaptureInfo{
			Timestamp:      time.Unix(int64(u32(h, tpSec)), int64(u32(h, tpNsec))),
			CaptureLength:  len(data),
			Length:         max(wire, len(data)),
			InterfaceIndex: a.ifindex,
			LinkType:       a.link,
		}})
		senders = append(senders, senderOf(data, a.link))
		received++
		bytes += uint64(max(wire, len(data)))
		if wire > len(data) {
			trunc++
		}
		if len(frames) == cap(frames) {
			flush()
		}
		next := int(u32(h, tpNext))
		if next == 0 {
			break
		}
		off += next
	}
	if received > 0 {
		flush()
	}
}

// senderOf returns the IP source address of a frame, or the zero Addr.
func senderOf(data []byte, link packet.LinkType) netip.Addr {
	l3, ver := 0, byte(0)
	switch link {
	case packet.LinkEthernet:
		if len(data) < 14 {
			return netip.Addr{}
		}
		et, o := binary.BigEndian.Uint16(data[12:]), 14
		for (et == 0x8100 || et == 0x88a8) && len(data) >= o+4 {
			et, o = binary.BigEndian.Uint16(data[o+2:]), o+4
		}
		switch et {
		case 0x0800:
			ver = 4
		case 0x86dd:
			ver = 6
		}
		l3 = o
	case packet.LinkRaw, packet.LinkIPv4, packet.LinkIPv6:
		if len(data) > 0 {
			ver = data[0] >> 4
		}
	case packet.LinkLinuxSLL:
		if len(data) < 16 {
			return netip.Addr{}
		}
		l3 = 16
		switch binary.BigEndian.Uint16(data[14:]) {
		case 0x0800:
			ver = 4
		case 0x86dd:
			ver = 6
		}
	case packet.LinkLinuxSLL2:
		if len(data) < 20 {
			return netip.Addr{}
		}
		l3 = 20
		switch binary.BigEndian.Uint16(data[0:]) {
		case 0x0800:
			ver = 4
		case 0x86dd:
			ver = 6
		}
	}
	switch {
	case ver == 4 && len(data) >= l3+20:
		return netip.AddrFrom4([4]byte(data[l3+12 : l3+16]))
	case ver == 6 && len(data) >= l3+40:
		return netip.AddrFrom16([16]byte(data[l3+8 : l3+24]))
	}
	return netip.Addr{}
}

// Name is the source's configured name.
func (a *AFPacket) Name() string { return a.cfg.Name }

// Stats are the source's counters.
func (a *AFPacket) Stats() *Stats { return &a.stats }

// LinkType is the link type of the emitted frames.
func (a *AFPacket) LinkType() packet.LinkType { return a.link }

// Run reads the rings until ctx is cancelled, then closes the sockets.
func (a *AFPacket) Run(ctx context.Context, emit Emit) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(a.readers))
	for i, r := range a.readers {
		wg.Go(func() {
			errs[i] = a.loop(ctx, r, emit)
			cancel()
		})
	}
	wg.Wait()
	a.Close()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("afpacket source %q: %w", a.cfg.Name, err)
	}
	return nil
}

// Close releases the sockets and rings of a source that is not running.
func (a *AFPacket) Close() error {
	a.once.Do(func() {
		for _, r := range a.readers {
			r.close()
		}
	})
	return nil
}
