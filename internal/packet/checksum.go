package packet

import (
	"encoding/binary"
	"net/netip"
)

// Checksums: the RFC 1071 Internet checksum, the IPv4 header checksum and
// the UDP/TCP/ICMPv6 checksums over the IPv4 and IPv6 pseudo-headers, to
// compute (builder, appliance rewriting packets) and to verify.

// sum adds b to s as big-endian 16-bit words (an odd last byte is padded with zero).
func sum(b []byte, s uint64) uint64 {
	for len(b) >= 4 {
		s += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	return s
}

// fold reduces s to 16 bits with end-around carry.
func fold(s uint64) uint16 {
	for s > 0xFFFF {
		s = s>>16 + s&0xFFFF
	}
	return uint16(s)
}

// InternetChecksum returns the RFC 1071 checksum of b: the ones' complement
// of the ones' complement sum of its 16-bit words. Over data that includes a
// correct checksum it returns 0.
func InternetChecksum(b []byte) uint16 { return ^fold(sum(b, 0)) }

// IPv4HeaderChecksum returns the checksum to store in the IPv4 header hdr
// (IHL*4 bytes), computed as if its checksum field (bytes 10-11) were zero.
func IPv4HeaderChecksum(hdr []byte) uint16 {
	if len(hdr) < 20 {
		return 0
	}
	s := sum(hdr[:10], 0)
	s = sum(hdr[12:], s)
	return ^fold(s)
}

// pseudoSum is the sum of the IPv4 or IPv6 pseudo-header.
func pseudoSum(src, dst netip.Addr, proto uint8, length int) uint64 {
	var s uint64
	if src.Is4() && dst.Is4() {
		a, b := src.As4(), dst.As4()
		s = sum(a[:], 0)
		s = sum(b[:], s)
	} else {
		a, b := src.As16(), dst.As16()
		s = sum(a[:], 0)
		s = sum(b[:], s)
	}
	return s + uint64(proto) + uint64(uint32(length)>>16) + uint64(uint32(length)&0xFFFF)
}

// ChecksumOffset returns the offset of the checksum field in the header of
// transport protocol proto (UDP, TCP, ICMPv4, ICMPv6), or -1.
func ChecksumOffset(proto uint8) int {
	switch proto {
	case ProtoUDP:
		return 6
	case ProtoTCP:
		return 16
	case ProtoICMPv4, ProtoICMPv6:
		return 2
	}
	return -1
}

// TransportChecksum returns the checksum to store in the UDP, TCP or ICMPv6
// segment seg (header and payload) sent from src to dst, computed as if its
// checksum field were zero, over the IPv4 or IPv6 pseudo-header. For UDP a
// computed 0 is returned as 0xFFFF (0 means "no checksum" over IPv4). ICMPv4
// has no pseudo-header: its checksum is computed over seg alone. For IPv6
// with a routing header, dst must be the final destination.
func TransportChecksum(src, dst netip.Addr, proto uint8, seg []byte) uint16 {
	co := ChecksumOffset(proto)
	if co < 0 || len(seg) < co+2 {
		return 0
	}
	var s uint64
	if proto != ProtoICMPv4 {
		s = pseudoSum(src, dst, proto, len(seg))
	}
	s = sum(seg[:co], s)
	s = sum(seg[co+2:], s) // co is even, so word alignment is kept
	c := ^fold(s)
	if proto == ProtoUDP && c == 0 {
		c = 0xFFFF
	}
	return c
}

// ChecksumStatus is the outcome of verifying a checksum.
type ChecksumStatus uint8

// Checksum verification outcomes.
const (
	ChecksumUnverifiable ChecksumStatus = iota // layer absent, capture truncated, or a fragment
	ChecksumGood
	ChecksumBad
	ChecksumAbsent // UDP over IPv4 with checksum 0: the sender computed none
)

var checksumNames = [...]string{"unverifiable", "good", "bad", "absent"}

func (c ChecksumStatus) String() string {
	if int(c) < len(checksumNames) {
		return checksumNames[c]
	}
	return "unknown"
}

// VerifyIPv4Checksum checks the IPv4 header checksum of Frames[depth].
func (p *Packet) VerifyIPv4Checksum(depth int) ChecksumStatus {
	if depth < 0 || depth >= p.NumFrames {
		return ChecksumUnverifiable
	}
	f := &p.Frames[depth]
	if !f.Layers.Has(LayerIPv4) || f.IPHeaderLen < 20 || f.IPOff < 0 || f.IPOff+f.IPHeaderLen > len(p.Data) {
		return ChecksumUnverifiable
	}
	if InternetChecksum(p.Data[f.IPOff:f.IPOff+f.IPHeaderLen]) == 0 {
		return ChecksumGood
	}
	return ChecksumBad
}

// VerifyTransportChecksum checks the UDP, TCP, ICMPv4 or ICMPv6 checksum of
// Frames[depth]. The whole segment must be captured and not be a fragment
// (a partial header, Frame.L4Partial, is unverifiable).
// Over IPv6 the pseudo-header uses the final destination of a routing header.
func (p *Packet) VerifyTransportChecksum(depth int) ChecksumStatus {
	if depth < 0 || depth >= p.NumFrames {
		return ChecksumUnverifiable
	}
	f := &p.Frames[depth]
	if f.L4Off < 0 || f.IPOff < 0 || f.Fragment || f.L4Partial || f.Layers&(LayerUDP|LayerTCP|LayerICMPv4|LayerICMPv6) == 0 {
		return ChecksumUnverifiable
	}
	segEnd := f.IPOff + f.IPTotalLen
	if f.Layers.Has(LayerUDP) {
		segEnd = f.L4Off + int(f.UDPLength)
		if f.IPVersion == 4 && f.UDPChecksum == 0 {
			return ChecksumAbsent
		}
	}
	if segEnd > len(p.Data) || segEnd < f.L4Off+8 {
		return ChecksumUnverifiable
	}
	seg := p.Data[f.L4Off:segEnd]
	var s uint64
	if f.Protocol != ProtoICMPv4 {
		dst := f.Dst
		if f.IPv6Ext&IPv6ExtRouting != 0 {
			dst = p.finalDestination(f)
		}
		s = pseudoSum(f.Src, dst, f.Protocol, len(seg))
	}
	if fold(sum(seg, s)) == 0xFFFF {
		return ChecksumGood
	}
	return ChecksumBad
}

// finalDestination returns the last destination named by f's IPv6 routing
// header (segments left > 0), else f.Dst.
func (p *Packet) finalDestination(f *Frame) netip.Addr {
	data := p.Data
	pos, stop := f.IPOff+40, f.IPOff+f.IPHeaderLen
	if pos > len(data) || stop > len(data) {
		return f.Dst
	}
	nh := data[f.IPOff+6]
	for pos+8 <= stop {
		h := data[pos:stop]
		var l int
		switch nh {
		case ipv6AH:
			l = (int(h[1]) + 2) * 4
		case ipv6Fragment:
			l = 8
		default:
			l = (int(h[1]) + 1) * 8
		}
		if l > len(h) {
			break
		}
		if nh == ipv6Routing && h[3] > 0 {
			switch h[2] {
			case 0: // RH0: the last address listed is the final destination
				n := int(h[1]) / 2
				if n > 0 && 8+16*n <= l {
					return netip.AddrFrom16([16]byte(h[8+16*(n-1) : 8+16*n]))
				}
			case 2, 4: // type 2 home address; SRH segment list[0] is the final segment
				if l >= 24 {
					return netip.AddrFrom16([16]byte(h[8:24]))
				}
			}
		}
		nh = h[0]
		pos += l
	}
	return f.Dst
}
