package event

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// checkEncoding encodes p with AppendJSON and AppendCloudEvent and checks,
// for the same packet, id and time:
//   - the JSON is valid, matches docs/event.schema.json, and is byte for byte
//     what encoding/json writes for the Event value Build returns;
//   - it decodes with encoding/json into an Event equal to Build's;
//   - the CloudEvents form is byte for byte AppendCloudEventJSON of that
//     Event, and its data matches the schema's detail definition.
//
// It returns the Event decoded from AppendJSON's output.
func checkEncoding(t *testing.T, p *packet.Packet, m Meta) Event {
	t.Helper()
	evSchema, detailSchema := schemas(t)
	encJSON, encBuild, encCE := fixedEncoder(), fixedEncoder(), fixedEncoder()

	got := encJSON.AppendJSON(nil, p, m)
	if !json.Valid(got) {
		t.Fatalf("invalid JSON: %s", got)
	}
	// Deliveries mark the event JSON BodyJSON: targets write it as one
	// NDJSON line unchecked, so it must hold no line break.
	if bytes.ContainsAny(got, "\r\n") {
		t.Fatalf("line break in the event JSON: %q", got)
	}
	validate(t, evSchema, got)
	var app appLayer
	app.reset(encJSON.table(), p)
	if h := sizeHint(p, &m, &app); len(got) > h {
		t.Errorf("event of %d bytes exceeds the size hint %d (AppendJSON(nil) would allocate twice)", len(got), h)
	}

	want := encBuild.Build(p, m)
	wantJSON, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("json.Marshal(Build): %v", err)
	}
	if !bytes.Equal(got, wantJSON) {
		t.Fatalf("AppendJSON and json.Marshal(Build) differ:\n got %s\nwant %s", got, wantJSON)
	}

	var back Event
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("decode own output: %v\n%s", err, got)
	}
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("round trip changed the event:\n got %#v\nwant %#v", back, want)
	}

	ce := encCE.AppendCloudEvent(nil, p, m)
	wantCE, err := AppendCloudEventJSON(nil, &want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ce, wantCE) {
		t.Fatalf("AppendCloudEvent and AppendCloudEventJSON(Build) differ:\n got %s\nwant %s", ce, wantCE)
	}
	if h := sizeHint(p, &m, &app) + 64; len(ce) > h {
		t.Errorf("cloudevent of %d bytes exceeds the size hint %d", len(ce), h)
	}
	var c CloudEvent
	if err := json.Unmarshal(ce, &c); err != nil {
		t.Fatalf("decode cloudevent: %v", err)
	}
	validate(t, detailSchema, c.Data)
	return back
}

// Every frame of every shared capture (including malformed ones, which give
// partially decoded packets) yields a valid, schema-conforming event that
// round-trips.
func TestEncodeSharedCaptures(t *testing.T) {
	for _, name := range captureNames(t) {
		t.Run(name, func(t *testing.T) {
			pkts := decodedPackets(t, name)
			if len(pkts) == 0 {
				t.Fatal("no packets")
			}
			for i, p := range pkts {
				ev := checkEncoding(t, p, Meta{Listener: "capture", SourceType: "pcap"})
				if ev.DetailType != DetailType(p.Inner()) || ev.Source != "wirebridge.pcap" {
					t.Fatalf("packet %d: detail-type %q source %q", i+1, ev.DetailType, ev.Source)
				}
			}
		})
	}
}

