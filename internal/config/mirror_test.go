package config

import (
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/mirror/linux"
)

// TestMirrorSection: mirror: entries are decoded into the provider kind's
// spec with the defaults, and a file with only a mirror: list is valid.
func TestMirrorSection(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, m *Mirror, s *linux.Spec)
	}{
		{"only a mirror section, every default", doc(
			"mirror:",
			"  - name: host",
			"    provider: linux",
			"    interfaces: [eth0]",
			"    collector: {address: 10.0.0.9}",
		), func(t *testing.T, m *Mirror, s *linux.Spec) {
			if m.ScanInterval != 60*time.Second || m.MaxAttempts != DefaultMirrorMaxAttempts || m.RemoveOnExit ||
				m.Backoff.Initial != 500*time.Millisecond || s.Collector.Port != 4789 || s.Collector.VNI != 0 {
				t.Errorf("entry %+v, spec %+v", m, s)
			}
		}},
		{"every key", doc(
			"mirror:",
			"  - name: host",
			"    provider: linux",
			"    interfaces: ['veth*', 'eth[0-3]']",
			"    exclude: [veth-skip*]",
			"    collector: {address: 'fd00::9', port: 14789, vni: 42}",
			"    scan_interval: 5s",
			"    max_attempts: 3",
			"    backoff: {initial: 1s, max: 2s}",
			"    remove_on_exit: true",
			"sources:",
			"  - {name: m, type: vxlan, listen: ['127.0.0.1:14789']}",
		), func(t *testing.T, m *Mirror, s *linux.Spec) {
			if m.ScanInterval != 5*time.Second || m.MaxAttempts != 3 || !m.RemoveOnExit || m.Backoff.Max != 2*time.Second ||
				len(s.Interfaces) != 2 || s.Exclude[0] != "veth-skip*" || s.Collector.Address != "fd00::9" ||
				s.Collector.Port != 14789 || s.Collector.VNI != 42 {
				t.Errorf("entry %+v, spec %+v", m, s)
			}
			if w := s.Where(); w != "interfaces veth*, eth[0-3] (except veth-skip*) -> vxlan [fd00::9]:14789 vni 42" {
				t.Errorf("Where() = %q", w)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.yaml)
			if len(c.Mirror) != 1 {
				t.Fatalf("%d mirror entries", len(c.Mirror))
			}
			m := &c.Mirror[0]
			s, ok := m.Spec.(*linux.Spec)
			if !ok {
				t.Fatalf("spec %T", m.Spec)
			}
			if c.MirrorKind(m) == nil {
				t.Error("MirrorKind is nil")
			}
			tt.check(t, m, s)
		})
	}
	if c := mustParse(t, doc(valid...)); len(c.Mirror) != 0 {
		t.Errorf("without a section: %d entries", len(c.Mirror))
	}
}

// TestMirrorErrors: problems in mirror: entries are reported with
// file:line:col and their path, every one of them.
func TestMirrorErrors(t *testing.T) {
	entry := func(lines ...string) string {
		return doc(append([]string{"mirror:", "  - name: host", "    provider: linux"}, lines...)...)
	}
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"no provider", doc("mirror:", "  - {name: host, interfaces: [eth0]}"),
			[]string{"wirebridge.yaml:2:5: mirror[0].provider: required"}},
		{"unknown provider", doc("mirror:", "  - {name: host, provider: gcp}"),
			[]string{`wirebridge.yaml:2:28: mirror[0].provider: unknown provider "gcp" (want one of linux, aws)`}},
		{"no name", doc("mirror:", "  - {provider: linux, interfaces: [eth0], collector: {address: 10.0.0.9}}"),
			[]string{"mirror[0].name: required: every mirror entry needs a name"}},
		{"duplicate name", doc("mirror:",
			"  - {name: a, provider: linux, interfaces: [eth0], collector: {address: 10.0.0.9}}",
			"  - {name: a, provider: linux, interfaces: [eth1], collector: {address: 10.0.0.9}}"),
			[]string{`wirebridge.yaml:3:12: mirror[1].name: duplicate mirror name "a" (also mirror[0])`}},
		{"linux without interfaces or collector", entry(),
			[]string{"mirror[0].interfaces: required", "mirror[0].collector.address: required"}},
		{"bad glob and collector", entry("    interfaces: ['eth[']", "    exclude: ['a b']",
			"    collector: {address: 10.0.0.300, port: 0, vni: 16777216}"),
			[]string{`wirebridge.yaml:4:18: mirror[0].interfaces[0]: invalid glob "eth["`,
				`wirebridge.yaml:5:15: mirror[0].exclude[0]: "a b" cannot match an interface name`,
				`wirebridge.yaml:6:26: mirror[0].collector.address: invalid IP address "10.0.0.300"`,
				"wirebridge.yaml:6:44: mirror[0].collector.port: 0 is out of range",
				"wirebridge.yaml:6:52: mirror[0].collector.vni: 16777216 is out of range"}},
		{"scan too often, bad retry", entry("    interfaces: [eth0]", "    collector: {address: 10.0.0.9}",
			"    scan_interval: 10ms", "    max_attempts: 0", "    backoff: {multiplier: 0.5}"),
			[]string{"wirebridge.yaml:6:20: mirror[0].scan_interval: 10ms is too short (want at least 1s)",
				"wirebridge.yaml:7:19: mirror[0].max_attempts: 0 is out of range",
				"wirebridge.yaml:8:27: mirror[0].backoff.multiplier: 0.5 is out of range"}},
		{"a key of the other provider", entry("    interfaces: [eth0]", "    collector: {address: 10.0.0.9}", "    colector: {}"),
			[]string{`wirebridge.yaml:6:5: mirror[0].colector: unknown key "colector" (did you mean "collector"?)`}},
		{"no bus", doc("nats: {embedded: false}", "mirror:", "  - {name: a, provider: linux, interfaces: [eth0], collector: {address: 10.0.0.9}}"),
			[]string{"wirebridge.yaml:3:3: mirror: the mirror controller keeps its state in NATS"}},
		{"not a list", doc("mirror: {name: a}"),
			[]string{"wirebridge.yaml:1:9: mirror: expected a list, got a mapping"}},
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
