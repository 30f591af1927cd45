package source

import (
	"encoding/binary"
	"net/netip"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// Synthesised headers for sources that receive less than a whole packet (the
// udp source gets payloads, the IPv6 raw socket gets no IPv6 header). They
// carry what the kernel told us: addresses, ports, TTL / hop limit, and the
// real length (also when the payload was truncated). The IPv4 header
// checksum is computed so the packet is valid as archived. Over IPv4 the UDP
// checksum is left zero, which means "none" (the kernel has already verified
// the real one); over IPv6 a zero UDP checksum is not allowed (RFC 8200
// 8.1), so it is computed whenever the whole datagram was received (a
// truncated one cannot have a right checksum and keeps zero).

const (
	ipv4UDPLen = 28
	ipv6UDPLen = 48
	ipv6Len    = 40
)

// putIPv4 writes a 20-byte IPv4 header carrying proto with totalLen bytes in all.
func putIPv4(h []byte, src, dst netip.Addr, ttl, totalLen int, proto byte) {
	_ = h[19]
	h[0] = 0x45
	h[1] = 0
	if totalLen > 0xffff {
		totalLen = 0xffff
	}
	binary.BigEndian.PutUint16(h[2:], uint16(totalLen))
	binary.BigEndian.PutUint32(h[4:], 0) // id 0, no flags, offset 0
	h[8] = byte(ttlOr(ttl))
	h[9] = proto
	h[10], h[11] = 0, 0
	s4, d4 := src.As4(), dst.As4()
	copy(h[12:16], s4[:])
	copy(h[16:20], d4[:])
	binary.BigEndian.PutUint16(h[10:], packet.IPv4HeaderChecksum(h[:20]))
}

// putIPv6 writes a 40-byte IPv6 header with payloadLen bytes after it.
func putIPv6(h []byte, src, dst netip.Addr, hop, payloadLen int, next byte) {
	_ = h[39]
	binary.BigEndian.PutUint32(h[0:], 6<<28)
	if payloadLen > 0xffff {
		payloadLen = 0xffff
	}
	binary.BigEndian.PutUint16(h[4:], uint16(payloadLen))
	h[6] = next
	h[7] = byte(ttlOr(hop))
	s16, d16 := src.As16(), dst.As16()
	copy(h[8:24], s16[:])
	copy(h[24:40], d16[:])
}

func putUDP(h []byte, sport, dport uint16, udpLen int) {
	_ = h[7]
	if udpLen > 0xffff {
		udpLen = 0xffff
	}
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], uint16(udpLen))
	h[6], h[7] = 0, 0
}

// ttlOr returns ttl, or 64 when the kernel did not report one.
func ttlOr(ttl int) int {
	if ttl < 0 || ttl > 255 {
		return 64
	}
	return ttl
}

// synthUDP writes an IP + UDP header in front of the payload at
// slot[headRoom:headRoom+captured] and returns the whole packet and its wire
// length. v4 chooses IPv4 (both addresses must then be IPv4).
func synthUDP(slot []byte, v4 bool, src, dst netip.AddrPort, ttl, captured, wire int) ([]byte, int) {
	if v4 {
		h := slot[headRoom-ipv4UDPLen : headRoom]
		putIPv4(h, src.Addr(), dst.Addr(), ttl, ipv4UDPLen+wire, 17)
		putUDP(h[20:], src.Port(), dst.Port(), 8+wire)
		return slot[headRoom-ipv4UDPLen : headRoom+captured], ipv4UDPLen + wire
	}
	h := slot[headRoom-ipv6UDPLen : headRoom]
	putIPv6(h, src.Addr(), dst.Addr(), ttl, 8+wire, 17)
	putUDP(h[40:], src.Port(), dst.Port(), 8+wire)
	if captured == wire && 8+wire <= 0xffff {
		seg := slot[headRoom-8 : headRoom+captured]
		binary.BigEndian.PutUint16(h[46:], packet.TransportChecksum(src.Addr(), dst.Addr(), packet.ProtoUDP, seg))
	}
	return slot[headRoom-ipv6UDPLen : headRoom+captured], ipv6UDPLen + wire
}
