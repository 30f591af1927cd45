package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/pattern"
)

// viewEvent is one packet event of the property test: a packet, its Meta and
// the index k that selects its deterministic id and clock (viewEncoder).
type viewEvent struct {
	name string
	p    *packet.Packet
	m    Meta
	k    int
}

// viewEncoder returns an encoder with deterministic ids and clock for event
// k: two viewEncoder(k) produce the same ids, different k different ids.
func viewEncoder(k int) *Encoder {
	now := testTime.Add(time.Duration(k) * time.Millisecond)
	clock := func() time.Time { return now }
	return &Encoder{IDs: NewIDGenerator(clock, zeroReader{}), Now: clock}
}

// viewMetas are the Metas events are built with: listener or none, default or
// configured event source, and names that need escaping or are not UTF-8.
var viewMetas = []Meta{
	{Listener: "syslog", SourceType: "udp"},
	{SourceType: "pcap"},
	{Listener: "mirror <eu> & \"co\"", Source: "udp.raw"},
	{Listener: "bad\xffname\u2028", SourceType: "vxl\xfe"},
	{},
}

var (
	vIP4a = netip.MustParseAddr("10.0.0.7")
	vIP4b = netip.MustParseAddr("10.0.0.2")
	vIP4c = netip.MustParseAddr("192.168.10.1")
	vIP4d = netip.MustParseAddr("192.168.10.254")
	vIP6a = netip.MustParseAddr("2001:db8::1")
	vIP6b = netip.MustParseAddr("2001:db8:0:1::2")
)

