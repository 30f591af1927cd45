package web

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// decoded is what decodeJS reports of one frame: the layer names and the
// packet list's columns, or the exception layers() threw (it must not).
type decoded struct {
	Layers []string `json:"layers"`
	Proto  string   `json:"proto"`
	Info   string   `json:"info"`
	Color  string   `json:"color"`
	Chain  []string `json:"chain"`
	Throw  string   `json:"throw"`
}

// decodeJS runs static/decode.js under Node on frames (Ethernet).
func decodeJS(t *testing.T, frames [][]byte) []decoded {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required (scripts/deps.sh installs nodejs): %v", err)
	}
	hx := make([]string, len(frames))
	for i, f := range frames {
		hx[i] = hex.EncodeToString(f)
	}
	in, _ := json.Marshal(hx)
	script := `
const fs = require("fs"), vm = require("vm");
const ctx = { atob: (s) => Buffer.from(s, "base64").toString("binary") };
vm.createContext(ctx);
vm.runInContext(fs.readFileSync(process.argv[1], "utf8") + "\nthis.WBDecode = WBDecode;", ctx);
const frames = JSON.parse(fs.readFileSync(0, "utf8"));
console.log(JSON.stringify(frames.map((h) => {
  try {
    const l = ctx.WBDecode.layers(Uint8Array.from(Buffer.from(h, "hex")), 1);
    return { layers: l.map((x) => x.name), proto: l.meta.proto, info: l.meta.info, color: l.meta.color, chain: l.meta.chain };
  } catch (e) { return { throw: String(e && e.stack || e) }; }
})));
`
	cmd := exec.Command(node, "-e", script, filepath.Join("static", "decode.js"))
	cmd.Stdin = strings.NewReader(string(in))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var got []decoded
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(frames) {
		t.Fatalf("node printed %d bytes (%v)", len(out), err)
	}
	return got
}

