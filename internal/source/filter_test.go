package source

import (
	"net/netip"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/spec"
)

var (
	a4  = netip.MustParseAddr("10.1.2.3")
	b4  = netip.MustParseAddr("192.168.7.9")
	a6  = netip.MustParseAddr("2001:db8::5")
	b6  = netip.MustParseAddr("fd00::9")
	mac = [6]byte{2, 0, 0, 0, 0, 1}
)

// testFrames are IP-layer packets (LinkRaw); Ethernet variants add an Eth layer.
var testFrames = []struct {
	name   string
	layers []packet.Layer
}{
	{"udp4 514", []packet.Layer{packet.IPv4{Src: a4, Dst: b4}, packet.UDP{Src: 40000, Dst: 514}, packet.Payload("x")}},
	{"udp4 5050 options", []packet.Layer{packet.IPv4{Src: b4, Dst: a4, Options: []byte{1, 1, 1, 1}}, packet.UDP{Src: 5050, Dst: 41000}, packet.Payload("x")}},
	{"tcp4 443", []packet.Layer{packet.IPv4{Src: a4, Dst: b4}, packet.TCP{Src: 41000, Dst: 443}}},
	{"icmp4", []packet.Layer{packet.IPv4{Src: b4, Dst: b4}, packet.ICMPv4{Type: 8}}},
	{"udp4 fragment", []packet.Layer{packet.IPv4{Src: a4, Dst: b4, FragOffset: 8, Protocol: 17}, packet.Payload("fragment")}},
	{"udp6 514", []packet.Layer{packet.IPv6{Src: a6, Dst: b6}, packet.UDP{Src: 40000, Dst: 514}, packet.Payload("x")}},
	{"tcp6 80", []packet.Layer{packet.IPv6{Src: b6, Dst: b6}, packet.TCP{Src: 80, Dst: 40000}}},
	{"icmp6", []packet.Layer{packet.IPv6{Src: b6, Dst: a6}, packet.ICMPv6{Type: 128}}},
}

