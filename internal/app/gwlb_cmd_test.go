package app

import (
	"net/netip"
	"strings"
	"testing"
)

// TestGWLBFlags: the command line's mistakes are usage errors (exit 2) with
// the flag named, before anything is opened.
func TestGWLBFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no appliance", nil, "at least one --appliance"},
		{"appliance without port", []string{"--appliance", "10.0.0.1"}, `--appliance "10.0.0.1"`},
		{"appliance port 0", []string{"--appliance", "10.0.0.1:0"}, "want HOST:PORT"},
		{"ipv6 appliance", []string{"--appliance", "[fd00::1]:6081"}, "IPv4"},
		{"bad health", []string{"--appliance", "10.0.0.1:6081", "--health", "udp:53"}, "--health"},
		{"bad endpoint id", []string{"--appliance", "10.0.0.1:6081", "--endpoint-id", "vpce-1"}, "--endpoint-id"},
		{"bad attachment id", []string{"--appliance", "10.0.0.1:6081", "--attachment-id", "-1"}, "--attachment-id"},
		{"bad addr", []string{"--appliance", "10.0.0.1:6081", "--addr", "10.0.0.1"}, "--addr"},
		{"ipv6 listen", []string{"--appliance", "10.0.0.1:6081", "--listen", "fd00::1"}, "--listen"},
		{"bad policy", []string{"--appliance", "10.0.0.1:6081", "--all-unhealthy", "maybe"}, "all-unhealthy policy"},
		{"bad target failover", []string{"--appliance", "10.0.0.1:6081", "--target-failover", "sometimes"}, "--target-failover"},
		{"small mtu", []string{"--appliance", "10.0.0.1:6081", "--mtu", "100"}, "mtu 100"},
		{"positional argument", []string{"--appliance", "10.0.0.1:6081", "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, nil, append([]string{"gwlb"}, tt.args...)...)
			if code != exitUsage || out != "" || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 and %q", code, out, errOut, tt.want)
			}
		})
	}
}

// TestGWLBConfig: the flags map onto the GWLB's configuration.
func TestGWLBConfig(t *testing.T) {
	cfg, err := gwlbConfig(nil, []string{"10.0.3.2:6081", "10.0.3.3:6082"}, []string{"10.9.0.1/24", "fd00:9::1/64"},
		"gwlb7", "http:8080/healthz", "0x0102030405060708", "42", "10.0.3.1", "fail-open")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TUN != "gwlb7" || len(cfg.Appliances) != 2 || cfg.Appliances[1] != netip.MustParseAddrPort("10.0.3.3:6082") ||
		len(cfg.Addrs) != 2 || cfg.Health.Protocol != "http" || cfg.Health.Port != 8080 || cfg.Health.Path != "/healthz" ||
		cfg.EndpointID != 0x0102030405060708 || cfg.AttachmentID != 42 || cfg.Listen != netip.MustParseAddrPort("10.0.3.1:0") ||
		cfg.AllUnhealthy != "fail-open" {
		t.Errorf("config %+v", cfg)
	}
	cfg, err = gwlbConfig(nil, []string{"10.0.3.2:6081"}, nil, "gwlb0", "", "1", "2", "10.0.3.1:40000", "drop")
	if err != nil || cfg.Listen != netip.MustParseAddrPort("10.0.3.1:40000") || cfg.Health.Protocol != "" {
		t.Errorf("config %+v, %v", cfg, err)
	}
}