// Fields the acceptance names, on the real AWS traffic-mirroring
// capture: inner events, Tunnel.Type vxlan, the VNI, FlowHash = outer UDP
// source port.
func TestVXLANAWSTrafficMirror(t *testing.T) {
	pkts := decodedPackets(t, "suricata-verify_vxlan-aws-traffic-mirror.pcap")
	tunnelled := 0
	for i, p := range pkts {
		if p.Tunnel() == nil {
			continue
		}
		tunnelled++
		d := checkEncoding(t, p, Meta{SourceType: "vxlan"}).Detail.(*PacketDetail)
		tu := d.Tunnel
		if tu == nil || tu.Type != "vxlan" || tu.VNI == nil || tu.FlowHash == nil || tu.Source == nil || tu.Source.Port == nil {
			t.Fatalf("packet %d: tunnel block %+v", i+1, tu)
		}
		if *tu.VNI != p.Tunnels[0].VNI {
			t.Errorf("packet %d: VNI %d, want %d", i+1, *tu.VNI, p.Tunnels[0].VNI)
		}
		if *tu.FlowHash != p.Outer().SrcPort || *tu.Source.Port != p.Outer().SrcPort {
			t.Errorf("packet %d: FlowHash %d, outer source port %d", i+1, *tu.FlowHash, p.Outer().SrcPort)
		}
		if d.Source == nil || d.Source.IP != p.Inner().Src.String() {
			t.Errorf("packet %d: event source %+v is not the inner source %v", i+1, d.Source, p.Inner().Src)
		}
	}
	if tunnelled == 0 {
		t.Fatal("no VXLAN packets decoded")
	}
}

var (
	ipA  = netip.MustParseAddr("10.0.0.7")
	ipB  = netip.MustParseAddr("10.0.0.2")
	ipO1 = netip.MustParseAddr("10.1.0.5")
	ipO2 = netip.MustParseAddr("10.1.0.9")
	ip6A = netip.MustParseAddr("2001:db8::7")
	ip6B = netip.MustParseAddr("2001:db8::2")
)

// udpFrame is Ethernet/IPv4/UDP 40123 -> 514 with an n-byte payload.
func udpFrame(n int) []byte {
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	return packet.Build(
		packet.Eth{Src: macA, Dst: macB},
		packet.IPv4{Src: ipA, Dst: ipB, ID: 4321, DF: true, TOS: 0xb8},
		packet.UDP{Src: 40123, Dst: 514},
		packet.Payload(payload),
	)
}