func TestFilterSemantics(t *testing.T) {
	tests := []struct {
		filter string
		pass   []string // names of testFrames that pass; "arp" for the ARP frame
	}{
		{"", []string{"udp4 514", "udp4 5050 options", "tcp4 443", "icmp4", "udp4 fragment", "udp6 514", "tcp6 80", "icmp6", "arp"}},
		{"udp", []string{"udp4 514", "udp4 5050 options", "udp4 fragment", "udp6 514"}},
		{"tcp or icmp", []string{"tcp4 443", "icmp4", "tcp6 80"}},
		{"icmpv6", []string{"icmp6"}},
		{"port 514", []string{"udp4 514", "icmp4", "udp6 514", "icmp6"}},
		{"udp and port 514", []string{"udp4 514", "udp6 514"}},
		{"udp and port 5000-5100", []string{"udp4 5050 options"}},
		{"tcp, udp and port 80, 443", []string{"tcp4 443", "tcp6 80"}},
		{"host 10.1.2.3", []string{"udp4 514", "udp4 5050 options", "tcp4 443", "udp4 fragment"}},
		{"host 192.168.0.0/16 and icmp", []string{"icmp4"}},
		{"host 2001:db8::/32", []string{"udp6 514", "icmp6"}},
		{"host fd00::9/128 or 10.0.0.0/8 and tcp", []string{"tcp4 443", "tcp6 80"}},
		{"host 0.0.0.0/0", []string{"udp4 514", "udp4 5050 options", "tcp4 443", "icmp4", "udp4 fragment"}},
		{"host 172.16.0.0/12", nil},
	}
	arp := packet.Build(packet.Eth{Src: mac, Dst: [6]byte{255, 255, 255, 255, 255, 255}}, packet.ARP{Op: 1, SenderIP: a4, TargetIP: b4})
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			f, err := ParseFilter(tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			for _, link := range []packet.LinkType{packet.LinkEthernet, packet.LinkRaw} {
				prog, err := f.Compile(link, 9216)
				if err != nil {
					t.Fatal(err)
				}
				ins := make([]bpf.Instruction, len(prog))
				for i, r := range prog {
					ins[i] = r.Disassemble()
				}
				vm, err := bpf.NewVM(ins)
				if err != nil {
					t.Fatalf("link %d: %v", link, err)
				}
				want := map[string]bool{}
				for _, n := range tc.pass {
					want[n] = true
				}
				for _, fr := range testFrames {
					layers := fr.layers
					if link == packet.LinkEthernet {
						layers = append([]packet.Layer{packet.Eth{Src: mac, Dst: mac}}, layers...)
					}
					data := packet.Build(layers...)
					n, err := vm.Run(data)
					if err != nil {
						t.Fatalf("%s: %v", fr.name, err)
					}
					if got := n > 0; got != want[fr.name] {
						t.Errorf("link %d %s: pass=%v, want %v", link, fr.name, got, want[fr.name])
					}
					if n > 0 && n != min(len(data), 9216) && n != 9216 {
						t.Errorf("%s: snap %d", fr.name, n)
					}
				}
				if link == packet.LinkEthernet {
					n, _ := vm.Run(arp)
					if got := n > 0; got != want["arp"] {
						t.Errorf("arp: pass=%v, want %v", got, want["arp"])
					}
				}
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, s := range []string{
		"sctp", "port", "port 70000", "port 90-80", "udp udp", "udp and", "udp and udp", "host 10.0.0.0/33",
		"host nothost", "port 1 2", "and udp", "host fe80::1%eth0",
	} {
		t.Run(s, func(t *testing.T) {
			if f, err := ParseFilter(s); err == nil {
				t.Errorf("no error; parsed %+v", f)
			}
		})
	}
}

func TestFilterStringRoundTrip(t *testing.T) {
	for _, s := range []string{"udp", "udp or tcp and port 53 or 5000-5100 and host 10.0.0.0/8 or 2001:db8::1/128", "port 514", "host 10.0.0.1/32"} {
		f, err := ParseFilter(s)
		if err != nil {
			t.Fatal(err)
		}
		g, err := ParseFilter(f.String())
		if err != nil {
			t.Fatalf("%q -> %q: %v", s, f.String(), err)
		}
		if g.String() != f.String() {
			t.Errorf("%q -> %q -> %q", s, f.String(), g.String())
		}
	}
}

func TestFilterFromConfig(t *testing.T) {
	f, err := FilterFrom(spec.Filter{Protocols: []string{"udp", "icmp"}, Ports: []spec.PortRange{{Lo: 514, Hi: 514}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.String(); got != "udp or icmp and port 514" {
		t.Errorf("got %q", got)
	}
	if _, err := FilterFrom(spec.Filter{Protocols: []string{"gre"}}); err == nil {
		t.Error("unknown protocol accepted")
	}
}

func FuzzFilter(f *testing.F) {
	for _, s := range []string{"", "udp", "tcp or icmp and port 80,443 and host 10.0.0.0/8", "host ::/0", "port 0-65535", "icmpv6 and host fd00::/8 or 1.2.3.4"} {
		f.Add(s)
	}
	frames := make([][]byte, 0, len(testFrames))
	for _, fr := range testFrames {
		frames = append(frames, packet.Build(append([]packet.Layer{packet.Eth{}}, fr.layers...)...))
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err != nil {
			return
		}
		if _, err := ParseFilter(flt.String()); err != nil {
			t.Fatalf("String %q of %q does not parse: %v", flt.String(), s, err)
		}
		prog, err := flt.Compile(packet.LinkEthernet, 1500)
		if err != nil {
			return // too large to compile is an error, not a panic
		}
		ins := make([]bpf.Instruction, len(prog))
		for i, r := range prog {
			ins[i] = r.Disassemble()
		}
		vm, err := bpf.NewVM(ins)
		if err != nil {
			t.Fatalf("%q: invalid program: %v", s, err)
		}
		for _, fr := range frames {
			if _, err := vm.Run(fr); err != nil {
				t.Fatalf("%q: %v", s, err)
			}
		}
	})
}
