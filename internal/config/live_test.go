package config

import (
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/target/live"
)

func TestLiveSection(t *testing.T) {
	t.Setenv("WB_TEST_LIVE_KEY", "0123456789abcdef-publish")
	c, err := Parse("wirebridge.yaml", []byte(with(
		"  - {name: w, type: live, channel: packets/all, frames: false}",
		"live:",
		"  api_keys:",
		"    - {name: ingest, key: env:WB_TEST_LIVE_KEY, scopes: [publish]}",
		"  share_key: 0123456789abcdef0123",
		"  replay: 5",
		"  share_ttl: 10m",
	)), testKinds)
	if err != nil {
		t.Fatal(err)
	}
	l := c.Live
	if len(l.APIKeys) != 1 || l.APIKeys[0].Key.Value() != "0123456789abcdef-publish" || l.APIKeys[0].Scopes[0] != "publish" {
		t.Errorf("api_keys = %+v", l.APIKeys)
	}
	if l.Replay != 5 || l.SubscriberQueue != DefaultLiveQueue || l.ShareTTL != 10*time.Minute || l.ShareKey.Value() != "0123456789abcdef0123" {
		t.Errorf("live = %+v", l)
	}
	if lt := specOf[*live.Spec](c.Targets[1]); lt.Channel != "/packets/all" || lt.Frames {
		t.Errorf("live target = %+v", lt)
	}
	d, err := Parse("wirebridge.yaml", []byte(with("  - {name: w, type: live}")), testKinds)
	if err != nil {
		t.Fatal(err)
	}
	if lt := specOf[*live.Spec](d.Targets[1]); lt.Channel != "/w" || !lt.Frames {
		t.Errorf("default live target = %+v", lt)
	}
}

func TestLiveErrors(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		want  []string
	}{
		{"bad scope", []string{"live:", "  api_keys: [{name: k, key: 0123456789abcdef, scopes: [write]}]"},
			[]string{`live.api_keys[0].scopes[0]: invalid value "write"`}},
		{"short key", []string{"live:", "  api_keys: [{name: k, key: short, scopes: [admin]}]"},
			[]string{`live.api_keys[0].key: too short`}},
		{"no scopes", []string{"live:", "  api_keys: [{name: k, key: 0123456789abcdef}]"},
			[]string{`live.api_keys[0].scopes: required`}},
		{"same key twice", []string{"live:", "  api_keys:", "    - {name: a, key: 0123456789abcdef, scopes: [admin]}",
			"    - {name: b, key: 0123456789abcdef, scopes: [publish]}"},
			[]string{`live.api_keys[1].key: same key as API key "a"`}},
		{"short share key", []string{"live: {share_key: abc}"}, []string{`live.share_key: too short`}},
		{"negative replay", []string{"live: {replay: -1}"}, []string{`live.replay: -1 is out of range`}},
		{"bad channel", []string{"  - {name: w, type: live, channel: /a b}"}, []string{`targets[1].channel: invalid channel "/a b"`}},
		{"durable live", []string{"  - {name: w, type: live, delivery: {mode: durable}}"}, []string{`targets[1].delivery.mode: live targets are best-effort`}},
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