// handBuiltViewPackets are packets that exercise every optional block of the
// event, tunnels above all: VXLAN, Geneve with GWLB and other options, GRE
// with key and sequence, ERSPAN II and III, IPv6 extensions and fragments,
// ICMP echo, QinQ, ARP and truncation.
func handBuiltViewPackets(t testing.TB) []viewEvent {
	t.Helper()
	mac1, mac2 := [6]byte{2, 0, 0, 0, 0, 1}, [6]byte{2, 0, 0, 0, 0, 0xab}
	inner := func(l ...packet.Layer) []packet.Layer { return l }
	cases := []struct {
		name   string
		link   packet.LinkType
		layers []packet.Layer
		trunc  int // >0: keep only this many bytes
	}{
		{"udp syslog", packet.LinkEthernet, inner(packet.Eth{Src: mac1, Dst: mac2}, packet.IPv4{Src: vIP4a, Dst: vIP4b, TOS: 0xb8, DF: true, ID: 4321},
			packet.UDP{Src: 40123, Dst: 514}, packet.Payload("<13>Nov 21 20:40:15 host app: hello")), 0},
		{"tcp syn ack ece ns", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4c, Dst: vIP4d},
			packet.TCP{Src: 443, Dst: 50000, Seq: 0xfffffff0, Ack: 7, Window: 65535, Flags: packet.TCPSyn | packet.TCPAck | packet.TCPEce | packet.TCPNs}), 0},
		{"tcp no flags", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.TCP{Src: 1, Dst: 2}), 0},
		{"tcp fin psh qinq", packet.LinkEthernet, inner(packet.Eth{VLANs: []packet.VLAN{{TPID: 0x88a8, ID: 100}, {ID: 200}}},
			packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.TCP{Src: 80, Dst: 1234, Flags: packet.TCPFin | packet.TCPPsh | packet.TCPAck}, packet.Payload("bye")), 0},
		{"icmp echo", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4c}, packet.ICMPv4{Type: 8, ID: 77, Seq: 3}, packet.Payload("ping")), 0},
		{"icmp unreachable", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4c, Dst: vIP4a}, packet.ICMPv4{Type: 3, Code: 3}), 0},
		{"icmpv6 echo ext", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv6{Src: vIP6a, Dst: vIP6b, FlowLabel: 0xabcde, TrafficClass: 0x28,
			Ext: []packet.IPv6Ext{{Type: 0, Data: make([]byte, 6)}, {Type: 60, Data: make([]byte, 6)}}}, packet.ICMPv6{Type: 128, ID: 9, Seq: 1}), 0},
		{"ipv6 fragment", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv6{Src: vIP6a, Dst: vIP6b,
			Ext: []packet.IPv6Ext{{Type: 44, FragOffset: 1448, More: true, ID: 0xdeadbeef}}, NextHeader: 17}, packet.Payload("fragment data")), 0},
		{"ipv4 fragment", packet.LinkRaw, inner(packet.IPv4{Src: vIP4a, Dst: vIP4b, ID: 99, MF: true, FragOffset: 0, Protocol: 17},
			packet.Payload("12345678first fragment")), 0},
		{"ipv4 later fragment", packet.LinkRaw, inner(packet.IPv4{Src: vIP4a, Dst: vIP4b, ID: 99, FragOffset: 24, Protocol: 17},
			packet.Payload("the rest")), 0},
		{"gre other proto", packet.LinkRaw, inner(packet.IPv4{Src: vIP4a, Dst: vIP4b, Protocol: 132}, packet.Payload("sctp?")), 0},
		{"arp", packet.LinkEthernet, inner(packet.Eth{Src: mac1, Dst: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
			packet.ARP{Op: 1, SenderMAC: mac1, SenderIP: vIP4a, TargetIP: vIP4b}), 0},
		{"vxlan", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4c, Dst: vIP4d}, packet.UDP{Src: 51234},
			packet.VXLAN{VNI: 42}, packet.Eth{Src: mac1, Dst: mac2}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 40123, Dst: 514}, packet.Payload("inner")), 0},
		{"vxlan vlan outer inner tcp", packet.LinkEthernet, inner(packet.Eth{VLANs: []packet.VLAN{{ID: 7}}}, packet.IPv4{Src: vIP4c, Dst: vIP4d}, packet.UDP{Src: 999},
			packet.VXLAN{VNI: 16777215}, packet.Eth{VLANs: []packet.VLAN{{ID: 300}}}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.TCP{Src: 5, Dst: 6, Flags: packet.TCPRst}), 0},
		{"geneve gwlb", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4c, Dst: vIP4d}, packet.UDP{Src: 31000},
			packet.Geneve{VNI: 0, Options: packet.GWLBOptions(0x1122334455667788, 0x99aabbccddeeff00, 0x55667788)},
			packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.TCP{Src: 40000, Dst: 443, Flags: packet.TCPSyn}), 0},
		{"geneve mixed options", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv6{Src: vIP6a, Dst: vIP6b}, packet.UDP{Src: 1},
			packet.Geneve{VNI: 77, Critical: true, Options: []packet.GeneveOpt{
				{Class: 0x0108, Type: 1, Data: []byte{0, 0, 0, 0, 0, 0, 0, 5}},
				{Class: 0x0101, Type: 0x80, Data: []byte("abcd")},
				{Class: 0x0102, Type: 1},
				{Class: 0x0101, Type: 2, Data: []byte("efghijkl")},
			}},
			packet.Eth{Src: mac2, Dst: mac1}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 53, Dst: 5353}, packet.Payload("dns")), 0},
		{"gre key seq", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4c, Dst: vIP4d},
			packet.GRE{HasKey: true, Key: 0xfeedface, HasSeq: true, Seq: 12}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.ICMPv4{Type: 0, ID: 1, Seq: 2}), 0},
		{"gre plain ipv6", packet.LinkRaw, inner(packet.IPv4{Src: vIP4c, Dst: vIP4d}, packet.GRE{}, packet.IPv6{Src: vIP6a, Dst: vIP6b}, packet.UDP{Src: 7, Dst: 8}), 0},
		{"erspan ii", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4c, Dst: vIP4d}, packet.GRE{Seq: 5},
			packet.ERSPAN{Version: 2, Session: 1023, VLAN: 12}, packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 1, Dst: 2}), 0},
		{"erspan iii", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4c, Dst: vIP4d}, packet.GRE{Seq: 6},
			packet.ERSPAN{Version: 3, Session: 4}, packet.Eth{}, packet.IPv6{Src: vIP6a, Dst: vIP6b}, packet.TCP{Src: 1, Dst: 2, Flags: packet.TCPUrg | packet.TCPCwr}), 0},
		{"erspan i", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4c, Dst: vIP4d}, packet.GRE{},
			packet.ERSPAN{Version: 1}, packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 1, Dst: 2}), 0},
		{"ipv4 total length 0", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b, ZeroTotalLength: true},
			packet.TCP{Src: 1, Dst: 2, Flags: packet.TCPAck}, packet.Payload(strings.Repeat("t", 3000))), 0},
		{"gtpu", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4c, Dst: vIP4d}, packet.UDP{Src: 2152},
			packet.GTPU{TEID: 0xfedcba98, HasSeq: true, Seq: 3}, packet.IPv6{Src: vIP6a, Dst: vIP6b}, packet.UDP{Src: 1, Dst: 2}, packet.Payload("5g")), 0},
		{"mpls ethernet", packet.LinkEthernet, inner(packet.Eth{VLANs: []packet.VLAN{{ID: 9}}}, packet.MPLS{Labels: []packet.MPLSLabel{{Label: 16001}, {Label: 0}, {Label: 1048575}}},
			packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 1, Dst: 2}), 0},
		{"mpls gre pseudowire", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4c, Dst: vIP4d}, packet.GRE{HasKey: true, Key: 1},
			packet.MPLS{Labels: []packet.MPLSLabel{{Label: 77}}, ControlWord: true}, packet.Eth{Src: mac1, Dst: mac2}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.ICMPv4{Type: 8}), 0},
		{"mpls udp", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv6{Src: vIP6a, Dst: vIP6b}, packet.UDP{Src: 50000},
			packet.MPLS{Labels: []packet.MPLSLabel{{Label: 5}}}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.TCP{Src: 1, Dst: 2}), 0},
		{"vxlan in vxlan in vxlan", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4c, Dst: vIP4d}, packet.UDP{Src: 1}, packet.VXLAN{VNI: 1},
			packet.Eth{}, packet.IPv4{Src: vIP4d, Dst: vIP4c}, packet.UDP{Src: 2}, packet.VXLAN{VNI: 2},
			packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4c}, packet.UDP{Src: 3}, packet.VXLAN{VNI: 3},
			packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 4, Dst: 5}), 0},
		{"vxlan in a first fragment", packet.LinkEthernet, inner(packet.Payload(packet.Build(packet.Eth{},
			packet.IPv4{Src: vIP4c, Dst: vIP4d, MF: true, TotalLength: 20 + 8 + 8 + 14 + 20 + 8 + 10}, packet.UDP{Src: 1}, packet.VXLAN{VNI: 1},
			packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 4, Dst: 5}, packet.Payload(strings.Repeat("f", 100)))[:14+20+8+8+14+20+8+10])), 0},
		{"udp text cut inside a character", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 40000, Dst: 9},
			packet.Payload(strings.Repeat("b", 255)+"é<tail>")), 0},
		{"tcp text with escapes", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.TCP{Src: 40000, Dst: 9, Flags: packet.TCPPsh | packet.TCPAck},
			packet.Payload("say \"<hi>\" & \\ bye\t\u2028\r\n")), 0},
		{"dns query", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 40000, Dst: 53},
			packet.Payload(dnsMessage(0x1a2b, 0x0100, []dnsQ{{"www.example.org", 1, 1}}, nil))), 0},
		{"dns answer", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv6{Src: vIP6b, Dst: vIP6a}, packet.UDP{Src: 53, Dst: 40000},
			packet.Payload(dnsMessage(0x1a2b, 0x8180, []dnsQ{{"www.example.org", 1, 1}}, []dnsRR{
				{"www.example.org", 5, 1, 60, dnsName("web.example.org")},
				{"web.example.org", 1, 1, 300, []byte{192, 0, 2, 10}},
				{"web.example.org", 28, 1, 300, vIP6a.AsSlice()},
				{"web.example.org", 65280, 1, 7, []byte{1, 2, 3}},
			}))), 0},
		{"dns nxdomain tcp", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4b, Dst: vIP4a}, packet.TCP{Src: 53, Dst: 40000, Flags: packet.TCPPsh | packet.TCPAck},
			packet.Payload(tcpDNS(dnsMessage(7, 0x8583, []dnsQ{{"nope.internal", 28, 1}}, nil)))), 0},
		{"mdns many questions", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: netip.MustParseAddr("224.0.0.251")}, packet.UDP{Src: 5353, Dst: 5353},
			packet.Payload(dnsMessage(0, 0x2800, []dnsQ{{"a.local", 12, 0x8001}, {"b.local", 12, 1}, {"c.local", 33, 1}, {"d.local", 16, 3}, {"e.local", 1, 1}}, nil))), 0},
		{"dns cut by the capture", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 40001, Dst: 53},
			packet.Payload(dnsMessage(9, 0x0100, []dnsQ{{"first.example.org", 1, 1}, {"second.example.org", 1, 1}}, nil))), 14 + 20 + 8 + 12 + 19 + 4 + 5},
		{"not dns on port 53", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 40000, Dst: 53},
			packet.Payload("hi")), 0},
		{"http request", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.TCP{Src: 40000, Dst: 80, Flags: packet.TCPPsh | packet.TCPAck},
			packet.Payload("GET /item/2?x=1 HTTP/1.1\r\nHost: example.org\r\nUser-Agent: curl/8.5.0\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")), 0},
		{"http response", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4b, Dst: vIP4a}, packet.TCP{Src: 8080, Dst: 40000, Flags: packet.TCPPsh | packet.TCPAck},
			packet.Payload("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")), 0},
		{"http path not utf-8", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.TCP{Src: 40000, Dst: 8000, Flags: packet.TCPPsh | packet.TCPAck},
			packet.Payload("GET /\xff\xfe\xe9 HTTP/1.0\r\nHost: h\xffst\r\n\r\n")), 0},
		{"tls client hello on another port", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.TCP{Src: 40000, Dst: 9443, Flags: packet.TCPPsh | packet.TCPAck},
			packet.Payload([]byte{22, 3, 1, 0, 4, 1, 0, 0, 0})), 0},
		{"syslog rfc 5424 tcp", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.TCP{Src: 40000, Dst: 601, Flags: packet.TCPPsh | packet.TCPAck},
			packet.Payload("120 <165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\"] An application event")), 0},
		{"syslog rfc 3164 err", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 40000, Dst: 514},
			packet.Payload("<187>Nov 21 20:40:15 web01 nginx[4242]: upstream timed out\n")), 0},
		{"tls server hello", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4b, Dst: vIP4a}, packet.TCP{Src: 443, Dst: 40000, Flags: packet.TCPPsh | packet.TCPAck},
			packet.Payload(tlsServerHello())), 0},
		{"dhcp relayed ack", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4c, Dst: vIP4d}, packet.UDP{Src: 67, Dst: 67},
			packet.Payload(dhcpRelayedAck())), 0},
		{"udp truncated", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 40123, Dst: 514},
			packet.Payload(strings.Repeat("x", 100))), 60},
		{"geneve truncated in options", packet.LinkEthernet, inner(packet.Eth{}, packet.IPv4{Src: vIP4c, Dst: vIP4d}, packet.UDP{Src: 2},
			packet.Geneve{Options: packet.GWLBOptions(1, 2, 3)}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 1, Dst: 2}), 14 + 20 + 8 + 8 + 20},
	}
	var out []viewEvent
	for _, c := range cases {
		frame := packet.Build(c.layers...)
		info := packet.CaptureInfo{Timestamp: testTime, LinkType: c.link, CaptureLength: len(frame), Length: len(frame)}
		if c.trunc > 0 && c.trunc < len(frame) {
			frame = frame[:c.trunc]
			info.CaptureLength = len(frame)
		}
		p := new(packet.Packet)
		_ = packet.Decode(p, frame, info)
		for _, m := range viewMetas {
			out = append(out, viewEvent{name: c.name, p: p, m: m})
		}
	}
	// No usable capture time: the clock gives the time.
	p := new(packet.Packet)
	_ = packet.Decode(p, packet.Build(packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 1, Dst: 2}), packet.CaptureInfo{LinkType: packet.LinkRaw})
	out = append(out, viewEvent{name: "no capture time", p: p, m: viewMetas[0]})
	return out
}

