package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/source"
	"github.com/wirebridge/wirebridge/internal/target/eventbridge"
	filetarget "github.com/wirebridge/wirebridge/internal/target/file"
	httptarget "github.com/wirebridge/wirebridge/internal/target/http"
	"github.com/wirebridge/wirebridge/internal/target/live"
	natstarget "github.com/wirebridge/wirebridge/internal/target/nats"
	pcaptarget "github.com/wirebridge/wirebridge/internal/target/pcap"
	"github.com/wirebridge/wirebridge/internal/target/replay"
	"github.com/wirebridge/wirebridge/internal/target/stdout"
)

func mustParse(t *testing.T, y string) *Config {
	t.Helper()
	c, err := Parse("test.yaml", []byte(y), testKinds)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestDefaultConfig(t *testing.T) {
	c, err := Default(testKinds)
	if err != nil {
		t.Fatalf("embedded default: %v", err)
	}
	if c.DataDir != "./wirebridge-data" || c.HTTP.Listen != "127.0.0.1:8080" || !c.NATS.Embedded {
		t.Errorf("data_dir=%q http.listen=%q nats.embedded=%v", c.DataDir, c.HTTP.Listen, c.NATS.Embedded)
	}
	if len(c.Sources) != 1 || srcSpec[*source.UDPSpec](c.Sources[0]) == nil || !slices.Equal(srcSpec[*source.UDPSpec](c.Sources[0]).Listen, []string{"127.0.0.1:5514"}) {
		t.Fatalf("sources = %+v, want one udp source on 127.0.0.1:5514", c.Sources)
	}
	if len(c.Rules) != 2 || !slices.Equal(c.Rules[0].Targets, []string{"archive", "pcap-archive"}) || !slices.Equal(c.Rules[1].Targets, []string{"live"}) {
		t.Fatalf("rules = %+v", c.Rules)
	}
	if lt := specOf[*live.Spec](c.Targets[len(c.Targets)-1]); lt == nil || lt.Channel != "/packets/all" || !lt.Frames {
		t.Errorf("want the live target on /packets/all with frames, got %+v", c.Targets[len(c.Targets)-1])
	}
	var file *filetarget.Spec
	var pcap *pcaptarget.Spec
	for _, tg := range c.Targets {
		if f := specOf[*filetarget.Spec](tg); f != nil {
			file = f
		}
		if p := specOf[*pcaptarget.Spec](tg); p != nil {
			pcap = p
		}
		if tg.Delivery.Mode != Direct {
			t.Errorf("target %s: mode %s, want direct", tg.Name, tg.Delivery.Mode)
		}
	}
	if file == nil || pcap == nil {
		t.Fatalf("want a file and a pcap target, got %+v", c.Targets)
	}
	for _, p := range []TimePattern{file.Path, pcap.Path} {
		if !strings.HasPrefix(string(p), "wirebridge-data/") || !p.HasTime() {
			t.Errorf("path %q: want a time pattern under the data dir", p)
		}
	}
	if pcap.Rotate.Size == 0 || pcap.Rotate.Interval == 0 {
		t.Errorf("pcap archive does not rotate: %+v", pcap.Rotate)
	}
	if !bytes.Equal(DefaultYAML(), defaultYAML) {
		t.Error("DefaultYAML differs from the embedded file")
	}
}

func TestDefaultsApplied(t *testing.T) {
	c := mustParse(t, doc(valid...))
	tg := c.Targets[0]
	src := c.Sources[0]
	tests := []struct {
		name      string
		got, want any
	}{
		{"data_dir", c.DataDir, DefaultDataDir},
		{"http.listen", c.HTTP.Listen, DefaultHTTPListen},
		{"shutdown_timeout", c.ShutdownTimeout, 30 * time.Second},
		{"log", c.Log, Log{Level: "info", Format: "auto"}},
		{"nats", fmt.Sprint(c.NATS), fmt.Sprint(NATS{Embedded: true, MaxMemory: 64 * MiB, MaxStorage: 4 * GiB, Replicas: 1})},
		{"event_source", src.EventSource, "wirebridge.udp"},
		{"max_datagram", src.MaxDatagram, ByteSize(9216)},
		{"queue_size", src.QueueSize, 4096},
		{"udp", *srcSpec[*source.UDPSpec](src), source.UDPSpec{Listen: []string{"127.0.0.1:5514"}, Readers: 2, RecvBuffer: 4 * MiB, Batch: 256}},
		{"rule enabled", c.Rules[0].Enabled, true},
		{"delivery", tg.Delivery, Delivery{Mode: Direct, MaxAttempts: 10, MaxAge: 24 * time.Hour,
			Backoff: Backoff{Initial: time.Second, Max: 5 * time.Minute, Multiplier: 2, Jitter: 0.2}, BatchSize: 100, QueueSize: DefaultDirectQueue, QueueBytes: DefaultQueueBytes, AckWait: 10 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %+v, want %+v", tt.got, tt.want)
			}
		})
	}
}