func dnsQuestion(id uint16, flags uint16, name string, qtype uint16, answer []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = binary.BigEndian.AppendUint16(b, flags)
	an := uint16(0)
	if answer != nil {
		an = 1
	}
	b = append(b, 0, 1, byte(an>>8), byte(an), 0, 0, 0, 0)
	for _, l := range strings.Split(name, ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	b = append(b, 0, byte(qtype>>8), byte(qtype), 0, 1)
	return append(b, answer...)
}

// clientHello is a TLS 1.3 ClientHello record offering TLS 1.3 and 1.2, with
// SNI and ALPN.
func clientHello(sni string) []byte {
	ext := func(typ uint16, data []byte) []byte {
		e := binary.BigEndian.AppendUint16(nil, typ)
		e = binary.BigEndian.AppendUint16(e, uint16(len(data)))
		return append(e, data...)
	}
	sn := append([]byte{0, byte(len(sni) + 3), 0, 0, byte(len(sni))}, sni...)
	alpn := []byte{0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'}
	var exts []byte
	exts = append(exts, ext(0, sn)...)
	exts = append(exts, ext(16, alpn)...)
	exts = append(exts, ext(43, []byte{4, 3, 4, 3, 3})...)
	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...)          // random
	body = append(body, 0)                            // session id
	body = append(body, 0, 4, 0x13, 0x01, 0x13, 0x02) // cipher suites
	body = append(body, 1, 0)                         // compression
	body = binary.BigEndian.AppendUint16(body, uint16(len(exts)))
	body = append(body, exts...)
	hs := append([]byte{1, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{22, 3, 1, byte(len(hs) >> 8), byte(len(hs))}, hs...)
}

func dhcpDiscover() []byte {
	b := make([]byte, 240)
	b[0], b[1], b[2] = 1, 1, 6
	binary.BigEndian.PutUint32(b[4:], 0x3903f326)
	copy(b[28:], []byte{0, 0x0c, 0x29, 0xaa, 0xbb, 0xcc})
	binary.BigEndian.PutUint32(b[236:], 0x63825363)
	b = append(b, 53, 1, 1, 12, 4, 'h', 'o', 's', 't', 55, 3, 1, 3, 6, 255)
	return b
}

// TestDecodeJSApplication checks the Protocol column, the Info text and the
// colouring rule the browser derives from frames built with the server's
// test packet builder, for each application layer the live view decodes.
func TestDecodeJSApplication(t *testing.T) {
	ip := netip.MustParseAddr
	a, b := ip("10.0.0.2"), ip("10.0.0.1")
	udp := func(sp, dp uint16, p []byte) []byte {
		return packet.Build(packet.Eth{}, packet.IPv4{Src: a, Dst: b}, packet.UDP{Src: sp, Dst: dp}, packet.Payload(p))
	}
	tcp := func(sp, dp uint16, flags uint16, opts []byte, p []byte) []byte {
		return packet.Build(packet.Eth{}, packet.IPv4{Src: a, Dst: b}, packet.TCP{Src: sp, Dst: dp, Seq: 1000, Ack: 5000, Flags: flags, Window: 502, Options: opts}, packet.Payload(p))
	}
	answer := []byte{0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34}
	ntp := make([]byte, 48)
	ntp[0] = 0x23
	cases := []struct {
		name              string
		frame             []byte
		proto, info, colr string
		last              string
	}{
		{"dns query", udp(50000, 53, dnsQuestion(0x1a2b, 0x0100, "example.com", 1, nil)), "DNS", "Standard query 0x1a2b A example.com", "udp", "Domain Name System"},
		{"dns answer", udp(53, 50000, dnsQuestion(0x1a2b, 0x8180, "example.com", 1, answer)), "DNS", "Standard query response 0x1a2b A example.com A 93.184.216.34", "udp", "Domain Name System"},
		{"dns nxdomain is an error", udp(53, 50000, dnsQuestion(0x0007, 0x8183, "nope.example.com", 28, nil)), "DNS", "Standard query response 0x0007 No such name AAAA nope.example.com", "error", "Domain Name System"},
		{"mdns", udp(5353, 5353, dnsQuestion(0, 0, "printer.local", 12, nil)), "MDNS", "Standard query 0x0000 PTR printer.local", "udp", "Multicast Domain Name System"},
		{"dns over tcp", tcp(40000, 53, packet.TCPAck|packet.TCPPsh, nil, append([]byte{0, 29}, dnsQuestion(0x1a2b, 0x0100, "example.com", 1, nil)...)), "DNS", "Standard query 0x1a2b A example.com", "tcp", "Domain Name System"},
		{"http request", tcp(40000, 80, packet.TCPAck|packet.TCPPsh, nil, []byte("GET /item/2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n")), "HTTP", "GET /item/2 HTTP/1.1", "http", "Hypertext Transfer Protocol"},
		{"http on another port", tcp(40000, 9000, packet.TCPAck|packet.TCPPsh, nil, []byte("POST /x HTTP/1.0\r\n\r\n")), "HTTP", "POST /x HTTP/1.0", "http", "Hypertext Transfer Protocol"},
		{"http 404 is an error", tcp(80, 40000, packet.TCPAck|packet.TCPPsh, nil, []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")), "HTTP", "HTTP/1.1 404 Not Found", "error", "Hypertext Transfer Protocol"},
		{"tls client hello", tcp(40000, 443, packet.TCPAck|packet.TCPPsh, nil, clientHello("example.com")), "TLS", "Client Hello (SNI=example.com)", "tcp", "Transport Layer Security: Handshake"},
		{"syslog rfc 3164", udp(40000, 514, []byte("<13>Nov 21 20:40:15 host app[42]: hello")), "Syslog", "USER.NOTICE: Nov 21 20:40:15 host app[42]: hello", "udp", "Syslog message"},
		{"syslog rfc 5424 err", udp(40000, 514, []byte("<11>1 2003-10-11T22:14:15.003Z host app - ID47 - oops")), "Syslog", "USER.ERR: 1 2003-10-11T22:14:15.003Z host app - ID47 - oops", "error", "Syslog message"},
		{"syslog by its first bytes", udp(40000, 5140, []byte("<13>hello")), "Syslog", "USER.NOTICE: hello", "udp", "Syslog message"},
		{"dhcp discover", udp(68, 67, dhcpDiscover()), "DHCP", "DHCP Discover - Transaction ID 0x3903f326", "udp", "Dynamic Host Configuration Protocol (Discover)"},
		{"ntp client", udp(50000, 123, ntp), "NTP", "NTP Version 4, client", "udp", "Network Time Protocol (NTP Version 4, client)"},
		{"arp request", packet.Build(packet.Eth{}, packet.ARP{Op: 1, SenderMAC: [6]byte{2, 0, 0, 0, 0, 2}, SenderIP: a, TargetIP: b}),
			"ARP", "Who has 10.0.0.1? Tell 10.0.0.2", "arp", "Address Resolution Protocol (request)"},
		{"arp reply", packet.Build(packet.Eth{}, packet.ARP{Op: 2, SenderMAC: [6]byte{2, 0, 0, 0, 0, 1}, SenderIP: b, Target: [6]byte{2, 0, 0, 0, 0, 2}, TargetIP: a}),
			"ARP", "10.0.0.1 is at 02:00:00:00:00:01", "arp", "Address Resolution Protocol (reply)"},
		{"icmp port unreachable", packet.Build(packet.Eth{}, packet.IPv4{Src: a, Dst: b}, packet.ICMPv4{Type: 3, Code: 3}, packet.Payload(make([]byte, 28))),
			"ICMP", "Destination unreachable (Port unreachable)", "icmperr", "Payload"},
		{"icmp echo", packet.Build(packet.Eth{}, packet.IPv4{Src: a, Dst: b}, packet.ICMPv4{Type: 8, ID: 0x1234, Seq: 1}),
			"ICMP", "Echo (ping) request  id=0x1234, seq=1", "icmp", "Internet Control Message Protocol"},
		{"tcp syn with options", tcp(50000, 80, packet.TCPSyn, []byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 7, 0, 0, 0, 0, 1, 3, 3, 7}, nil),
			"TCP", "", "synfin", "Transmission Control Protocol"},
		{"tcp rst", tcp(80, 50000, packet.TCPRst|packet.TCPAck, nil, nil), "TCP", "", "rst", "Transmission Control Protocol"},
		{"http over a reset wins nothing over rst", tcp(80, 40000, packet.TCPRst|packet.TCPAck|packet.TCPPsh, nil, []byte("HTTP/1.1 500 Oops\r\n\r\n")), "HTTP", "HTTP/1.1 500 Oops", "rst", "Hypertext Transfer Protocol"},
		{"truncated dns is malformed", udp(50000, 53, dnsQuestion(0x1a2b, 0x0100, "example.com", 1, nil)[:20]), "DNS", "Standard query 0x1a2b", "udp", "Domain Name System"},
	}
	frames := make([][]byte, len(cases))
	for i, c := range cases {
		frames[i] = c.frame
	}
	got := decodeJS(t, frames)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := got[i]
			if g.Throw != "" {
				t.Fatalf("layers threw: %s", g.Throw)
			}
			if g.Proto != c.proto || (c.info != "" && g.Info != c.info) || g.Color != c.colr {
				t.Errorf("proto %q info %q colour %q, want %q %q %q", g.Proto, g.Info, g.Color, c.proto, c.info, c.colr)
			}
			if len(g.Layers) == 0 || g.Layers[len(g.Layers)-1] != c.last {
				t.Errorf("layers %q, want the last %q", g.Layers, c.last)
			}
		})
	}
}