// viewEvents returns every frame of every shared capture (with the Metas in
// turn) and the hand-built packets, each with its own k.
func viewEvents(t testing.TB) []viewEvent {
	t.Helper()
	var out []viewEvent
	for _, name := range captureNames(t) {
		for i, p := range decodedPackets(t, name) {
			out = append(out, viewEvent{name: fmt.Sprintf("%s#%d", name, i+1), p: p, m: viewMetas[(len(out))%len(viewMetas)]})
		}
	}
	out = append(out, handBuiltViewPackets(t)...)
	for i := range out {
		out[i].k = i
	}
	return out
}

func TestViewAppendJSONIsEncoderOutput(t *testing.T) {
	for _, ev := range viewEvents(t) {
		want := viewEncoder(ev.k).AppendJSON(nil, ev.p, ev.m)
		v := viewEncoder(ev.k).NewView(ev.p, ev.m)
		if got := v.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("%s: view JSON\n%s\nencoder JSON\n%s", ev.name, got, want)
		}
		wantCE := viewEncoder(ev.k).AppendCloudEvent(nil, ev.p, ev.m)
		if got := v.AppendCloudEvent(nil); !bytes.Equal(got, wantCE) {
			t.Fatalf("%s: view CloudEvent\n%s\nencoder CloudEvent\n%s", ev.name, got, wantCE)
		}
	}
}

