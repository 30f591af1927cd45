package transform

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// ec2Event is the example event of the EventBridge input transformation
// documentation.
const ec2Event = `{
  "version": "0",
  "id": "7bf73129-1428-4cd3-a780-95db273d1602",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "123456789012",
  "time": "2015-11-11T21:29:54Z",
  "region": "us-east-1",
  "resources": [
    "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"
  ],
  "detail": {
    "instance-id": "i-0123456789",
    "state": "RUNNING"
  }
}`

// ec2Paths are the documentation's input paths.
var ec2Paths = map[string]string{
	"timestamp": "$.time",
	"instance":  "$.detail.instance-id",
	"state":     "$.detail.state",
}

// udpEvent is a wirebridge packet event (compact, as the encoder writes it).
const udpEvent = `{"version":"0","id":"0193a8c2-7d1e-7c3a-9f4e-2b6d1c0e5a77","source":"udp.raw","detail-type":"UdpPacket","time":"2026-11-21T20:40:15Z","resources":["syslog"],"detail":{"Timestamp":"2026-11-21T20:40:15.123456789Z","Listener":"syslog","Source":{"IP":"10.0.0.7","Port":40123},"Destination":{"IP":"10.0.0.2","Port":514},"Protocol":"udp","Length":5,"Payload":"aGVsbG8=","IP":{"Version":4,"TTL":64},"VLAN":[10,20],"DecodeError":"a \"quoted\"\\path\n"}}`

var udpPaths = map[string]string{
	"src":     "$.detail.Source.IP",
	"port":    "$.detail.Destination.Port",
	"payload": "$.detail.Payload",
	"ip":      "$.detail.IP",
	"vlan":    "$.detail.VLAN",
	"vlan1":   "$.detail.VLAN[1]",
	"res":     "$.resources[0]",
	"err":     "$.detail.DecodeError",
	"missing": "$.detail.TCP.Flags",
	"dtype":   "$.detail-type",
}

