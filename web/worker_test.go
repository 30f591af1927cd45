package web

import (
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/packet"
)

// TestWorkerAgreesWithServer builds frames with the server's packet builder,
// encodes them as the server does (internal/event, with its dissectors), and
// runs the UI worker's row code (static/worker.js under Node) twice per
// frame: on the event as the server sends it, and on the same frame with the
// application block removed from the event, so that the browser decodes it.
// Protocol, Info and colour must agree, and every field of the application
// block the browser decodes (what "Apply as filter" and the display-filter
// translations match on in the browser) must equal the server's.
func TestWorkerAgreesWithServer(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required (scripts/deps.sh installs nodejs): %v", err)
	}
	ip := netip.MustParseAddr
	a, b := ip("10.0.0.2"), ip("10.0.0.1")
	udp := func(sp, dp uint16, p []byte) []byte {
		return packet.Build(packet.Eth{}, packet.IPv4{Src: a, Dst: b}, packet.UDP{Src: sp, Dst: dp}, packet.Payload(p))
	}
	tcp := func(sp, dp uint16, p []byte) []byte {
		return packet.Build(packet.Eth{}, packet.IPv4{Src: a, Dst: b}, packet.TCP{Src: sp, Dst: dp, Seq: 1, Ack: 1, Flags: packet.TCPAck | packet.TCPPsh, Window: 500}, packet.Payload(p))
	}
	answer := []byte{0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34}
	ntp := make([]byte, 48)
	ntp[0], ntp[1], ntp[2], ntp[3] = 0x24, 2, 6, 0xec
	copy(ntp[12:], []byte{192, 0, 2, 1})
	cases := []struct {
		name  string
		frame []byte
		block string
	}{
		{"dns query", udp(50000, 53, dnsQuestion(0x1a2b, 0x0100, "example.com", 1, nil)), "DNS"},
		{"dns answer", udp(53, 50000, dnsQuestion(0x1a2b, 0x8180, "example.com", 1, answer)), "DNS"},
		{"dns nxdomain", udp(53, 50000, dnsQuestion(7, 0x8183, "nope.example.com", 28, nil)), "DNS"},
		{"mdns", udp(5353, 5353, dnsQuestion(0, 0, "printer.local", 12, nil)), "DNS"},
		{"syslog rfc 3164", udp(40000, 514, []byte("<13>Nov 21 20:40:15 host app[42]: hello")), "Syslog"},
		{"syslog rfc 5424", udp(40000, 514, []byte("<11>1 2003-10-11T22:14:15.003Z host app 77 ID47 - oops")), "Syslog"},
		{"dhcp discover", udp(68, 67, dhcpDiscover()), "DHCP"},
		{"ntp server", udp(123, 50000, ntp), "NTP"},
		{"http request", tcp(40000, 80, []byte("GET /item/2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\n\r\n")), "HTTP"},
		{"http response", tcp(80, 40000, []byte("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n")), "HTTP"},
		{"tls client hello", tcp(40000, 443, clientHello("example.com")), "TLS"},
		{"arp request", packet.Build(packet.Eth{}, packet.ARP{Op: 1, SenderMAC: [6]byte{2, 0, 0, 0, 0, 2}, SenderIP: a, TargetIP: b}), "ARP"},
	}
	type item struct {
		TS    int64           `json:"ts"`
		Link  int             `json:"link"`
		Len   int             `json:"len"`
		Frame []byte          `json:"frame"`
		Event json.RawMessage `json:"event"`
		Block string          `json:"block"`
	}
	var enc event.Encoder
	items := make([]item, len(cases))
	for i, c := range cases {
		var p packet.Packet
		if err := packet.Decode(&p, c.frame, packet.CaptureInfo{Timestamp: time.Unix(1795299237, 0), CaptureLength: len(c.frame), Length: len(c.frame), LinkType: packet.LinkEthernet}); err != nil {
			t.Fatalf("%s: decode: %v", c.name, err)
		}
		js := enc.AppendJSON(nil, &p, event.Meta{Listener: "t", SourceType: "afpacket"})
		if !strings.Contains(string(js), `"`+c.block+`":{`) {
			t.Fatalf("%s: the server's event has no %s block: %s", c.name, c.block, js)
		}
		items[i] = item{TS: 1795299237000000, Link: 1, Len: len(c.frame), Frame: c.frame, Event: js, Block: c.block}
	}
	in, _ := json.Marshal(items)
	script := `
const fs = require("fs"), vm = require("vm"), path = require("path");
const dir = process.argv[1];
Object.assign(globalThis, { atob: (s) => Buffer.from(s, "base64").toString("binary"), postMessage: () => {} });
globalThis.importScripts = (...f) => { for (const x of f) vm.runInThisContext(fs.readFileSync(path.join(dir, x), "utf8").replace(/^const (WBDecode|WBPattern)/m, "globalThis.$1")); };
vm.runInThisContext(fs.readFileSync(path.join(dir, "worker.js"), "utf8").replace(/^onmessage = /m, "globalThis.onmessage = ") + "\nglobalThis.meta = meta; globalThis.relSeq = relSeq;");
const row = (it) => { const m = meta(it); relSeq(m); return { proto: m.proto, info: m.info, color: m.color, app: m.app }; };
const items = JSON.parse(fs.readFileSync(0, "utf8"));
console.log(JSON.stringify(items.map((it) => {
  it.frame = Buffer.from(it.frame, "base64").toString("base64");
  const server = row(it);
  const bare = JSON.parse(JSON.stringify(it));
  delete bare.event.detail[it.block];
  const browser = row(bare);
  return { server, browser, block: it.event.detail[it.block] };
})));
`
	cmd := exec.Command(node, "-e", script, "static")
	cmd.Stdin = strings.NewReader(string(in))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	type row struct {
		Proto string         `json:"proto"`
		Info  string         `json:"info"`
		Color string         `json:"color"`
		App   map[string]any `json:"app"`
	}
	var got []struct {
		Server, Browser row
		Block           map[string]any
	}
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(cases) {
		t.Fatalf("node printed %q (%v)", out, err)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, br := got[i].Server, got[i].Browser
			if s.Proto != br.Proto || s.Info != br.Info || s.Color != br.Color {
				t.Errorf("from the event: %q %q %q; decoded in the browser: %q %q %q", s.Proto, s.Info, s.Color, br.Proto, br.Info, br.Color)
			}
			if br.App == nil {
				t.Fatalf("the browser decoded no %s block", c.block)
			}
			for k, v := range br.App {
				sv, ok := got[i].Block[k]
				if !ok {
					continue // a field the server leaves out (empty, zero) or does not have
				}
				bj, _ := json.Marshal(v)
				sj, _ := json.Marshal(sv)
				if string(bj) != string(sj) {
					t.Errorf("%s.%s: browser %s, server %s", c.block, k, bj, sj)
				}
			}
		})
	}
}