func TestViewCoversEveryLeaf(t *testing.T) {
	have := map[string]bool{}
	for _, vp := range viewPaths {
		have[strings.Join(vp.path, ".")] = true
	}
	if len(have) != len(viewPaths) {
		t.Fatalf("viewPaths lists a path twice")
	}
	for _, l := range Leaves {
		p := strings.Join(l.Path, ".")
		if !have[p] {
			t.Errorf("leaf %s has no View field", p)
		}
		delete(have, p)
	}
	for p := range have {
		t.Errorf("View field %s is not in Leaves", p)
	}
}

// TestViewIDAndTime checks that a View consumes an id only when something
// needs it, and that the id and time patterns see are the encoded ones.
func TestViewIDAndTime(t *testing.T) {
	p := decodeFrame(t, packet.LinkEthernet, udpFrame(5))
	m := Meta{Listener: "syslog", SourceType: "udp"}
	first := viewEncoder(0).IDs.Next()
	second := viewEncoder(0)
	second.IDs.Next()
	secondID := second.IDs.Next()

	enc := viewEncoder(0)
	v := enc.NewView(p, m)
	if !pattern.MustCompile(`{"detail":{"Destination":{"Port":[514]}}}`).Match(v) {
		t.Fatal("port pattern does not match")
	}
	if v.have&haveID != 0 {
		t.Fatal("matching a pattern without id generated an id")
	}
	idPat := pattern.MustCompile(`{"id":["` + first.String() + `"],"time":["2026-11-21T20:40:15Z"],"detail":{"Timestamp":["2026-11-21T20:40:15.123456789Z"]}}`)
	if !idPat.Match(v) {
		t.Fatalf("id/time pattern does not match the view (id %s)", v.ID())
	}
	var ev Event
	if err := json.Unmarshal(v.AppendJSON(nil), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.ID != first.String() || v.ID() != first {
		t.Fatalf("encoded id %s, view id %s, want %s", ev.ID, v.ID(), first)
	}
	if !v.Time().Equal(testTime) {
		t.Fatalf("view time %v, want %v", v.Time(), testTime)
	}
	// Reset forgets the id: the next packet gets the generator's next one.
	v.Reset(enc, p, m)
	if v.ID() != secondID {
		t.Fatalf("after Reset id %s, want %s", v.ID(), secondID)
	}
	// SetID: a caller-provided id is the one matched and encoded.
	v.Reset(enc, p, m)
	v.SetID(first)
	if !idPat.Match(v) {
		t.Fatal("SetID: id pattern does not match")
	}
	// A nil encoder means the zero Encoder.
	var w View
	w.Reset(nil, p, m)
	if !pattern.MustCompile(`{"source":["wirebridge.udp"],"id":[{"exists":true}]}`).Match(&w) {
		t.Fatal("nil encoder view does not match")
	}
}

func TestViewMatchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	cases := []struct {
		name string
		p    *packet.Packet
	}{
		{"udp", decodeFrame(t, packet.LinkEthernet, udpFrame(64))},
	}
	for _, ev := range handBuiltViewPackets(t) {
		if ev.m == viewMetas[0] {
			cases = append(cases, struct {
				name string
				p    *packet.Packet
			}{ev.name, ev.p})
		}
	}
	m := pattern.NewMatcher()
	var every strings.Builder
	every.WriteString(`{"$or":[`)
	for i, vp := range viewPaths {
		if i > 0 {
			every.WriteByte(',')
		}
		fmt.Fprintf(&every, `{%q:[{"exists":false}]}`, strings.Join(vp.path, "."))
	}
	every.WriteString(`]}`)
	m.Add("every-field", pattern.MustCompile(every.String()))
	m.Add("port", pattern.MustCompile(`{"detail":{"Destination":{"Port":[514]},"Source":{"IP":[{"cidr":"10.0.0.0/8"}]}}}`))
	var v View
	var dst []string
	for _, c := range cases {
		v.Reset(nil, c.p, viewMetas[0])
		dst = m.Match(&v, dst[:0]) // grows the View's and the matcher's scratch
		allocs := testing.AllocsPerRun(100, func() {
			v.Reset(nil, c.p, viewMetas[0])
			dst = m.Match(&v, dst[:0])
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per Match, want 0", c.name, allocs)
		}
	}
}

// jsonSamples collects, per dotted leaf path, the distinct leaf values the
// events carry (as JSON text), and the Geneve options of each event.
type jsonSamples struct {
	values  map[string]map[string]bool
	options [][]map[string]json.RawMessage
}

func (s *jsonSamples) add(t testing.TB, event []byte) {
	var root any
	d := json.NewDecoder(bytes.NewReader(event))
	d.UseNumber()
	if err := d.Decode(&root); err != nil {
		t.Fatalf("event JSON does not decode: %v\n%s", err, event)
	}
	s.walk("", root)
	var opts struct {
		Detail struct {
			Tunnel struct {
				Options []map[string]json.RawMessage
			}
		} `json:"detail"`
	}
	if err := json.Unmarshal(event, &opts); err != nil {
		t.Fatal(err)
	}
	if len(opts.Detail.Tunnel.Options) > 1 {
		s.options = append(s.options, opts.Detail.Tunnel.Options)
	}
}

func (s *jsonSamples) walk(path string, n any) {
	switch x := n.(type) {
	case map[string]any:
		for k, c := range x {
			s.walk(strings.TrimPrefix(path+"."+k, "."), c)
		}
	case []any:
		for _, c := range x {
			s.walk(path, c)
		}
	default:
		b, _ := json.Marshal(x)
		if s.values[path] == nil {
			s.values[path] = map[string]bool{}
		}
		s.values[path][string(b)] = true
	}
}

// genPattern is one generated pattern; mustMatch says that some event
// carries the value it was made from, so at least one event must match.
type genPattern struct {
	op        string
	src       string
	mustMatch bool
}

// nest builds the pattern {"a":{"b":...:value}} for the dotted path; with
// dotted set, the last two segments are one dotted key.
func nest(path string, value string, dotted bool) string {
	segs := strings.Split(path, ".")
	if dotted && len(segs) >= 2 {
		segs = append(segs[:len(segs)-2], segs[len(segs)-2]+"."+segs[len(segs)-1])
	}
	out := value
	for i := len(segs) - 1; i >= 0; i-- {
		out = `{` + strconv.Quote(segs[i]) + `:` + out + `}`
	}
	return out
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsUpper(r) {
			return unicode.ToLower(r)
		}
		return unicode.ToUpper(r)
	}, s)
}

