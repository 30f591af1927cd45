package dissect_test

import (
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/dissect"
)

// dnsWant is what a table case expects; answers and questions are written
// "name TYPE data" / "name TYPE CLASS".
type dnsWant struct {
	err       string
	id        uint16
	response  bool
	opcode    string
	rcode     string
	questions []string
	answers   []string
	more      bool
	text      string // AppendText
	info      string // AppendInfo
}

func dnsSummary(m *dissect.DNSMessage) (qs, as []string) {
	for _, q := range m.QuestionList() {
		qs = append(qs, string(q.Name)+" "+string(dissect.AppendDNSType(nil, q.Type))+" "+dissect.DNSClassName(q.Class))
	}
	for _, a := range m.AnswerList() {
		as = append(as, string(a.Name)+" "+string(dissect.AppendDNSType(nil, a.Type))+" "+string(a.Data))
	}
	return qs, as
}

func TestDNSParse(t *testing.T) {
	payload := func(file string, no int) func(t *testing.T) ([]byte, bool) {
		return func(t *testing.T) ([]byte, bool) { return payloadOfPacket(t, file, no) }
	}
	built := func(b []byte, tcp bool) func(t *testing.T) ([]byte, bool) {
		return func(*testing.T) ([]byte, bool) { return b, tcp }
	}
	many := newDNS(7, 0x8180, 1, 20, 0, 0).name("many.example").u16(1, 1)
	for i := 0; i < 20; i++ {
		many.ptr(12).rr(1, 1, 60, func(m *dnsMsg) { m.raw(10, 0, 0, byte(i)) })
	}
	fiveQ := newDNS(8, 0, 5, 0, 0, 0)
	for _, n := range []string{"a.x", "b.x", "c.x", "d.x", "e.x"} {
		fiveQ.name(n).u16(1, 1)
	}
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63)
	odd := newDNS(9, 0, 1, 0, 0, 0).raw(5, 'a', '.', 'b', 0, ' ', 3, 'c', '\\', 'd', 0).u16(16, 3)
	unknown := newDNS(10, 0x8000, 0, 3, 0, 0)
	unknown.name("").rr(99, 1, 5, func(m *dnsMsg) { m.raw(0xde, 0xad) })                  // SPF: no text form here
	unknown.name("").rr(65280, 1, 5, func(m *dnsMsg) { m.raw(make([]byte, 65)...) })      // private type, too long for hex
	unknown.name("t").rr(16, 1, 5, func(m *dnsMsg) { m.raw(4, 'a', '\n', '"', '\\', 0) }) // TXT with escapes, one empty string
	fwd := newDNS(11, 0x8000, 0, 1, 0, 0)
	fwd.ptr(12+2+10+4).rr(1, 1, 1, func(m *dnsMsg) { m.raw(1, 2, 3, 4) }).name("later.example")

	cases := []struct {
		name  string
		input func(t *testing.T) ([]byte, bool)
		want  dnsWant
	}{
		{"tcpdump query with EDNS0", payload("tcpdump_dns_udp.pcap", 1), dnsWant{
			id: 0x5934, opcode: "QUERY", rcode: "NOERROR",
			questions: []string{"www.tcpdump.org A IN"},
			// tcpdump_dns_udp.out, packet 1
			text: "22836+ [1au] A? www.tcpdump.org. (56)",
			info: "Standard query 0x5934 A www.tcpdump.org",
		}},
		{"tcpdump authoritative response", payload("tcpdump_dns_udp.pcap", 2), dnsWant{
			id: 0x5934, response: true, opcode: "QUERY", rcode: "NOERROR",
			questions: []string{"www.tcpdump.org A IN"},
			answers:   []string{"www.tcpdump.org A 192.139.46.66", "www.tcpdump.org A 198.199.88.104"},
			// tcpdump_dns_udp.out, packet 2
			text: "22836*- 2/2/5 A 192.139.46.66, A 198.199.88.104 (224)",
			info: "Standard query response 0x5934 A www.tcpdump.org A 192.139.46.66 A 198.199.88.104",
		}},
		{"cname chain", payload("zeek_pcapng-multi-interface.pcapng", 2), dnsWant{
			id: 0x4fe8, response: true, opcode: "QUERY", rcode: "NOERROR",
			questions: []string{"www.apple.com A IN"},
			answers: []string{"www.apple.com CNAME www-apple-com.v.aaplimg.com",
				"www-apple-com.v.aaplimg.com CNAME www.apple.com.edgekey.net",
				"www.apple.com.edgekey.net CNAME e6858.dsce9.akamaiedge.net",
				"e6858.dsce9.akamaiedge.net A 23.194.101.24"},
			info: "Standard query response 0x4fe8 A www.apple.com CNAME www-apple-com.v.aaplimg.com CNAME www.apple.com.edgekey.net CNAME e6858.dsce9.akamaiedge.net A 23.194.101.24",
		}},
		{"aaaa answers", payload("zeek_pcapng-multi-interface.pcapng", 6), dnsWant{
			id: 5, response: true, opcode: "QUERY", rcode: "NOERROR",
			questions: []string{"google.com AAAA IN"},
			answers: []string{"google.com AAAA 2607:f8b0:4023:2007::66", "google.com AAAA 2607:f8b0:4023:2007::8b",
				"google.com AAAA 2607:f8b0:4023:2007::71", "google.com AAAA 2607:f8b0:4023:2007::8a"},
		}},
		{"txt strings concatenated", payload("zeek_ipv6-fragmented-dns.pcap", 2), dnsWant{
			id: 0x0f3f, response: true, opcode: "QUERY", rcode: "NOERROR",
			questions: []string{"txtpadding_323.n1.netalyzr.icsi.berkeley.edu TXT IN"},
			answers: []string{"txtpadding_323.n1.netalyzr.icsi.berkeley.edu TXT This TXT record should be ignoredAs it is just padding" +
				strings.Repeat("X", 136)},
		}},
		{"first fragment of a long response", payload("zeek_ipv6-fragmented-dns.pcap", 6), dnsWant{
			err: "truncated", id: 0x9f91, response: true, opcode: "QUERY", rcode: "NOERROR",
			questions: []string{"txtpadding_3230.n1.netalyzr.icsi.berkeley.edu TXT IN"},
		}},
		{"udp 53 but not dns", payload("zeek_ipv6-hbh-routing0.pcap", 1), dnsWant{err: "truncated", opcode: "QUERY", rcode: "NOERROR"}},
		{"mdns query with QU bit", built(builtL7Packets()[0].payload, false), dnsWant{
			opcode: "QUERY", rcode: "NOERROR", questions: []string{"_http._tcp.local PTR IN", "printer.local A IN"},
			text: "0 [2q] PTR? _http._tcp.local. A? printer.local. (53)",
		}},
		{"mdns response", built(builtL7Packets()[1].payload, false), dnsWant{
			response: true, opcode: "QUERY", rcode: "NOERROR",
			answers: []string{"_http._tcp.local PTR printer._http._tcp.local", "printer._http._tcp.local SRV 0 0 631 host.local",
				"printer._http._tcp.local TXT txtversrp=ipp", "host.local A 192.168.1.20"},
		}},
		{"dns over tcp", built(builtL7Packets()[4].payload, true), dnsWant{
			id: 0xbeef, response: true, opcode: "QUERY", rcode: "NOERROR",
			questions: []string{"example.org MX IN"},
			answers: []string{"example.org MX 10 mail.example.org", "example.org SOA ns1.example.org",
				"www.example.org CNAME web.example.org", "web.example.org AAAA 2001:db8::1", "4.3.2.1.in-addr.arpa PTR www.example.org"},
			text: "48879 5/0/0 MX 10 mail.example.org, SOA ns1.example.org, CNAME web.example.org., AAAA 2001:db8::1, PTR www.example.org. (193)",
		}},
		{"nxdomain", built(builtL7Packets()[5].payload, false), dnsWant{
			id: 0x0101, response: true, opcode: "QUERY", rcode: "NXDOMAIN", questions: []string{"nope.example.com A IN"},
			text: "257 NXDomain 0/1/0 (78)",
			info: "Standard query response 0x0101 No such name A nope.example.com",
		}},
		{"tcp message longer than the segment", built(builtL7Packets()[4].payload[:60], true), dnsWant{
			err: "truncated", id: 0xbeef, response: true, opcode: "QUERY", rcode: "NOERROR",
			questions: []string{"example.org MX IN"}, answers: []string{"example.org MX 10 mail.example.org"},
		}},
		{"tcp length zero", built([]byte{0, 0, 1, 2}, true), dnsWant{err: "not protocol", opcode: "QUERY", rcode: "NOERROR"}},
		{"tcp length below a header", built([]byte{0, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, true), dnsWant{err: "not protocol", opcode: "QUERY", rcode: "NOERROR"}},
		{"short header", built([]byte{1, 2, 3}, false), dnsWant{err: "truncated", opcode: "QUERY", rcode: "NOERROR"}},
		{"pointer loop", built(builtL7Packets()[6].payload, false), dnsWant{
			err: "malformed", id: 0x0202, response: true, opcode: "QUERY", rcode: "NOERROR", questions: []string{"a.example A IN"},
		}},
		{"pointer out of the message", built(newDNS(1, 0, 1, 0, 0, 0).ptr(500).u16(1, 1).b, false), dnsWant{
			err: "malformed", id: 1, opcode: "QUERY", rcode: "NOERROR",
		}},
		{"pointer chain to itself", built(newDNS(1, 0, 1, 0, 0, 0).ptr(12).u16(1, 1).b, false), dnsWant{
			err: "malformed", id: 1, opcode: "QUERY", rcode: "NOERROR",
		}},
		{"forward pointer", built(fwd.b, false), dnsWant{
			id: 11, response: true, opcode: "QUERY", rcode: "NOERROR", answers: []string{"later.example A 1.2.3.4"},
		}},
		{"name longer than 255 bytes", built(newDNS(1, 0, 1, 0, 0, 0).name(long+".e").u16(1, 1).b, false), dnsWant{
			err: "malformed", id: 1, opcode: "QUERY", rcode: "NOERROR",
		}},
		{"name of 255 bytes", built(newDNS(1, 0, 1, 0, 0, 0).name(long[:253]).u16(1, 1).b, false), dnsWant{
			id: 1, opcode: "QUERY", rcode: "NOERROR", questions: []string{long[:253] + " A IN"},
		}},
		{"reserved label type", built(newDNS(1, 0, 1, 0, 0, 0).raw(0x41, 0).u16(1, 1).b, false), dnsWant{
			err: "malformed", id: 1, opcode: "QUERY", rcode: "NOERROR",
		}},
		{"A with 5 bytes", built(newDNS(1, 0x8000, 0, 1, 0, 0).name("x").rr(1, 1, 1, func(m *dnsMsg) { m.raw(1, 2, 3, 4, 5) }).b, false), dnsWant{
			err: "malformed", id: 1, response: true, opcode: "QUERY", rcode: "NOERROR",
		}},
		{"more answers than kept", built(many.b, false), dnsWant{
			id: 7, response: true, opcode: "QUERY", rcode: "NOERROR", more: true,
			questions: []string{"many.example A IN"},
			answers: func() (a []string) {
				for i := 0; i < dissect.DNSMaxAnswers; i++ {
					a = append(a, "many.example A 10.0.0."+string(rune('0' + i/10))[:min(1, i/10)]+string(rune('0'+i%10)))
				}
				return a
			}(),
		}},
		{"more questions than kept", built(fiveQ.b, false), dnsWant{
			id: 8, opcode: "QUERY", rcode: "NOERROR", more: true,
			questions: []string{"a.x A IN", "b.x A IN", "c.x A IN", "d.x A IN"},
		}},
		{"labels with dots, spaces and backslashes", built(odd.b, false), dnsWant{
			id: 9, opcode: "QUERY", rcode: "NOERROR", questions: []string{`a\.b\000\032.c\\d TXT CH`},
		}},
		{"root, unknown types and txt escapes", built(unknown.b, false), dnsWant{
			id: 10, response: true, opcode: "QUERY", rcode: "NOERROR",
			answers: []string{" SPF dead", " TYPE65280 ", `t TXT a\010"\\`},
			info:    "Standard query response 0x000a SPF TYPE65280 TXT",
		}},
		{"notify opcode", built(newDNS(3, 0x2000, 1, 0, 0, 0).name("zone.example").u16(6, 1).b, false), dnsWant{
			id: 3, opcode: "NOTIFY", rcode: "NOERROR", questions: []string{"zone.example SOA IN"},
			info: "Zone change notification 0x0003 SOA zone.example",
		}},
	}
	var m dissect.DNSMessage // reused across cases, as the pipeline reuses it
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, tcp := c.input(t)
			err := m.Parse(b, tcp)
			if got := kindOf(err); got != c.want.err {
				t.Fatalf("error %q (%v), want %q", got, err, c.want.err)
			}
			qs, as := dnsSummary(&m)
			got := dnsWant{err: c.want.err, id: m.ID, response: m.Response, opcode: m.OpcodeName(), rcode: m.RCodeName(),
				questions: qs, answers: as, more: m.More, text: c.want.text, info: c.want.info}
			if c.want.text != "" {
				got.text = string(m.AppendText(nil))
			}
			if c.want.info != "" {
				got.info = string(m.AppendInfo(nil))
			}
			if d := diffDNS(got, c.want); d != "" {
				t.Error(d)
			}
		})
	}
}

func diffDNS(got, want dnsWant) string {
	var b strings.Builder
	chk := func(what string, g, w any) {
		if gs, ws := strings.TrimSpace(strings.Join(strings.Fields(listText(g)), " ")), strings.TrimSpace(strings.Join(strings.Fields(listText(w)), " ")); gs != ws {
			b.WriteString(what + ":\n  got  " + listText(g) + "\n  want " + listText(w) + "\n")
		}
	}
	chk("id", got.id, want.id)
	chk("response", got.response, want.response)
	chk("opcode", got.opcode, want.opcode)
	chk("rcode", got.rcode, want.rcode)
	chk("questions", got.questions, want.questions)
	chk("answers", got.answers, want.answers)
	chk("more", got.more, want.more)
	chk("text", got.text, want.text)
	chk("info", got.info, want.info)
	return b.String()
}
