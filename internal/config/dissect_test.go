package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/dissect"
)

func TestDissectSection(t *testing.T) {
	c, err := Parse("wirebridge.yaml", []byte(with(
		"dissect:",
		"  decode_as:",
		"    - {transport: udp, port: 5300, protocol: dns}",
		"    - {transport: TCP, port: 8080, protocol: none}",
		"  disable: [ntp, ARP]",
		"  payload_text_max: 0",
	)), testKinds)
	if err != nil {
		t.Fatal(err)
	}
	want := dissect.Config{
		DecodeAs: []dissect.PortRule{{Transport: dissect.UDP, Port: 5300, Proto: dissect.DNS}, {Transport: dissect.TCP, Port: 8080, Proto: dissect.None}},
		Disable:  []dissect.Proto{dissect.NTP, dissect.ARP},
	}
	if got := c.DissectConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("DissectConfig = %+v, want %+v", got, want)
	}
	if _, err := dissect.NewTable(c.DissectConfig()); err != nil {
		t.Errorf("NewTable: %v", err)
	}
	d, err := Parse("wirebridge.yaml", []byte(with()), testKinds)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.DissectConfig(); got.PayloadTextMax != dissect.DefaultPayloadTextMax || len(got.DecodeAs)+len(got.Disable) != 0 {
		t.Errorf("default DissectConfig = %+v", got)
	}
}

func TestDissectErrors(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		want  []string
	}{
		{"bad transport", []string{"dissect:", "  decode_as: [{transport: sctp, port: 1, protocol: dns}]"},
			[]string{`wirebridge.yaml:13:27: dissect.decode_as[0].transport: "sctp": want udp or tcp`}},
		{"port zero", []string{"dissect:", "  decode_as: [{transport: udp, port: 0, protocol: dns}]"},
			[]string{`dissect.decode_as[0].port: 0: want 1..65535`}},
		{"port too large", []string{"dissect:", "  decode_as: [{transport: udp, port: 65536, protocol: dns}]"},
			[]string{`dissect.decode_as[0].port: 65536: want 1..65535`}},
		{"unknown protocol", []string{"dissect:", "  decode_as: [{transport: udp, port: 9, protocol: gopher}]"},
			[]string{`dissect.decode_as[0].protocol: unknown protocol "gopher" (want dns, http, syslog, tls, dhcp, ntp, arp, none)`}},
		{"http over udp", []string{"dissect:", "  decode_as:", "    - {transport: udp, port: 80, protocol: http}"},
			[]string{`wirebridge.yaml:14:44: dissect.decode_as[0].protocol: http is not dissected over udp`}},
		{"arp by port", []string{"dissect:", "  decode_as: [{transport: udp, port: 9, protocol: arp}]"},
			[]string{`dissect.decode_as[0].protocol: arp is not dissected over udp`}},
		{"same port twice", []string{"dissect:", "  decode_as:", "    - {transport: udp, port: 5300, protocol: dns}", "    - {transport: udp, port: 5300, protocol: syslog}"},
			[]string{`dissect.decode_as[1].port: udp port 5300 already has a rule (dissect.decode_as[0])`}},
		{"disable unknown", []string{"dissect: {disable: [dns, smtp]}"},
			[]string{`dissect.disable[1]: unknown protocol "smtp" (want dns, http, syslog, tls, dhcp, ntp, arp)`}},
		{"disable none", []string{"dissect: {disable: [none]}"},
			[]string{`dissect.disable[0]: unknown protocol "none"`}},
		{"negative text max", []string{"dissect: {payload_text_max: -1}"},
			[]string{`dissect.payload_text_max: -1 is out of range`}},
		{"unknown key", []string{"dissect: {decode: []}"},
			[]string{`dissect.decode`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("wirebridge.yaml", []byte(with(tt.extra...)), testKinds)
			if err == nil {
				t.Fatal("parsed without error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
