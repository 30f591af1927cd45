package dissect_test

import "encoding/binary"

// dnsMsg builds DNS messages for tests: the header, then sections appended
// with the helpers (names are written uncompressed unless given as a
// pointer with ptr).
type dnsMsg struct{ b []byte }

func newDNS(id, flags, qd, an, ns, ar uint16) *dnsMsg {
	m := &dnsMsg{}
	for _, v := range []uint16{id, flags, qd, an, ns, ar} {
		m.b = binary.BigEndian.AppendUint16(m.b, v)
	}
	return m
}

// name appends a name as labels ("www.example.org"; "" is the root).
func (m *dnsMsg) name(n string) *dnsMsg {
	for len(n) > 0 {
		l := n
		for i := 0; i < len(n); i++ {
			if n[i] == '.' {
				l = n[:i]
				break
			}
		}
		m.b = append(m.b, byte(len(l)))
		m.b = append(m.b, l...)
		if len(l) == len(n) {
			n = ""
		} else {
			n = n[len(l)+1:]
		}
	}
	m.b = append(m.b, 0)
	return m
}

// ptr appends a compression pointer to offset off.
func (m *dnsMsg) ptr(off int) *dnsMsg {
	m.b = append(m.b, 0xc0|byte(off>>8), byte(off))
	return m
}

func (m *dnsMsg) u16(v ...uint16) *dnsMsg {
	for _, x := range v {
		m.b = binary.BigEndian.AppendUint16(m.b, x)
	}
	return m
}

func (m *dnsMsg) u32(v uint32) *dnsMsg {
	m.b = binary.BigEndian.AppendUint32(m.b, v)
	return m
}

func (m *dnsMsg) raw(b ...byte) *dnsMsg {
	m.b = append(m.b, b...)
	return m
}

// rr appends TYPE, CLASS, TTL and RDATA (with its length) after an owner
// name already appended.
func (m *dnsMsg) rr(typ, class uint16, ttl uint32, rdata func(m *dnsMsg)) *dnsMsg {
	m.u16(typ, class).u32(ttl)
	at := len(m.b)
	m.u16(0)
	rdata(m)
	binary.BigEndian.PutUint16(m.b[at:], uint16(len(m.b)-at-2))
	return m
}

// tcp returns the message with its two-byte length prefix.
func (m *dnsMsg) tcp() []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(m.b))), m.b...)
}

// builtL7 is a packet for what no capture in testdata/pcaps holds:
// mDNS, LLMNR, DNS over TCP, more record types, HTTP header variants,
// RFC 5424 syslog on 514, syslog over TCP, syslog without PRI.
type builtL7 struct {
	name     string
	tcp      bool
	src, dst uint16
	payload  []byte
	// notDissected: tshark shows no fields of the protocol (a body segment).
	notDissected bool
}

