package config

import (
	"errors"
	"strings"
	"testing"
)

// doc joins lines with newlines, so that a case's line numbers are its slice indexes + 1.
func doc(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// valid is a minimal valid configuration; cases below vary it.
var valid = []string{
	"sources:", //  1
	"  - name: s",
	"    type: udp",
	`    listen: ["127.0.0.1:5514"]`,
	"rules:", //  5
	"  - name: r",
	`    pattern: {"source": ["wirebridge.udp"]}`,
	"    targets: [t]",
	"targets:",
	"  - name: t", // 10
	"    type: stdout",
}

// with returns valid with lines appended.
func with(extra ...string) string { return doc(append(append([]string{}, valid...), extra...)...) }

func TestValidBaseParses(t *testing.T) {
	c, err := Parse("wirebridge.yaml", []byte(doc(valid...)), testKinds)
	if err != nil {
		t.Fatalf("base config: %v", err)
	}
	if got := c.Targets[0].Delivery.Mode; got != Direct {
		t.Errorf("stdout delivery mode = %q, want direct", got)
	}
}

// TestParseErrors checks that each class of mistake is reported with file:line:column, the YAML
// path and the reason, and nothing else.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every error, exactly, in order
	}{
		{
			name: "yaml syntax",
			yaml: doc("sources: [", "  - name: s"),
			want: []string{`wirebridge.yaml:2:3: invalid YAML: did not find expected node content`},
		},
		{
			name: "not a mapping",
			yaml: doc("- a", "- b"),
			want: []string{`wirebridge.yaml:1:1: the configuration must be a mapping of keys such as sources:, rules:, targets:`},
		},
		{
			name: "two documents",
			yaml: doc(append(append([]string{}, valid...), "---", "log: {level: info}")...),
			want: []string{`wirebridge.yaml:12:1: more than one YAML document; a configuration is a single document`},
		},
		{
			name: "unknown top-level key with suggestion",
			yaml: with("shutdown_timout: 5s"),
			want: []string{`wirebridge.yaml:12:1: shutdown_timout: unknown key "shutdown_timout" (did you mean "shutdown_timeout"?)`},
		},
		{
			name: "unknown nested key",
			yaml: with("log:", "  colour: true"),
			want: []string{`wirebridge.yaml:13:3: log.colour: unknown key "colour"`},
		},
		{
			name: "key of another source type",
			yaml: doc("sources:", "  - name: s", "    type: udp", `    listen: ["127.0.0.1:5514"]`, "    interface: eth0"),
			want: []string{`wirebridge.yaml:5:5: sources[0].interface: key "interface" is not valid for type udp (it is a key of type afpacket, vxlan)`},
		},
		{
			name: "duplicate key",
			yaml: with("log: {level: info, level: debug}"),
			want: []string{`wirebridge.yaml:12:20: log.level: duplicate key "level"`},
		},
		{
			name: "wrong types",
			yaml: with("shutdown_timeout: [1s]", "nats:", "  embedded: maybe", "  replicas: two", "log: text"),
			want: []string{
				`wirebridge.yaml:12:19: shutdown_timeout: expected a duration such as 30s, got a list`,
				`wirebridge.yaml:14:13: nats.embedded: expected true or false, got "maybe"`,
				`wirebridge.yaml:15:13: nats.replicas: expected an integer, got "two"`,
				`wirebridge.yaml:16:6: log: expected a mapping, got "text"`,
			},
		},
		{
			name: "integer out of range",
			yaml: with("nats: {replicas: 99999999999999999999}"),
			want: []string{`wirebridge.yaml:12:18: nats.replicas: integer 99999999999999999999 is out of range`},
		},
		{
			name: "bad durations",
			yaml: with("shutdown_timeout: 30", "targets:"),
			want: []string{
				`wirebridge.yaml:12:19: shutdown_timeout: expected a duration with a unit such as 30s or 5m, got the integer 30`,
				`wirebridge.yaml:13:1: targets: duplicate key "targets"`,
			},
		},
		{
			name: "bad duration string and negative duration",
			yaml: with("shutdown_timeout: 3 days", "nats: {}", "http: {listen: '127.0.0.1:1'}"),
			want: []string{`wirebridge.yaml:12:19: shutdown_timeout: invalid duration "3 days": use a Go duration such as 500ms, 30s, 5m or 24h`},
		},
		{
			name: "negative duration",
			yaml: with("shutdown_timeout: -5s"),
			want: []string{`wirebridge.yaml:12:19: shutdown_timeout: duration "-5s" must not be negative`},
		},
		{
			name: "bad sizes",
			yaml: with("nats:", "  max_memory: 64MB/s", "  max_storage: lots"),
			want: []string{
				`wirebridge.yaml:13:15: nats.max_memory: invalid size "64MB/s": unknown unit "MB/s" (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)`,
				`wirebridge.yaml:14:16: nats.max_storage: invalid size "lots": want a number with an optional unit such as 64MiB`,
			},
		},
		{
			name: "bad CIDRs",
			yaml: doc("sources:", "  - name: s", "    type: raw", "    allow: [10.0.0.0/8, 10.0.0.0/33, example.com, fe80::1%eth0]"),
			want: []string{
				`wirebridge.yaml:4:25: sources[0].allow[1]: invalid CIDR "10.0.0.0/33": want an address or a network such as 10.0.0.0/8 or fd00::/8`,
				`wirebridge.yaml:4:38: sources[0].allow[2]: invalid CIDR "example.com": want an address or a network such as 10.0.0.0/8 or fd00::/8`,
				`wirebridge.yaml:4:51: sources[0].allow[3]: invalid CIDR "fe80::1%eth0": want an address or a network such as 10.0.0.0/8 or fd00::/8`,
			},
		},
		{
			name: "bad addresses",
			yaml: doc("http: {listen: 8080}", "sources:", "  - name: s", "    type: udp", `    listen: ["127.0.0.1", "myhost:514", "[::1]:syslog", "0.0.0.0:70000"]`),
			want: []string{
				`wirebridge.yaml:1:16: http.listen: invalid address "8080": want host:port, such as 127.0.0.1:5514 or [::1]:5514`,
				`wirebridge.yaml:5:14: sources[0].listen[0]: invalid address "127.0.0.1": want host:port, such as 127.0.0.1:5514 or [::1]:5514`,
				`wirebridge.yaml:5:27: sources[0].listen[1]: invalid address "myhost:514": host must be an IP address, localhost or empty`,
				`wirebridge.yaml:5:41: sources[0].listen[2]: invalid address "[::1]:syslog": port must be a number from 0 to 65535`,
				`wirebridge.yaml:5:57: sources[0].listen[3]: invalid address "0.0.0.0:70000": port must be a number from 0 to 65535`,
			},
		},
		{
			name: "address listened on twice",
			yaml: doc("sources:", "  - name: a", "    type: udp", `    listen: ["127.0.0.1:5514"]`, "  - name: b", "    type: udp", `    listen: ["127.0.0.1:5514"]`),
			want: []string{`wirebridge.yaml:7:14: sources[1].listen[0]: address 127.0.0.1:5514 is also listened on by sources[0].listen[0]`},
		},
		{
			name: "bad URLs",
			yaml: with(
				"  - name: h", "    type: http", "    url: ftp://example.com/hook",
				"  - name: h2", "    type: http", "    url: https://user:pw@example.com/",
				"  - name: eb", "    type: eventbridge", "    endpoint: localhost:4010",
				"nats: {urls: [http://nats:4222]}",
			),
			want: []string{
				`wirebridge.yaml:14:10: targets[1].url: invalid URL "ftp://example.com/hook": scheme must be http or https`,
				`wirebridge.yaml:17:10: targets[2].url: invalid URL "https://REDACTED@example.com/": put credentials in bearer_token or secret_headers, not in the URL`,
				`wirebridge.yaml:20:15: targets[3].endpoint: invalid URL "localhost:4010": scheme must be http or https`,
				`wirebridge.yaml:21:15: nats.urls[0]: invalid NATS URL "http://nats:4222": scheme must be nats, tls, ws or wss`,
			},
		},
		{
			name: "duplicate names",
			yaml: with("  - name: t", "    type: stdout", "  - name: bad name", "    type: stdout"),
			want: []string{
				`wirebridge.yaml:12:11: targets[1].name: duplicate target name "t" (also targets[0])`,
				`wirebridge.yaml:14:11: targets[2].name: invalid name "bad name": use letters, digits, '-' and '_' (at most 64, starting with a letter or digit)`,
			},
		},
		{
			name: "duplicate rule and source names",
			yaml: doc(
				"sources:", "  - {name: s, type: raw}", "  - {name: s, type: raw}",
				"rules:", "  - {name: r, pattern: {a: [1]}, targets: [t]}", "  - {name: r, pattern: {a: [1]}, targets: [t]}",
				"targets:", "  - {name: t, type: stdout}",
			),
			want: []string{
				`wirebridge.yaml:3:12: sources[1].name: duplicate source name "s" (also sources[0])`,
				`wirebridge.yaml:6:12: rules[1].name: duplicate rule name "r" (also rules[0])`,
			},
		},
		{
			name: "rule naming unknown targets",
			yaml: doc(append(append([]string{}, valid[:7]...), "    targets: [t, archve, t]", "targets:", "  - name: t", "    type: stdout", "  - name: archive", "    type: stdout")...),
			want: []string{
				`wirebridge.yaml:8:18: rules[0].targets[1]: unknown target "archve" (did you mean "archive"?)`,
				`wirebridge.yaml:8:26: rules[0].targets[2]: target "t" is listed twice`,
			},
		},
		{
			name: "rule without targets",
			yaml: doc(append(append([]string{}, valid[:7]...), valid[8:]...)...),
			want: []string{`wirebridge.yaml:6:5: rules[0].targets: required: at least one target name`},
		},
		{
			name: "targets missing required fields",
			yaml: with(
				"  - {name: h, type: http}",
				"  - {name: f, type: file}",
				"  - {name: p, type: pcap}",
				"  - {name: n, type: nats}",
				"  - {name: x, type: replay}",
				"  - {name: y}",
			),
			want: []string{
				`wirebridge.yaml:12:5: targets[1].url: required for an http target: the URL to POST events to`,
				`wirebridge.yaml:13:5: targets[2].path: required: the file name pattern, such as events/%Y-%m-%d/events-%H.ndjson`,
				`wirebridge.yaml:14:5: targets[3].path: required: the file name pattern, such as events/%Y-%m-%d/events-%H.ndjson`,
				`wirebridge.yaml:15:5: targets[4].subject: required: the subject to publish to`,
				`wirebridge.yaml:16:5: targets[5].address: required for a replay target: host:port of the shadow service (or url for http)`,
				`wirebridge.yaml:17:5: targets[6].type: required`,
			},
		},
		{
			name: "replay on_parse_error",
			yaml: with("  - {name: x, type: replay, address: 'shadow:80', on_parse_error: skip}"),
			want: []string{`wirebridge.yaml:12:67: targets[1].on_parse_error: invalid value "skip" (want one of stop, resync)`},
		},
		{
			name: "sources missing required fields",
			yaml: doc(
				"sources:",
				"  - {name: u, type: udp}",
				"  - {name: a, type: afpacket}",
				"  - {name: p, type: pcap}",
				"  - {name: x, type: sniffer}",
			),
			want: []string{
				`wirebridge.yaml:2:5: sources[0].listen: required: at least one address such as 127.0.0.1:5514`,
				`wirebridge.yaml:3:5: sources[1].interface: required for an afpacket source: the interface to capture on, such as eth0`,
				`wirebridge.yaml:4:5: sources[2].file: required for a pcap source: the capture file to replay`,
				`wirebridge.yaml:5:21: sources[3].type: unknown type "sniffer" (want one of udp, raw, afpacket, pcap, vxlan)`,
			},
		},
		{
			name: "no sources",
			yaml: doc("log: {level: info}"),
			want: []string{`wirebridge.yaml: sources: at least one source is required`},
		},
		{
			name: "pattern not JSON",
			yaml: doc(append(append([]string{}, valid[:6]...), `    pattern: '{"source": ["x"]'`, valid[7], valid[8], valid[9], valid[10])...),
			want: []string{`wirebridge.yaml:7:14: rules[0].pattern: pattern is not valid JSON: unexpected EOF`},
		},
		{
			name: "pattern written as a tcpdump/BPF filter",
			yaml: doc(append(append([]string{}, valid[:6]...), `    pattern: tcp port 80`, valid[7], valid[8], valid[9], valid[10])...),
			want: []string{`wirebridge.yaml:7:14: rules[0].pattern: pattern is not valid JSON: invalid character 'c' in literal true (expecting 'r') at offset 2; ` +
				`a pattern is an EventBridge event pattern (JSON or a YAML mapping), not a tcpdump/BPF filter: for tcp port 80, write {"detail": {"Protocol": ["tcp"], "Destination": {"Port": [80]}}} (docs/patterns.md)`},
		},
		{
			name: "pattern JSON but not an object",
			yaml: doc(append(append([]string{}, valid[:6]...), `    pattern: '["source"]'`, valid[7], valid[8], valid[9], valid[10])...),
			want: []string{`wirebridge.yaml:7:14: rules[0].pattern: pattern must be a JSON object`},
		},
		{
			name: "pattern a list",
			yaml: doc(append(append([]string{}, valid[:6]...), `    pattern: [1, 2]`, valid[7], valid[8], valid[9], valid[10])...),
			want: []string{`wirebridge.yaml:7:14: rules[0].pattern: pattern must be a JSON object or a YAML mapping, got a list`},
		},
		{
			name: "pattern missing",
			yaml: doc(append(append([]string{}, valid[:6]...), valid[7], valid[8], valid[9], valid[10])...),
			want: []string{`wirebridge.yaml:6:5: rules[0].pattern: required: an event pattern such as {"source": ["wirebridge.udp"]}`},
		},
		{
			name: "pattern rejected by the compiler, placed inside the mapping",
			yaml: doc(append(append([]string{}, valid[:6]...),
				"    pattern:",
				"      detail:",
				"        Destination:",
				"          Port: [{numeric: [\">\", \"x\"]}]",
				valid[7], valid[8], valid[9], valid[10])...),
			want: []string{`wirebridge.yaml:10:28: rules[0].pattern: detail.Destination.Port[0].numeric: numeric bound must be a number`},
		},
		{
			name: "input transformer",
			yaml: doc(append(append([]string{}, valid[:8]...),
				"    input_path: detail",
				"    input_template: '{\"ip\": <ip>, \"r\": <aws.events.rule-name>}'",
				valid[8], valid[9], valid[10])...),
			want: []string{
				`wirebridge.yaml:9:17: rules[0].input_path: invalid path "detail": must start with $ (a JSON path such as $.detail.Source.IP)`,
				`wirebridge.yaml:9:17: rules[0].input_path: input_path and input_template/input_paths are exclusive (EventBridge InputPath or InputTransformer)`,
				`wirebridge.yaml:10:21: rules[0].input_template: placeholder <ip> is not defined in input_paths`,
			},
		},
		{
			name: "enumerations and ranges",
			yaml: with(
				"  - name: f", "    type: file", "    path: a/%Y/%q.ndjson", "    compress: bzip2",
				"    delivery: {mode: eventually, backoff: {jitter: 2}}",
				"log: {level: verbose, format: xml}",
			),
			want: []string{
				`wirebridge.yaml:14:11: targets[1].path: unknown time verb %q (known: %Y %m %d %H %M %S %%)`,
				`wirebridge.yaml:15:15: targets[1].compress: invalid value "bzip2" (want one of none, gzip, zstd)`,
				`wirebridge.yaml:16:22: targets[1].delivery.mode: invalid value "eventually" (want durable or direct)`,
				`wirebridge.yaml:16:52: targets[1].delivery.backoff.jitter: 2 is out of range (want a fraction from 0 to 1)`,
				`wirebridge.yaml:17:14: log.level: invalid value "verbose" (want one of debug, info, warn, error)`,
				`wirebridge.yaml:17:31: log.format: invalid value "xml" (want one of auto, text, json)`,
			},
		},
		{
			name: "ack_wait out of range",
			yaml: with("  - {name: h, type: http, url: 'http://127.0.0.1:9/', delivery: {ack_wait: 100ms}}",
				"  - {name: g, type: http, url: 'http://127.0.0.1:9/', delivery: {ack_wait: 2h}}"),
			want: []string{
				`wirebridge.yaml:12:76: targets[1].delivery.ack_wait: 100ms is out of range (want 1s to 1h)`,
				`wirebridge.yaml:13:76: targets[2].delivery.ack_wait: 2h0m0s is out of range (want 1s to 1h)`,
			},
		},
		{
			name: "queue_bytes out of range",
			yaml: with("  - {name: f, type: file, path: a.ndjson, delivery: {queue_bytes: 1KiB}}",
				"  - {name: g, type: file, path: b.ndjson, delivery: {queue_bytes: 2GiB}}"),
			want: []string{
				`wirebridge.yaml:12:67: targets[1].delivery.queue_bytes: 1KiB is out of range (want 64KiB to 1GiB)`,
				`wirebridge.yaml:13:67: targets[2].delivery.queue_bytes: 2GiB is out of range (want 64KiB to 1GiB)`,
			},
		},
		{
			name: "durable delivery without a bus",
			yaml: with("  - {name: h, type: http, url: 'http://127.0.0.1:9/'}", "nats: {embedded: false}"),
			want: []string{`wirebridge.yaml:12:5: targets[1].delivery.mode: durable delivery needs NATS, but nats.embedded is false and nats.urls is empty (set one, or mode: direct)`},
		},
		{
			name: "embedded and external NATS together",
			yaml: with("nats: {embedded: true, urls: ['nats://n1:4222']}"),
			want: []string{`wirebridge.yaml:12:18: nats.embedded: embedded: true and urls are exclusive: use the embedded server or an external cluster`},
		},
		{
			name: "missing secret",
			yaml: with("  - {name: h, type: http, url: 'https://x/', bearer_token: 'env:WIREBRIDGE_TEST_UNSET_VAR'}"),
			want: []string{`wirebridge.yaml:12:60: targets[1].bearer_token: environment variable WIREBRIDGE_TEST_UNSET_VAR is not set`},
		},
		{
			name: "max_datagram below 9216",
			yaml: doc("sources:", "  - {name: s, type: raw, max_datagram: 1500}"),
			want: []string{`wirebridge.yaml:2:40: sources[0].max_datagram: 1500 is out of range (want 9216 to 65536 bytes)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("wirebridge.yaml", []byte(tt.yaml), testKinds)
			if err == nil {
				t.Fatalf("Parse succeeded, want errors:\n%s", strings.Join(tt.want, "\n"))
			}
			if c != nil {
				t.Errorf("Parse returned a config with an error")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, want config.Errors: %v", err, err)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n got:\n%s\nwant:\n%s", len(got), len(tt.want), err, strings.Join(tt.want, "\n"))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("error %d:\n got: %s\nwant: %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}
