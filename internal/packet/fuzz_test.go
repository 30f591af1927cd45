package packet

import (
	"testing"
)

// Fuzz targets, one per link type, seeded with every frame of every shared
// capture whose link type matches (for raw IP, the IP packets found inside
// all frames; for the loopback types, IP packets behind an address family).
// Each asserts: no panic, offsets and lengths within the buffer, at least one
// frame, Err agreeing with the returned error, and the same view from a
// reused Packet as from a fresh one. wireExtra adds to the captured length to
// form CaptureInfo.Length, so snaplen truncation is explored too.

// seedFrames returns the seeds for link: capture frames of that link type
// plus frames derived for the link types no capture uses.
func seedFrames(tb testing.TB, link LinkType) [][]byte {
	var out [][]byte
	var p Packet
	for _, name := range captureFiles(tb) {
		for _, fr := range readCapture(tb, name) {
			if fr.link == link {
				out = append(out, fr.data)
			}
			if link != LinkRaw && link != LinkNull && link != LinkLoop {
				continue
			}
			_ = Decode(&p, fr.data, fr.info())
			for d := 0; d < p.NumFrames; d++ {
				f := &p.Frames[d]
				if f.IPOff < 0 {
					continue
				}
				ip := p.Data[f.IPOff:]
				switch link {
				case LinkRaw:
					out = append(out, ip)
				case LinkNull:
					af := byte(2)
					if f.IPVersion == 6 {
						af = 30
					}
					out = append(out, append([]byte{af, 0, 0, 0}, ip...))
				case LinkLoop:
					af := byte(2)
					if f.IPVersion == 6 {
						af = 24
					}
					out = append(out, append([]byte{0, 0, 0, af}, ip...))
				}
			}
		}
	}
	switch link {
	case LinkEthernet:
		out = append(out, tunnelSeeds()...)
	case LinkRaw:
		for _, b := range tunnelSeeds() {
			if len(b) > 14 && (b[12] == 0x08 && b[13] == 0 || b[12] == 0x86 && b[13] == 0xdd) {
				out = append(out, b[14:])
			}
		}
	}
	if len(out) == 0 {
		tb.Fatalf("no seeds for link type %d", link)
	}
	return out
}

// tunnelSeeds are built Ethernet frames of what no capture holds: GTP-U,
// MPLS (Ethernet, GRE, UDP, pseudowire), tunnels in first fragments,
// IPv4 total length 0 and tunnels nested to MaxDepth and beyond.
func tunnelSeeds() [][]byte {
	vx := func(vni uint32) []Layer {
		return []Layer{Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 50000}, VXLAN{VNI: vni}}
	}
	in := []Layer{Eth{Src: mac1, Dst: mac2}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2}, Payload("seed")}
	labels := []MPLSLabel{{Label: 16}, {Label: 17}}
	return [][]byte{
		Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 2152}, GTPU{TEID: 1, HasSeq: true, Ext: []GTPUExt{{Type: 0x85, Content: []byte{0, 1}}}}, IPv4{Src: ip1, Dst: ip2}, TCP{Src: 1, Dst: 2}),
		Build(Eth{}, IPv6{Src: ip61, Dst: ip62}, UDP{Src: 2152}, GTPU{TEID: 2}, IPv6{Src: ip62, Dst: ip61}, UDP{Src: 1, Dst: 2}),
		Build(Eth{}, MPLS{Labels: labels}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2}),
		Build(append([]Layer{Eth{}, MPLS{Labels: labels, ControlWord: true}}, in...)...),
		Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{HasKey: true}, MPLS{Labels: labels, Multicast: true}, IPv6{Src: ip61, Dst: ip62}, ICMPv6{Type: 128}),
		Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 9}, MPLS{Labels: labels}, IPv4{Src: ip1, Dst: ip2}, TCP{Src: 1, Dst: 2}),
		Build(Eth{}, IPv4{Src: ip1, Dst: ip2, ZeroTotalLength: true}, TCP{Src: 1, Dst: 2}, Payload(make([]byte, 100))),
		firstFragment(8+8+14+20+8+2, append(vx(1), in...)...),
		firstFragment(8+20+8, Eth{}, IPv4{Src: ip3, Dst: ip4}, GRE{}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2}, Payload(make([]byte, 50))),
		Build(append(append(append(append(vx(1), vx(2)...), vx(3)...), vx(4)...), in...)...),
	}
}

func fuzzDecode(f *testing.F, link LinkType) {
	for _, b := range seedFrames(f, link) {
		f.Add(b, uint16(0))
	}
	f.Add([]byte{}, uint16(100))
	var p Packet
	f.Fuzz(func(t *testing.T, data []byte, wireExtra uint16) {
		in := CaptureInfo{LinkType: link, Length: len(data) + int(wireExtra)}
		err := Decode(&p, data, in)
		checkInvariants(t, &p, err)
		var fresh Packet
		_ = Decode(&fresh, data, in)
		comparePackets(t, &fresh, &p)
		for d := 0; d < p.NumFrames; d++ {
			_ = p.VerifyIPv4Checksum(d)
			_ = p.VerifyTransportChecksum(d)
		}
	})
}

func FuzzDecodeEthernet(f *testing.F) { fuzzDecode(f, LinkEthernet) }
func FuzzDecodeRaw(f *testing.F)      { fuzzDecode(f, LinkRaw) }
func FuzzDecodeSLL(f *testing.F)      { fuzzDecode(f, LinkLinuxSLL) }
func FuzzDecodeSLL2(f *testing.F)     { fuzzDecode(f, LinkLinuxSLL2) }
func FuzzDecodeNull(f *testing.F)     { fuzzDecode(f, LinkNull) }
func FuzzDecodeLoop(f *testing.F)     { fuzzDecode(f, LinkLoop) }