func escapeWildcard(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`).Replace(s)
}

// runeCut splits s at about half its length on a rune boundary.
func runeCut(s string) (string, string) {
	i := len(s) / 2
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i], s[i:]
}

// leafConditions returns the value lists generated from one leaf value v
// (JSON text) of a field: each with its operator name and whether the event
// holding v satisfies it.
func leafConditions(v string) []genPattern {
	var out []genPattern
	add := func(op, list string, must bool) { out = append(out, genPattern{op: op, src: list, mustMatch: must}) }
	switch {
	case v == "true" || v == "false" || v == "null":
		add("exact-"+v, `[`+v+`]`, true)
		add("anything-but-string", `[{"anything-but":["true"]}]`, false)
		return out
	case strings.HasPrefix(v, `"`):
		var s string
		_ = json.Unmarshal([]byte(v), &s)
		add("exact", `[`+v+`]`, true)
		add("exactly", `[{"exactly":`+v+`}]`, true)
		add("equals-ignore-case", `[{"equals-ignore-case":`+jsonString(swapCase(s))+`}]`, true)
		add("anything-but", `[{"anything-but":`+v+`}]`, false)
		add("anything-but-list", `[{"anything-but":[`+v+`,"zzz"]}]`, false)
		if s != "" {
			head, tail := runeCut(s)
			if head == "" {
				head, tail = s, s
			}
			add("prefix", `[{"prefix":`+jsonString(head)+`}]`, true)
			add("suffix", `[{"suffix":`+jsonString(tail)+`}]`, true)
			add("prefix-ignore-case", `[{"prefix":{"equals-ignore-case":`+jsonString(swapCase(head))+`}}]`, true)
			add("suffix-ignore-case", `[{"suffix":{"equals-ignore-case":`+jsonString(swapCase(tail))+`}}]`, true)
			add("anything-but-prefix", `[{"anything-but":{"prefix":`+jsonString(head)+`}}]`, false)
			add("anything-but-suffix", `[{"anything-but":{"suffix":`+jsonString(tail)+`}}]`, false)
			add("anything-but-ignore-case", `[{"anything-but":{"equals-ignore-case":`+jsonString(swapCase(s))+`}}]`, false)
			r0, _ := utf8.DecodeRuneInString(s)
			rl, _ := utf8.DecodeLastRuneInString(s)
			if len(s) >= 2 {
				add("wildcard", `[{"wildcard":`+jsonString(escapeWildcard(string(r0))+"*"+escapeWildcard(string(rl)))+`}]`, true)
				add("anything-but-wildcard", `[{"anything-but":{"wildcard":`+jsonString("*"+escapeWildcard(string(rl)))+`}}]`, false)
			}
			mid := s[len(head)/2 : len(s)-len(tail)/2]
			add("wildcard-mid", `[{"wildcard":`+jsonString("*"+escapeWildcard(mid)+"*")+`}]`, true)
		}
		if a, err := netip.ParseAddr(s); err == nil {
			if a.Is4() {
				p24, _ := a.Prefix(24)
				p8, _ := a.Prefix(8)
				add("cidr", `[{"cidr":`+jsonString(p24.String())+`}]`, true)
				add("cidr", `[{"cidr":`+jsonString(p8.String())+`}]`, true)
				b := a.As4()
				padded := fmt.Sprintf("%d.%d.%d.%03d", b[0], b[1], b[2], b[3])
				add("exact-ip-normalised", `[`+jsonString(padded)+`]`, true)
			} else {
				p64, _ := a.Prefix(64)
				add("cidr", `[{"cidr":`+jsonString(p64.String())+`}]`, true)
				add("exact-ip-normalised", `[`+jsonString(netip.AddrFrom16(a.As16()).StringExpanded())+`]`, true)
			}
		}
		return out
	}
	// A number.
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return nil
	}
	add("exact-number", `[`+v+`]`, true)
	add("exact-number-float", `[`+strconv.FormatFloat(f, 'f', 1, 64)+`]`, true)
	add("exact-number-exp", `[`+strconv.FormatFloat(f, 'e', -1, 64)+`]`, true)
	add("number-as-string", `[`+jsonString(v)+`]`, false)
	add("numeric-eq", `[{"numeric":["=",`+v+`]}]`, true)
	add("numeric-range", `[{"numeric":[">=",`+v+`,"<",`+strconv.FormatFloat(f+1, 'f', -1, 64)+`]}]`, true)
	add("numeric-gt", `[{"numeric":[">",`+v+`]}]`, false)
	add("numeric-le", `[{"numeric":["<=",`+v+`]}]`, true)
	add("numeric-lt-open", `[{"numeric":[">",`+strconv.FormatFloat(f-0.5, 'f', -1, 64)+`,"<",`+strconv.FormatFloat(f+0.5, 'f', -1, 64)+`]}]`, true)
	add("anything-but-number", `[{"anything-but":[`+v+`]}]`, false)
	add("anything-but-number-list", `[{"anything-but":[`+v+`,-1]}]`, false)
	return out
}

