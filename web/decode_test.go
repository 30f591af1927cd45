package web

import (
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// TestDecodeJS runs the browser's layer decoder (static/decode.js) under
// Node on frames built with the server's test packet builder and checks the
// layers it shows, outer first: the UI's tree must follow the server's
// decoder through VLAN stacks, PPPoE, IP in IP and the tunnels.
func TestDecodeJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required (scripts/deps.sh installs nodejs): %v", err)
	}
	ip := netip.MustParseAddr
	v4a, v4b, v4c, v4d := ip("10.0.0.1"), ip("10.0.0.2"), ip("192.0.2.1"), ip("192.0.2.2")
	v6a, v6b := ip("2001:db8::1"), ip("2001:db8::2")
	pppoe := func(proto uint16, inner []byte) []byte {
		b := []byte{0x11, 0, 0x12, 0x34, byte((len(inner) + 2) >> 8), byte(len(inner) + 2), byte(proto >> 8), byte(proto)}
		return append(b, inner...)
	}
	udp := func() []packet.Layer { // syslog: the UI decodes it
		return []packet.Layer{packet.UDP{Src: 40000, Dst: 514}, packet.Payload("<13>hello")}
	}
	cases := []struct {
		name  string
		frame []byte
		want  []string
	}{
		{"ethernet ipv4 udp", packet.Build(append([]packet.Layer{packet.Eth{}, packet.IPv4{Src: v4a, Dst: v4b}}, udp()...)...),
			[]string{"Ethernet II", "Internet Protocol Version 4", "User Datagram Protocol", "Syslog message"}},
		{"qinq with a 0x9100 tag", packet.Build(append([]packet.Layer{packet.Eth{VLANs: []packet.VLAN{{TPID: 0x9100, ID: 7}, {ID: 8}}}, packet.IPv6{Src: v6a, Dst: v6b}}, udp()...)...),
			[]string{"Ethernet II", "Internet Protocol Version 6", "User Datagram Protocol", "Syslog message"}},
		{"pppoe ipv4 udp", packet.Build(packet.Eth{Type: packet.EtherTypePPPoE},
			packet.Payload(pppoe(0x0021, packet.Build(append([]packet.Layer{packet.IPv4{Src: v4a, Dst: v4b}}, udp()...)...)))),
			[]string{"Ethernet II", "PPP-over-Ethernet Session", "Internet Protocol Version 4", "User Datagram Protocol", "Syslog message"}},
		{"pppoe lcp", packet.Build(packet.Eth{Type: packet.EtherTypePPPoE}, packet.Payload(pppoe(0xc021, []byte{1, 1, 0, 4}))),
			[]string{"Ethernet II", "PPP-over-Ethernet Session", "Payload"}},
		{"ipv4 in ipv4", packet.Build(append([]packet.Layer{packet.Eth{}, packet.IPv4{Src: v4c, Dst: v4d}, packet.IPv4{Src: v4a, Dst: v4b}}, udp()...)...),
			[]string{"Ethernet II", "Internet Protocol Version 4", "Internet Protocol Version 4", "User Datagram Protocol", "Syslog message"}},
		{"6in4", packet.Build(append([]packet.Layer{packet.Eth{}, packet.IPv4{Src: v4c, Dst: v4d}, packet.IPv6{Src: v6a, Dst: v6b}}, udp()...)...),
			[]string{"Ethernet II", "Internet Protocol Version 4", "Internet Protocol Version 6", "User Datagram Protocol", "Syslog message"}},
		{"vxlan", packet.Build(packet.Eth{}, packet.IPv4{Src: v4c, Dst: v4d}, packet.UDP{Src: 50000, Dst: packet.PortVXLAN}, packet.VXLAN{VNI: 42},
			packet.Eth{}, packet.IPv4{Src: v4a, Dst: v4b}, packet.UDP{Src: 1, Dst: 2}, packet.Payload("x")),
			[]string{"Ethernet II", "Internet Protocol Version 4", "User Datagram Protocol", "Virtual eXtensible Local Area Network",
				"Ethernet II", "Internet Protocol Version 4", "User Datagram Protocol", "Payload"}},
		{"gtp-u", packet.Build(packet.Eth{}, packet.IPv4{Src: v4c, Dst: v4d}, packet.UDP{Src: 2152}, packet.GTPU{TEID: 7, HasSeq: true, Seq: 1,
			Ext: []packet.GTPUExt{{Type: 0x85, Content: []byte{0, 9}}}}, packet.IPv6{Src: v6a, Dst: v6b}, packet.UDP{Src: 1, Dst: 2}, packet.Payload("x")),
			[]string{"Ethernet II", "Internet Protocol Version 4", "User Datagram Protocol", "GPRS Tunneling Protocol (GTP-U)",
				"Internet Protocol Version 6", "User Datagram Protocol", "Payload"}},
		{"mpls ipv4", packet.Build(append([]packet.Layer{packet.Eth{}, packet.MPLS{Labels: []packet.MPLSLabel{{Label: 16001}, {Label: 24}}}, packet.IPv4{Src: v4a, Dst: v4b}}, udp()...)...),
			[]string{"Ethernet II", "MultiProtocol Label Switching", "Internet Protocol Version 4", "User Datagram Protocol", "Syslog message"}},
		{"mpls pseudowire", packet.Build(append([]packet.Layer{packet.Eth{}, packet.MPLS{Labels: []packet.MPLSLabel{{Label: 16}}, ControlWord: true}, packet.Eth{}, packet.IPv4{Src: v4a, Dst: v4b}}, udp()...)...),
			[]string{"Ethernet II", "MultiProtocol Label Switching", "PW Ethernet Control Word", "Ethernet II", "Internet Protocol Version 4", "User Datagram Protocol", "Syslog message"}},
		{"mpls over gre", packet.Build(append([]packet.Layer{packet.Eth{}, packet.IPv4{Src: v4c, Dst: v4d}, packet.GRE{}, packet.MPLS{Labels: []packet.MPLSLabel{{Label: 16}}}, packet.IPv6{Src: v6a, Dst: v6b}}, udp()...)...),
			[]string{"Ethernet II", "Internet Protocol Version 4", "Generic Routing Encapsulation", "MultiProtocol Label Switching", "Internet Protocol Version 6", "User Datagram Protocol", "Syslog message"}},
		{"mpls over udp", packet.Build(append([]packet.Layer{packet.Eth{}, packet.IPv4{Src: v4c, Dst: v4d}, packet.UDP{Src: 50000}, packet.MPLS{Labels: []packet.MPLSLabel{{Label: 16}}}, packet.IPv4{Src: v4a, Dst: v4b}}, udp()...)...),
			[]string{"Ethernet II", "Internet Protocol Version 4", "User Datagram Protocol", "MultiProtocol Label Switching", "Internet Protocol Version 4", "User Datagram Protocol", "Syslog message"}},
		{"ipv4 total length 0", packet.Build(append([]packet.Layer{packet.Eth{}, packet.IPv4{Src: v4a, Dst: v4b, ZeroTotalLength: true}}, udp()...)...),
			[]string{"Ethernet II", "Internet Protocol Version 4", "User Datagram Protocol", "Syslog message"}},
		{"vxlan in a first fragment", packet.Build(packet.Eth{}, packet.IPv4{Src: v4c, Dst: v4d, MF: true, TotalLength: 20 + 8 + 8 + 14 + 20 + 4},
			packet.UDP{Src: 50000}, packet.VXLAN{VNI: 42}, packet.Eth{}, packet.IPv4{Src: v4a, Dst: v4b}, packet.UDP{Src: 1, Dst: 2}, packet.Payload("xyz"))[:14+20+8+8+14+20+4],
			[]string{"Ethernet II", "Internet Protocol Version 4", "User Datagram Protocol", "Virtual eXtensible Local Area Network",
				"Ethernet II", "Internet Protocol Version 4", "Fragment data"}},
	}
	frames := make([]string, len(cases))
	for i, c := range cases {
		frames[i] = hex.EncodeToString(c.frame)
	}
	in, _ := json.Marshal(frames)
	script := `
const fs = require("fs"), vm = require("vm");
const ctx = { atob: (s) => Buffer.from(s, "base64").toString("binary") };
vm.createContext(ctx);
vm.runInContext(fs.readFileSync(process.argv[1], "utf8") + "\nthis.WBDecode = WBDecode;", ctx);
const frames = JSON.parse(fs.readFileSync(0, "utf8"));
console.log(JSON.stringify(frames.map((h) => ctx.WBDecode.layers(Uint8Array.from(Buffer.from(h, "hex")), 1).map((l) => l.name))));
`
	cmd := exec.Command(node, "-e", script, filepath.Join("static", "decode.js"))
	cmd.Stdin = strings.NewReader(string(in))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var got [][]string
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(cases) {
		t.Fatalf("node printed %q (%v)", out, err)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if strings.Join(got[i], " / ") != strings.Join(c.want, " / ") {
				t.Errorf("layers %q, want %q", got[i], c.want)
			}
		})
	}
}
