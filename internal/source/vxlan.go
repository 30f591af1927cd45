package source

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// The vxlan source receives VXLAN mirror traffic (AWS VPC Traffic Mirroring,
// Linux tc mirred into a vxlan device) and emits each VXLAN packet whole, so
// that the decoder records the Tunnel (type, VNI, FlowHash = outer UDP source
// port, outer addresses) and decodes the mirrored frame inside it.
//
// Two modes:
//
//   - listener (Listen): a udp source on the VXLAN port (default :4789). The
//     kernel hands over the UDP payload; an IPv4 or IPv6 + UDP header is
//     written in front of it, as the udp source does (LinkRaw).
//   - interface (Interface): an afpacket source on the interface with the
//     kernel filter "udp and port <Port>"; frames are emitted as captured
//     (Ethernet). Use it when another process owns the UDP port, or to read
//     the mirror traffic without terminating it.
//
// The decoder recognises VXLAN by the outer UDP destination port 4789. When
// the source uses another port, the destination port of each emitted frame is
// rewritten to 4789 (in the source's own buffer), so the frame decodes the
// same whatever port the mirror session uses.
//
// The VNI lists are applied before emitting: a packet whose VNI is not in VNI
// (when VNI is not empty) or is in DenyVNI is dropped and counted as
// not_allowed (VNIDropped counts them separately). A packet on the port that
// is not VXLAN (no I flag, too short, not UDP) is dropped and counted as
// malformed, with or without VNI lists. Mirror sessions cut packets to
// their configured packet length: the inner IP header then claims more bytes
// than the frame holds; the source presents such a packet as a capture cut by
// a snaplen (see markCut), so the decoder decodes the inner headers and
// reports Truncated (the event's "Truncated": true). Buffers hold jumbo frames: MaxDatagram is at least
// spec.DefaultMaxDatagram (9216 bytes: a 9001-MTU frame plus the VXLAN,
// UDP and IP headers).

// VXLANPort is the IANA VXLAN port.
const VXLANPort = 4789

// VXLANConfig configures a vxlan source.
type VXLANConfig struct {
	Common
	Listen     []string // listener mode: host:port (":4789")
	Interface  string   // interface mode (afpacket); exclusive with Listen
	Port       uint16   // interface mode: the VXLAN UDP port; default 4789
	VNI        []uint32 // accepted VNIs; empty accepts every VNI
	DenyVNI    []uint32 // refused VNIs, checked after VNI
	Readers    int      // sockets per address (listener) or fanout readers (interface); default 1
	RecvBuffer int      // listener mode: SO_RCVBUF bytes
	Batch      int      // listener mode: datagrams per recvmmsg; default 64
}

// VXLAN is a vxlan source.
type VXLAN struct {
	cfg   VXLANConfig
	inner Source
	udp   *UDP
	port  uint16
	allow map[uint32]bool
	deny  map[uint32]bool
	pkts  sync.Pool // *packet.Packet, interface mode

	vniDropped atomic.Uint64
}

// NewVXLAN opens the listener sockets or the interface rings.
func NewVXLAN(cfg VXLANConfig) (*VXLAN, error) {
	if cfg.MaxDatagram < spec.DefaultMaxDatagram {
		cfg.MaxDatagram = spec.DefaultMaxDatagram
	}
	v := &VXLAN{cfg: cfg, port: cfg.Port}
	for _, n := range cfg.VNI {
		if n >= 1<<24 {
			return nil, fmt.Errorf("vxlan source %q: VNI %d does not fit in 24 bits", cfg.Name, n)
		}
		if v.allow == nil {
			v.allow = map[uint32]bool{}
		}
		v.allow[n] = true
	}
	for _, n := range cfg.DenyVNI {
		if v.deny == nil {
			v.deny = map[uint32]bool{}
		}
		v.deny[n] = true
	}
	v.pkts.New = func() any { return new(packet.Packet) }
	switch {
	case cfg.Interface != "" && len(cfg.Listen) > 0:
		return nil, fmt.Errorf("vxlan source %q: listen and interface are exclusive", cfg.Name)
	case cfg.Interface != "":
		if v.port == 0 {
			v.port = VXLANPort
		}
		a, err := NewAFPacket(AFPacketConfig{
			Common:    cfg.Common,
			Interface: cfg.Interface,
			Filter:    Filter{Protocols: []uint8{packet.ProtoUDP}, Ports: []spec.PortRange{{Lo: v.port, Hi: v.port}}},
			Readers:   cfg.Readers,
		})
		if err != nil {
			return nil, fmt.Errorf("vxlan source %q: %w", cfg.Name, err)
		}
		v.inner = a
	default:
		listen := cfg.Listen
		if len(listen) == 0 {
			listen = []string{fmt.Sprintf(":%d", VXLANPort)}
		}
		u, err := NewUDP(UDPConfig{Common: cfg.Common, Listen: listen, Readers: cfg.Readers, RecvBuffer: cfg.RecvBuffer, Batch: cfg.Batch})
		if err != nil {
			return nil, fmt.Errorf("vxlan source %q: %w", cfg.Name, err)
		}
		v.inner, v.udp = u, u
	}
	return v, nil
}