// generatePatterns derives patterns from the values the events carry: every
// operator on a sample of each field's values, exists true/false on every
// field (and on paths that are objects or missing), combinations of fields,
// $or, and array-consistency patterns over Geneve options.
func generatePatterns(s *jsonSamples) []genPattern {
	r := rand.New(rand.NewPCG(3, 14))
	paths := make([]string, 0, len(s.values))
	for p := range s.values {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var out, singles []genPattern
	type cond struct {
		path string
		gp   genPattern
	}
	var conds []cond
	for _, path := range paths {
		vals := make([]string, 0, len(s.values[path]))
		for v := range s.values[path] {
			vals = append(vals, v)
		}
		sort.Strings(vals)
		// Up to 5 values, evenly spread over the sorted list.
		picked := vals
		if len(vals) > 5 {
			picked = nil
			for i := range 5 {
				picked = append(picked, vals[i*(len(vals)-1)/4])
			}
		}
		for vi, v := range picked {
			for _, c := range leafConditions(v) {
				gp := genPattern{op: c.op, src: nest(path, c.src, vi == 0 && strings.Count(path, ".") >= 2), mustMatch: c.mustMatch}
				singles = append(singles, gp)
				conds = append(conds, cond{path, c})
			}
		}
		out = append(out,
			genPattern{op: "exists-true", src: nest(path, `[{"exists":true}]`, false), mustMatch: true},
			genPattern{op: "exists-false", src: nest(path, `[{"exists":false}]`, false)})
	}
	out = append(out, singles...)
	for _, path := range []string{"detail", "detail.IP", "detail.Tunnel", "detail.Tunnel.Options", "detail.TCP", "detail.Nope", "detail.Source.Nope", "Detail.Listener"} {
		out = append(out,
			genPattern{op: "exists-true-nonleaf", src: nest(path, `[{"exists":true}]`, false)},
			genPattern{op: "exists-false-nonleaf", src: nest(path, `[{"exists":false}]`, false)})
	}
	// Two- and three-field combinations, and $or of two conditions.
	merge := func(cs ...cond) (string, bool) {
		root := map[string]any{}
		for _, c := range cs {
			segs := strings.Split(c.path, ".")
			n := root
			for _, seg := range segs[:len(segs)-1] {
				child, ok := n[seg].(map[string]any)
				if !ok {
					if _, taken := n[seg]; taken {
						return "", false
					}
					child = map[string]any{}
					n[seg] = child
				}
				n = child
			}
			last := segs[len(segs)-1]
			if _, taken := n[last]; taken {
				return "", false
			}
			n[last] = json.RawMessage(c.gp.src)
		}
		b, err := json.Marshal(root)
		return string(b), err == nil
	}
	for range 600 {
		k := 2 + r.IntN(2)
		cs := make([]cond, k)
		for i := range cs {
			cs[i] = conds[r.IntN(len(conds))]
		}
		if src, ok := merge(cs...); ok {
			out = append(out, genPattern{op: fmt.Sprintf("and-%d", k), src: src})
		}
	}
	for range 300 {
		a, b := conds[r.IntN(len(conds))], conds[r.IntN(len(conds))]
		out = append(out, genPattern{op: "or", src: `{"$or":[` + nest(a.path, a.gp.src, false) + `,` + nest(b.path, b.gp.src, false) + `]}`})
	}
	// Nested $or beside a plain field.
	for range 100 {
		a, b, c := conds[r.IntN(len(conds))], conds[r.IntN(len(conds))], conds[r.IntN(len(conds))]
		inner := `{"$or":[` + nest(a.path, a.gp.src, false) + `,` + nest(b.path, b.gp.src, false) + `]}`
		out = append(out, genPattern{op: "or-and", src: `{"$or":[` + inner + `,` + nest(c.path, `[{"exists":true}]`, false) + `]}`})
	}
	// Array consistency over Geneve options: Class and Type (or Data) of the
	// same element must match; of different elements they must not combine.
	for _, opts := range s.options {
		for i := range opts {
			for j := range opts {
				src := nest("detail.Tunnel.Options", `{"Class":[`+string(opts[i]["Class"])+`],"Type":[`+string(opts[j]["Type"])+`]}`, false)
				out = append(out, genPattern{op: "options-class-type", src: src, mustMatch: i == j})
				if i != j {
					src = nest("detail.Tunnel.Options", `{"Class":[`+string(opts[i]["Class"])+`],"Data":[`+string(opts[j]["Data"])+`]}`, false)
					out = append(out, genPattern{op: "options-class-data", src: src})
				}
			}
		}
	}
	// TCP flags: one flag, several flags, with the sequence number, anything-but.
	for _, fl := range TCPFlagNames {
		out = append(out,
			genPattern{op: "tcp-flag", src: nest("detail.TCP.Flags", `["`+fl+`"]`, false)},
			genPattern{op: "tcp-flag-and-port", src: `{"detail":{"TCP":{"Flags":["` + fl + `"]},"Destination":{"Port":[{"numeric":["<",1024]}]}}}`},
			genPattern{op: "tcp-flag-anything-but", src: nest("detail.TCP.Flags", `[{"anything-but":["`+fl+`","ACK"]}]`, false)})
	}
	out = append(out,
		genPattern{op: "tcp-flags-or", src: nest("detail.TCP.Flags", `["SYN","FIN","RST"]`, false)},
		genPattern{op: "arrays-two", src: `{"resources":["syslog"],"detail":{"TCP":{"Flags":["ACK"]},"VLAN":[{"exists":false}]}}`},
		genPattern{op: "seed", src: `{"source":["udp.raw"],"detail":{"Destination":{"Port":[514]}}}`},
	)
	return out
}

// TestViewMatchesJSON is the issue-3 acceptance property: for every event
// (every frame of every shared capture, and hand-built tunnel packets) and
// every generated pattern, matching the packet view gives the answer
// matching the event's JSON gives.
func TestViewMatchesJSON(t *testing.T) {
	events := viewEvents(t)
	jsons := make([][]byte, len(events))
	samples := &jsonSamples{values: map[string]map[string]bool{}}
	for i, ev := range events {
		jsons[i] = viewEncoder(ev.k).AppendJSON(nil, ev.p, ev.m)
		samples.add(t, jsons[i])
	}
	gen := generatePatterns(samples)
	m := pattern.NewMatcher()
	names := make([]string, len(gen))
	for i, g := range gen {
		p, err := pattern.Compile([]byte(g.src))
		if err != nil {
			t.Fatalf("generated pattern %s (%s) does not compile: %v", g.src, g.op, err)
		}
		names[i] = fmt.Sprintf("p%05d", i)
		m.Add(names[i], p)
	}
	matchesOf := make([]int, len(gen))
	matches := 0
	var got, want []string
	var v View
	for i, ev := range events {
		v.Reset(viewEncoder(ev.k), ev.p, ev.m)
		got = m.Match(&v, got[:0])
		var err error
		want, err = m.MatchJSON(jsons[i], want[:0])
		if err != nil {
			t.Fatalf("%s: MatchJSON: %v", ev.name, err)
		}
		if !slices.Equal(got, want) {
			onlyView, onlyJSON := diffNames(got, want)
			t.Errorf("%s: view and JSON disagree\nonly on the view: %s\nonly on the JSON: %s\nevent: %s",
				ev.name, describe(gen, onlyView), describe(gen, onlyJSON), jsons[i])
			if t.Failed() && i > 0 {
				break
			}
		}
		if enc := v.AppendJSON(nil); !bytes.Equal(enc, jsons[i]) {
			t.Fatalf("%s: after matching, the view encodes\n%s\nnot\n%s", ev.name, enc, jsons[i])
		}
		matches += len(want)
		for _, n := range want {
			idx, _ := strconv.Atoi(n[1:])
			matchesOf[idx]++
		}
	}
	byOp := map[string][2]int{}
	for i, g := range gen {
		c := byOp[g.op]
		c[0]++
		if matchesOf[i] > 0 {
			c[1]++
		}
		byOp[g.op] = c
		if g.mustMatch && matchesOf[i] == 0 {
			t.Errorf("pattern %s (%s) was made from an event value but matches no event", g.src, g.op)
		}
	}
	ops := make([]string, 0, len(byOp))
	for op := range byOp {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	var sb strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&sb, " %s=%d/%d", op, byOp[op][1], byOp[op][0])
	}
	pairs := len(events) * len(gen)
	t.Logf("%d events x %d patterns = %d (pattern, event) pairs, %d matching pairs; patterns matching some event per operator:%s",
		len(events), len(gen), pairs, matches, sb.String())
	if matches == 0 || matches == pairs {
		t.Fatalf("degenerate test: %d of %d pairs match", matches, pairs)
	}
}