func builtL7Packets() []builtL7 {
	mdnsQuery := newDNS(0, 0, 2, 0, 0, 0).
		name("_http._tcp.local").u16(12, 0x8001). // PTR, QU bit
		name("printer.local").u16(1, 1).b
	mdnsResp := newDNS(0, 0x8400, 0, 4, 0, 0)
	mdnsResp.name("_http._tcp.local") // at 12
	mdnsResp.rr(12, 1, 4500, func(m *dnsMsg) { m.raw(7, 'p', 'r', 'i', 'n', 't', 'e', 'r').ptr(12) })
	inst := 12 + 18 + 10 // the instance name written in the PTR RDATA
	mdnsResp.ptr(inst).rr(33, 0x8001, 120, func(m *dnsMsg) { m.u16(0, 0, 631).raw(4, 'h', 'o', 's', 't').ptr(23) })
	mdnsResp.ptr(inst).rr(16, 0x8001, 4500, func(m *dnsMsg) {
		m.raw(7).raw([]byte("txtvers")...).raw(6).raw([]byte("rp=ipp")...)
	})
	mdnsResp.raw(4, 'h', 'o', 's', 't').ptr(23).rr(1, 0x8001, 120, func(m *dnsMsg) { m.raw(192, 168, 1, 20) })

	llmnr := newDNS(0x1234, 0, 1, 0, 0, 0).name("fileserver").u16(28, 1).b

	tcpQuery := newDNS(0xbeef, 0x0120, 1, 0, 0, 0).name("example.org").u16(15, 1).tcp()
	tcpResp := newDNS(0xbeef, 0x8180, 1, 5, 0, 0)
	tcpResp.name("example.org").u16(15, 1)
	tcpResp.ptr(12).rr(15, 1, 300, func(m *dnsMsg) { m.u16(10).raw(4, 'm', 'a', 'i', 'l').ptr(12) })
	tcpResp.ptr(12).rr(6, 1, 300, func(m *dnsMsg) {
		m.raw(3, 'n', 's', '1').ptr(12).raw(10, 'h', 'o', 's', 't', 'm', 'a', 's', 't', 'e', 'r').ptr(12).
			u32(2024010101).u32(7200).u32(3600).u32(1209600).u32(300)
	})
	tcpResp.raw(3, 'w', 'w', 'w').ptr(12).rr(5, 1, 60, func(m *dnsMsg) { m.raw(3, 'w', 'e', 'b').ptr(12) })
	tcpResp.raw(3, 'w', 'e', 'b').ptr(12).rr(28, 1, 60, func(m *dnsMsg) {
		m.raw(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
	})
	tcpResp.raw(1, '4', 1, '3', 1, '2', 1, '1', 7, 'i', 'n', '-', 'a', 'd', 'd', 'r', 4, 'a', 'r', 'p', 'a', 0).
		rr(12, 1, 86400, func(m *dnsMsg) { m.raw(3, 'w', 'w', 'w').ptr(12) })

	nx := newDNS(0x0101, 0x8183, 1, 0, 1, 0)
	nx.name("nope.example.com").u16(1, 1)
	nx.ptr(17).rr(6, 1, 900, func(m *dnsMsg) {
		m.raw(2, 'n', 's').ptr(17).raw(4, 'r', 'o', 'o', 't').ptr(17).u32(1).u32(2).u32(3).u32(4).u32(5)
	})

	loop := newDNS(0x0202, 0x8180, 1, 1, 0, 0)
	loop.name("a.example").u16(1, 1)
	loop.ptr(27).rr(1, 1, 1, func(m *dnsMsg) { m.raw(1, 2, 3, 4) }) // points at itself

	return []builtL7{
		{name: "mdns query", src: 5353, dst: 5353, payload: mdnsQuery},
		{name: "mdns response", src: 5353, dst: 5353, payload: mdnsResp.b},
		{name: "llmnr query", src: 50000, dst: 5355, payload: llmnr},
		{name: "dns tcp query", tcp: true, src: 40000, dst: 53, payload: tcpQuery},
		{name: "dns tcp response", tcp: true, src: 53, dst: 40000, payload: tcpResp.tcp()},
		{name: "dns nxdomain", src: 53, dst: 40001, payload: nx.b},
		{name: "dns pointer loop", src: 53, dst: 40002, payload: loop.b},
		{name: "http post", tcp: true, src: 40003, dst: 80, payload: []byte("POST /api/v1/items?id=7 HTTP/1.1\r\n" +
			"hOsT: api.example.com:8080\r\ncontent-TYPE: application/json\r\nContent-Length: 18\r\n" +
			"User-Agent: curl/8.5.0\r\n\r\n{\"name\":\"widget\"}\n")},
		{name: "http 404", tcp: true, src: 8080, dst: 40004, payload: []byte("HTTP/1.0 404 Not Found\r\n" +
			"Content-Type: text/html; charset=utf-8\r\nContent-Length:   9\r\n\r\nnot found")},
		{name: "http head cut", tcp: true, src: 40005, dst: 80, payload: []byte("GET /x HTTP/1.1\r\nHost: a.example\r\nUser-Ag")},
		{name: "http body segment", tcp: true, src: 80, dst: 40006, payload: []byte("<html><body>hello</body></html>\n"), notDissected: true},
		{name: "syslog 5424", src: 40007, dst: 514, payload: []byte("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 " +
			"[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \xef\xbb\xbfAn application event log entry...")},
		{name: "syslog 5424 nil", src: 40008, dst: 514, payload: []byte("<34>1 2003-10-11T22:14:15.003+02:00 - su - - - 'su root' failed for lonvick on /dev/pts/8")},
		{name: "syslog 3164 pid", src: 40009, dst: 514, payload: []byte("<38>Feb  5 17:32:18 10.0.0.99 sshd[4123]: Accepted publickey for alice\n")},
		{name: "syslog no pri", src: 40010, dst: 514, payload: []byte("Feb  5 17:32:18 host app: no priority here")},
		{name: "syslog tcp octet", tcp: true, src: 40011, dst: 601, payload: []byte("65 <13>1 2026-12-07T17:00:00Z web01 nginx 812 - - request failed 502")},
		{name: "dns root ns query", src: 40012, dst: 53, payload: newDNS(0x0303, 0x0100, 1, 0, 0, 0).name("").u16(2, 1).b},
	}
}
