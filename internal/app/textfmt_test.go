package app

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// TestAppendTextTunnels checks the tunnel bracket of `read --format text`
// for each tunnel type that has its own fields.
func TestAppendTextTunnels(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.1")
	b := netip.MustParseAddr("10.0.0.2")
	o1 := netip.MustParseAddr("172.31.0.5")
	o2 := netip.MustParseAddr("172.31.0.9")
	inner := []packet.Layer{packet.IPv4{Src: a, Dst: b}, packet.UDP{Src: 5, Dst: 6}, packet.Payload("x")}
	cases := []struct {
		name   string
		layers []packet.Layer
		want   string
	}{
		{"vxlan", append([]packet.Layer{packet.Eth{}, packet.IPv4{Src: o1, Dst: o2}, packet.UDP{Src: 50000}, packet.VXLAN{VNI: 42}, packet.Eth{}}, inner...),
			"IP 10.0.0.1.5 > 10.0.0.2.6: UDP, length 1 [vxlan vni 42 172.31.0.5.50000 > 172.31.0.9.4789]"},
		{"gtpu", append([]packet.Layer{packet.Eth{}, packet.IPv4{Src: o1, Dst: o2}, packet.UDP{Src: 2152}, packet.GTPU{TEID: 0x01020304}}, inner...),
			"IP 10.0.0.1.5 > 10.0.0.2.6: UDP, length 1 [gtpu teid 16909060 172.31.0.5.2152 > 172.31.0.9.2152]"},
		{"mpls over ethernet", append([]packet.Layer{packet.Eth{}, packet.MPLS{Labels: []packet.MPLSLabel{{Label: 16001}, {Label: 24}}}}, inner...),
			"IP 10.0.0.1.5 > 10.0.0.2.6: UDP, length 1 [mpls labels 16001,24]"},
		{"mpls over gre", append([]packet.Layer{packet.Eth{}, packet.IPv4{Src: o1, Dst: o2}, packet.GRE{}, packet.MPLS{Labels: []packet.MPLSLabel{{Label: 7}}}}, inner...),
			"IP 10.0.0.1.5 > 10.0.0.2.6: UDP, length 1 [mpls labels 7 172.31.0.5 > 172.31.0.9]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p packet.Packet
			if err := packet.Decode(&p, packet.Build(c.layers...), packet.CaptureInfo{LinkType: packet.LinkEthernet, Timestamp: time.Unix(0, 0)}); err != nil {
				t.Fatal(err)
			}
			got := strings.TrimSpace(string(appendText(nil, &p)))
			if _, rest, ok := strings.Cut(got, " "); !ok || rest != c.want {
				t.Errorf("got  %q\nwant %q", got, "<time> "+c.want)
			}
		})
	}
}