func diffNames(a, b []string) (onlyA, onlyB []string) {
	for _, x := range a {
		if !slices.Contains(b, x) {
			onlyA = append(onlyA, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			onlyB = append(onlyB, x)
		}
	}
	return onlyA, onlyB
}

func describe(gen []genPattern, names []string) string {
	var sb strings.Builder
	for i, n := range names {
		if i == 8 {
			fmt.Fprintf(&sb, "\n  ... %d more", len(names)-i)
			break
		}
		idx, _ := strconv.Atoi(n[1:])
		fmt.Fprintf(&sb, "\n  %s %s: %s", n, gen[idx].op, gen[idx].src)
	}
	return sb.String()
}

// fuzzViewMatcher holds, for every leaf path, exists true and false and a
// few value conditions of each JSON type, so a disagreement between the view
// and the JSON on any field shows.
var fuzzViewMatcher = func() *pattern.Matcher {
	m := pattern.NewMatcher()
	for i, vp := range viewPaths {
		path := strings.Join(vp.path, ".")
		for j, cond := range []string{`[{"exists":true}]`, `[{"exists":false}]`, `[{"numeric":[">",1000]}]`,
			`[{"numeric":["<=",4]}]`, `[0]`, `[true]`, `[{"prefix":"1"}]`, `[{"anything-but":{"suffix":"="}}]`,
			`[{"cidr":"0.0.0.0/1"}]`, `[{"cidr":"::/1"}]`, `[{"wildcard":"*a*"}]`, `[{"anything-but":[0,1]}]`} {
			m.Add(fmt.Sprintf("f%02d-%02d", i, j), pattern.MustCompile(nest(path, cond, false)))
		}
	}
	m.Add("options-same-element", pattern.MustCompile(`{"detail":{"Tunnel":{"Options":{"Class":[{"numeric":[">",0]}],"Type":[1]}}}}`))
	return m
}()

// FuzzViewMatchesJSON decodes arbitrary frames and checks that matching the
// view answers as matching the event's JSON, for conditions on every field.
func FuzzViewMatchesJSON(f *testing.F) {
	for _, name := range captureNames(f) {
		for _, p := range decodedPackets(f, name) {
			f.Add(uint16(p.Info.LinkType), p.Data)
		}
	}
	for _, ev := range handBuiltViewPackets(f) {
		if ev.m == viewMetas[0] {
			f.Add(uint16(ev.p.Info.LinkType), ev.p.Data)
		}
	}
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		p := new(packet.Packet)
		_ = packet.Decode(p, data, packet.CaptureInfo{Timestamp: testTime, LinkType: packet.LinkType(link), CaptureLength: len(data), Length: len(data)})
		v := viewEncoder(0).NewView(p, viewMetas[0])
		got := fuzzViewMatcher.Match(v, nil)
		js := v.AppendJSON(nil)
		want, err := fuzzViewMatcher.MatchJSON(js, nil)
		if err != nil {
			t.Fatalf("event JSON does not parse: %v\n%s", err, js)
		}
		if !slices.Equal(got, want) {
			a, b := diffNames(got, want)
			t.Fatalf("view and JSON disagree: only view %v, only JSON %v\n%s", a, b, js)
		}
	})
}
