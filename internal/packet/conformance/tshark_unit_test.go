package conformance

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// The files in testdata/tshark are tshark 4.0.17 output for captures of
// testdata/pcaps, made with the options the integration test uses:
//
//	tshark -r FILE [-c 1] -n -T json -o ip.defragment:FALSE -o ipv6.defragment:FALSE \
//	  -o tcp.desegment_tcp_streams:FALSE -o tcp.relative_sequence_numbers:FALSE \
//	  -o tcp.analyze_sequence_numbers:FALSE
//
// They pin down how tshark's JSON is reduced to fields without needing
// tshark. The expected values were read from the tcpdump expected outputs
// (tcpdump_*.out) and the packet bytes, not from this code.

func readSample(t *testing.T, name string) []tsharkPacket {
	t.Helper()
	f, err := os.Open("testdata/tshark/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkts, err := readTshark(f)
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

func TestTsharkFields(t *testing.T) {
	tests := []struct {
		name   string
		sample string
		want   fields
	}{
		{
			name:   "geneve with three Google TLVs and inner IPv4 without Ethernet",
			sample: "geneve-gcp.json",
			want: fields{
				"f0.ip.version": "4", "f0.ip.src": "192.168.100.254", "f0.ip.dst": "192.168.100.3",
				"f0.ip.proto": "17", "f0.ip.hdr_len": "20", "f0.ip.len": "116", "f0.ip.ttl": "2",
				"f0.ip.id": "0", "f0.ip.frag_offset": "0", "f0.ip.mf": "0", "f0.ip.df": "1",
				"f0.udp.srcport": "62974", "f0.udp.dstport": "6081", "f0.udp.length": "96", "f0.payload_len": "88",
				"t0.type": "geneve", "t0.vni": "0", "t0.flowhash": "62974", "t0.geneve.proto": "0x0800",
				"t0.geneve.options_len": "40", "t0.geneve.oam": "0", "t0.geneve.critical": "0",
				"t0.geneve.options": "0x0132/0x01/800000d1 0x0132/0x02/0800000dc0a864020000000000000000 0x0132/0x03/0000000000001234",
				"f1.ip.version":     "4", "f1.ip.src": "192.168.100.2", "f1.ip.dst": "192.168.100.1",
				"f1.ip.proto": "6", "f1.ip.hdr_len": "20", "f1.ip.len": "40", "f1.ip.ttl": "64",
				"f1.ip.id": "55620", "f1.ip.frag_offset": "0", "f1.ip.mf": "0", "f1.ip.df": "0",
				"f1.tcp.srcport": "2905", "f1.tcp.dstport": "8080", "f1.tcp.seq": "760929856",
				"f1.tcp.ack": "2028584922", "f1.tcp.window": "512", "f1.tcp.hdr_len": "20",
				"f1.tcp.flags": "0x000", "f1.payload_len": "0",
			},
		},
		{
			name:   "802.1ad S-tag 200 then 802.1Q C-tag 2001, ARP",
			sample: "qinq.json",
			want:   fields{"f0.vlan": "200,2001"},
		},
		{
			name:   "GRE with sequence, ERSPAN type II session 1, inner UDP",
			sample: "erspan-ii.json",
			want: fields{
				"f0.ip.version": "4", "f0.ip.src": "192.168.195.67", "f0.ip.dst": "192.168.195.196",
				"f0.ip.proto": "47", "f0.ip.hdr_len": "20", "f0.ip.len": "98", "f0.ip.ttl": "252",
				"f0.ip.id": "296", "f0.ip.frag_offset": "0", "f0.ip.mf": "0", "f0.ip.df": "1",
				"t0.type": "erspan", "t0.gre.proto": "0x88be", "t0.gre.seq": "1086760",
				"t0.erspan.version": "2", "t0.erspan.session": "1", "t0.erspan.vlan": "101",
				"f1.ip.version": "4", "f1.ip.src": "10.200.101.2", "f1.ip.dst": "224.0.0.2",
				"f1.ip.proto": "17", "f1.ip.hdr_len": "20", "f1.ip.len": "48", "f1.ip.ttl": "1",
				"f1.ip.id": "0", "f1.ip.frag_offset": "0", "f1.ip.mf": "0", "f1.ip.df": "0",
				"f1.udp.srcport": "1985", "f1.udp.dstport": "1985", "f1.udp.length": "28", "f1.payload_len": "20",
			},
		},
		{
			name:   "IPv6 hop-by-hop then routing type 0, UDP",
			sample: "ipv6-hbh-routing0.json",
			want: fields{
				"f0.ip.version": "6", "f0.ip.src": "2001:4f8:4:7:2e0:81ff:fe52:ffff",
				"f0.ip.dst": "2001:4f8:4:7:2e0:81ff:fe52:9a6b", "f0.ip.ttl": "64", "f0.ip.len": "99",
				"f0.ipv6.ext": "hopopts,routing", "f0.ip.hdr_len": "88", "f0.ip.proto": "17",
				"f0.udp.srcport": "53", "f0.udp.dstport": "53", "f0.udp.length": "11", "f0.payload_len": "3",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pkts := readSample(t, tc.sample)
			if len(pkts) != 1 || pkts[0].number != 1 {
				t.Fatalf("want 1 packet numbered 1, got %d", len(pkts))
			}
			got := tsharkFields(pkts[0].layers)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("fields differ:\n%s", diffFields(got, tc.want))
			}
		})
	}
}

func TestExpectedEvent(t *testing.T) {
	pkts := readSample(t, "geneve-gcp.json")
	got := expectedEvent(tsharkFields(pkts[0].layers))
	want := fields{
		"ev.Source.IP": "192.168.100.2", "ev.Destination.IP": "192.168.100.1",
		"ev.Source.Port": "2905", "ev.Destination.Port": "8080", "ev.Protocol": "6",
		"ev.IP.Version": "4", "ev.IP.TTL": "64", "ev.IP.ID": "55620", "ev.Length": "0",
		"ev.TCP.Flags": "0x000", "ev.TCP.Seq": "760929856", "ev.TCP.Ack": "2028584922", "ev.TCP.Window": "512",
		"ev.Tunnel.Type": "geneve", "ev.Tunnel.VNI": "0", "ev.Tunnel.FlowHash": "62974",
		"ev.Tunnel.Source.IP": "192.168.100.254", "ev.Tunnel.Destination.IP": "192.168.100.3",
		"ev.Tunnel.Source.Port": "62974", "ev.Tunnel.Destination.Port": "6081",
		"ev.Tunnel.Options": "0x0132/0x01/800000d1 0x0132/0x02/0800000dc0a864020000000000000000 0x0132/0x03/0000000000001234",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("expected event differs:\n%s", diffFields(got, want))
	}
}

func TestEventFieldsRejectsDuplicateKeys(t *testing.T) {
	_, err := eventFields([]byte(`{"detail":{"Length":1,"Length":2}}`))
	if err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Fatalf("want a duplicate key error, got %v", err)
	}
}