// TestTextTCPRelativeAndOptions checks tcpdump's relative sequence numbers
// per conversation (absolute until the first segment with ACK, which sets
// the base; a SYN-ACK starts over), its seq printing rules, the options and
// the HTTP summary, on two interleaved conversations.
func TestTextTCPRelativeAndOptions(t *testing.T) {
	c := netip.MustParseAddr("10.0.0.9")
	s := netip.MustParseAddr("10.0.0.2")
	synOpts := []byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}
	tsOpts := []byte{1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 9}
	pkts := []struct {
		src, dst netip.Addr
		tcp      packet.TCP
		payload  string
		want     string
	}{
		{c, s, packet.TCP{Src: 40000, Dst: 80, Seq: 1000, Flags: packet.TCPSyn, Window: 64240, Options: synOpts}, "",
			"IP 10.0.0.9.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"},
		{s, c, packet.TCP{Src: 80, Dst: 40000, Seq: 5000, Ack: 1001, Flags: packet.TCPSyn | packet.TCPAck, Window: 65160, Options: synOpts}, "",
			"IP 10.0.0.2.80 > 10.0.0.9.40000: Flags [S.], seq 5000, ack 1001, win 65160, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"},
		{c, s, packet.TCP{Src: 41000, Dst: 8080, Seq: 70, Ack: 90, Flags: packet.TCPAck, Window: 10}, "",
			"IP 10.0.0.9.41000 > 10.0.0.2.8080: Flags [.], ack 90, win 10, length 0"},
		{c, s, packet.TCP{Src: 40000, Dst: 80, Seq: 1001, Ack: 5001, Flags: packet.TCPAck, Window: 502, Options: tsOpts}, "",
			"IP 10.0.0.9.40000 > 10.0.0.2.80: Flags [.], ack 1, win 502, options [nop,nop,TS val 2 ecr 9], length 0"},
		{c, s, packet.TCP{Src: 40000, Dst: 80, Seq: 1001, Ack: 5001, Flags: packet.TCPPsh | packet.TCPAck, Window: 502}, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
			"IP 10.0.0.9.40000 > 10.0.0.2.80: Flags [P.], seq 1:29, ack 1, win 502, length 28: HTTP: GET /a HTTP/1.1"},
		{s, c, packet.TCP{Src: 8080, Dst: 41000, Seq: 90, Ack: 75, Flags: packet.TCPPsh | packet.TCPAck, Window: 7}, "body",
			"IP 10.0.0.2.8080 > 10.0.0.9.41000: Flags [P.], seq 1:5, ack 5, win 7, length 4: HTTP"},
		{s, c, packet.TCP{Src: 80, Dst: 40000, Seq: 5001, Ack: 1029, Flags: packet.TCPPsh | packet.TCPAck, Window: 509}, "HTTP/1.1 200 OK\r\n\r\n",
			"IP 10.0.0.2.80 > 10.0.0.9.40000: Flags [P.], seq 1:20, ack 29, win 509, length 19: HTTP: HTTP/1.1 200 OK"},
		{c, s, packet.TCP{Src: 40000, Dst: 80, Seq: 1029, Ack: 5020, Flags: packet.TCPFin | packet.TCPAck, Window: 502}, "",
			"IP 10.0.0.9.40000 > 10.0.0.2.80: Flags [F.], seq 29, ack 20, win 502, length 0"},
	}
	var tf textFormatter
	for i, pk := range pkts {
		var p packet.Packet
		frame := packet.Build(packet.Eth{}, packet.IPv4{Src: pk.src, Dst: pk.dst}, pk.tcp, packet.Payload(pk.payload))
		if err := packet.Decode(&p, frame, packet.CaptureInfo{LinkType: packet.LinkEthernet, Timestamp: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		got := strings.TrimSpace(string(tf.appendText(nil, &p)))
		if _, rest, _ := strings.Cut(got, " "); rest != pk.want {
			t.Errorf("packet %d:\n got  %s\n want %s", i+1, rest, pk.want)
		}
	}
}

// TestTextApplication checks the dissectors' summaries in text lines: UDP
// protocols replace "UDP, length N", ARP is spelled out.
func TestTextApplication(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("10.0.0.2")
	cases := []struct {
		name   string
		layers []packet.Layer
		want   string
	}{
		{"syslog", []packet.Layer{packet.Eth{}, packet.IPv4{Src: a, Dst: b}, packet.UDP{Src: 40000, Dst: 514}, packet.Payload("<14>Nov 21 20:40:15 host app: hello")},
			"IP 10.0.0.7.40000 > 10.0.0.2.514: SYSLOG user.info, length: 35"},
		{"unknown port", []packet.Layer{packet.Eth{}, packet.IPv4{Src: a, Dst: b}, packet.UDP{Src: 40000, Dst: 5000}, packet.Payload("<14>hello")},
			"IP 10.0.0.7.40000 > 10.0.0.2.5000: UDP, length 9"},
		{"arp", []packet.Layer{packet.Eth{Dst: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, packet.ARP{Op: 1, SenderMAC: [6]byte{2, 0, 0, 0, 0, 1}, SenderIP: a, TargetIP: b}},
			"ARP, Request who-has 10.0.0.2 tell 10.0.0.7, length 28"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p packet.Packet
			if err := packet.Decode(&p, packet.Build(c.layers...), packet.CaptureInfo{LinkType: packet.LinkEthernet, Timestamp: time.Unix(0, 0)}); err != nil {
				t.Fatal(err)
			}
			got := strings.TrimSpace(string(appendText(nil, &p)))
			if _, rest, _ := strings.Cut(got, " "); rest != c.want {
				t.Errorf("got  %s\nwant %s", rest, c.want)
			}
		})
	}
}
