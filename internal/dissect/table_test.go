package dissect

import (
	"strings"
	"testing"
)

func TestTableLookup(t *testing.T) {
	custom, err := NewTable(Config{
		DecodeAs: []PortRule{
			{UDP, 5300, DNS},
			{TCP, 8888, HTTP},
			{TCP, 80, None},
			{UDP, 10514, Syslog},
			{TCP, 9443, TLS},
		},
		Disable:        []Proto{NTP},
		PayloadTextMax: 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	hello := []byte{22, 3, 1, 0, 200, 1, 0, 0, 196}
	cases := []struct {
		name     string
		tab      *Table
		tr       Transport
		src, dst uint16
		payload  []byte
		want     Proto
	}{
		{"dns query", Default(), UDP, 40000, 53, nil, DNS},
		{"dns answer", Default(), UDP, 53, 40000, nil, DNS},
		{"dns over tcp", Default(), TCP, 40000, 53, nil, DNS},
		{"mdns", Default(), UDP, 5353, 5353, nil, DNS},
		{"llmnr", Default(), UDP, 50000, 5355, nil, DNS},
		{"http 8080", Default(), TCP, 8080, 50000, nil, HTTP},
		{"http on udp is nothing", Default(), UDP, 40000, 80, nil, None},
		{"syslog udp", Default(), UDP, 40000, 514, nil, Syslog},
		{"syslog tcp 601", Default(), TCP, 40000, 601, nil, Syslog},
		{"syslog tcp 514 is not by default", Default(), TCP, 40000, 514, nil, None},
		{"tls", Default(), TCP, 40000, 443, nil, TLS},
		{"dhcp", Default(), UDP, 68, 67, nil, DHCP},
		{"ntp", Default(), UDP, 123, 123, nil, NTP},
		{"lower port first", Default(), UDP, 53, 123, nil, DNS},
		{"lower port first reversed", Default(), UDP, 123, 53, nil, DNS},
		{"unknown", Default(), UDP, 40000, 40001, nil, None},
		{"client hello anywhere on tcp", Default(), TCP, 40000, 9999, hello, TLS},
		{"client hello not on udp", Default(), UDP, 40000, 9999, hello, None},
		{"port wins over content", Default(), TCP, 40000, 80, hello, HTTP},
		{"not a client hello", Default(), TCP, 40000, 9999, []byte{22, 3, 1, 0, 200, 2}, None},
		{"decode as udp", custom, UDP, 40000, 5300, nil, DNS},
		{"decode as source side", custom, UDP, 5300, 40000, nil, DNS},
		{"decode as over lower default", custom, UDP, 53, 10514, nil, Syslog},
		{"decode as tcp", custom, TCP, 40000, 8888, nil, HTTP},
		{"decode as none", custom, TCP, 40000, 80, nil, None},
		{"decode as none stops content detection", custom, TCP, 40000, 80, hello, None},
		{"disabled", custom, UDP, 123, 123, nil, None},
		{"defaults kept", custom, UDP, 40000, 53, nil, DNS},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.tab.Choose(c.tr, c.src, c.dst, c.payload); got != c.want {
				t.Errorf("Choose = %q, want %q", got, c.want)
			}
		})
	}
	if custom.PayloadTextMax() != 0 || Default().PayloadTextMax() != DefaultPayloadTextMax {
		t.Errorf("PayloadTextMax: custom %d, default %d", custom.PayloadTextMax(), Default().PayloadTextMax())
	}
}

func TestParsePortRule(t *testing.T) {
	cases := []struct {
		in      string
		want    PortRule
		wantErr string
	}{
		{"udp.port==5300,dns", PortRule{UDP, 5300, DNS}, ""},
		{"TCP.port==8888,HTTP", PortRule{TCP, 8888, HTTP}, ""},
		{"tcp.port==80,none", PortRule{TCP, 80, None}, ""},
		{"udp.port==0,dns", PortRule{}, "port"},
		{"udp.port==70000,dns", PortRule{}, "port"},
		{"sctp.port==1,dns", PortRule{}, "transport"},
		{"udp.port==1,gopher", PortRule{}, "unknown protocol"},
		{"udp.port==80,http", PortRule{}, "not dissected over udp"},
		{"udp.port==1,arp", PortRule{}, "not dissected over udp"},
		{"udp 53 dns", PortRule{}, "want"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParsePortRule(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("= %v, %v; want %v", got, err, c.want)
			}
			if back, err := ParsePortRule(got.String()); err != nil || back != got {
				t.Fatalf("String %q does not parse back: %v, %v", got.String(), back, err)
			}
		})
	}
}

// FuzzParsePortRule: the --decode-as parser never panics, and what it
// accepts prints back to a rule that parses to the same value.
func FuzzParsePortRule(f *testing.F) {
	for _, s := range []string{"udp.port==5300,dns", "tcp.port==80,none", "tcp.port==,http", ",", ".port==1,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParsePortRule(s)
		if err != nil {
			return
		}
		back, err := ParsePortRule(r.String())
		if err != nil || back != r {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, r, r.String(), back, err)
		}
	})
}
