package event

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

func benchEncode(b *testing.B, frame []byte, enc func(*Encoder, []byte, *packet.Packet, Meta) []byte, presize bool) {
	p := new(packet.Packet)
	if err := packet.Decode(p, frame, packet.CaptureInfo{Timestamp: testTime, LinkType: packet.LinkEthernet}); err != nil {
		b.Fatal(err)
	}
	var e Encoder // process-wide id generator, as in production
	m := Meta{Listener: "syslog", SourceType: "udp"}
	var buf []byte
	if presize {
		buf = make([]byte, 0, 2048)
	}
	b.ReportAllocs()
	n := 0
	cpu0 := cpuTime(b)
	for b.Loop() {
		var dst []byte
		if presize {
			dst = buf[:0]
		}
		dst = enc(&e, dst, p, m)
		n = len(dst)
	}
	reportCPU(b, cpu0)
	b.SetBytes(int64(n))
}

// cpuTime returns the process's user+system CPU time. On a loaded shared
// machine wall-clock ns/op counts time spent waiting for a core; CPU time per
// event (reported as cpu-ns/op) does not.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func appendJSON(e *Encoder, dst []byte, p *packet.Packet, m Meta) []byte {
	return e.AppendJSON(dst, p, m)
}
func appendCE(e *Encoder, dst []byte, p *packet.Packet, m Meta) []byte {
	return e.AppendCloudEvent(dst, p, m)
}

// BenchmarkEncodeUDP64: Ethernet/IPv4/UDP with a 64-byte payload into a nil
// dst (one allocation: the output buffer).
func BenchmarkEncodeUDP64(b *testing.B) { benchEncode(b, udpFrame(64), appendJSON, false) }

// BenchmarkEncodeUDP64Reuse: the same into a reused buffer (no allocation).
func BenchmarkEncodeUDP64Reuse(b *testing.B) { benchEncode(b, udpFrame(64), appendJSON, true) }

func BenchmarkEncodeCloudEventsUDP64(b *testing.B) { benchEncode(b, udpFrame(64), appendCE, false) }

func BenchmarkEncodeCloudEventsUDP64Reuse(b *testing.B) {
	benchEncode(b, udpFrame(64), appendCE, true)
}

// BenchmarkEncodeGeneveGWLB: a GWLB Geneve packet (three options) carrying TCP.
func BenchmarkEncodeGeneveGWLB(b *testing.B) {
	frame := packet.Build(packet.Eth{}, packet.IPv4{Src: ipO1, Dst: ipO2}, packet.UDP{Src: 31000},
		packet.Geneve{Options: packet.GWLBOptions(1, 2, 3)}, packet.IPv4{Src: ipA, Dst: ipB},
		packet.TCP{Src: 40000, Dst: 443, Flags: packet.TCPAck | packet.TCPPsh}, packet.Payload(make([]byte, 64)))
	benchEncode(b, frame, appendJSON, true)
}

// BenchmarkBuild is the reflection path (Build + json.Marshal), for comparison.
func BenchmarkBuildMarshal(b *testing.B) {
	p := new(packet.Packet)
	_ = packet.Decode(p, udpFrame(64), packet.CaptureInfo{Timestamp: testTime, LinkType: packet.LinkEthernet})
	var e Encoder
	m := Meta{Listener: "syslog", SourceType: "udp"}
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		ev := e.Build(p, m)
		if _, err := AppendEvent(nil, &ev); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu0)
}

// udpFrameTo is udpFrame's packet to another destination port.
func udpFrameTo(dst uint16, payload []byte) []byte {
	return packet.Build(
		packet.Eth{Src: macA, Dst: macB},
		packet.IPv4{Src: ipA, Dst: ipB, ID: 4321, DF: true, TOS: 0xb8},
		packet.UDP{Src: 40123, Dst: dst},
		packet.Payload(payload),
	)
}

// BenchmarkEncodeUDP64NoApp: 64 bytes of binary payload to a port without
// a dissector: no application block, no PayloadText (the cost the
// application layer adds to such packets is the table lookup and the
// printable check that stops at the first binary byte).
func BenchmarkEncodeUDP64NoApp(b *testing.B) {
	payload := make([]byte, 64)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	benchEncode(b, udpFrameTo(9999, payload), appendJSON, true)
}

// BenchmarkEncodeUDP64Text: 64 printable bytes to a port without a
// dissector: PayloadText, no application block.
func BenchmarkEncodeUDP64Text(b *testing.B) {
	benchEncode(b, udpFrameTo(9999, []byte(strings.Repeat("abcdefgh", 8))), appendJSON, true)
}

// BenchmarkEncodeDNSQuery: a DNS query to port 53 (detail.DNS).
func BenchmarkEncodeDNSQuery(b *testing.B) {
	benchEncode(b, udpFrameTo(53, dnsMessage(0x1a2b, 0x0100, []dnsQ{{"www.example.org", 1, 1}}, nil)), appendJSON, true)
}
