package app

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/kinds"
)

// TestDeliverConfigBackoffAndAckWait: the delivery keys added after
// TestDeliverConfig (backoff.multiplier, backoff.jitter, ack_wait) reach
// the worker's configuration.
func TestDeliverConfigBackoffAndAckWait(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`
sources:
  - name: s
    type: udp
    listen: ["127.0.0.1:0"]
targets:
  - name: hook
    type: http
    url: http://127.0.0.1:1/x
    delivery: {ack_wait: 3s, backoff: {multiplier: 1.5, jitter: 0.4}}
  - name: calm
    type: http
    url: http://127.0.0.1:1/y
    delivery: {backoff: {jitter: 0}}
  - name: f
    type: file
    path: x.ndjson
`), kinds.Default())
	if err != nil {
		t.Fatal(err)
	}
	hook, calm, f := deliverConfig(cfg, &cfg.Targets[0]), deliverConfig(cfg, &cfg.Targets[1]), deliverConfig(cfg, &cfg.Targets[2])
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"multiplier", hook.BackoffMultiplier, 1.5},
		{"jitter", hook.BackoffJitter, 0.4},
		{"ack_wait", hook.AckWait, 3 * time.Second},
		{"jitter 0 passes as 0: none in deliver too", calm.BackoffJitter, 0.0},
		{"default multiplier", f.BackoffMultiplier, 2.0},
		{"default jitter", f.BackoffJitter, 0.2},
		{"default ack_wait", f.AckWait, 10 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if fmt.Sprint(tc.got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

// TestStdoutTargetPretty: the stdout target's pretty key is honoured.
func TestStdoutTargetPretty(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"default: one line", "{name: out, type: stdout}", "{\"a\":1}\n"},
		{"pretty", "{name: out, type: stdout, pretty: true}", "{\n  \"a\": 1\n}\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := config.Parse("t.yaml", []byte(`
sources:
  - name: s
    type: udp
    listen: ["127.0.0.1:0"]
targets:
  - `+c.yaml+`
`), kinds.Default())
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			tg, err := defaultRegistry().newTarget(&buildEnv{cfg: cfg, stdout: &out}, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			if err := tg.Send(context.Background(), []handoff.Delivery{{Body: []byte(`{"a":1}`)}}); err != nil {
				t.Fatal(err)
			}
			if out.String() != c.want {
				t.Errorf("wrote %q, want %q", out.String(), c.want)
			}
		})
	}
}
