package pattern

import (
	"fmt"
	"net/netip"
	"testing"
)

// benchEvent is the JSON of a typical wirebridge UDP event.
var benchEvent = []byte(`{"version":"0","id":"0193a8c2-7d1e-7c3a-9f4e-2b6d1c0e5a77","source":"udp.raw","detail-type":"UdpPacket",` +
	`"time":"2026-11-21T20:40:15Z","resources":["syslog"],"detail":{"Timestamp":"2026-11-21T20:40:15.123456789Z",` +
	`"Listener":"syslog","Source":{"IP":"10.0.0.7","Port":40123},"Destination":{"IP":"10.0.0.2","Port":514},` +
	`"Protocol":"udp","Length":42,"Payload":"PDEzPk5vdiAyMSAyMDo0MDoxNSBob3N0IGFwcDogaGVsbG8=","IP":{"Version":4,"TTL":64}}}`)

// benchPacket is an allocation-free Event over fixed fields, standing in for
// the packet view adapter.
type benchPacket struct {
	source, detailType, listener, protocol string
	srcIP, dstIP                           netip.Addr
	srcPort, dstPort, length, ttl          int64
}

var (
	fSource     = PathID("source")
	fDetailType = PathID("detail-type")
	fResources  = PathID("resources")
	fListener   = PathID("detail.Listener")
	fProtocol   = PathID("detail.Protocol")
	fSrcIP      = PathID("detail.Source.IP")
	fSrcPort    = PathID("detail.Source.Port")
	fDstIP      = PathID("detail.Destination.IP")
	fDstPort    = PathID("detail.Destination.Port")
	fLength     = PathID("detail.Length")
	fTTL        = PathID("detail.IP.TTL")
	fResArray   = ArrayID(PathID("resources"))
)

func (p *benchPacket) VisitField(f Field, v *Values) {
	switch f.ID {
	case fSource:
		v.Str(p.source)
	case fDetailType:
		v.Str(p.detailType)
	case fResources:
		v.Enter(fResArray, 0)
		v.Str(p.listener)
		v.Leave()
	case fListener:
		v.Str(p.listener)
	case fProtocol:
		v.Str(p.protocol)
	case fSrcIP:
		v.Addr(p.srcIP)
	case fDstIP:
		v.Addr(p.dstIP)
	case fSrcPort:
		v.Int(p.srcPort)
	case fDstPort:
		v.Int(p.dstPort)
	case fLength:
		v.Int(p.length)
	case fTTL:
		v.Int(p.ttl)
	}
}

var benchPkt = &benchPacket{source: "udp.raw", detailType: "UdpPacket", listener: "syslog", protocol: "udp",
	srcIP: netip.MustParseAddr("10.0.0.7"), dstIP: netip.MustParseAddr("10.0.0.2"), srcPort: 40123, dstPort: 514, length: 42, ttl: 64}

// ruleSet returns n rules of mixed kinds, as a deployment might have: exact
// source + port, CIDR on addresses, numeric ranges, prefixes, anything-but.
// Rule i uses values derived from i, so few rules match one event.
func ruleSet(n int) *Matcher {
	m := NewMatcher()
	for i := 0; i < n; i++ {
		var src string
		switch i % 5 {
		case 0:
			src = fmt.Sprintf(`{"source":["udp.raw"],"detail":{"Destination":{"Port":[%d]}}}`, 499+i)
		case 1:
			src = fmt.Sprintf(`{"detail":{"Source":{"IP":[{"cidr":"10.%d.%d.0/24"}]},"Protocol":["udp"]}}`, (i/256)%256, i%256)
		case 2:
			src = fmt.Sprintf(`{"detail":{"Length":[{"numeric":[">=",%d,"<",%d]}],"Destination":{"Port":[%d]}}}`, i, i+100, 600+i)
		case 3:
			src = fmt.Sprintf(`{"detail-type":[{"prefix":"Udp"}],"detail":{"Listener":["listener-%d"]}}`, i)
		case 4:
			src = fmt.Sprintf(`{"source":["udp.raw"],"detail":{"Source":{"Port":[%d]},"Protocol":[{"anything-but":"tcp"}]}}`, 39999+i)
		}
		m.Add(fmt.Sprintf("rule-%05d", i), MustCompile(src))
	}
	return m
}

func BenchmarkRules(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 10000} {
		m := ruleSet(n)
		b.Run(fmt.Sprintf("accessor/%d", n), func(b *testing.B) {
			var dst []string
			dst = m.Match(benchPkt, dst[:0])
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU()
			for i := 0; i < b.N; i++ {
				dst = m.Match(benchPkt, dst[:0])
			}
			cpu.report(b)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(fmt.Sprintf("json/%d", n), func(b *testing.B) {
			var dst []string
			dst, _ = m.MatchJSON(benchEvent, dst[:0])
			b.ReportAllocs()
			b.SetBytes(int64(len(benchEvent)))
			b.ResetTimer()
			cpu := startCPU()
			for i := 0; i < b.N; i++ {
				dst, _ = m.MatchJSON(benchEvent, dst[:0])
			}
			cpu.report(b)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func TestRuleSetAnswersAgree(t *testing.T) {
	m := ruleSet(1000)
	j, err := m.MatchJSON(benchEvent, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := m.Match(benchPkt, nil)
	if fmt.Sprint(j) != fmt.Sprint(a) || len(j) == 0 {
		t.Fatalf("json %v accessor %v", j, a)
	}
	// Rule 15 is source udp.raw + destination port 514; rule 124 is source
	// port 40123 with protocol anything-but tcp.
	want := []string{"rule-00015", "rule-00124"}
	if fmt.Sprint(j) != fmt.Sprint(want) {
		t.Fatalf("got %v want %v", j, want)
	}
}

// The per-operator benchmarks (packet view and JSON) are in internal/event
// (BenchmarkMatchOperator), over a real packet's event.
