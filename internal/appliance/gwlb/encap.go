package gwlb

import (
	"encoding/binary"
	"net/netip"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// Sizes of what the GWLB puts in front of an inner packet: outer IPv4 and
// UDP headers, the Geneve header and the three AWS options (class 0x0108:
// type 1 endpoint id, 8 bytes; type 2 attachment id, 8 bytes; type 3 flow
// cookie, 4 bytes).
const (
	ipv4Len    = 20
	udpLen     = 8
	geneveLen  = 8
	optionsLen = (4 + 8) + (4 + 8) + (4 + 4)
	// genevePrefix is the UDP payload before the inner packet.
	genevePrefix = geneveLen + optionsLen
	// Headroom is the bytes before an inner packet in an outgoing buffer.
	Headroom = ipv4Len + udpLen + genevePrefix
	// cookieOff is the offset of the flow cookie in the Geneve header.
	cookieOff = genevePrefix - 4
	// maxIPPacket is the largest IPv4 datagram.
	maxIPPacket = 65535
)

// geneveHeader writes the Geneve header and AWS options GWLB sends before an
// inner packet of IP version v (4 or 6) into b[:genevePrefix].
func geneveHeader(b []byte, v uint8, endpointID, attachmentID uint64, cookie uint32) {
	_ = b[genevePrefix-1]
	b[0] = optionsLen / 4 // version 0, option length in 4-byte words
	b[1] = 0              // no OAM, no critical options
	proto := packet.EtherTypeIPv4
	if v == 6 {
		proto = packet.EtherTypeIPv6
	}
	binary.BigEndian.PutUint16(b[2:4], proto)
	binary.BigEndian.PutUint32(b[4:8], 0) // VNI 0, reserved 0
	o := b[geneveLen:]
	binary.BigEndian.PutUint16(o[0:2], packet.GeneveClassAWSGWLB)
	o[2], o[3] = 1, 2
	binary.BigEndian.PutUint64(o[4:12], endpointID)
	binary.BigEndian.PutUint16(o[12:14], packet.GeneveClassAWSGWLB)
	o[14], o[15] = 2, 2
	binary.BigEndian.PutUint64(o[16:24], attachmentID)
	binary.BigEndian.PutUint16(o[24:26], packet.GeneveClassAWSGWLB)
	o[26], o[27] = 3, 1
	binary.BigEndian.PutUint32(o[28:32], cookie)
}

// encapsulate fills b[:Headroom] in front of the inner packet b[Headroom:]:
// an IPv4 header (DF set, TTL 64, checksum), a UDP header from src to dst
// with its checksum over the whole datagram, the Geneve header and options.
// It returns false when the result would exceed an IPv4 datagram.
func encapsulate(b []byte, src, dst netip.AddrPort, id uint16, endpointID, attachmentID uint64, cookie uint32) bool {
	if len(b) <= Headroom || len(b) > maxIPPacket {
		return false
	}
	inner := b[Headroom:]
	ip := b[:ipv4Len]
	ip[0] = 0x45
	ip[1] = 0
	binary.BigEndian.PutUint16(ip[2:4], uint16(len(b)))
	binary.BigEndian.PutUint16(ip[4:6], id)
	binary.BigEndian.PutUint16(ip[6:8], 0x4000) // DF: GWLB does not fragment
	ip[8] = 64
	ip[9] = packet.ProtoUDP
	ip[10], ip[11] = 0, 0
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
	binary.BigEndian.PutUint16(ip[10:12], packet.IPv4HeaderChecksum(ip))

	seg := b[ipv4Len:]
	binary.BigEndian.PutUint16(seg[0:2], src.Port())
	binary.BigEndian.PutUint16(seg[2:4], dst.Port())
	binary.BigEndian.PutUint16(seg[4:6], uint16(len(seg)))
	seg[6], seg[7] = 0, 0
	geneveHeader(seg[udpLen:], inner[0]>>4, endpointID, attachmentID, cookie)
	binary.BigEndian.PutUint16(seg[6:8], packet.TransportChecksum(src.Addr(), dst.Addr(), packet.ProtoUDP, seg))
	return true
}

// Return is what checking a returned Geneve datagram found.
type Return uint8

// Outcomes of checking a returned datagram. Every outcome but ReturnOK is a
// counted drop.
const (
	ReturnOK               Return = iota
	ReturnMalformed               // too short, not Geneve version 0, or an inner packet that is not whole IPv4/IPv6
	ReturnUnknownCookie           // the flow cookie names no flow the GWLB sent
	ReturnMismatch                // the Geneve header or options differ from those sent, the source port is not the flow's, or the inner packet is not of the cookie's flow
	ReturnUnknownAppliance        // the datagram did not come from a configured appliance's address to its Geneve port
	numReturns
)

var returnNames = [...]string{"ok", "malformed", "unknown_cookie", "mismatch", "unknown_appliance"}

func (r Return) String() string {
	if int(r) < len(returnNames) {
		return returnNames[r]
	}
	return "unknown"
}

// checkReturn checks the Geneve datagram b (a UDP payload) that came back
// from outer UDP source port port (the flow's: a reply keeps the ports),
// and returns the inner IP packet to hand to the kernel.
// p is scratch for decoding. Nothing in b is trusted: any bytes give either
// a packet or a reason.
func (g *GWLB) checkReturn(b []byte, port uint16, p *packet.Packet) ([]byte, *flow, Return) {
	if len(b) < genevePrefix+1 || b[0]>>6 != 0 {
		return nil, nil, ReturnMalformed
	}
	f := g.flows.lookup(binary.BigEndian.Uint32(b[cookieOff:genevePrefix]))
	if f == nil {
		return nil, nil, ReturnUnknownCookie
	}
	inner := b[genevePrefix:]
	v := inner[0] >> 4
	if v != 4 && v != 6 {
		return nil, f, ReturnMalformed
	}
	var want [genevePrefix]byte
	geneveHeader(want[:], v, g.cfg.EndpointID, g.cfg.AttachmentID, f.cookie)
	if [genevePrefix]byte(b[:genevePrefix]) != want || port != f.port {
		return nil, f, ReturnMismatch
	}
	if err := packet.Decode(p, inner, packet.CaptureInfo{LinkType: packet.LinkRaw}); err != nil && p.Outer().IPOff < 0 {
		return nil, f, ReturnMalformed
	}
	o := p.Outer()
	if o.IPOff != 0 || o.IPVersion != v || o.IPTotalLen < o.IPHeaderLen || o.IPTotalLen > len(inner) {
		return nil, f, ReturnMalformed
	}
	inner = inner[:o.IPTotalLen] // drop any trailing padding
	k, ok := keyOf(p)
	if !ok {
		return nil, f, ReturnMalformed
	}
	if k != f.key {
		return nil, f, ReturnMismatch
	}
	return inner, f, ReturnOK
}
