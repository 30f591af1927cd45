package appliance

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/wirebridge/wirebridge/internal/spec"
)

func TestSetDefaults(t *testing.T) {
	var s Spec
	s.Rules = []RuleSpec{{Name: "r", Action: ActionRate, Rate: &RateSpec{PPS: 2.5, PerFlow: true}}}
	s.SetDefaults()
	want := Spec{
		Listen: ":6081", Readers: 2, Batch: 64, RecvBuffer: 8 * spec.MiB, SendBuffer: 8 * spec.MiB, MTU: 9001,
		DefaultAction: "pass", Overload: "fail-open", Oversize: "drop", Undecodable: "pass",
		Health:    HealthSpec{Listen: ":8080", Path: "/healthz", ProbeInterval: time.Second, UnhealthyThreshold: 3},
		DrainTime: 30 * time.Second,
	}
	got := s
	got.Rules = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults\n got %+v\nwant %+v", got, want)
	}
	if err := s.Err(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	// A rate's burst (one second's worth, rounded up) and flow table size
	// default when the rule is compiled.
	rules, _, _, err := compileRules(s.Rules, s.DefaultAction)
	if err != nil {
		t.Fatal(err)
	}
	if f := rules[0].flows; f == nil || f.burst != 3 || len(f.slots) != 65536 {
		t.Errorf("rate defaults %+v, want burst 3 and 65536 flows", f)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Spec)
		want   []string // every error, in order
	}{
		{name: "censor is valid", modify: func(*Spec) {}},
		{
			name: "tcp length change rejected with the reason",
			modify: func(s *Spec) {
				s.Rules = append(s.Rules, RuleSpec{Name: "tcp", Pattern: `{"detail":{"Destination":{"Port":[80]}}}`,
					Action: ActionModify, Modify: &ModifySpec{Find: "weakly", Replace: "strongly"}})
			},
			want: []string{`rules[3].modify: TCP payload length must not change ("weakly" → "strongly" changes it by 2 bytes)`},
		},
		{
			name: "tcp same length accepted",
			modify: func(s *Spec) {
				s.Rules = append(s.Rules, RuleSpec{Name: "tcp", Pattern: `{"detail":{"Protocol":["tcp"]}}`,
					Action: ActionModify, Modify: &ModifySpec{Find: "weakly", Replace: "WEAKLY"}})
			},
		},
		{
			name: "udp-only rule may change length",
			modify: func(s *Spec) {
				s.Rules = append(s.Rules, RuleSpec{Name: "u", Pattern: `{"detail-type":["UdpPacket"]}`,
					Action: ActionModify, Modify: &ModifySpec{Regex: "a+", Replace: "b"}})
			},
		},
		{
			name: "regex modify on tcp rejected",
			modify: func(s *Spec) {
				s.Rules = append(s.Rules, RuleSpec{Name: "any", Action: ActionModify, Modify: &ModifySpec{Regex: "a+", Replace: "b"}})
			},
			want: []string{`rules[3].modify: TCP payload length must not change (a regex replacement can change it); restrict the pattern to UDP, e.g. {"detail":{"Protocol":["udp"]}}`},
		},
		{
			name: "bad values",
			modify: func(s *Spec) {
				s.Listen = "[::1]:6081"
				s.Readers = -1
				s.BusyPoll = 2 * time.Millisecond
				s.MTU = 100
				s.DefaultAction = "modify"
				s.Overload = "open"
				s.Health.Path = "healthz"
				s.Health.Listen = "localhost:http"
				s.Rules[0].Name = "weakly-typed"
				s.Rules[1].Pattern = `{"detail":{"Protocol":"udp"}}`
				s.Rules[2].EveryNth = 0
			},
			want: []string{
				`listen: host "::1": GWLB sends Geneve over IPv4; want an IPv4 address`,
				`readers: -1 is out of range (want 1 to 256)`,
				`busy_poll: must be between 0s and 1ms, not 2ms`,
				`mtu: 100 is out of range (want 576 to 65535)`,
				`default_action: invalid value "modify" (want one of pass, drop)`,
				`overload: invalid value "open" (want one of fail-open, fail-closed)`,
				`health.listen: invalid address "localhost:http": port must be a number from 0 to 65535`,
				`health.path: must start with /, not "healthz"`,
				`rules[1].name: "weakly-typed" is already the name of rules[0]`,
				`rules[1].pattern: pattern: detail.Protocol: a field's value must be an array of values or an object`,
				`rules[2].every_nth: action every_nth needs every_nth of at least 1, not 0`,
			},
		},
		{
			name: "rule shapes",
			modify: func(s *Spec) {
				s.Rules = []RuleSpec{
					{Action: ActionPass},
					{Name: "default", Action: ActionDrop},
					{Name: "m", Action: ActionModify},
					{Name: "m2", Action: ActionModify, Modify: &ModifySpec{Find: "a", Regex: "b"}},
					{Name: "r", Action: ActionRate},
					{Name: "r2", Action: ActionRate, Rate: &RateSpec{PPS: -1, Burst: -1, Flows: 10}},
					{Name: "x", Action: "reject", EveryNth: 3, Tee: []string{"a", "a", ""}},
					{Name: "e", Action: ActionPass, Contains: `\q`, Regex: `(`},
					{Name: "a b", Action: ActionPass, Tee: []string{"x.y"}},
				}
			},
			want: []string{
				`rules[0].name: required: a name`,
				`rules[1].name: "default" names the default action in metrics; choose another name`,
				`rules[2].modify: action modify needs modify (find or regex, and replace)`,
				`rules[3].modify: exactly one of find and regex is required`,
				`rules[4].rate: action rate needs rate (pps, burst, per_flow)`,
				`rules[5].rate.pps: must be above 0 and at most 1e9, not -1`,
				`rules[5].rate.burst: must be at least 1 (0: the default), not -1`,
				`rules[5].rate.flows: must be between 1 and 1048576, and only with per_flow, not 10`,
				`rules[6].action: invalid value "reject" (want one of pass, drop, modify, every_nth, rate)`,
				`rules[6].every_nth: only for action every_nth`,
				`rules[6].tee[1]: target "a" listed twice`,
				`rules[6].tee[2]: required: a name`,
				`rules[7].contains: escape at offset 0: unknown escape \q (use \xHH, \n, \r, \t, \0 or \\)`,
				"rules[7].regex: error parsing regexp: missing closing ): `(`",
				`rules[8].name: invalid name "a b": use letters, digits, '-' and '_' (at most 64, starting with a letter or digit)`,
				`rules[8].tee[0]: invalid name "x.y": use letters, digits, '-' and '_' (at most 64, starting with a letter or digit)`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := censorSpec()
			tc.modify(&s)
			s.SetDefaults()
			var c spec.Checker
			s.Validate(&c)
			var got []string
			for _, p := range c.Problems() {
				got = append(got, p.Path+": "+p.Msg)
			}
			if err := s.Err(); (err != nil) != (len(got) > 0) || err != nil && err.Error() != strings.Join(got, "\n") {
				t.Errorf("Err() = %v, want the problems joined", err)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct {
		name, in, want, err string
	}{
		{name: "plain", in: "drop me", want: "drop me"},
		{name: "escapes", in: `a\x00b\n\r\t\0\\`, want: "a\x00b\n\r\t\x00\\"},
		{name: "hex upper", in: `\xFF\x7f`, want: "\xff\x7f"},
		{name: "short hex", in: `\x4`, err: `escape at offset 0: \x needs two hex digits`},
		{name: "bad hex", in: `ab\xzz`, err: `escape at offset 2: \x needs two hex digits, not "zz"`},
		{name: "trailing", in: `ab\`, err: `escape at offset 2: trailing backslash (write \\ for a backslash)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Unescape(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Errorf("Unescape(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestDocsExampleParses: the censor section in docs/appliance.md parses
// with known fields only, validates, and is the censor the tests use.
func TestDocsExampleParses(t *testing.T) {
	doc, err := os.ReadFile("../../docs/appliance.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- censor -->\\s*```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/appliance.md has no <!-- censor --> yaml block")
	}
	var section struct {
		Appliance Spec `yaml:"appliance"`
	}
	section.Appliance.SetDefaults() // the configuration's order: defaults, then the YAML
	if err := yaml.Load(m[1], &section, yaml.WithKnownFields()); err != nil {
		t.Fatalf("docs example: %v", err)
	}
	s := section.Appliance
	if err := s.Err(); err != nil {
		t.Fatalf("docs example: %v", err)
	}
	if s.Listen != ":6081" || s.Health.Listen != ":8080" || len(s.Rules) != 3 {
		t.Errorf("docs example: listen %q health %q rules %d", s.Listen, s.Health.Listen, len(s.Rules))
	}
	_, w := testWorker(t, s, Options{})
	if inline(w, udp4("drop me"), time.Now()) != nil {
		t.Error("docs example returns drop me")
	}
}

// TestSpecYAMLKeys: every key of the section decodes into its field, with
// sizes and durations written the way the rest of the configuration writes them.
func TestSpecYAMLKeys(t *testing.T) {
	src := `
listen: 10.0.0.5:6081
readers: 4
batch: 128
busy_poll: 50us
recv_buffer: 16MiB
send_buffer: 4MiB
mtu: 9001
default_action: drop
overload: fail-closed
oversize: pass
undecodable: drop
health:
  listen: 127.0.0.1:8081
  path: /health
  probe_interval: 500ms
  unhealthy_threshold: 2
drain_time: 300s
rules:
  - name: limit-dns
    pattern: '{"detail":{"Destination":{"Port":[53]}}}'
    contains: '\x00\x01'
    regex: 'example\.com'
    action: rate
    rate: {pps: 100, burst: 200, per_flow: true, flows: 1024}
    tee: [live-dns]
  - name: mask
    pattern: '{"detail":{"Protocol":["udp"]}}'
    action: modify
    modify: {regex: 'secret=\w+', replace: 'secret=***'}
  - name: sample
    action: every_nth
    every_nth: 100
`
	var s Spec
	if err := yaml.Load([]byte(src), &s, yaml.WithKnownFields()); err != nil {
		t.Fatal(err)
	}
	s.SetDefaults()
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	want := Spec{
		Listen: "10.0.0.5:6081", Readers: 4, Batch: 128, BusyPoll: 50 * time.Microsecond, RecvBuffer: 16 * spec.MiB, SendBuffer: 4 * spec.MiB, MTU: 9001,
		DefaultAction: "drop", Overload: "fail-closed", Oversize: "pass", Undecodable: "drop",
		Health:    HealthSpec{Listen: "127.0.0.1:8081", Path: "/health", ProbeInterval: 500 * time.Millisecond, UnhealthyThreshold: 2},
		DrainTime: 300 * time.Second,
		Rules: []RuleSpec{
			{Name: "limit-dns", Pattern: `{"detail":{"Destination":{"Port":[53]}}}`, Contains: `\x00\x01`, Regex: `example\.com`,
				Action: "rate", Rate: &RateSpec{PPS: 100, Burst: 200, PerFlow: true, Flows: 1024}, Tee: []string{"live-dns"}},
			{Name: "mask", Pattern: `{"detail":{"Protocol":["udp"]}}`, Action: "modify", Modify: &ModifySpec{Regex: `secret=\w+`, Replace: "secret=***"}},
			{Name: "sample", Action: "every_nth", EveryNth: 100},
		},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("decoded\n got %+v\nwant %+v", s, want)
	}
}

// TestDefaultsBeforeDecode follows the configuration's order: defaults on a
// new Spec, then the YAML over them. Keys not written keep their defaults,
// nested ones included; a zero written explicitly stays and is checked.
func TestDefaultsBeforeDecode(t *testing.T) {
	var s Spec
	s.SetDefaults()
	src := "health: {path: /h}\nreaders: 0\ndrain_time: 0s\nrules: [{name: r, action: rate, rate: {pps: 2.5}}]\n"
	if err := yaml.Load([]byte(src), &s, yaml.WithKnownFields()); err != nil {
		t.Fatal(err)
	}
	if s.Health.Listen != ":8080" || s.Health.Path != "/h" || s.Health.ProbeInterval != time.Second || s.Listen != ":6081" {
		t.Errorf("defaults lost under the YAML: %+v", s)
	}
	if s.DrainTime != 0 {
		t.Errorf("drain_time %v, want the 0 written", s.DrainTime)
	}
	var c spec.Checker
	s.Validate(&c)
	if p := c.Problems(); len(p) != 1 || p[0].Path != "readers" {
		t.Errorf("problems %v, want readers only", p)
	}
}

// TestDrainTimeZero: drain_time: 0s written in the configuration (after
// the defaults: Options.Defaulted) means no drain; a spec whose defaults
// New applies gets the default drain time.
func TestDrainTimeZero(t *testing.T) {
	tests := []struct {
		name      string
		spec      func() Spec
		defaulted bool
		want      time.Duration
	}{
		{"written 0 after the defaults", func() Spec { var s Spec; s.SetDefaults(); s.DrainTime = 0; return s }, true, 0},
		{"written 5s", func() Spec { var s Spec; s.SetDefaults(); s.DrainTime = 5 * time.Second; return s }, true, 5 * time.Second},
		{"a spec built in Go without defaults", func() Spec { return Spec{} }, false, DefaultDrainTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := build(tt.spec(), Options{Defaulted: tt.defaulted})
			if err != nil {
				t.Fatal(err)
			}
			if a.spec.DrainTime != tt.want {
				t.Errorf("drain time %s, want %s", a.spec.DrainTime, tt.want)
			}
		})
	}
}