func TestTransform(t *testing.T) {
	ingest := time.Date(2026, 11, 21, 20, 40, 16, 250_000_000, time.UTC)
	ec2NoDetail := `{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012","time":"2015-11-11T21:29:54Z","region":"us-east-1","resources":[
    "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"
  ]}`
	cases := []struct {
		name      string
		event     string
		inputPath string
		paths     map[string]string
		template  string
		rule      string
		want      string
		wantJSON  bool // the output must be valid JSON
	}{
		// The examples of the EventBridge documentation (input transform examples table).
		{name: "aws simple string", event: ec2Event, paths: ec2Paths,
			template: `"instance <instance> is in <state>"`,
			want:     `"instance i-0123456789 is in RUNNING"`, wantJSON: true},
		{name: "aws string with escaped quotes", event: ec2Event, paths: ec2Paths,
			template: `"instance \"<instance>\" is in <state>"`,
			want:     `"instance \"i-0123456789\" is in RUNNING"`, wantJSON: true},
		{name: "aws simple JSON", event: ec2Event, paths: ec2Paths,
			template: "{\n  \"instance\" : <instance>,\n  \"state\": <state>\n}",
			want:     "{\n  \"instance\" : \"i-0123456789\",\n  \"state\": \"RUNNING\"\n}", wantJSON: true},
		{name: "aws JSON with strings and variables", event: ec2Event, paths: ec2Paths,
			template: `{"instance" : <instance>, "state": "<state>", "instanceStatus": "instance \"<instance>\" is in <state>"}`,
			want:     `{"instance" : "i-0123456789", "state": "RUNNING", "instanceStatus": "instance \"i-0123456789\" is in RUNNING"}`, wantJSON: true},
		{name: "aws JSON with a mix of variables and static information", event: ec2Event, paths: ec2Paths,
			template: `{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}`,
			want:     `{"instance" : "i-0123456789", "state": [ 9, "RUNNING", true ], "Transformed" : "Yes"}`, wantJSON: true},
		{name: "aws including reserved variables in JSON", event: ec2Event, paths: ec2Paths, rule: "example",
			template: `{"instance" : <instance>, "state": <state>, "ruleArn" : <aws.events.rule-arn>, "ruleName" : <aws.events.rule-name>, "originalEvent" : <aws.events.event>}`,
			want:     `{"instance" : "i-0123456789", "state": "RUNNING", "ruleArn" : "wirebridge:rule/example", "ruleName" : "example", "originalEvent" : ` + ec2NoDetail + `}`, wantJSON: true},
		{name: "aws including reserved variables in a string", event: ec2Event, rule: "example",
			template: `"<aws.events.rule-name> triggered"`,
			want:     `"example triggered"`, wantJSON: true},
		{name: "aws API reference plain text", event: ec2Event, paths: map[string]string{"instance": "$.detail.instance-id", "status": "$.detail.state"},
			template: `<instance> is in state <status>`,
			want:     `i-0123456789 is in state RUNNING`},
		{name: "aws API reference JSON with variables in and out of quotes", event: ec2Event, paths: map[string]string{"instance": "$.detail.instance-id", "status": "$.detail.state"},
			template: `{"myInstance": <instance>,"myStatus": "<instance> is in state \"<status>\""}`,
			want:     `{"myInstance": "i-0123456789","myStatus": "i-0123456789 is in state \"RUNNING\""}`, wantJSON: true},
		{name: "aws input path detail", event: ec2Event, inputPath: "$.detail",
			want: "{\n    \"instance-id\": \"i-0123456789\",\n    \"state\": \"RUNNING\"\n  }", wantJSON: true},

		// wirebridge packet events.
		{name: "packet fields as JSON values", event: udpEvent, paths: udpPaths,
			template: `{"from": <src>, "port": <port>, "ip": <ip>, "vlan": <vlan>, "second": <vlan1>, "listener": <res>, "type": <dtype>}`,
			want:     `{"from": "10.0.0.7", "port": 514, "ip": {"Version":4,"TTL":64}, "vlan": [10,20], "second": 20, "listener": "syslog", "type": "UdpPacket"}`, wantJSON: true},
		{name: "packet fields inside a string", event: udpEvent, paths: udpPaths,
			template: `{"msg": "<src> -> port <port>, ip <ip>, vlans <vlan>"}`,
			want:     `{"msg": "10.0.0.7 -> port 514, ip {\"Version\":4,\"TTL\":64}, vlans [10,20]"}`, wantJSON: true},
		{name: "escaped string stays escaped inside a string", event: udpEvent, paths: udpPaths,
			template: `{"e": "error: <err>"}`,
			want:     `{"e": "error: a \"quoted\"\\path\n"}`, wantJSON: true},
		{name: "escaped string as a JSON value", event: udpEvent, paths: udpPaths,
			template: `{"e": <err>}`,
			want:     `{"e": "a \"quoted\"\\path\n"}`, wantJSON: true},
		{name: "plain text gets the decoded string", event: udpEvent, paths: udpPaths,
			template: `error <err>!`,
			want:     "error a \"quoted\"\\path\n!"},
		{name: "plain text with numbers and objects", event: udpEvent, paths: udpPaths,
			template: `<src>:<port> <ip> payload=<payload>`,
			want:     `10.0.0.7:514 {"Version":4,"TTL":64} payload=aGVsbG8=`},
		{name: "missing value is null as a JSON value", event: udpEvent, paths: udpPaths,
			template: `{"flags": <missing>, "port": <port>}`,
			want:     `{"flags": null, "port": 514}`, wantJSON: true},
		{name: "missing value is empty inside a string", event: udpEvent, paths: udpPaths,
			template: `{"flags": "[<missing>]"}`,
			want:     `{"flags": "[]"}`, wantJSON: true},
		{name: "missing value is empty in plain text", event: udpEvent, paths: udpPaths,
			template: `flags=<missing>.`,
			want:     `flags=.`},
		{name: "same variable twice", event: udpEvent, paths: udpPaths,
			template: `<port>/<port>`,
			want:     `514/514`},
		{name: "literal angle brackets are kept", event: udpEvent, paths: udpPaths,
			template: `{"a": "<not closed", "b": "a < b > c", "c": <port>}`,
			want:     `{"a": "<not closed", "b": "a < b > c", "c": 514}`, wantJSON: true},
		{name: "whole event json", event: udpEvent, rule: "r1",
			template: `{"rule": <aws.events.rule-name>, "event": <aws.events.event.json>}`,
			want:     `{"rule": "r1", "event": ` + udpEvent + `}`, wantJSON: true},
		{name: "ingestion time and arn in a string", event: udpEvent, rule: "syslog-514",
			template: `"<aws.events.rule-arn> at <aws.events.event.ingestion-time>"`,
			want:     `"wirebridge:rule/syslog-514 at 2026-11-21T20:40:16.250Z"`, wantJSON: true},
		{name: "ingestion time as a JSON value", event: udpEvent, rule: "r",
			template: `{"t": <aws.events.event.ingestion-time>}`,
			want:     `{"t": "2026-11-21T20:40:16.250Z"}`, wantJSON: true},
		{name: "event without detail", event: udpEvent, rule: "r",
			template: `<aws.events.event>`,
			want:     `{"version":"0","id":"0193a8c2-7d1e-7c3a-9f4e-2b6d1c0e5a77","source":"udp.raw","detail-type":"UdpPacket","time":"2026-11-21T20:40:15Z","resources":["syslog"]}`, wantJSON: true},
		{name: "input path of a number", event: udpEvent, inputPath: "$.detail.Destination.Port", want: `514`, wantJSON: true},
		{name: "input path root", event: udpEvent, inputPath: "$", want: udpEvent, wantJSON: true},
		{name: "input path selecting nothing", event: udpEvent, inputPath: "$.detail.Nope", want: `null`, wantJSON: true},
		{name: "index past the end", event: udpEvent, inputPath: "$.detail.VLAN[2]", want: `null`, wantJSON: true},
		{name: "index on an object", event: udpEvent, inputPath: "$.detail[0]", want: `null`, wantJSON: true},
		{name: "key on an array", event: udpEvent, inputPath: "$.resources.x", want: `null`, wantJSON: true},
		{name: "escaped key in the event", event: `{"a\u002db":{"c":1}}`, inputPath: "$.a-b.c", want: `1`, wantJSON: true},
		{name: "invalid event JSON selects nothing", event: `{"detail":{"x":1,`, inputPath: "$.detail.y", want: `null`, wantJSON: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := NewTransformer(c.inputPath, c.paths, c.template)
			if err != nil {
				t.Fatalf("NewTransformer: %v", err)
			}
			in := &Input{Event: []byte(c.event), Rule: c.rule, IngestionTime: ingest}
			got := string(tr.Append([]byte("prefix:"), in))
			if !strings.HasPrefix(got, "prefix:") {
				t.Fatalf("Append dropped dst: %q", got)
			}
			got = got[len("prefix:"):]
			if got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
			if c.wantJSON && !json.Valid([]byte(got)) {
				t.Errorf("output is not valid JSON: %s", got)
			}
		})
	}
}