func TestCompareFields(t *testing.T) {
	ours := fields{"f0.ip.src": "10.0.0.1", "f0.ip.ttl": "64", "f0.vlan": "5", "f0._note": "x"}
	theirs := fields{"f0.ip.src": "10.0.0.1", "f0.ip.ttl": "63", "f0.udp.srcport": "53"}
	got := compareFields("a.pcap", 3, ours, theirs)
	want := []difference{
		{File: "a.pcap", Packet: 3, Field: "f0.ip.ttl", Ours: "64", Tshark: "63"},
		{File: "a.pcap", Packet: 3, Field: "f0.udp.srcport", Ours: absent, Tshark: "53"},
		{File: "a.pcap", Packet: 3, Field: "f0.vlan", Ours: "5", Tshark: absent},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestKnownDifferenceMatches(t *testing.T) {
	k := knownDifference{File: "a.pcap", Packets: []int{2, 5}, Field: "f1.*", Ours: absent, Tshark: "*"}
	tests := []struct {
		name string
		d    difference
		want bool
	}{
		{"field and packet match", difference{"a.pcap", 5, "f1.ip.src", absent, "10.0.0.1"}, true},
		{"other packet", difference{"a.pcap", 3, "f1.ip.src", absent, "10.0.0.1"}, false},
		{"other file", difference{"b.pcap", 5, "f1.ip.src", absent, "10.0.0.1"}, false},
		{"other frame", difference{"a.pcap", 5, "f0.ip.src", absent, "10.0.0.1"}, false},
		{"ours not absent", difference{"a.pcap", 5, "f1.ip.src", "10.0.0.2", "10.0.0.1"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := k.matches(tc.d); got != tc.want {
				t.Errorf("matches(%v) = %v, want %v", tc.d, got, tc.want)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"*", "", true},
		{"f0.*", "f0.ip.src", true},
		{"f0.*", "f1.ip.src", false},
		{"ev.*.Port", "ev.Source.Port", true},
		{"ev.*.Port", "ev.Source.IP", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXcYb", false},
		{"ab*ba", "aba", false},
	}
	for _, tc := range tests {
		if got := glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestProtectedReason(t *testing.T) {
	tests := []struct {
		name      string
		d         difference
		protected bool
	}{
		{"vlan field", difference{File: "tcpdump_various_gre.pcap", Field: "f0.vlan"}, true},
		{"event vlan", difference{File: "x.pcap", Field: "ev.Tunnel.VLAN"}, true},
		{"vni", difference{File: "x.pcap", Field: "t0.vni"}, true},
		{"geneve options", difference{File: "x.pcap", Field: "ev.Tunnel.Options"}, true},
		{"event ipv6 extensions", difference{File: "x.pcap", Field: "ev.IP.Extensions"}, true},
		{"ipv6 extension list", difference{File: "x.pcap", Field: "f0.ipv6.ext"}, true},
		{"any field of a vxlan capture", difference{File: "zeek_vxlan-encapsulated-http.pcap", Field: "f1.ip.ttl"}, true},
		{"tunnel type geneve", difference{File: "x.pcap", Field: "t0.type", Ours: "gre", Tshark: "geneve"}, true},
		{"gre key in a gre capture", difference{File: "tcpdump_various_gre.pcap", Field: "t0.gre.key"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := protectedReason(tc.d) != ""; got != tc.protected {
				t.Errorf("protected = %v, want %v", got, tc.protected)
			}
		})
	}
}

// diffFields prints the fields on which got and want differ.
func diffFields(got, want fields) string {
	var lines []string
	for _, d := range compareFields("", 0, got, want) {
		lines = append(lines, "  "+d.Field+": got "+d.Ours+", want "+d.Tshark)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