func u16(v uint16) *uint16 { return &v }
func u32(v uint32) *uint32 { return &v }
func u8(v uint8) *uint8    { return &v }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestEncodeHandBuilt(t *testing.T) {
	quoted := packet.Build(packet.IPv4{Src: ipB, Dst: ipA}, packet.UDP{Src: 514, Dst: 40123}, packet.Payload("hi"))
	ep := func(ip netip.Addr, port *uint16) *Endpoint { return &Endpoint{IP: ip.String(), Port: port} }

	cases := []struct {
		name   string
		link   packet.LinkType
		frame  []byte
		info   func(*packet.CaptureInfo, []byte) []byte // optional: alter info/data
		typ    string
		check  func(t *testing.T, d *PacketDetail)
		wantEr packet.Kind
	}{
		{
			name: "udp", link: packet.LinkEthernet, frame: udpFrame(5), typ: TypeUDP,
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Source", d.Source, ep(ipA, u16(40123)))
				eq(t, "Destination", d.Destination, ep(ipB, u16(514)))
				eq(t, "Protocol", d.Protocol, "udp")
				eq(t, "Length", d.Length, 5)
				eq(t, "Payload", string(d.Payload), "abcde")
				eq(t, "IP", d.IP, &IPInfo{Version: 4, TTL: 64, DSCP: 46, ID: u32(4321), DontFragment: true})
				eq(t, "no link block for IP", d.Ethernet, (*EthernetInfo)(nil))
			},
		},
		{
			name: "tcp flags", link: packet.LinkEthernet, typ: TypeTCP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipA, Dst: ipB},
				packet.TCP{Src: 443, Dst: 50000, Seq: 0xfffffff0, Ack: 7, Window: 65535,
					Flags: packet.TCPSyn | packet.TCPAck | packet.TCPEce | packet.TCPNs}),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "TCP", d.TCP, &TCPInfo{Flags: []string{"SYN", "ACK", "ECE", "NS"}, Seq: 0xfffffff0, Ack: 7, Window: 65535})
				eq(t, "Length", d.Length, 0)
				eq(t, "Payload", d.Payload, []byte{})
			},
		},
		{
			name: "tcp no flags", link: packet.LinkEthernet, typ: TypeTCP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipA, Dst: ipB}, packet.TCP{Src: 1, Dst: 2}),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Flags", d.TCP.Flags, []string{})
			},
		},
		{
			name: "icmp echo", link: packet.LinkEthernet, typ: TypeICMP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipA, Dst: ipB}, packet.ICMPv4{Type: 8, ID: 0x1234, Seq: 9}, packet.Payload("ping")),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "ICMP", d.ICMP, &ICMPInfo{Type: 8, Code: 0, ID: u16(0x1234), Seq: u16(9)})
				eq(t, "Source", d.Source, ep(ipA, nil))
				eq(t, "Protocol", d.Protocol, "icmp")
				eq(t, "Payload", string(d.Payload), "ping")
			},
		},
		{
			name: "icmp error quotes the datagram", link: packet.LinkEthernet, typ: TypeICMP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipB, Dst: ipA}, packet.ICMPv4{Type: 3, Code: 3}, packet.Payload(quoted)),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "ICMP", d.ICMP, &ICMPInfo{Type: 3, Code: 3})
				eq(t, "Source", d.Source, ep(ipB, nil))
				eq(t, "Payload is the quoted datagram", d.Payload, quoted)
			},
		},
		{
			name: "icmpv6 echo", link: packet.LinkEthernet, typ: TypeICMP,
			frame: packet.Build(packet.Eth{}, packet.IPv6{Src: ip6A, Dst: ip6B, FlowLabel: 0xabcde, TrafficClass: 0x20, HopLimit: 255},
				packet.ICMPv6{Type: 128, ID: 1, Seq: 2}),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Protocol", d.Protocol, "icmpv6")
				eq(t, "IP", d.IP, &IPInfo{Version: 6, TTL: 255, DSCP: 8, FlowLabel: u32(0xabcde)})
				eq(t, "ICMP", d.ICMP, &ICMPInfo{Type: 128, ID: u16(1), Seq: u16(2)})
				eq(t, "Source", d.Source, ep(ip6A, nil))
			},
		},
		{
			name: "ipv4 first fragment keeps ports", link: packet.LinkEthernet, typ: TypeUDP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipA, Dst: ipB, ID: 77, MF: true},
				packet.UDP{Src: 53, Dst: 5353, Length: 3000}, packet.Payload(make([]byte, 64))),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Fragment", d.IP.Fragment, &Fragment{Offset: 0, MoreFragments: true})
				eq(t, "Source", d.Source, ep(ipA, u16(53)))
				eq(t, "Length counts this fragment", d.Length, 64)
				eq(t, "Truncated", d.Truncated, false)
			},
		},
		{
			name: "ipv4 later fragment has no ports", link: packet.LinkEthernet, typ: TypeIP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipA, Dst: ipB, ID: 77, FragOffset: 1480, Protocol: packet.ProtoUDP},
				packet.Payload("rest of the datagram")),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Protocol", d.Protocol, "udp")
				eq(t, "Source", d.Source, ep(ipA, nil))
				eq(t, "IP", d.IP, &IPInfo{Version: 4, TTL: 64, ID: u32(77), Fragment: &Fragment{Offset: 1480}})
				eq(t, "Payload", string(d.Payload), "rest of the datagram")
			},
		},
		{
			name: "ipv6 later fragment", link: packet.LinkEthernet, typ: TypeIP,
			frame: packet.Build(packet.Eth{}, packet.IPv6{Src: ip6A, Dst: ip6B, NextHeader: packet.ProtoUDP,
				Ext: []packet.IPv6Ext{{Type: 0, Data: make([]byte, 6)}, {Type: 44, FragOffset: 1232, ID: 0xdeadbeef}}},
				packet.Payload("tail")),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "IP", d.IP, &IPInfo{Version: 6, TTL: 64, FlowLabel: u32(0), ID: u32(0xdeadbeef),
					Fragment: &Fragment{Offset: 1232}, Extensions: []string{"hop-by-hop", "fragment"}})
				eq(t, "Protocol", d.Protocol, "udp")
			},
		},
		{
			name: "esp is an IpPacket", link: packet.LinkEthernet, typ: TypeIP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipA, Dst: ipB, Protocol: 50}, packet.Payload("\x00\x00\x10\x01encrypted")),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Protocol", d.Protocol, "esp")
				eq(t, "Length", d.Length, 13)
			},
		},
		{
			name: "unassigned protocol is a number", link: packet.LinkEthernet, typ: TypeIP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipA, Dst: ipB, Protocol: 253}, packet.Payload("x")),
			check: func(t *testing.T, d *PacketDetail) { eq(t, "Protocol", d.Protocol, "253") },
		},
		{
			name: "arp over qinq is a Frame", link: packet.LinkEthernet, typ: TypeFrame,
			frame: packet.Build(packet.Eth{Src: macA, Dst: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
				VLANs: []packet.VLAN{{TPID: 0x88a8, ID: 200}, {ID: 2001}}},
				packet.ARP{Op: 1, SenderMAC: macA, SenderIP: ipA, TargetIP: ipB}),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Ethernet", d.Ethernet, &EthernetInfo{Source: "02:00:00:00:00:0a", Destination: "ff:ff:ff:ff:ff:ff", EtherType: 0x0806})
				eq(t, "VLAN", d.VLAN, []uint16{200, 2001})
				eq(t, "Length", d.Length, 28)
				eq(t, "no Source", d.Source, (*Endpoint)(nil))
				eq(t, "no IP", d.IP, (*IPInfo)(nil))
			},
		},
		{
			name: "vxlan", link: packet.LinkEthernet, typ: TypeUDP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipO1, Dst: ipO2}, packet.UDP{Src: 51234},
				packet.VXLAN{VNI: 42}, packet.Eth{Src: macA, Dst: macB, VLANs: []packet.VLAN{{ID: 12}}},
				packet.IPv4{Src: ipA, Dst: ipB}, packet.UDP{Src: 40123, Dst: 514}, packet.Payload("<13>hello")),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Tunnel", d.Tunnel, &TunnelInfo{Type: "vxlan", VNI: u32(42), FlowHash: u16(51234),
					Source: ep(ipO1, u16(51234)), Destination: ep(ipO2, u16(4789))})
				eq(t, "inner Source", d.Source, ep(ipA, u16(40123)))
				eq(t, "inner VLAN", d.VLAN, []uint16{12})
				eq(t, "Payload", string(d.Payload), "<13>hello")
			},
		},
		{
			name: "geneve gwlb", link: packet.LinkEthernet, typ: TypeTCP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipO1, Dst: ipO2}, packet.UDP{Src: 31000},
				packet.Geneve{VNI: 7, Options: append(packet.GWLBOptions(0x0123456789abcdef, 0xfedcba9876543210, 0x00c0ffee),
					packet.GeneveOpt{Class: 0x0100, Type: 0x81, Data: []byte{1, 2, 3, 4}})},
				packet.IPv4{Src: ipA, Dst: ipB}, packet.TCP{Src: 40000, Dst: 443, Flags: packet.TCPSyn}),
			check: func(t *testing.T, d *PacketDetail) {
				be := binary.BigEndian
				eq(t, "Tunnel", d.Tunnel, &TunnelInfo{Type: "geneve", VNI: u32(7), FlowHash: u16(31000),
					Source: ep(ipO1, u16(31000)), Destination: ep(ipO2, u16(6081)),
					Options: []GeneveOption{
						{Class: 0x0108, Type: 1, Data: be.AppendUint64(nil, 0x0123456789abcdef)},
						{Class: 0x0108, Type: 2, Data: be.AppendUint64(nil, 0xfedcba9876543210)},
						{Class: 0x0108, Type: 3, Data: be.AppendUint32(nil, 0x00c0ffee)},
						{Class: 0x0100, Type: 0x81, Data: []byte{1, 2, 3, 4}},
					},
					GWLB: &GWLBInfo{EndpointID: "0x0123456789abcdef", AttachmentID: "0xfedcba9876543210", FlowCookie: "0x00c0ffee"}})
				eq(t, "inner TCP", d.TCP.Flags, []string{"SYN"})
			},
		},
		{
			name: "gre key and sequence, outer vlan", link: packet.LinkEthernet, typ: TypeICMP,
			frame: packet.Build(packet.Eth{VLANs: []packet.VLAN{{ID: 7}}}, packet.IPv4{Src: ipO1, Dst: ipO2},
				packet.GRE{HasKey: true, Key: 0x28, HasSeq: true, Seq: 99},
				packet.IPv4{Src: ipA, Dst: ipB}, packet.ICMPv4{Type: 0, ID: 5, Seq: 6}),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Tunnel", d.Tunnel, &TunnelInfo{Type: "gre", Source: ep(ipO1, nil), Destination: ep(ipO2, nil),
					VLAN: []uint16{7}, Key: u32(0x28), Sequence: u32(99)})
				eq(t, "inner VLAN", d.VLAN, []uint16(nil))
			},
		},
		{
			name: "erspan type ii", link: packet.LinkEthernet, typ: TypeUDP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipO1, Dst: ipO2}, packet.GRE{Seq: 3},
				packet.ERSPAN{Version: 2, Session: 1023, VLAN: 10},
				packet.Eth{VLANs: []packet.VLAN{{ID: 10}}}, packet.IPv4{Src: ipA, Dst: ipB}, packet.UDP{Src: 1985, Dst: 1985}),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Tunnel", d.Tunnel, &TunnelInfo{Type: "erspan", Source: ep(ipO1, nil), Destination: ep(ipO2, nil),
					Sequence: u32(3), SessionID: u16(1023), Version: u8(2)})
				eq(t, "VLAN", d.VLAN, []uint16{10})
			},
		},
		{
			name: "erspan type i has no session", link: packet.LinkEthernet, typ: TypeICMP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipO1, Dst: ipO2}, packet.GRE{},
				packet.ERSPAN{Version: 1}, packet.Eth{}, packet.IPv4{Src: ipA, Dst: ipB}, packet.ICMPv4{Type: 8}),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Tunnel", d.Tunnel, &TunnelInfo{Type: "erspan", Source: ep(ipO1, nil), Destination: ep(ipO2, nil), Version: u8(1)})
			},
		},
		{
			name: "gwlb inner ipv4 without ethernet", link: packet.LinkRaw, typ: TypeUDP,
			frame: packet.Build(packet.IPv4{Src: ipO1, Dst: ipO2}, packet.UDP{Src: 2000},
				packet.Geneve{Options: packet.GWLBOptions(1, 2, 3)}, packet.IPv4{Src: ipA, Dst: ipB}, packet.UDP{Src: 5, Dst: 6}),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "GWLB", d.Tunnel.GWLB, &GWLBInfo{EndpointID: "0x0000000000000001", AttachmentID: "0x0000000000000002", FlowCookie: "0x00000003"})
				eq(t, "VNI", d.Tunnel.VNI, u32(0))
			},
		},
		{
			name: "snaplen truncation", link: packet.LinkEthernet, typ: TypeUDP, frame: udpFrame(100),
			info: func(ci *packet.CaptureInfo, data []byte) []byte { ci.Length = len(data); return data[:len(data)-40] },
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Truncated", d.Truncated, true)
				eq(t, "Length is the wire length", d.Length, 100)
				eq(t, "Payload holds what was captured", len(d.Payload), 60)
			},
		},
		{
			name: "bad ipv4 total length", link: packet.LinkEthernet, typ: TypeIP, wantEr: packet.ErrBadLength,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipA, Dst: ipB, TotalLength: 200}, packet.UDP{Src: 1, Dst: 2}),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "DecodeError", d.DecodeError, "bad_length")
			},
		},
		{
			name: "ipv4 total length 0 (tso)", link: packet.LinkEthernet, typ: TypeTCP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipA, Dst: ipB, ID: 5, ZeroTotalLength: true},
				packet.TCP{Src: 1, Dst: 2, Flags: packet.TCPAck}, packet.Payload(make([]byte, 70000))),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "IP", d.IP, &IPInfo{Version: 4, TTL: 64, ID: u32(5), LengthFromCapture: true})
				eq(t, "Length", d.Length, 70000)
				eq(t, "DecodeError", d.DecodeError, "")
			},
		},
		{
			name: "gtpu", link: packet.LinkEthernet, typ: TypeTCP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipO1, Dst: ipO2}, packet.UDP{Src: 2152},
				packet.GTPU{TEID: 0x11223344, HasSeq: true, Seq: 9}, packet.IPv4{Src: ipA, Dst: ipB}, packet.TCP{Src: 5, Dst: 80, Flags: packet.TCPSyn}),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Tunnel", d.Tunnel, &TunnelInfo{Type: "gtpu", Source: ep(ipO1, u16(2152)), Destination: ep(ipO2, u16(2152)), TEID: u32(0x11223344)})
				eq(t, "Source", d.Source, ep(ipA, u16(5)))
			},
		},
		{
			name: "mpls over ethernet", link: packet.LinkEthernet, typ: TypeUDP,
			frame: packet.Build(packet.Eth{VLANs: []packet.VLAN{{ID: 3}}}, packet.MPLS{Labels: []packet.MPLSLabel{{Label: 1048575}, {Label: 16}}},
				packet.IPv6{Src: ip6A, Dst: ip6B}, packet.UDP{Src: 5, Dst: 6}),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Tunnel", d.Tunnel, &TunnelInfo{Type: "mpls", VLAN: []uint16{3}, Labels: []uint32{1048575, 16}})
			},
		},
		{
			name: "mpls over gre", link: packet.LinkEthernet, typ: TypeUDP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipO1, Dst: ipO2}, packet.GRE{HasKey: true, Key: 4},
				packet.MPLS{Labels: []packet.MPLSLabel{{Label: 300}}}, packet.IPv4{Src: ipA, Dst: ipB}, packet.UDP{Src: 5, Dst: 6}),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Tunnel", d.Tunnel, &TunnelInfo{Type: "mpls", Source: ep(ipO1, nil), Destination: ep(ipO2, nil), Key: u32(4), Labels: []uint32{300}})
			},
		},
		{
			name: "vxlan in a first fragment", link: packet.LinkEthernet, typ: TypeUDP,
			frame: packet.Build(packet.Eth{}, packet.IPv4{Src: ipO1, Dst: ipO2, MF: true, TotalLength: 20 + 8 + 8 + 14 + 20 + 8 + 10},
				packet.UDP{Src: 999}, packet.VXLAN{VNI: 8}, packet.Eth{}, packet.IPv4{Src: ipA, Dst: ipB}, packet.UDP{Src: 5, Dst: 6},
				packet.Payload(make([]byte, 100)))[:14+20+8+8+14+20+8+10],
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Tunnel type", d.Tunnel.Type, "vxlan")
				eq(t, "VNI", d.Tunnel.VNI, u32(8))
				eq(t, "Source", d.Source, ep(ipA, u16(5)))
				eq(t, "Length counts this fragment", d.Length, 10)
				eq(t, "Payload holds what the fragment carries", len(d.Payload), 10)
				eq(t, "Truncated", d.Truncated, false)
				eq(t, "DecodeError", d.DecodeError, "")
				eq(t, "Tunnel.Fragment", d.Tunnel.Fragment, true)
			},
		},
		{
			name: "non-ip sll frame", link: packet.LinkLinuxSLL, typ: TypeFrame,
			frame: append([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0x0a, 0, 0, 0x88, 0xcc}, []byte("lldp")...),
			check: func(t *testing.T, d *PacketDetail) {
				eq(t, "Ethernet", d.Ethernet, &EthernetInfo{Source: "02:00:00:00:00:0a", EtherType: 0x88cc})
				eq(t, "Payload", string(d.Payload), "lldp")
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info := packet.CaptureInfo{Timestamp: testTime, LinkType: c.link}
			data := c.frame
			if c.info != nil {
				data = c.info(&info, data)
			}
			p := new(packet.Packet)
			if err := packet.Decode(p, data, info); err != c.wantEr && !(err == nil && c.wantEr == packet.OK) {
				t.Fatalf("decode: %v, want %v", err, c.wantEr)
			}
			ev := checkEncoding(t, p, Meta{Listener: "tap", SourceType: "raw"})
			if ev.DetailType != c.typ {
				t.Fatalf("detail-type %q, want %q", ev.DetailType, c.typ)
			}
			d := ev.Detail.(*PacketDetail)
			if !d.Timestamp.Equal(testTime) || d.Listener != "tap" || !slices.Equal(ev.Resources, []string{"tap"}) {
				t.Errorf("Timestamp %v Listener %q resources %q", d.Timestamp, d.Listener, ev.Resources)
			}
			c.check(t, d)
		})
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Errorf("%s:\n got %s\nwant %s", what, gj, wj)
	}
}