// TestDecodeJSNeverThrows feeds decode.js every truncation of the frames of
// TestDecodeJSApplication and random mutations of them: layers() must return
// (a "Malformed" layer at worst), never throw, and stay bounded.
func TestDecodeJSNeverThrows(t *testing.T) {
	ip := netip.MustParseAddr
	a, b := ip("10.0.0.2"), ip("10.0.0.1")
	seeds := [][]byte{
		packet.Build(packet.Eth{}, packet.IPv4{Src: a, Dst: b}, packet.UDP{Src: 5353, Dst: 53}, packet.Payload(dnsQuestion(1, 0x8180, "a.b.example.com", 1, []byte{0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12}))),
		packet.Build(packet.Eth{}, packet.IPv4{Src: a, Dst: b}, packet.TCP{Src: 40000, Dst: 443, Flags: packet.TCPAck}, packet.Payload(clientHello("example.com"))),
		packet.Build(packet.Eth{}, packet.IPv4{Src: a, Dst: b}, packet.TCP{Src: 40000, Dst: 80, Flags: packet.TCPAck}, packet.Payload("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n")),
		packet.Build(packet.Eth{}, packet.IPv4{Src: a, Dst: b}, packet.UDP{Src: 68, Dst: 67}, packet.Payload(dhcpDiscover())),
		packet.Build(packet.Eth{}, packet.IPv4{Src: a, Dst: b}, packet.UDP{Src: 1, Dst: 514}, packet.Payload("<165>1 2003-10-11T22:14:15.003Z h a p m [x y=\"1\"] msg")),
		packet.Build(packet.Eth{}, packet.ARP{Op: 1, SenderIP: a, TargetIP: b}),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var frames [][]byte
	for _, s := range seeds {
		for n := 0; n <= len(s); n++ {
			frames = append(frames, s[:n])
		}
		for range 300 {
			m := append([]byte(nil), s...)
			for range 1 + rng.IntN(4) {
				m[14+rng.IntN(len(m)-14)] = byte(rng.IntN(256))
			}
			frames = append(frames, m)
		}
	}
	// A DNS name made only of compression pointers to itself.
	loop := dnsQuestion(1, 0, "x", 1, nil)
	loop[12], loop[13] = 0xc0, 12
	frames = append(frames, packet.Build(packet.Eth{}, packet.IPv4{Src: a, Dst: b}, packet.UDP{Src: 1, Dst: 53}, packet.Payload(loop)))
	for i, g := range decodeJS(t, frames) {
		if g.Throw != "" {
			t.Fatalf("frame %x: layers threw %s", frames[i], g.Throw)
		}
		if len(g.Layers) > 64 {
			t.Fatalf("frame %x: %d layers", frames[i], len(g.Layers))
		}
	}
	if got := decodeJS(t, frames[len(frames)-1:])[0]; !strings.Contains(strings.Join(got.Layers, " "), "Domain Name System") {
		t.Errorf("pointer loop: layers %q", got.Layers)
	}
}
