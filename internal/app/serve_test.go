package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/kinds"
	"github.com/wirebridge/wirebridge/internal/source"
)

func serveConfig(t *testing.T, dir, port string) string {
	return fmt.Sprintf(`
data_dir: %s
http: {listen: "127.0.0.1:0"}
shutdown_timeout: 10s
sources:
  - name: udp
    type: udp
    listen: ["127.0.0.1:0"]
rules:
  - name: pick
    pattern: {"detail": {"Protocol": ["%s"]}}
    targets: [archive]
targets:
  - name: archive
    type: file
    path: out.ndjson
    fsync: always
`, dir, port)
}

// newTestServer builds a server from YAML written to dir/wirebridge.yaml.
func newTestServer(t *testing.T, dir, yaml string) (*server, *bytes.Buffer, *syncWriter) {
	t.Helper()
	path := filepath.Join(dir, "wirebridge.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, kinds.Default())
	if err != nil {
		t.Fatal(err)
	}
	out := new(bytes.Buffer)
	logs := &syncWriter{}
	logger, level, err := newLogger(config.Log{Level: "debug", Format: "text"}, logs)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(context.Background(), cfg, path, Stdio{Out: out, Err: logs}, logger, level)
	if err != nil {
		t.Fatal(err)
	}
	s.start = time.Now()
	return s, out, logs
}

type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeInProcess runs the whole server in the test process: a datagram
// sent to the udp source ends up in the file target, /metrics and /readyz
// answer, and cancelling the context stops everything cleanly.
func TestServeInProcess(t *testing.T) {
	dir := t.TempDir()
	s, out, logs := newTestServer(t, dir, serveConfig(t, dir, "udp"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	base := "http://" + s.http.Addr().String()
	waitUntil(t, "ready", func() bool { code, _ := httpGet(t, base+"/readyz"); return code == 200 })

	addr := s.sources[0].(*source.UDP).Addrs()[0]
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("in-process hello"))
	c.Close()
	outFile := filepath.Join(dir, "out.ndjson")
	waitUntil(t, "the event in the file", func() bool {
		b, _ := os.ReadFile(outFile)
		return bytes.Contains(b, []byte(`"Listener":"udp"`))
	})
	// The file holds the event before the deliverer counts it delivered
	// (Send returns, then the counter moves): wait for the count.
	waitUntil(t, "the delivery counted", func() bool {
		_, m := httpGet(t, base+"/metrics")
		return strings.Contains(m, `wirebridge_deliver_delivered_total{target="archive"} 1`)
	})
	_, metrics := httpGet(t, base+"/metrics")
	for _, w := range []string{
		`wirebridge_source_received_total{source="udp"} 1`,
		`wirebridge_rule_matched_total{rule="pick"} 1`,
		`wirebridge_deliver_delivered_total{target="archive"} 1`,
		`wirebridge_pipeline_processed_total{source="udp"} 1`,
		`wirebridge_source_dropped_total{reason="kernel",source="udp"} 0`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(metrics, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	for _, w := range []string{"Listening:", addr.String(), "Try it:", fmt.Sprintf("logger -n 127.0.0.1 -P %d -d hello", addr.Port()), outFile} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("startup output lacks %q:\n%s", w, out.String())
		}
	}
	for _, w := range []string{"msg=\"shutting down\"", "msg=stats", "msg=stopped"} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("logs lack %q:\n%s", w, logs.String())
		}
	}
	if _, err := net.Dial("tcp", s.http.Addr().String()); err == nil {
		t.Error("HTTP still listening after shutdown")
	}
}