func TestTransformNeedsEvent(t *testing.T) {
	cases := []struct {
		name      string
		inputPath string
		paths     map[string]string
		template  string
		want      bool
	}{
		{name: "none", want: false},
		{name: "input path", inputPath: "$.detail", want: true},
		{name: "variables", paths: map[string]string{"a": "$.id"}, template: "<a>", want: true},
		{name: "rule name only", template: `"<aws.events.rule-name> fired at <aws.events.event.ingestion-time>"`, want: false},
		{name: "whole event", template: `<aws.events.event.json>`, want: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := NewTransformer(c.inputPath, c.paths, c.template)
			if err != nil {
				t.Fatal(err)
			}
			if got := tr.NeedsEvent(); got != c.want {
				t.Errorf("NeedsEvent = %v, want %v", got, c.want)
			}
		})
	}
}

func TestTransformErrors(t *testing.T) {
	many := map[string]string{}
	for i := range MaxInputPaths + 1 {
		many["v"+strings.Repeat("x", i)] = "$.id"
	}
	cases := []struct {
		name      string
		inputPath string
		paths     map[string]string
		template  string
		field     string // the TransformError.Field expected
		reason    string // a substring of its Reason
	}{
		{name: "exclusive", inputPath: "$.detail", template: "x", field: "input_path", reason: "exclusive"},
		{name: "bad input path", inputPath: "detail", field: "input_path", reason: "must start with $"},
		{name: "paths without template", paths: map[string]string{"a": "$.id"}, field: "input_template", reason: "required"},
		{name: "undefined placeholder", paths: map[string]string{"a": "$.id"}, template: "<a> <b>", field: "input_template", reason: "<b> is not defined"},
		{name: "reserved name", paths: map[string]string{"aws.events.rule-name": "$.id"}, template: "<aws.events.rule-name>", field: "input_paths.aws.events.rule-name", reason: "reserved"},
		{name: "invalid variable name", paths: map[string]string{"a b": "$.id"}, template: "x", field: "input_paths.a b", reason: "invalid variable name"},
		{name: "bad variable path", paths: map[string]string{"a": "$.detail..x"}, template: "<a>", field: "input_paths.a", reason: "invalid path"},
		{name: "wildcard path", paths: map[string]string{"a": "$.detail.*"}, template: "<a>", field: "input_paths.a", reason: "invalid path"},
		{name: "unclosed index", paths: map[string]string{"a": "$.resources[0"}, template: "<a>", field: "input_paths.a", reason: "[index]"},
		{name: "placeholder as object key", paths: map[string]string{"a": "$.id"}, template: `{<a>: 1}`, field: "input_template", reason: "object key"},
		{name: "event inside a string", template: `{"e": "<aws.events.event>"}`, field: "input_template", reason: "inside a string"},
		{name: "event json inside a string", template: `"x <aws.events.event.json>"`, field: "input_template", reason: "inside a string"},
		{name: "invalid JSON template", paths: map[string]string{"a": "$.id"}, template: `{"a": <a>,}`, field: "input_template", reason: "not valid JSON"},
		{name: "too many variables", paths: many, template: "x", field: "input_paths", reason: "more than 100 variables"},
		{name: "template too long", template: strings.Repeat("x", MaxTemplateBytes+1), field: "input_template", reason: "at most"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := NewTransformer(c.inputPath, c.paths, c.template)
			if err == nil {
				t.Fatalf("no error; transformer %+v", tr)
			}
			var found bool
			for _, te := range Errors(err) {
				if te.Field == c.field && strings.Contains(te.Reason, c.reason) {
					found = true
				}
			}
			if !found {
				t.Errorf("error %q lacks field %q with %q", err, c.field, c.reason)
			}
		})
	}
}

func TestTransformAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	tr, err := NewTransformer("", udpPaths, `{"from": <src>, "port": <port>, "msg": "<src> on <res>", "rule": <aws.events.rule-name>}`)
	if err != nil {
		t.Fatal(err)
	}
	in := &Input{Event: []byte(udpEvent), Rule: "r"}
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() { buf = tr.Append(buf[:0], in) })
	if allocs != 0 {
		t.Errorf("Append allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkTransform(b *testing.B) {
	tr, err := NewTransformer("", udpPaths, `{"from": <src>, "port": <port>, "msg": "<src> on <res>", "rule": <aws.events.rule-name>}`)
	if err != nil {
		b.Fatal(err)
	}
	in := &Input{Event: []byte(udpEvent), Rule: "r"}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = tr.Append(buf[:0], in)
	}
}

func FuzzTransform(f *testing.F) {
	f.Add(`{"a": <a>, "s": "<a> <b>"}`, "$.detail.Source.IP", udpEvent)
	f.Add(`<a> and <b>`, "$.resources[0]", ec2Event)
	f.Add(`"<b> <aws.events.rule-name>"`, "$", `{"x":[1,{"y":"\u00e9\ud83d\ude00"}]}`)
	f.Add(`[<a>, <aws.events.event>]`, "$.x[1].y", `{"x":[1,{"y":"\"q\""}],"detail":{}}`)
	f.Fuzz(func(t *testing.T, template, path, event string) {
		tr, err := NewTransformer("", map[string]string{"a": path, "b": "$.detail"}, template)
		if err != nil {
			return
		}
		in := &Input{Event: []byte(event), Rule: "r"}
		out := tr.Append(nil, in)
		// A JSON template yields valid JSON for a valid event: that is what
		// the load-time check and the escaping promise.
		i := firstNonBlank(template)
		if i < len(template) && (template[i] == '{' || template[i] == '[') && json.Valid([]byte(event)) && !json.Valid(out) {
			t.Fatalf("template %q event %q: invalid JSON output %q", template, event, out)
		}
		if p, err := ParsePath(path); err == nil {
			p.Lookup([]byte(event))
		}
	})
}