// TestWorkerOddEvents feeds the worker events of unexpected shapes (a
// publisher can post any JSON; frames that are not base64 or of an unknown
// link type): every one still becomes a row and the worker keeps working.
func TestWorkerOddEvents(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required (scripts/deps.sh installs nodejs): %v", err)
	}
	items := `[
 {"event": {"detail": {"Protocol": "tcp", "TCP": {"Flags": "SYN", "Seq": "x"}, "Source": "a", "Destination": 5}}},
 {"event": {"detail": {"Protocol": "udp", "Source": {"IP": "1.2.3.4", "Port": 1}, "Destination": {"IP": "1.2.3.5", "Port": 53}, "DNS": "x"}}},
 {"event": {"detail": {"Protocol": "udp", "Source": {"IP": "1.2.3.4", "Port": 1}, "Destination": {"IP": "1.2.3.5", "Port": 53}, "DNS": {"Questions": "q", "Answers": [null, 3]}}}},
 {"event": {"detail": {"Syslog": {"Facility": null}, "ICMP": {"Type": "3"}}}},
 {"event": {"detail": null}},
 {"event": 5},
 {"frame": "!!not base64", "link": 1, "event": {"id": "x1"}},
 {"frame": "AAECAwQF", "link": 9999, "event": {"id": "x2"}},
 {"frame": "", "link": 1}
]`
	script := `
const fs = require("fs"), vm = require("vm"), path = require("path");
const dir = process.argv[1];
Object.assign(globalThis, { atob: (s) => Buffer.from(s, "base64").toString("binary"), postMessage: () => {} });
globalThis.importScripts = (...f) => { for (const x of f) vm.runInThisContext(fs.readFileSync(path.join(dir, x), "utf8").replace(/^const (WBDecode|WBPattern)/m, "globalThis.$1")); };
vm.runInThisContext(fs.readFileSync(path.join(dir, "worker.js"), "utf8").replace(/^onmessage = /m, "globalThis.onmessage = ") +
  "\nglobalThis.handle = handle; globalThis.setSub = (s) => { subID = s; }; globalThis.total = () => next - first; globalThis.summary = summary; globalThis.rowAt = rowAt; globalThis.sendStats = sendStats; globalThis.follow = follow;");
setSub("ui-1");
const items = JSON.parse(fs.readFileSync(0, "utf8"));
handle(JSON.stringify({ type: "data", id: "ui-1", items }));
for (let no = 1; no <= total(); no++) summary(rowAt(no));
sendStats();
for (let no = 1; no <= total(); no++) follow(no);
console.log(total());
`
	cmd := exec.Command(node, "-e", script, "static")
	cmd.Stdin = strings.NewReader(items)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "9" {
		t.Errorf("rows %s, want 9", got)
	}
}