// TestReload swaps rules from the file and keeps them when the file is wrong.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	s, _, logs := newTestServer(t, dir, serveConfig(t, dir, "udp"))
	defer s.release()
	path := filepath.Join(dir, "wirebridge.yaml")
	pattern := func() string { return s.table.Current().Rule("pick").Pattern.String() }
	before := pattern()

	tests := []struct {
		name    string
		yaml    string
		changed bool
		log     string
	}{
		{"new pattern", serveConfig(t, dir, "tcp"), true, "rules reloaded"},
		{"invalid pattern", strings.Replace(serveConfig(t, dir, "udp"), `["udp"]`, `[{"prefix": 1}]`, 1), false, "wirebridge.yaml:11:50: rules[0].pattern: detail.Protocol[0].prefix"},
		{"unknown key", serveConfig(t, dir, "udp") + "bogus: 1\n", false, `unknown key \"bogus\"`},
		{"new target", strings.Replace(serveConfig(t, dir, "udp"), "targets: [archive]", "targets: [archive, other]", 1) +
			"  - name: other\n    type: stdout\n", false, `target \"other\" is not running`},
		{"source change", strings.Replace(serveConfig(t, dir, "icmp"), `["127.0.0.1:0"]`, `["127.0.0.1:1"]`, 1), true, "take effect on restart"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev := pattern()
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			s.reload()
			if got := pattern() != prev; got != tc.changed {
				t.Errorf("rules changed: %v, want %v (pattern %s)", got, tc.changed, pattern())
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Errorf("logs lack %q:\n%s", tc.log, logs.String())
			}
		})
	}
	if pattern() == before {
		t.Error("no reload took effect")
	}
}

func TestDeliverConfig(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`
shutdown_timeout: 7s
sources:
  - name: s
    type: udp
    listen: ["127.0.0.1:0"]
targets:
  - name: hook
    type: http
    url: http://127.0.0.1:1/x
    batch: {max_events: 50, max_bytes: 2MiB, format: ndjson}
    delivery: {max_attempts: 3, max_age: 0s, backoff: {initial: 50ms, max: 2s}}
  - name: f
    type: file
    path: x.ndjson
    delivery: {batch_size: 10, queue_size: 99}
`), kinds.Default())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"http mode", deliverConfig(cfg, &cfg.Targets[0]).Mode, "durable"},
		{"http max events from batch", deliverConfig(cfg, &cfg.Targets[0]).MaxEvents, 50},
		{"http max bytes from batch", deliverConfig(cfg, &cfg.Targets[0]).MaxBytes, 2 << 20},
		{"attempts", deliverConfig(cfg, &cfg.Targets[0]).MaxAttempts, 3},
		{"max_age 0 passes as 0: no limit in deliver too", deliverConfig(cfg, &cfg.Targets[0]).MaxAge, time.Duration(0)},
		{"backoff initial", deliverConfig(cfg, &cfg.Targets[0]).BackoffMin, 50 * time.Millisecond},
		{"backoff max", deliverConfig(cfg, &cfg.Targets[0]).BackoffMax, 2 * time.Second},
		{"shutdown", deliverConfig(cfg, &cfg.Targets[0]).ShutdownTimeout, 7 * time.Second},
		{"file mode", deliverConfig(cfg, &cfg.Targets[1]).Mode, "direct"},
		{"file batch", deliverConfig(cfg, &cfg.Targets[1]).MaxEvents, 10},
		{"file queue", deliverConfig(cfg, &cfg.Targets[1]).QueueSize, 99},
		{"file max age default", deliverConfig(cfg, &cfg.Targets[1]).MaxAge, 24 * time.Hour},
		{"bus needed", needsBus(cfg), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if fmt.Sprint(tc.got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	def, err := config.Default(kinds.Default())
	if err != nil {
		t.Fatal(err)
	}
	if needsBus(def) {
		t.Error("the default configuration (file and pcap targets) should not need the bus")
	}
}

func TestRegistryErrors(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`
sources:
  - name: s
    type: udp
    listen: ["127.0.0.1:0"]
targets:
  - name: hook
    type: http
    url: http://127.0.0.1:1/x
`), kinds.Default())
	if err != nil {
		t.Fatal(err)
	}
	empty := &registry{}
	env := &buildEnv{cfg: cfg}
	if _, err := empty.newSource(env, 0); err == nil || !strings.Contains(err.Error(), `t.yaml:4:`) ||
		!strings.Contains(err.Error(), `source type "udp" is not available`) {
		t.Errorf("unregistered source type: %v", err)
	}
	if _, err := empty.newTarget(env, 0); err == nil || !strings.Contains(err.Error(), `t.yaml:8:`) ||
		!strings.Contains(err.Error(), `target type "http" is not available`) {
		t.Errorf("unregistered target type: %v", err)
	}
	reg := defaultRegistry()
	for _, typ := range []string{"udp", "raw", "afpacket", "pcap", "vxlan"} {
		if _, ok := reg.kinds.Source(typ); !ok {
			t.Errorf("source type %s not registered", typ)
		}
	}
	for _, typ := range []string{"http", "file", "pcap", "stdout", "nats", "eventbridge", "live", "replay"} {
		if _, ok := reg.kinds.Target(typ); !ok {
			t.Errorf("target type %s not registered", typ)
		}
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name    string
		log     config.Log
		wantErr bool
		json    bool
		debug   bool
	}{
		{"auto on a pipe is JSON", config.Log{Level: "info", Format: "auto"}, false, true, false},
		{"text", config.Log{Level: "debug", Format: "text"}, false, false, true},
		{"json warn", config.Log{Level: "warn", Format: "json"}, false, true, false},
		{"bad level", config.Log{Level: "loud"}, true, false, false},
		{"bad format", config.Log{Format: "xml"}, true, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			l, _, err := newLogger(tc.log, &b)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			l.Warn("hello", "k", 1)
			if got := strings.HasPrefix(b.String(), "{"); got != tc.json {
				t.Errorf("JSON %v, want %v: %q", got, tc.json, b.String())
			}
			if got := l.Enabled(context.Background(), slog.LevelDebug); got != tc.debug {
				t.Errorf("debug enabled %v, want %v", got, tc.debug)
			}
		})
	}
}

