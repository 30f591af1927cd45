package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
	"github.com/wirebridge/wirebridge/internal/source"
)

// vxlanPayloads returns the VXLAN header and inner frame (the outer UDP
// payload) of each packet of a capture of VXLAN traffic.
func vxlanPayloads(t *testing.T, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join(sharedPcaps(t), name))
	if err != nil {
		t.Fatalf("shared capture missing: %v", err)
	}
	defer f.Close()
	r, err := capfile.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	var p packet.Packet
	for {
		d, info, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		packet.Decode(&p, d, info)
		tun := p.Tunnel()
		if tun == nil || tun.Type != packet.TunnelVXLAN {
			continue
		}
		out = append(out, append([]byte(nil), d[tun.Off:]...))
	}
	if len(out) == 0 {
		t.Fatalf("%s: no VXLAN packets", name)
	}
	return out
}

// TestReplayDiffEvents: a mirrored HTTP exchange replayed to a shadow that
// answers differently produces a ReplayDiff event (source wirebridge.replay),
// which a rule delivers to a file target like any other event, and to a live
// target that shows frames when there are some; a rule naming a frame-only
// target skips it, counted.
func TestReplayDiffEvents(t *testing.T) {
	payloads := vxlanPayloads(t, "zeek_vxlan-encapsulated-http.pcap")
	shadow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprint(w, "not the original")
	}))
	defer shadow.Close()

	dir := t.TempDir()
	s, _, logs := newTestServer(t, dir, fmt.Sprintf(`
data_dir: %s
http: {listen: "127.0.0.1:0"}
shutdown_timeout: 10s
sources:
  - name: mirror
    type: vxlan
    listen: ["127.0.0.1:0"]
    vni: [1]
rules:
  - name: replay
    pattern: {"detail": {"Tunnel": {"VNI": [1]}, "Protocol": ["tcp"]}}
    targets: [shadow]
  - name: diffs
    pattern: {"source": ["wirebridge.replay"], "detail-type": ["ReplayDiff"], "detail": {"Replay": {"Status": [418]}}}
    targets: [diffs, frames, watch]
  - name: uris
    pattern: {"detail-type": ["ReplayDiff"]}
    input_path: "$.detail.URI"
    targets: [uris]
targets:
  - name: shadow
    type: replay
    url: %s
    compare: true
  - name: diffs
    type: file
    path: diffs.ndjson
    fsync: always
  - name: uris
    type: file
    path: uris.ndjson
    fsync: always
  - name: frames
    type: pcap
    path: frames.pcap
  - name: watch
    type: live
    channel: /diffs
    frames: true
`, dir, shadow.URL))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	base := "http://" + s.http.Addr().String()
	waitUntil(t, "ready", func() bool { code, _ := httpGet(t, base+"/readyz"); return code == 200 })

	c, err := net.Dial("udp", s.sources[0].(*source.VXLAN).Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range payloads {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond) // loopback socket buffer: no drops
	}

	diffs := filepath.Join(dir, "diffs.ndjson")
	waitUntil(t, "the ReplayDiff event in the file target", func() bool {
		b, _ := os.ReadFile(diffs)
		return bytes.Count(b, []byte("\n")) >= 1
	})
	b, _ := os.ReadFile(diffs)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 1 {
		t.Fatalf("diffs.ndjson has %d events, want 1:\n%s", len(lines), b)
	}
	var ev struct {
		Version    string   `json:"version"`
		ID         string   `json:"id"`
		Source     string   `json:"source"`
		DetailType string   `json:"detail-type"`
		Resources  []string `json:"resources"`
		Detail     struct {
			Target, Method, URI, Client, Server string
			VNI, Index                          int
			Original, Replay                    struct {
				Status     int
				BodySHA256 string
				BodyLength int64
			}
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatalf("diff event: %v\n%s", err, lines[0])
	}
	d := ev.Detail
	if ev.Version != "0" || ev.ID == "" || ev.Source != "wirebridge.replay" || ev.DetailType != "ReplayDiff" ||
		len(ev.Resources) != 1 || ev.Resources[0] != "shadow" {
		t.Errorf("envelope: %s", lines[0])
	}
	if d.Target != "shadow" || d.VNI != 1 || d.Index != 0 || d.Method != "GET" || d.URI != "/image/svg" ||
		d.Original.Status != 200 || d.Original.BodyLength != 8984 ||
		d.Replay.Status != 418 || d.Replay.BodyLength != int64(len("not the original")) ||
		d.Original.BodySHA256 == d.Replay.BodySHA256 || len(d.Replay.BodySHA256) != 64 {
		t.Errorf("detail: %s", lines[0])
	}
	waitUntil(t, "the transformed event", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "uris.ndjson"))
		return strings.TrimSpace(string(b)) == `"/image/svg"`
	})

	waitUntil(t, "the ReplayDiff event delivered to the live target", func() bool {
		_, m := httpGet(t, base+"/metrics")
		return strings.Contains(m, `wirebridge_deliver_delivered_total{target="watch"} 1`)
	})
	// Regression: a live target with frames: true used to drop every
	// ReplayDiff (it counted as a target needing a frame). The event is on
	// its channel, without a frame.
	var onChannel uint64
	for _, c := range s.live.hub.Channels() {
		if c.Channel == "/diffs" {
			onChannel = c.Events
		}
	}
	if onChannel != 1 {
		t.Errorf("live channel /diffs has %d events, want the ReplayDiff", onChannel)
	}
	_, metrics := httpGet(t, base+"/metrics")
	for _, w := range []string{
		`wirebridge_internal_events_total{source="wirebridge.replay"} 1`,
		`wirebridge_internal_events_matched_total{source="wirebridge.replay"} 1`,
		`wirebridge_internal_deliveries_total{source="wirebridge.replay"} 3`,
		`wirebridge_internal_events_dropped_total{reason="no_frame",source="wirebridge.replay"} 1`,
		`wirebridge_internal_events_dropped_total{reason="queue_full",source="wirebridge.replay"} 0`,
		`wirebridge_replay_diffs_total{target="shadow"} 1`,
		`wirebridge_replay_requests_forwarded_total{target="shadow"} 1`,
		`wirebridge_rule_matched_total{rule="diffs"} 1`,
		`wirebridge_rule_matched_total{rule="uris"} 1`,
	} {
		if !strings.Contains(metrics, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// TestReplayDiffWhileFlushing: a ReplayDiff found while the replay target
// flushes at shutdown (its shadow answers only once the target is stopping)
// still goes through the rules to the file target, which stops after it.
func TestReplayDiffWhileFlushing(t *testing.T) {
	payloads := vxlanPayloads(t, "zeek_vxlan-encapsulated-http.pcap")
	arrived, answer := make(chan struct{}), make(chan struct{})
	var once sync.Once
	shadow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		<-answer
		w.WriteHeader(http.StatusTeapot)
	}))
	release := sync.OnceFunc(func() { close(answer) })
	defer shadow.Close()
	defer release()

	dir := t.TempDir()
	s, _, logs := newTestServer(t, dir, fmt.Sprintf(`
data_dir: %s
http: {listen: "127.0.0.1:0"}
shutdown_timeout: 20s
sources:
  - name: mirror
    type: vxlan
    listen: ["127.0.0.1:0"]
    vni: [1]
rules:
  - name: replay
    pattern: {"detail": {"Tunnel": {"VNI": [1]}, "Protocol": ["tcp"]}}
    targets: [shadow]
  - name: diffs
    pattern: {"detail-type": ["ReplayDiff"]}
    targets: [diffs]
targets:
  - name: shadow
    type: replay
    url: %s
    compare: true
  - name: diffs
    type: file
    path: diffs.ndjson
    fsync: always
`, dir, shadow.URL))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	base := "http://" + s.http.Addr().String()
	waitUntil(t, "ready", func() bool { code, _ := httpGet(t, base+"/readyz"); return code == 200 })

	c, err := net.Dial("udp", s.sources[0].(*source.VXLAN).Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range payloads {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond) // loopback socket buffer: no drops
	}
	<-arrived
	cancel()
	waitUntil(t, "the replay target stopping", func() bool {
		return strings.Contains(logs.String(), `msg=stopping component="target shadow"`)
	})
	if strings.Contains(logs.String(), `msg=stopping component="event ingress"`) {
		t.Fatal("the event ingress stopped before the replay target finished")
	}
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	b, _ := os.ReadFile(filepath.Join(dir, "diffs.ndjson"))
	if n := bytes.Count(b, []byte("\n")); n != 1 || !bytes.Contains(b, []byte(`"detail-type":"ReplayDiff"`)) {
		t.Errorf("diffs.ndjson has %d lines, want the one ReplayDiff:\n%s\nlogs:\n%s", n, b, logs.String())
	}
}