// Name is the source's configured name.
func (v *VXLAN) Name() string { return v.cfg.Name }

// Stats are the source's counters (those of the underlying udp or afpacket reader).
func (v *VXLAN) Stats() *Stats { return v.inner.Stats() }

// VNIDropped counts the packets dropped by the VNI lists (not_allowed).
func (v *VXLAN) VNIDropped() uint64 { return v.vniDropped.Load() }

// Addrs are the bound listener addresses (listener mode; nil in interface mode).
func (v *VXLAN) Addrs() []netip.AddrPort {
	if v.udp == nil {
		return nil
	}
	return v.udp.Addrs()
}

// Close releases the sockets of a source that is not running.
func (v *VXLAN) Close() error { return v.inner.Close() }

// Run reads until ctx is cancelled.
func (v *VXLAN) Run(ctx context.Context, emit Emit) error {
	st := v.inner.Stats()
	return v.inner.Run(ctx, func(b Batch) {
		kept := b.Frames[:0]
		var refused, malformed uint64
		for _, f := range b.Frames {
			switch v.admit(&f) {
			case vxlanKeep:
				kept = append(kept, f)
			case vxlanRefused:
				refused++
			default:
				malformed++
			}
		}
		if d := refused + malformed; d > 0 {
			v.vniDropped.Add(refused)
			st.Drop(DropNotAllowed, refused)
			st.Drop(DropMalformed, malformed)
			st.Emitted.Add(^(d - 1)) // the reader counted them as emitted
		}
		if len(kept) > 0 {
			b.Frames = kept
			emit(b)
		}
	})
}

// What admit decides for a frame.
const (
	vxlanKeep      = iota
	vxlanRefused   // by the VNI lists: not_allowed
	vxlanMalformed // not a VXLAN packet
)

// admit finds the VXLAN header of f, normalises its UDP destination port to
// 4789 and applies the VNI lists.
func (v *VXLAN) admit(f *Frame) int {
	var udpOff, ipOff int
	var ipv uint8
	switch f.Info.LinkType {
	case packet.LinkRaw: // listener mode: our synthesised IPv4 (20) or IPv6 (40) header
		if len(f.Data) < 1 {
			return vxlanMalformed
		}
		switch ipv = f.Data[0] >> 4; ipv {
		case 4:
			udpOff = 20
		case 6:
			udpOff = 40
		default:
			return vxlanMalformed
		}
	default: // interface mode: a captured frame
		p := v.pkts.Get().(*packet.Packet)
		_ = packet.Decode(p, f.Data, f.Info)
		o := p.Outer()
		udpOff = -1
		if o.Layers.Has(packet.LayerUDP) && !o.L4Partial && !o.Fragment {
			udpOff, ipOff, ipv = o.L4Off, o.IPOff, o.IPVersion
		}
		v.pkts.Put(p)
		if udpOff < 0 {
			return vxlanMalformed
		}
	}
	d := f.Data
	if len(d) < udpOff+16 {
		return vxlanMalformed
	}
	if old := binary.BigEndian.Uint16(d[udpOff+2:]); old != VXLANPort {
		binary.BigEndian.PutUint16(d[udpOff+2:], VXLANPort)
		csum := binary.BigEndian.Uint16(d[udpOff+6:])
		binary.BigEndian.PutUint16(d[udpOff+6:], adjustChecksum(csum, old, VXLANPort))
	}
	h := d[udpOff+8:]
	if h[0]&0x08 == 0 {
		return vxlanMalformed
	}
	vni := binary.BigEndian.Uint32(h[4:8]) >> 8
	if v.allow != nil && !v.allow[vni] {
		return vxlanRefused
	}
	if v.deny[vni] {
		return vxlanRefused
	}
	markCut(f, ipOff, ipv, udpOff)
	return vxlanKeep
}

