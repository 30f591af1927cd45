package event

import (
	"fmt"
	"slices"
	"testing"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/pattern"
)

// Benchmarks of rule matching on the packet view (the budget in DESIGN.md:
// 100 rules <= 250 ns/packet, 0 allocs, flat from 100 to 10,000 rules).
//
//	go test -run '^$' -bench 'MatchView' -benchtime 2s ./internal/event/
//
// cpu-ns/op is the process CPU time per packet (getrusage), which stays
// meaningful on a loaded machine where ns/op includes waiting for a core.
// On a shared VM even CPU time varies about 2x with the neighbours' load;
// the hardware counters do not: instructions per packet are the difference
// of two runs of different lengths, for example
//
//	go test -c -o /tmp/event.test ./internal/event && cd internal/event &&
//	perf stat -e instructions:u,cycles:u /tmp/event.test -test.run '^$' -test.bench 'MatchView100$' -test.benchtime 500000x
//	(again with 2500000x; per packet = difference / 2000000)

// benchSyslogPacket is the first frame of tcpdump_syslog_udp.pcap: a real
// syslog datagram, 10.0.0.20 -> 10.0.0.72 port 514.
func benchSyslogPacket(b *testing.B) *packet.Packet {
	pkts := decodedPackets(b, "tcpdump_syslog_udp.pcap")
	p := pkts[0]
	if f := p.Inner(); f.Layers&packet.LayerUDP == 0 || f.DstPort != 514 {
		b.Fatalf("tcpdump_syslog_udp.pcap#1 is not UDP to port 514")
	}
	return p
}

var benchViewMeta = Meta{Listener: "syslog", SourceType: "udp", Source: "udp.raw"}

// viewRuleSet returns n rules of the kinds a deployment has: source and
// destination port, source CIDR and protocol, a port range per protocol,
// listener prefix, detail-type and source port. Values derive from i, so
// few rules match one packet: for the benchmark packet (10.0.0.20:port ->
// 10.0.0.72:514) only rule 0 (udp.raw to port 514) does.
func viewRuleSet(n int) *pattern.Matcher {
	m := pattern.NewMatcher()
	for i := range n {
		var src string
		switch i % 5 {
		case 0:
			src = fmt.Sprintf(`{"source":["udp.raw"],"detail":{"Destination":{"Port":[%d]}}}`, 514+i)
		case 1:
			src = fmt.Sprintf(`{"detail":{"Source":{"IP":[{"cidr":"10.%d.%d.0/24"}]},"Protocol":["udp"]}}`, (i/256)%256, i%256)
		case 2:
			src = fmt.Sprintf(`{"detail":{"Protocol":["tcp"],"Destination":{"Port":[{"numeric":[">=",%d,"<",%d]}]}}}`, i, i+10)
		case 3:
			src = fmt.Sprintf(`{"detail":{"Listener":[{"prefix":"listener-%d"}]}}`, i)
		case 4:
			src = fmt.Sprintf(`{"detail-type":["UdpPacket"],"detail":{"Source":{"Port":[%d]}}}`, 40000+i)
		}
		m.Add(fmt.Sprintf("rule-%05d", i), pattern.MustCompile(src))
	}
	return m
}

func benchMatchView(b *testing.B, n int) {
	p := benchSyslogPacket(b)
	m := viewRuleSet(n)
	var v View
	var enc Encoder
	v.Reset(&enc, p, benchViewMeta)
	dst := m.Match(&v, nil)
	// The view and the JSON agree on the benchmark packet too.
	want, err := m.MatchJSON(v.AppendJSON(nil), nil)
	if err != nil || !slices.Equal(dst, want) || len(dst) == 0 {
		b.Fatalf("view matches %v, JSON %v (%v)", dst, want, err)
	}
	// A pattern.State per goroutine, as the pipeline's workers hold one
	// (rule.Matches): no pooled memory, no atomic operations per packet.
	var st pattern.State
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		v.Reset(&enc, p, benchViewMeta)
		dst = m.MatchState(&st, &v, dst[:0])
	}
	reportCPU(b, cpu0)
}

func BenchmarkMatchView1(b *testing.B)     { benchMatchView(b, 1) }
func BenchmarkMatchView100(b *testing.B)   { benchMatchView(b, 100) }
func BenchmarkMatchView1000(b *testing.B)  { benchMatchView(b, 1000) }
func BenchmarkMatchView10000(b *testing.B) { benchMatchView(b, 10000) }

// BenchmarkMatchViewJSON is the path the View replaces: encode the event,
// then match its JSON.
func BenchmarkMatchViewJSON100(b *testing.B) {
	p := benchSyslogPacket(b)
	m := viewRuleSet(100)
	var enc Encoder
	var buf []byte
	var dst []string
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		buf = enc.AppendJSON(buf[:0], p, benchViewMeta)
		dst, _ = m.MatchJSON(buf, dst[:0])
	}
	reportCPU(b, cpu0)
}
