package app

import (
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