func TestPartialOverrideKeepsOtherDefaults(t *testing.T) {
	c := mustParse(t, with(
		"  - name: f", "    type: file", "    path: /var/log/wb/%Y.ndjson", "    rotate: {size: 1GiB}",
		"    delivery: {backoff: {max: 10m}}",
	))
	f := struct {
		Target
		File *filetarget.Spec
	}{c.Targets[1], specOf[*filetarget.Spec](c.Targets[1])}
	if f.File.Rotate != (Rotate{Size: GiB, Interval: time.Hour}) {
		t.Errorf("rotate = %+v, want size 1GiB and the default interval", f.File.Rotate)
	}
	if f.Delivery.Backoff != (Backoff{Initial: time.Second, Max: 10 * time.Minute, Multiplier: 2, Jitter: 0.2}) {
		t.Errorf("backoff = %+v", f.Delivery.Backoff)
	}
	if f.File.Path != "/var/log/wb/%Y.ndjson" {
		t.Errorf("absolute path changed to %q", f.File.Path)
	}
	if f.File.Compress != "none" || f.File.Fsync != "rotate" {
		t.Errorf("compress=%q fsync=%q", f.File.Compress, f.File.Fsync)
	}
}

func TestDeliveryModeDefaults(t *testing.T) {
	tests := []struct {
		name   string
		target string
		want   DeliveryMode
	}{
		{"http", "{name: x, type: http, url: 'https://example.com/hook'}", Durable},
		{"eventbridge", "{name: x, type: eventbridge, region: eu-west-1}", Durable},
		{"nats", "{name: x, type: nats, subject: events.udp}", Durable},
		{"replay-http", "{name: x, type: replay, address: 'shadow:8080'}", Direct},
		{"replay-tcp", "{name: x, type: replay, address: 'shadow:8080', protocol: tcp}", Direct},
		{"file", "{name: x, type: file, path: a.ndjson}", Direct},
		{"pcap", "{name: x, type: pcap, path: a.pcap}", Direct},
		{"stdout", "{name: x, type: stdout}", Direct},
		{"live", "{name: x, type: live}", Direct},
		{"http forced direct", "{name: x, type: http, url: 'https://example.com/', delivery: {mode: direct}}", Direct},
		{"file forced durable", "{name: x, type: file, path: a.ndjson, delivery: {mode: durable}}", Durable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, with("  - "+tt.target))
			if got := c.Targets[1].Delivery.Mode; got != tt.want {
				t.Errorf("mode = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestQueueSizeDefaults: a target in direct mode (and any replay target)
// holds 16,384 events unless the file says otherwise, a durable one 1,024;
// direct targets hold at most 16 MiB of bodies and frames, replay 32 MiB.
func TestQueueSizeDefaults(t *testing.T) {
	tests := []struct {
		name   string
		target string
		want   int
		bytes  ByteSize
	}{
		{"replay", "{name: x, type: replay, address: 'shadow:8080'}", 16384, 32 * MiB},
		{"replay set", "{name: x, type: replay, address: 'shadow:8080', delivery: {queue_size: 1024, queue_bytes: 1MiB}}", 1024, MiB},
		{"replay other delivery keys", "{name: x, type: replay, address: 'shadow:8080', delivery: {batch_size: 5}}", 16384, 32 * MiB},
		{"http (durable)", "{name: x, type: http, url: 'https://example.com/hook'}", DefaultDurableQueue, DefaultQueueBytes},
		{"http direct", "{name: x, type: http, url: 'https://example.com/hook', delivery: {mode: direct}}", DefaultDirectQueue, DefaultQueueBytes},
		{"file", "{name: x, type: file, path: a.ndjson}", DefaultDirectQueue, DefaultQueueBytes},
		{"file set", "{name: x, type: file, path: a.ndjson, delivery: {queue_size: 7, queue_bytes: 64KiB}}", 7, 64 * KiB},
		{"live", "{name: x, type: live}", DefaultDirectQueue, DefaultQueueBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, with("  - "+tt.target))
			if got := c.Targets[1].Delivery.QueueSize; got != tt.want {
				t.Errorf("queue_size = %d, want %d", got, tt.want)
			}
			if got := c.Targets[1].Delivery.QueueBytes; got != tt.bytes {
				t.Errorf("queue_bytes = %d, want %d", got, tt.bytes)
			}
		})
	}
}

func TestExternalNATSDisablesEmbedded(t *testing.T) {
	c := mustParse(t, with("nats:", "  urls: [nats://n1:4222, tls://n2:4222]", "  replicas: 3"))
	if c.NATS.Embedded {
		t.Error("nats.embedded stayed true with urls set")
	}
	if len(c.NATS.URLs) != 2 || c.NATS.Replicas != 3 {
		t.Errorf("nats = %+v", c.NATS)
	}
}

func TestSourceTypes(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // the pcap sources' file, relative to the working directory
	if err := os.WriteFile(filepath.Join(dir, "x.pcap"), []byte{0xd4, 0xc3, 0xb2, 0xa1}, 0o644); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, doc(
		"sources:",
		"  - name: u",
		"    type: udp",
		`    listen: ["127.0.0.1:5514", "[::1]:5514"]`,
		"    readers: 4",
		"    recv_buffer: 16MiB",
		"    batch: 128",
		"    allow: [10.0.0.7, 192.168.0.0/16, '2001:db8::/32']",
		"    rate_limit: {per_source: {pps: 100.5}, global: {pps: 10000, burst: 20000}}",
		"    max_datagram: 64KiB",
		"  - {name: r, type: raw, event_source: udp.raw, ipv6: false}",
		"  - name: a",
		"    type: afpacket",
		"    interface: eth0",
		"    filter: {protocols: [udp, tcp], ports: [53, '5000-5100']}",
		"    readers: 2",
		"    max_datagram: 65536",
		"  - {name: p, type: pcap, file: x.pcap, speed: 2.5x, loop: true}",
		"  - {name: p2, type: pcap, file: x.pcap, speed: max}",
		"  - {name: v, type: vxlan, listen: ['0.0.0.0:4789'], vni: [42, 7]}",
	))
	u := c.Sources[0]
	if uu := srcSpec[*source.UDPSpec](u); uu.Readers != 4 || uu.RecvBuffer != 16*MiB || uu.Batch != 128 || u.MaxDatagram != 65536 {
		t.Errorf("udp = %+v %+v", u, *uu)
	}
	wantAllow := []netip.Prefix{netip.MustParsePrefix("10.0.0.7/32"), netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("2001:db8::/32")}
	if !slices.Equal(u.Allow, wantAllow) {
		t.Errorf("allow = %v, want %v", u.Allow, wantAllow)
	}
	if u.RateLimit.PerSource != (TokenBucket{PPS: 100.5, Burst: 101}) || u.RateLimit.Global != (TokenBucket{PPS: 10000, Burst: 20000}) {
		t.Errorf("rate_limit = %+v", u.RateLimit)
	}
	if r, rs := c.Sources[1], srcSpec[*source.RawSpec](c.Sources[1]); rs == nil || r.EventSource != "udp.raw" || !rs.IPv4 || rs.IPv6 {
		t.Errorf("raw = %+v", r)
	}
	a := srcSpec[*source.AFPacketSpec](c.Sources[2])
	if a.Interface != "eth0" || !slices.Equal(a.Filter.Protocols, []string{"udp", "tcp"}) ||
		!slices.Equal(a.Filter.Ports, []PortRange{{Lo: 53, Hi: 53}, {Lo: 5000, Hi: 5100}}) || a.Readers != 2 || a.Fanout != "hash" {
		t.Errorf("afpacket = %+v", a)
	}
	if p := srcSpec[*source.PCAPSpec](c.Sources[3]); p.Speed != (Speed{Mode: SpeedScaled, Factor: 2.5}) || !p.Loop {
		t.Errorf("pcap = %+v", p)
	}
	if p := srcSpec[*source.PCAPSpec](c.Sources[4]); p.Speed.Mode != SpeedMax {
		t.Errorf("pcap speed = %+v", p.Speed)
	}
	if v := srcSpec[*source.VXLANSpec](c.Sources[5]); !slices.Equal(v.VNI, []uint32{42, 7}) || c.Sources[5].EventSource != "wirebridge.vxlan" {
		t.Errorf("vxlan = %+v", v)
	}
}

func TestTargetTypes(t *testing.T) {
	t.Setenv("WB_TEST_TOKEN", "tok-123")
	c := mustParse(t, with(
		"  - name: hook",
		"    type: http",
		"    url: https://hooks.example.com/in",
		"    headers: {X-Source: wirebridge}",
		"    secret_headers: {X-Api-Key: env:WB_TEST_TOKEN}",
		"    hmac: {secret: 'literal-key'}",
		"    tls: {ca_file: ca.pem, insecure_skip_verify: true}",
		"    batch: {format: ndjson}",
		"    delivery: {max_attempts: 3, max_age: 1h}",
		"  - {name: eb, type: eventbridge, region: us-east-1, endpoint: 'http://127.0.0.1:4010', detail_type: Udp}",
		"  - {name: bus, type: nats, subject: events.syslog}",
		"  - {name: watch, type: live}",
		"  - {name: shadow, type: replay, address: '127.0.0.1:9000', protocol: tcp, timeout: 2s}",
		"  - {name: p, type: pcap, path: 'pcap/%Y%m%d-%H.pcap', snaplen: 1500}",
	))
	h := specOf[*httptarget.Spec](c.Targets[1])
	if h.Method != "POST" || h.Timeout != 10*time.Second || h.Headers["X-Source"] != "wirebridge" {
		t.Errorf("http = %+v", h)
	}
	if v := h.SecretHeaders["X-Api-Key"]; v.Value() != "tok-123" || v.Ref() != "env:WB_TEST_TOKEN" {
		t.Errorf("secret header = %q (%s)", v.Value(), v.Ref())
	}
	if *h.HMAC != (httptarget.HMAC{Secret: LiteralSecret("literal-key"), Header: "X-Wirebridge-Signature", TimestampHeader: "X-Wirebridge-Timestamp"}) {
		t.Errorf("hmac = %#v", *h.HMAC)
	}
	if *h.Batch != (httptarget.Batch{MaxEvents: 100, MaxBytes: MiB, Format: "ndjson"}) {
		t.Errorf("batch = %+v", *h.Batch)
	}
	if c.Targets[1].Delivery.MaxAttempts != 3 || c.Targets[1].Delivery.MaxAge != time.Hour {
		t.Errorf("delivery = %+v", c.Targets[1].Delivery)
	}
	if eb := specOf[*eventbridge.Spec](c.Targets[2]); eb.EventBusName != "default" || eb.Region != "us-east-1" || eb.DetailType != "Udp" {
		t.Errorf("eventbridge = %+v", eb)
	}
	if specOf[*natstarget.Spec](c.Targets[3]).Subject != "events.syslog" {
		t.Errorf("nats = %+v", specOf[*natstarget.Spec](c.Targets[3]))
	}
	if specOf[*live.Spec](c.Targets[4]).Channel != "/watch" {
		t.Errorf("live channel = %q, want / and the target name", specOf[*live.Spec](c.Targets[4]).Channel)
	}
	if r := specOf[*replay.Spec](c.Targets[5]); r.Protocol != "tcp" || r.Timeout != 2*time.Second {
		t.Errorf("replay = %+v", r)
	}
	if p := specOf[*pcaptarget.Spec](c.Targets[6]); p.Path != "wirebridge-data/pcap/%Y%m%d-%H.pcap" || p.Snaplen != 1500 {
		t.Errorf("pcap = %+v", p)
	}
}

func TestPatternForms(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		want    string
	}{
		{"flow mapping", `{"source": ["udp.raw"], "detail": {"Destination": {"Port": [514]}}}`, `{"source":["udp.raw"],"detail":{"Destination":{"Port":[514]}}}`},
		{"JSON string", `'{"source": ["udp.raw"], "detail": {"Destination": {"Port": [514]}}}'`, `{"source":["udp.raw"],"detail":{"Destination":{"Port":[514]}}}`},
		{"block mapping", "\n      source: [udp.raw]\n      detail:\n        Destination:\n          Port: [514]", `{"source":["udp.raw"],"detail":{"Destination":{"Port":[514]}}}`},
		{"YAML scalars become JSON", `{a: [0x10, 1.50, true, null, "x", 2001-01-01], b: [{exists: false}]}`, `{"a":[16,1.5,true,null,"x","2001-01-01"],"b":[{"exists":false}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := doc(append(append([]string{}, valid[:6]...), "    pattern: "+tt.pattern, valid[7], valid[8], valid[9], valid[10])...)
			c := mustParse(t, y)
			if got := string(c.Rules[0].Pattern); got != tt.want {
				t.Errorf("pattern = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	c := mustParse(t, with(
		"  - name: h1",
		"    type: http",
		"    url: https://a.example.com/",
		"    delivery: &retry {max_attempts: 5, backoff: {initial: 2s, max: 1m}}",
		"  - name: h2",
		"    type: http",
		"    url: https://b.example.com/",
		"    delivery:",
		"      <<: *retry",
		"      max_attempts: 7",
	))
	if d := c.Targets[1].Delivery; d.MaxAttempts != 5 || d.Backoff.Initial != 2*time.Second {
		t.Errorf("h1 delivery = %+v", d)
	}
	if d := c.Targets[2].Delivery; d.MaxAttempts != 7 || d.Backoff.Max != time.Minute || d.Mode != Durable {
		t.Errorf("h2 delivery = %+v", d)
	}
}

func TestAliasBombIsBounded(t *testing.T) {
	lines := []string{"a0: &a0 [x, x, x, x, x, x, x, x, x, x]"}
	for i := 1; i < 9; i++ {
		lines = append(lines, fmt.Sprintf("a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1))
	}
	lines = append(lines, "rules:", "  - name: r", "    targets: [t]", "    pattern: {a: *a8}")
	start := time.Now()
	_, err := Parse("bomb.yaml", []byte(doc(lines...)), testKinds)
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("err = %v, want a too-large error", err)
	}
	t.Logf("rejected in %v", time.Since(start))
}

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WB_SECRET", "from-env")
	t.Setenv("WB_EMPTY", "")
	tests := []struct {
		name      string
		ref       string
		wantValue string
		wantRef   string
		wantErr   string
	}{
		{"env", "env:WB_SECRET", "from-env", "env:WB_SECRET", ""},
		{"file trims one newline", "file:" + file, "from-file", "file:" + file, ""},
		{"literal", "s3cr3t", "s3cr3t", "literal", ""},
		{"unset env", "env:WB_NOT_SET_ANYWHERE", "", "", "environment variable WB_NOT_SET_ANYWHERE is not set"},
		{"empty env", "env:WB_EMPTY", "", "", "environment variable WB_EMPTY is empty"},
		{"env without name", "env:", "", "", "env: needs a variable name"},
		{"missing file", "file:" + filepath.Join(dir, "nope"), "", "", "no such file"},
		{"empty file", "file:" + empty, "", "", "empty"},
		{"not a regular file", "file:/dev/null", "", "", "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSecret(tt.ref)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Value() != tt.wantValue || s.Ref() != tt.wantRef || !s.IsSet() {
				t.Errorf("value=%q ref=%q set=%v", s.Value(), s.Ref(), s.IsSet())
			}
		})
	}
}

// TestSecretNeverRevealed prints a secret every way a program might and checks the value never
// appears.
func TestSecretNeverRevealed(t *testing.T) {
	t.Setenv("WB_HIDDEN", "hunter2-env")
	fromEnv, err := ParseSecret("env:WB_HIDDEN")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []Secret{fromEnv, LiteralSecret("hunter2-literal")} {
		holder := struct {
			Token Secret
			Ptr   *Secret
			Map   map[string]Secret
		}{s, &s, map[string]Secret{"k": s}}
		var outputs []string
		for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%10s"} {
			outputs = append(outputs, fmt.Sprintf(f, s), fmt.Sprintf(f, holder), fmt.Sprintf(f, &s))
		}
		outputs = append(outputs, s.String(), s.GoString(), s.Ref(), fmt.Sprint(s), fmt.Sprintln(holder))
		js, err := json.Marshal(holder)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(js))
		var logs bytes.Buffer
		for _, h := range []slog.Handler{slog.NewJSONHandler(&logs, nil), slog.NewTextHandler(&logs, nil)} {
			l := slog.New(h)
			l.Info("x", "secret", s, "holder", holder, "ptr", &s)
			l.Info("y", slog.Any("s", s), slog.Group("g", "s", s))
		}
		outputs = append(outputs, logs.String())
		for _, out := range outputs {
			if strings.Contains(out, "hunter2") || strings.Contains(out, fmt.Sprintf("%x", "hunter2")) {
				t.Errorf("secret revealed: %s", out)
			}
		}
		if !strings.Contains(logs.String(), "redacted") {
			t.Errorf("logs do not say redacted: %s", logs.String())
		}
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		wantErr bool
	}{
		{"0", 0, false},
		{"4096", 4096, false},
		{"64MiB", 64 << 20, false},
		{"64 MiB", 64 << 20, false},
		{"1.5GiB", 3 << 29, false},
		{"1GB", 1_000_000_000, false},
		{"10kb", 10_000, false},
		{"2TiB", 2 << 40, false},
		{"512B", 512, false},
		{"1.5B", 0, true},
		{"MiB", 0, true},
		{"-1MiB", 0, true},
		{"64Mb/s", 0, true},
		{"9999999TiB", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseByteSize(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseByteSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
	for _, b := range []ByteSize{0, 1, 1023, KiB, 9216, 64 * MiB, 3 * GiB, 5 * TiB, 1536} {
		back, err := ParseByteSize(b.String())
		if err != nil || back != b {
			t.Errorf("%d -> %q -> %d, %v", b, b.String(), back, err)
		}
	}
}

func TestSpeed(t *testing.T) {
	tests := []struct {
		in, tag string
		want    Speed
		wantErr bool
	}{
		{"recorded", tagStr, Speed{Mode: SpeedRecorded, Factor: 1}, false},
		{"max", tagStr, Speed{Mode: SpeedMax, Factor: 0}, false},
		{"2", tagInt, Speed{Mode: SpeedScaled, Factor: 2}, false},
		{"0.5", tagFloat, Speed{Mode: SpeedScaled, Factor: 0.5}, false},
		{"10x", tagStr, Speed{Mode: SpeedScaled, Factor: 10}, false},
		{"0", tagInt, Speed{}, true},
		{"-2x", tagStr, Speed{}, true},
		{"fast", tagStr, Speed{}, true},
		{"true", tagBool, Speed{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var s Speed
			err := s.DecodeScalar(tt.in, tt.tag)
			if (err != nil) != tt.wantErr || s != tt.want {
				t.Errorf("got %+v, %v; want %+v, error %v", s, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPortRange(t *testing.T) {
	tests := []struct {
		in      string
		want    PortRange
		wantErr bool
	}{
		{"514", PortRange{Lo: 514, Hi: 514}, false},
		{"5000-5100", PortRange{Lo: 5000, Hi: 5100}, false},
		{"5100-5000", PortRange{}, true},
		{"65536", PortRange{}, true},
		{"a-b", PortRange{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var r PortRange
			err := r.DecodeScalar(tt.in, tagStr)
			if (err != nil) != tt.wantErr || r != tt.want {
				t.Errorf("got %+v, %v; want %+v, error %v", r, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestTimePattern(t *testing.T) {
	at := time.Date(2026, 11, 21, 20, 40, 15, 0, time.FixedZone("X", 3600))
	tests := []struct {
		pattern TimePattern
		want    string
		hasTime bool
		bad     bool
	}{
		{"events/%Y-%m-%d/events-%H.ndjson", "events/2026-11-21/events-19.ndjson", true, false},
		{"a-%H%M%S.pcap", "a-194015.pcap", true, false},
		{"day-of-year-%j", "", false, true}, // the targets do not expand %j or %s
		{"unix-%s", "", false, true},
		{"plain.ndjson", "plain.ndjson", false, false},
		{"100%%.ndjson", "100%.ndjson", false, false},
		{"bad-%q", "", false, true},
		{"trailing-%", "", false, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.pattern), func(t *testing.T) {
			err := tt.pattern.Check()
			if (err != nil) != tt.bad {
				t.Fatalf("Check = %v, want error %v", err, tt.bad)
			}
			if tt.bad {
				return
			}
			if got := tt.pattern.Format(at); got != tt.want {
				t.Errorf("Format = %q, want %q", got, tt.want)
			}
			if tt.pattern.HasTime() != tt.hasTime {
				t.Errorf("HasTime = %v", !tt.hasTime)
			}
		})
	}
	c := &Config{DataDir: "/data/100%"}
	if got := c.OutputPath("x-%Y"); got.Format(at) != "/data/100%/x-2026" {
		t.Errorf("OutputPath escapes badly: %q", got.Format(at))
	}
}

func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(doc(append(append([]string{}, valid[:7]...), "    targets: [t, archve]", valid[8], valid[9], valid[10], "    bogus: 1")...)), 0o600); err != nil {
		t.Fatal(err)
	}
	errs := Check(bad, testKinds)
	want := []string{
		bad + `:8:18: rules[0].targets[1]: unknown target "archve"`,
		bad + `:12:5: targets[0].bogus: unknown key "bogus"`,
	}
	if len(errs) != len(want) {
		t.Fatalf("Check = %v, want %d errors", errs, len(want))
	}
	for i := range want {
		if errs[i].Error() != want[i] {
			t.Errorf("error %d = %q, want %q", i, errs[i], want[i])
		}
		var e *Error
		if !errors.As(errs[i], &e) || e.Line == 0 || e.Path == "" {
			t.Errorf("error %d is not a positioned *Error: %#v", i, errs[i])
		}
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(doc(valid...)), 0o600); err != nil {
		t.Fatal(err)
	}
	if errs := Check(good, testKinds); errs != nil {
		t.Errorf("valid file: %v", errs)
	}
	if errs := Check(filepath.Join(dir, "missing.yaml"), testKinds); len(errs) != 1 || !errors.Is(errs[0], os.ErrNotExist) {
		t.Errorf("missing file: %v", errs)
	}
}

func TestValidateAfterChange(t *testing.T) {
	c := mustParse(t, doc(valid...))
	if err := c.Validate(); err != nil {
		t.Fatalf("re-validate: %v", err)
	}
	c.Rules[0].Targets = append(c.Rules[0].Targets, "ghost")
	c.Rules[0].Pattern = Pattern(`{"source": "not-a-list"}`)
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted an unknown target and a bad pattern")
	}
	msg := err.Error()
	for _, want := range []string{`test.yaml:8:14: rules[0].targets[1]: unknown target "ghost"`, "test.yaml:7:14: rules[0].pattern: source: "} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if e := c.ErrorAt("targets[0].type", errors.New("cannot open")); e.Error() != "test.yaml:11:11: targets[0].type: cannot open" {
		t.Errorf("ErrorAt = %q", e)
	}
}

func TestEmptyConfigNeedsASource(t *testing.T) {
	for _, in := range []string{"", "# only a comment\n", "~\n"} {
		_, err := Parse("empty.yaml", []byte(in), testKinds)
		if err == nil || err.Error() != "empty.yaml: sources: at least one source is required" {
			t.Errorf("Parse(%q, testKinds) = %v", in, err)
		}
	}
}

// FuzzParse: the parser never panics, and on failure returns a nil config and positioned errors.
func FuzzParse(f *testing.F) {
	f.Add([]byte(doc(valid...)))
	f.Add(defaultYAML)
	files, _ := filepath.Glob(filepath.Join(repoRoot, "examples", "*.yaml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("sources: [{<<: {name: x}, type: udp, listen: [':0']}]\nrules: [{pattern: '{\"a\":[{\"numeric\":[\">\"]}]}'}]"))
	f.Add([]byte("targets:\n  - {name: t, type: http, url: 'http://x', headers: {\"a b\": \"c\\r\\n\"}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data, testKinds)
		if err == nil {
			if c == nil {
				t.Fatal("nil config without an error")
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("parsed config fails re-validation: %v", err)
			}
			return
		}
		if c != nil {
			t.Fatal("config returned with an error")
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error is not a non-empty Errors: %T %v", err, err)
		}
		for _, e := range es {
			if e.File != "fuzz.yaml" || e.Msg == "" {
				t.Fatalf("malformed error: %#v", e)
			}
		}
	})
}

// TestRecursiveAliases: self-referencing anchors give errors, not endless recursion.
func TestRecursiveAliases(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"self-merge", "nats: &n {<<: *n, replicas: 1}", "merge keys (<<) nest more than 16 deep"},
		{"self-referencing pattern", "rules: [{name: r, targets: [t], pattern: &p {a: *p}}]", "pattern nests too deeply"},
		{"list holding itself as a name", "sources: &s [{name: *s}]", "sources[0].name: expected a string, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("loop.yaml", []byte(tt.yaml), testKinds)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestValidateConfigBuiltInCode: Validate works without positions and catches a type whose
// settings block is missing.
func TestValidateConfigBuiltInCode(t *testing.T) {
	c := &Config{
		kinds:   testKinds,
		Sources: []Source{{Name: "s", Type: "udp", EventSource: "x", MaxDatagram: 9216, QueueSize: 1}},
		Targets: []Target{{Name: "t", Type: "stdout", Delivery: Delivery{Mode: Direct, MaxAttempts: 1, BatchSize: 1, QueueSize: 1,
			Backoff: Backoff{Initial: time.Second, Max: time.Second, Multiplier: 1}}, Spec: &stdout.Spec{}}},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted an empty config")
	}
	want := []string{
		"data_dir: must not be empty",
		"shutdown_timeout: must be a positive duration",
		`log.level: invalid value "" (want one of debug, info, warn, error)`,
		`log.format: invalid value "" (want one of auto, text, json)`,
		"http.listen: required: an address such as 127.0.0.1:8080",
		"nats.replicas: 0 is out of range (want 1 to 5)",
		"sources[0].type: type udp needs exactly its own settings, but [] are set",
	}
	got := strings.Split(err.Error(), "\n")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func manyRules(n int) []byte {
	lines := append([]string{}, valid[:4]...) // sources
	lines = append(lines, "rules:")
	for i := range n {
		lines = append(lines, fmt.Sprintf("  - {name: r%d, pattern: {detail: {Destination: {Port: [%d]}}}, targets: [t]}", i, i%65536))
	}
	lines = append(lines, valid[8:]...) // targets
	return []byte(doc(lines...))
}

func TestManyRules(t *testing.T) {
	c, err := Parse("many.yaml", manyRules(1000), testKinds)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rules) != 1000 || c.Rules[999].Name != "r999" || string(c.Rules[999].Pattern) != `{"detail":{"Destination":{"Port":[999]}}}` {
		t.Fatalf("got %d rules, last %+v", len(c.Rules), c.Rules[len(c.Rules)-1])
	}
}

// BenchmarkParse: go test -run '^$' -bench Parse -benchmem ./internal/config/
func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		data []byte
	}{{"default", defaultYAML}, {"1000-rules", manyRules(1000)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			for b.Loop() {
				if _, err := Parse("bench.yaml", bc.data, testKinds); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