func TestEnvelope(t *testing.T) {
	p := decodeFrame(t, packet.LinkEthernet, udpFrame(8))
	cases := []struct {
		name          string
		meta          Meta
		source        string
		resources     string
		listenerInDet bool
	}{
		{"default source", Meta{Listener: "syslog", SourceType: "udp"}, `"wirebridge.udp"`, `["syslog"]`, true},
		{"event_source override", Meta{Listener: "syslog", SourceType: "udp", Source: "udp.raw"}, `"udp.raw"`, `["syslog"]`, true},
		{"no type, no listener", Meta{}, `"wirebridge"`, `[]`, false},
		{"escaped names", Meta{Listener: "a\"<b>\u2028é", SourceType: "x&y"}, `"wirebridge.x\u0026y"`, `["a\"\u003cb\u003e\u2028é"]`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := fixedEncoder().AppendJSON(nil, p, c.meta)
			s := string(b)
			for _, frag := range []string{
				`{"version":"0","id":"`,
				`"source":` + c.source + `,"detail-type":"UdpPacket","time":"2026-11-21T20:40:15Z","resources":` + c.resources + `,"detail":{"Timestamp":"2026-11-21T20:40:15.123456789Z"`,
			} {
				if !strings.Contains(s, frag) {
					t.Errorf("missing %s in\n%s", frag, s)
				}
			}
			if got := strings.Contains(s, `"Listener":`); got != c.listenerInDet {
				t.Errorf("Listener present %v, want %v", got, c.listenerInDet)
			}
			checkEncoding(t, p, c.meta)
		})
	}
}

