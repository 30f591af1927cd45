package app

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/wirebridge/wirebridge/internal/config"
)

func TestReplayCommandConfig(t *testing.T) {
	tests := []struct {
		name, to, iface string
		proto, addr     string
	}{
		{"http listener", "http://staging:8080/shadow", "", "http", ""},
		{"tcp interface", "tcp://127.0.0.1:6432", "eth0", "tcp", "127.0.0.1:6432"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			y, err := replayConfigYAML(42, 80, tc.to, tc.iface, ":4789", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			c, err := config.Parse("replay", []byte(y))
			if err != nil {
				t.Fatalf("%v\n%s", err, y)
			}
			src, tg := c.Sources[0].VXLAN, c.Targets[0]
			if src.Interface != tc.iface || len(src.VNI) != 1 || src.VNI[0] != 42 || tg.Replay.Protocol != tc.proto ||
				tg.Replay.Address != tc.addr || tg.Delivery.Mode != config.Direct || tg.Replay.ServerPorts[0] != 80 {
				t.Errorf("config = %+v %+v", src, tg.Replay)
			}
		})
	}
	if _, err := replayConfigYAML(42, 80, "ftp://x:1", "", ":4789", "127.0.0.1:0"); err == nil {
		t.Error("ftp:// accepted")
	}
}

// TestReplayCommandSetsMemoryLimit: `wirebridge replay`, the short form of
// serve, runs under serve's soft memory limit. Without it an out-of-order
// flood (10,000 flows, 29 KB each, through the vxlan listener) took replay
// to 279 MB resident where serve with replay's --print-config stayed at
// 203 MB, the limit plus the binary as docs/config.md says.
func TestReplayCommandSetsMemoryLimit(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(orig) })
	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "")
	var got int64
	replayUntilBanner(t, func() { got = debug.SetMemoryLimit(-1) })
	if got != defaultMemoryLimit {
		t.Errorf("replay runs with a memory limit of %d, want serve's %d", got, int64(defaultMemoryLimit))
	}
}

// TestReplayConfigOnParseError: the target's on_parse_error reaches the
// replay target (default stop).
func TestReplayConfigOnParseError(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		resync bool
	}{
		{"default", "", false},
		{"stop", ", on_parse_error: stop", false},
		{"resync", ", on_parse_error: resync", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			yaml := "sources:\n  - {name: m, type: vxlan, listen: ['127.0.0.1:4789']}\n" +
				"rules:\n  - {name: r, pattern: {source: [wirebridge.vxlan]}, targets: [s]}\n" +
				"targets:\n  - {name: s, type: replay, address: '127.0.0.1:8080'" + tc.key + "}\n"
			c, err := config.Parse("wirebridge.yaml", []byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			rc, err := replayConfig(&c.Targets[0])
			if err != nil {
				t.Fatal(err)
			}
			if rc.ResyncOnParseError != tc.resync {
				t.Errorf("ResyncOnParseError = %v, want %v", rc.ResyncOnParseError, tc.resync)
			}
		})
	}
}