// markCut handles a mirrored frame cut short by the mirror session's packet
// length (AWS Traffic Mirroring's PacketLength, a snaplen): the inner IP
// header claims more bytes than the VXLAN packet carries. The session is a
// capture with a snaplen, so the packet is presented as one: the outer IP and
// UDP lengths are raised by the missing bytes (the IPv4 header checksum
// recomputed, the UDP checksum cleared for IPv4; an IPv6 UDP checksum no
// longer verifies) and Info.Length, the length on the wire, grows with them
// while the captured bytes stay as they are. The decoder then decodes the
// inner headers and reports the packet Truncated, as for any capture cut by
// a snaplen, instead of a bad inner length.
func markCut(f *Frame, ipOff int, ipv uint8, udpOff int) {
	d := f.Data
	in := udpOff + 16 // the inner Ethernet frame
	off := in + 12
	if off+2 > len(d) {
		return
	}
	et := binary.BigEndian.Uint16(d[off:])
	for n := 0; n < 4 && (et == 0x8100 || et == 0x88a8); n++ { // VLAN tags
		off += 4
		if off+2 > len(d) {
			return
		}
		et = binary.BigEndian.Uint16(d[off:])
	}
	ip := off + 2
	var claimed int
	switch et {
	case 0x0800:
		if ip+4 > len(d) || d[ip]>>4 != 4 {
			return
		}
		claimed = ip + int(binary.BigEndian.Uint16(d[ip+2:]))
	case 0x86dd:
		if ip+6 > len(d) || d[ip]>>4 != 6 {
			return
		}
		claimed = ip + 40 + int(binary.BigEndian.Uint16(d[ip+4:]))
	default:
		return
	}
	missing := claimed - len(d)
	if missing <= 0 {
		return
	}
	udpLen := int(binary.BigEndian.Uint16(d[udpOff+4:])) + missing
	if udpLen > 0xffff || udpOff+8 > len(d) {
		return
	}
	switch ipv {
	case 4:
		ihl := int(d[ipOff]&0x0f) * 4
		tot := int(binary.BigEndian.Uint16(d[ipOff+2:])) + missing
		if tot > 0xffff || ihl < 20 || ipOff+ihl > len(d) {
			return
		}
		binary.BigEndian.PutUint16(d[ipOff+2:], uint16(tot))
		d[ipOff+10], d[ipOff+11] = 0, 0
		binary.BigEndian.PutUint16(d[ipOff+10:], packet.IPv4HeaderChecksum(d[ipOff:ipOff+ihl]))
		d[udpOff+6], d[udpOff+7] = 0, 0
	case 6:
		pl := int(binary.BigEndian.Uint16(d[ipOff+4:])) + missing
		if pl > 0xffff {
			return
		}
		binary.BigEndian.PutUint16(d[ipOff+4:], uint16(pl))
	default:
		return
	}
	binary.BigEndian.PutUint16(d[udpOff+4:], uint16(udpLen))
	if w := len(d) + missing; f.Info.Length < w {
		f.Info.Length = w
	}
	if f.Info.CaptureLength == 0 || f.Info.CaptureLength > len(d) {
		f.Info.CaptureLength = len(d)
	}
}

// adjustChecksum updates an Internet checksum for one 16-bit word changing
// from old to new (RFC 1624). A zero checksum (none) stays zero.
func adjustChecksum(csum, old, new uint16) uint16 {
	if csum == 0 {
		return 0
	}
	sum := uint32(^csum) + uint32(^old) + uint32(new)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	c := ^uint16(sum)
	if c == 0 {
		c = 0xffff
	}
	return c
}
