package packet

import "testing"

// Decode benchmarks. Budget (DESIGN.md): Ethernet/IPv4/UDP <= 50 ns and 0 allocs.
//
//	go test -run '^$' -bench BenchmarkDecode -benchmem -count 6 ./internal/packet/

func benchDecode(b *testing.B, frame []byte) {
	var p Packet
	in := CaptureInfo{LinkType: LinkEthernet}
	if err := Decode(&p, frame, in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		_ = Decode(&p, frame, in)
	}
}

var benchPayload = Payload(make([]byte, 64))

func BenchmarkDecodeEthIPv4UDP(b *testing.B) {
	benchDecode(b, Build(Eth{Src: mac1, Dst: mac2}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 40000, Dst: 514}, benchPayload))
}

func BenchmarkDecodeEthIPv4TCP(b *testing.B) {
	benchDecode(b, Build(Eth{Src: mac1, Dst: mac2}, IPv4{Src: ip1, Dst: ip2},
		TCP{Src: 40000, Dst: 443, Flags: TCPAck | TCPPsh, Options: []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}}, benchPayload))
}

func BenchmarkDecodeEthIPv6UDP(b *testing.B) {
	benchDecode(b, Build(Eth{Src: mac1, Dst: mac2}, IPv6{Src: ip61, Dst: ip62}, UDP{Src: 40000, Dst: 53}, benchPayload))
}

func BenchmarkDecodeVXLANInner(b *testing.B) {
	benchDecode(b, Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 65445}, VXLAN{VNI: 5569041},
		Eth{Src: mac1, Dst: mac2}, IPv4{Src: ip1, Dst: ip2}, TCP{Src: 22, Dst: 50000, Flags: TCPAck}, benchPayload))
}

func BenchmarkDecodeGeneveGWLB(b *testing.B) {
	benchDecode(b, Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 31000}, Geneve{Options: GWLBOptions(1, 2, 3)},
		IPv4{Src: ip1, Dst: ip2}, TCP{Src: 40000, Dst: 443, Flags: TCPSyn}, benchPayload))
}

func BenchmarkDecodeGTPU(b *testing.B) {
	benchDecode(b, Build(Eth{}, IPv4{Src: ip3, Dst: ip4}, UDP{Src: 2152}, GTPU{TEID: 1, HasSeq: true},
		IPv4{Src: ip1, Dst: ip2}, UDP{Src: 40000, Dst: 53}, benchPayload))
}

func BenchmarkDecodeMPLS(b *testing.B) {
	benchDecode(b, Build(Eth{Src: mac1, Dst: mac2}, MPLS{Labels: []MPLSLabel{{Label: 16001}, {Label: 24}}},
		IPv4{Src: ip1, Dst: ip2}, UDP{Src: 40000, Dst: 514}, benchPayload))
}
