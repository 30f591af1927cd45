package config

import (
	"errors"
	"strconv"
	"testing"

	"github.com/wirebridge/wirebridge/internal/names/namestest"
)

// withRule is a valid document whose one rule has extra lines.
func withRule(extra ...string) string {
	lines := append([]string{"sources:", "  - {name: s, type: udp, listen: [\"127.0.0.1:5514\"]}",
		"rules:", "  - name: r", `    pattern: {"source": ["wirebridge.udp"]}`, "    targets: [t]"}, extra...)
	return doc(append(lines, "targets:", "  - {name: t, type: stdout}")...)
}

// TestSharedRules runs the tables of internal/names/namestest, which the
// components run too (deliver: target names, live: channels, target/nats:
// subjects, rule: JSON paths), through the configuration: a valid input
// parses, an invalid one is reported at its key with the same reason.
func TestSharedRules(t *testing.T) {
	groups := []struct {
		name  string
		cases []namestest.Case
		yaml  func(q string) string // the document with the case's input quoted as q
		path  string                // where an invalid input is reported
		skip  func(in string) bool  // inputs that mean something else here
	}{
		{"target name", namestest.Names, func(q string) string { return with("  - {name: " + q + ", type: stdout}") }, "targets[1].name",
			func(in string) bool { return in == "" }},
		{"source name", namestest.Names, func(q string) string {
			return doc("sources:", "  - {name: "+q+", type: udp, listen: [\"127.0.0.1:5514\"]}", "targets:", "  - {name: t, type: stdout}")
		}, "sources[0].name", func(in string) bool { return in == "" }},
		{"live channel", namestest.Channels, func(q string) string { return with("  - {name: w, type: live, channel: " + q + "}") }, "targets[1].channel", nil},
		{"nats subject", namestest.Subjects, func(q string) string { return with("  - {name: n, type: nats, subject: " + q + "}") }, "targets[1].subject", nil},
		{"input_path", namestest.Paths, func(q string) string { return withRule("    input_path: " + q) }, "rules[0].input_path",
			func(in string) bool { return in == "" }}, // unset
		{"pattern", namestest.Patterns, func(q string) string {
			return doc("sources:", "  - {name: s, type: udp, listen: [\"127.0.0.1:5514\"]}", "rules:", "  - name: r",
				"    pattern: "+q, "    targets: [t]", "targets:", "  - {name: t, type: stdout}")
		}, "rules[0].pattern", nil},
		{"API key scope", namestest.Scopes, func(q string) string {
			return with("live:", "  api_keys: [{name: k, key: 0123456789abcdef, scopes: ["+q+"]}]")
		}, "live.api_keys[0].scopes[0]", nil},
		{"http.listen", namestest.Listens, func(q string) string { return with("http: {listen: " + q + "}") }, "http.listen", nil},
		{"input_paths", namestest.Paths, func(q string) string { return withRule("    input_paths: {v: "+q+"}", `    input_template: "<v>"`) }, "rules[0].input_paths.v", nil},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				if g.skip != nil && g.skip(c.In) {
					continue
				}
				t.Run(c.Name, func(t *testing.T) {
					_, err := Parse("wirebridge.yaml", []byte(g.yaml(strconv.Quote(c.In))), testKinds)
					if c.Err == "" {
						if err != nil {
							t.Fatalf("%q: %v", c.In, err)
						}
						return
					}
					var es Errors
					if !errors.As(err, &es) {
						t.Fatalf("%q: error %v, want %s: %s", c.In, err, g.path, c.Err)
					}
					for _, e := range es {
						if e.Path == g.path && e.Msg == c.Err && e.Line > 0 {
							return
						}
					}
					t.Fatalf("%q:\n got %v\nwant wirebridge.yaml:LINE:COL: %s: %s", c.In, err, g.path, c.Err)
				})
			}
		})
	}
}

// TestTransformerRefusedAtValidate: input transformers that validate
// accepted but internal/rule refused at start are refused by validate now,
// with the reason rule gives (both run internal/transform).
func TestTransformerRefusedAtValidate(t *testing.T) {
	cases := []struct {
		name  string
		extra []string
		want  string
	}{
		{"template not JSON once filled", []string{"    input_paths: {a: $.id}", `    input_template: '{"a": <a>,}'`},
			`wirebridge.yaml:8:21: rules[0].input_template: not valid JSON once placeholders are replaced by values`},
		{"event JSON inside a string", []string{`    input_template: '{"e": "<aws.events.event>"}'`},
			`wirebridge.yaml:7:21: rules[0].input_template: placeholder <aws.events.event> holds JSON and cannot be used inside a string`},
		{"placeholder as a key", []string{"    input_paths: {a: $.id}", `    input_template: '{<a>: 1}'`},
			`wirebridge.yaml:8:21: rules[0].input_template: placeholder <a> cannot be used as an object key`},
		{"reserved variable", []string{`    input_paths: {aws.events.rule-name: $.id}`, "    input_template: x"},
			`wirebridge.yaml:7:41: rules[0].input_paths["aws.events.rule-name"]: variable name "aws.events.rule-name" is reserved`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("wirebridge.yaml", []byte(withRule(c.extra...)), testKinds)
			if err == nil || err.Error() != c.want {
				t.Fatalf("\n got %v\nwant %s", err, c.want)
			}
		})
	}
}
