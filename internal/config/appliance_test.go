package config

import (
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/appliance"
)

// TestApplianceSection: the appliance: section is decoded into the
// appliance kind's spec, with its defaults, and moves http.listen's default
// off the health check's port.
func TestApplianceSection(t *testing.T) {
	tests := []struct {
		name       string
		yaml       string
		httpListen string
		check      func(t *testing.T, s *appliance.Spec)
	}{
		{"every default", "appliance: {}\n", DefaultApplianceHTTPListen, func(t *testing.T, s *appliance.Spec) {
			if s.Listen != ":6081" || s.Health.Listen != ":8080" || s.DrainTime.String() != "30s" || s.DefaultAction != "pass" {
				t.Errorf("spec %+v", s)
			}
		}},
		{"http.listen set keeps it", "http: {listen: '127.0.0.1:9090'}\nappliance: {}\n", "127.0.0.1:9090", nil},
		{"http.listen written as the default keeps it", "http: {listen: '127.0.0.1:8080'}\nappliance: {health: {listen: '127.0.0.2:8080'}}\n", "127.0.0.1:8080", nil},
		{"rules and keys", doc(
			"appliance:",
			"  listen: 10.0.0.2:6081",
			"  drain_time: 5s",
			"  health: {listen: ':8085', probe_interval: 200ms}",
			"  rules:",
			"    - name: drop-me",
			`      pattern: '{"detail":{"Protocol":["udp"]}}'`,
			"      contains: drop me",
			"      action: drop",
			"      tee: [drops]",
			"targets:",
			"  - {name: drops, type: stdout}",
		), DefaultApplianceHTTPListen, func(t *testing.T, s *appliance.Spec) {
			if s.Listen != "10.0.0.2:6081" || s.DrainTime.String() != "5s" || s.Health.Listen != ":8085" ||
				s.Health.Path != "/healthz" || len(s.Rules) != 1 || s.Rules[0].Tee[0] != "drops" {
				t.Errorf("spec %+v", s)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.yaml)
			if c.Appliance == nil {
				t.Fatal("no appliance")
			}
			s, ok := c.Appliance.Spec.(*appliance.Spec)
			if !ok {
				t.Fatalf("spec %T", c.Appliance.Spec)
			}
			if c.HTTP.Listen != tt.httpListen {
				t.Errorf("http.listen %s, want %s", c.HTTP.Listen, tt.httpListen)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
	if c := mustParse(t, doc(valid...)); c.Appliance != nil || c.HTTP.Listen != DefaultHTTPListen {
		t.Errorf("without a section: appliance %v, http.listen %s", c.Appliance, c.HTTP.Listen)
	}
}

// TestApplianceErrors: problems in the section are reported with
// file:line:col and their path, every one of them.
func TestApplianceErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown key", doc("appliance:", "  lisen: ':6081'"),
			[]string{`wirebridge.yaml:2:3: appliance.lisen: unknown key "lisen" (did you mean "listen"?)`}},
		{"kind's own checks", doc("appliance:", "  readers: 0", "  rules:", "    - {name: a, action: dorp}"),
			[]string{"wirebridge.yaml:2:12: appliance.readers: ", "wirebridge.yaml:4:25: appliance.rules[0].action: invalid value \"dorp\""}},
		{"health collides with http.listen", doc("http: {listen: '0.0.0.0:8080'}", "appliance:", "  health: {listen: ':8080'}"),
			[]string{"wirebridge.yaml:3:20: appliance.health.listen: :8080 collides with http.listen 0.0.0.0:8080: both listen on TCP port 8080"}},
		{"health on the http default written out", doc("http: {listen: '127.0.0.1:8080'}", "appliance: {}"),
			[]string{"appliance.health.listen: :8080 collides with http.listen 127.0.0.1:8080"}},
		{"tee to an unknown target", doc("appliance:", "  rules:", "    - {name: a, action: pass, tee: [drosp]}", "targets:", "  - {name: drops, type: stdout}"),
			[]string{`wirebridge.yaml:3:37: appliance.rules[0].tee[0]: unknown target "drosp" (did you mean "drops"?)`}},
		{"tee to a frames-only target", doc("appliance:", "  rules:", "    - {name: a, action: pass, tee: [p]}", "targets:", "  - {name: p, type: pcap, path: 'p/%Y.pcap'}"),
			[]string{`wirebridge.yaml:3:37: appliance.rules[0].tee[0]: target "p" (type pcap) cannot send a teed packet's event`}},
		{"a rule takes a tee rule's name", doc("appliance:", "  rules:", "    - {name: a, action: pass, tee: [drops]}",
			"rules:", "  - {name: appliance-tee-drops, pattern: {source: [x]}, targets: [drops]}", "targets:", "  - {name: drops, type: stdout}"),
			[]string{`wirebridge.yaml:5:12: rules[0].name: "appliance-tee-drops" is the name of the rule that routes the appliance's tee to target "drops"`}},
		{"not a mapping", doc("appliance: [1]"),
			[]string{"wirebridge.yaml:1:12: appliance: expected a mapping, got a list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("wirebridge.yaml", []byte(tt.yaml), testKinds)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("errors:\n%v\nwant one containing %q", err, w)
				}
			}
		})
	}
}