func TestTimestampFallback(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 600000000, time.UTC)
	e := &Encoder{IDs: NewIDGenerator(nil, zeroReader{}), Now: func() time.Time { return now }}
	cases := []struct {
		name string
		ts   time.Time
		want string
	}{
		{"zero uses the clock", time.Time{}, `"time":"2030-01-02T03:04:05Z"`},
		{"year 10000 uses the clock", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), `"Timestamp":"2030-01-02T03:04:05.6Z"`},
		{"whole second has no fraction", time.Date(2003, 1, 1, 0, 0, 0, 0, time.UTC), `"Timestamp":"2003-01-01T00:00:00Z"`},
		{"local zone is written in UTC", time.Date(2020, 6, 1, 12, 0, 0, 1000, time.FixedZone("X", 3600)), `"Timestamp":"2020-06-01T11:00:00.000001Z"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := new(packet.Packet)
			_ = packet.Decode(p, udpFrame(1), packet.CaptureInfo{Timestamp: c.ts, LinkType: packet.LinkEthernet})
			b := e.AppendJSON(nil, p, Meta{})
			if !strings.Contains(string(b), c.want) {
				t.Errorf("want %s in %s", c.want, b)
			}
		})
	}
}

// appendTime writes what time.Time's RFC3339Nano / RFC3339 formats write.
func TestAppendTimeMatchesTimeFormat(t *testing.T) {
	for _, ts := range []time.Time{
		time.Unix(0, 0), time.Unix(1, 1), time.Unix(1700000000, 120000000), time.Unix(4102444800, 999999999),
		time.Date(9999, 12, 31, 23, 59, 59, 100, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 10, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(0, 2, 29, 23, 59, 59, 5, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999, time.UTC), time.Date(2000, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(1600, 12, 31, 0, 0, 0, 0, time.UTC),
	} {
		ts = ts.UTC()
		if got, want := string(appendTime(nil, ts, true)), ts.Format(time.RFC3339Nano); got != want {
			t.Errorf("nano %v: got %s want %s", ts, got, want)
		}
		if got, want := string(appendTime(nil, ts, false)), ts.Format(time.RFC3339); got != want {
			t.Errorf("seconds %v: got %s want %s", ts, got, want)
		}
	}
}

// The civil-date arithmetic agrees with the time package over the whole
// range the encoder writes (years 0..9999).
func TestAppendTimeRandom(t *testing.T) {
	lo := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		ts := time.Unix(lo+r.Int64N(hi-lo+1), r.Int64N(1e9)).UTC()
		if r.IntN(4) == 0 {
			ts = ts.Truncate(time.Millisecond)
		}
		if got, want := string(appendTime(nil, ts, true)), ts.Format(time.RFC3339Nano); got != want {
			t.Fatalf("%d: got %s want %s", ts.Unix(), got, want)
		}
	}
}

// The event's strings are escaped as encoding/json escapes them by default
// (pattern's jsontext_test.go tests every form of escaping).
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "\x00\x01\b\f\n\r\t\x1f\x7f", "<&>", "é漢字😀", "\u2028\u2029", "\xff\xfe", "a\xc3", "\xed\xa0\x80"} {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q: got %s want %s", s, got, want)
		}
	}
}

// FuzzEncode decodes arbitrary frames and checks that the event is valid,
// schema-conforming JSON equal to the reflection encoding of Build.
func FuzzEncode(f *testing.F) {
	for _, name := range captureNames(f) {
		for _, p := range decodedPackets(f, name) {
			f.Add(uint16(p.Info.LinkType), p.Data)
		}
	}
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		p := new(packet.Packet)
		_ = packet.Decode(p, data, packet.CaptureInfo{Timestamp: testTime, LinkType: packet.LinkType(link)})
		checkEncoding(t, p, Meta{Listener: "fuzz", SourceType: "pcap"})
	})
}

// The encoder allocates nothing when dst has room.
func TestAppendJSONAllocs(t *testing.T) {
	p := decodeFrame(t, packet.LinkEthernet, udpFrame(64))
	tun := decodeFrame(t, packet.LinkEthernet, packet.Build(packet.Eth{}, packet.IPv4{Src: ipO1, Dst: ipO2}, packet.UDP{Src: 31000},
		packet.Geneve{Options: packet.GWLBOptions(1, 2, 3)}, packet.IPv4{Src: ipA, Dst: ipB}, packet.TCP{Src: 1, Dst: 2, Flags: packet.TCPAck}))
	var e Encoder
	m := Meta{Listener: "syslog", SourceType: "udp"}
	buf := make([]byte, 0, 4096)
	for _, c := range []struct {
		name string
		p    *packet.Packet
		f    func([]byte, *packet.Packet, Meta) []byte
	}{
		{"json udp", p, e.AppendJSON},
		{"json geneve", tun, e.AppendJSON},
		{"cloudevents udp", p, e.AppendCloudEvent},
	} {
		// Under -race sync.Pool drops a quarter of what is put back, so the
		// Encoder's pooled dissector scratch is made again now and then;
		// the plain run checks the real count.
		if n := testing.AllocsPerRun(100, func() { buf = c.f(buf[:0], c.p, m) }); n != 0 && !raceEnabled {
			t.Errorf("%s: %v allocs per event into a buffer with room", c.name, n)
		}
		// Under -race the instrumented build reports one more allocation; the
		// plain test run (make test runs the integration pass without
		// -race) checks the real count.
		if n := testing.AllocsPerRun(100, func() { buf = c.f(nil, c.p, m) }); n != 1 && !raceEnabled {
			t.Errorf("%s: %v allocs per event into a nil buffer, want 1", c.name, n)
		}
	}
}