func TestDLQHandlerLoopbackOnly(t *testing.T) {
	h := dlqHandler(nil, func(string) bool { return true })
	req := httptest.NewRequest("GET", "/api/dlq/hook", nil)
	req.RemoteAddr = "192.0.2.7:4000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("remote client: %d, want 403", rec.Code)
	}
	h = dlqHandler(nil, func(string) bool { return false })
	req = httptest.NewRequest("POST", "/api/dlq/nope/replay", nil)
	req.RemoteAddr = "127.0.0.1:4000"
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Errorf("unknown target: %d, want 404", rec.Code)
	}
}

func TestServeUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"serve", "extra"}, Stdio{Out: &out, Err: &errb}); code != exitUsage {
		t.Errorf("serve extra: exit %d, want %d", code, exitUsage)
	}
	if code := Main(context.Background(), []string{"serve", "-c", filepath.Join(t.TempDir(), "missing.yaml")}, Stdio{Out: &out, Err: &errb}); code != exitFail {
		t.Errorf("serve -c missing: exit %d, want %d", code, exitFail)
	}
	if code := Main(context.Background(), []string{"dlq", "list"}, Stdio{Out: &out, Err: &errb}); code != exitUsage {
		t.Errorf("dlq list: exit %d, want %d", code, exitUsage)
	}
	errb.Reset()
	if code := Main(context.Background(), []string{"dlq", "list", "archive"}, Stdio{Out: &out, Err: &errb}); code != exitFail ||
		!strings.Contains(errb.String(), "only durable targets") {
		t.Errorf("dlq list archive (a direct target of the default config): exit %d: %s", code, errb.String())
	}
}

// TestTargetMetrics: two targets of a type with their own collectors
// (replay) are both registered and exposed.
func TestTargetMetrics(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := newTestServer(t, dir, fmt.Sprintf(`
data_dir: %s
http: {listen: "127.0.0.1:0"}
sources:
  - name: udp
    type: udp
    listen: ["127.0.0.1:0"]
rules:
  - name: r
    pattern: {"detail": {"Protocol": ["tcp"]}}
    targets: [shadow-a, shadow-b]
targets:
  - name: shadow-a
    type: replay
    address: 127.0.0.1:1
  - name: shadow-b
    type: replay
    address: 127.0.0.1:2
`, dir))
	defer s.release()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "wirebridge_replay_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "target" {
					seen[l.GetValue()] = true
				}
			}
		}
	}
	if !seen["shadow-a"] || !seen["shadow-b"] {
		t.Errorf("replay metrics for targets %v, want shadow-a and shadow-b", seen)
	}
}
