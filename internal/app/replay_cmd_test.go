package app

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/kinds"
	"github.com/wirebridge/wirebridge/internal/source"
	"github.com/wirebridge/wirebridge/internal/target/replay"
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
			c, err := config.Parse("replay", []byte(y), kinds.Default())
			if err != nil {
				t.Fatalf("%v\n%s", err, y)
			}
			src, tg := c.Sources[0].Spec.(*source.VXLANSpec), c.Targets[0]
			rs, ok := tg.Spec.(*replay.Spec)
			if !ok {
				t.Fatalf("target spec %T, want a replay spec", tg.Spec)
			}
			if src.Interface != tc.iface || len(src.VNI) != 1 || src.VNI[0] != 42 || rs.Protocol != tc.proto ||
				rs.Address != tc.addr || tg.Delivery.Mode != config.Direct || rs.ServerPorts[0] != 80 {
				t.Errorf("config = %+v %+v", src, rs)
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
