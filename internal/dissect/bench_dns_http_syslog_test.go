package dissect_test

import (
	"testing"

	"github.com/wirebridge/wirebridge/internal/dissect"
)

// TestNoAllocsDNSHTTPSyslog: parsing and the text summaries allocate nothing, for every
// seed input (capture packets and built packets), whatever the outcome.
func TestNoAllocsDNSHTTPSyslog(t *testing.T) {
	var inputs [][]byte
	for _, s := range l7Seeds {
		b, _ := payloadOfPacket(t, s.file, s.no)
		inputs = append(inputs, b)
	}
	for _, p := range builtL7Packets() {
		inputs = append(inputs, p.payload)
	}
	var (
		dns    dissect.DNSMessage
		http   dissect.HTTPMessage
		syslog dissect.SyslogMessage
		buf    = make([]byte, 0, 64<<10)
	)
	for i, b := range inputs {
		n := testing.AllocsPerRun(20, func() {
			for _, tcp := range []bool{false, true} {
				_ = dns.Parse(b, tcp)
				buf = dns.AppendText(buf[:0])
				buf = dns.AppendInfo(buf[:0])
			}
			_ = http.Parse(b)
			_ = http.ParseHead(b)
			buf = http.AppendText(buf[:0])
			buf = http.AppendInfo(buf[:0])
			_ = syslog.Parse(b)
			_ = syslog.ParseTCP(b)
			buf = syslog.AppendText(buf[:0])
			buf = syslog.AppendInfo(buf[:0])
			_ = dns.OpcodeName() + dns.RCodeName() + syslog.Facility() + syslog.Severity()
		})
		if n != 0 {
			t.Errorf("input %d: %v allocations per run", i, n)
		}
	}
}

func benchCapture(b *testing.B, file string, no int) []byte {
	p, _ := payloadOfPacket(b, file, no)
	return p
}

// BenchmarkDissectDNS: the 224-byte authoritative response of
// tcpdump_dns_udp.pcap (1 question, 2 answers kept, 7 more records counted).
func BenchmarkDissectDNS(b *testing.B) {
	p := benchCapture(b, "tcpdump_dns_udp.pcap", 2)
	var m dissect.DNSMessage
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for i := 0; i < b.N; i++ {
		if err := m.Parse(p, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDissectDNSQuery: the 56-byte query of tcpdump_dns_udp.pcap.
func BenchmarkDissectDNSQuery(b *testing.B) {
	p := benchCapture(b, "tcpdump_dns_udp.pcap", 1)
	var m dissect.DNSMessage
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for i := 0; i < b.N; i++ {
		if err := m.Parse(p, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDissectHTTP: a Docker API POST head (5 header lines) with its
// JSON body in the same segment.
func BenchmarkDissectHTTP(b *testing.B) {
	p := benchCapture(b, "zeek_http-docker-upgrade-chunked.pcap", 8)
	var m dissect.HTTPMessage
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for i := 0; i < b.N; i++ {
		if err := m.Parse(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDissectHTTPBody: a body segment on port 80 (rejected at the
// start line).
func BenchmarkDissectHTTPBody(b *testing.B) {
	p := benchCapture(b, "zeek_http-pipelined-requests.pcap", 8)
	var m dissect.HTTPMessage
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for i := 0; i < b.N; i++ {
		_ = m.Parse(p)
	}
}

// BenchmarkDissectSyslog: an RFC 3164 message with a PID
// (ndpi_syslog.pcap packet 18).
func BenchmarkDissectSyslog(b *testing.B) {
	p := benchCapture(b, "ndpi_syslog.pcap", 18)
	var m dissect.SyslogMessage
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for i := 0; i < b.N; i++ {
		if err := m.Parse(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDissectSyslog5424: an RFC 5424 message (ndpi_syslog.pcap packet 85).
func BenchmarkDissectSyslog5424(b *testing.B) {
	p := benchCapture(b, "ndpi_syslog.pcap", 85)
	var m dissect.SyslogMessage
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for i := 0; i < b.N; i++ {
		if err := m.Parse(p); err != nil {
			b.Fatal(err)
		}
	}
}
