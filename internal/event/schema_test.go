package event

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaPath = "../../docs/event.schema.json"

var (
	schemaOnce               sync.Once
	eventSchema, detailSchma *jsonschema.Schema
	schemaErr                error
)

// schemas compiles docs/event.schema.json (format and content assertions on)
// and its detail definition, once.
func schemas(t testing.TB) (event, detail *jsonschema.Schema) {
	t.Helper()
	schemaOnce.Do(func() {
		f, err := os.Open(schemaPath)
		if err != nil {
			schemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		c.AssertContent()
		const url = "https://github.com/wirebridge/wirebridge/docs/event.schema.json"
		if schemaErr = c.AddResource(url, doc); schemaErr != nil {
			return
		}
		if eventSchema, schemaErr = c.Compile(url); schemaErr != nil {
			return
		}
		detailSchma, schemaErr = c.Compile(url + "#/$defs/detail")
	})
	if schemaErr != nil {
		t.Fatalf("compile %s: %v", schemaPath, schemaErr)
	}
	return eventSchema, detailSchma
}

// validate checks b against s.
func validate(t testing.TB, s *jsonschema.Schema, b []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	if err := s.Validate(inst); err != nil {
		t.Fatalf("schema violation: %v\n%s", err, b)
	}
}

// The schema must reject what the contract forbids, or validating real
// events against it proves nothing.
func TestSchemaRejectsInvalidEvents(t *testing.T) {
	ev, _ := schemas(t)
	p := decodeFrame(t, 1, udpFrame(64))
	good := fixedEncoder().AppendJSON(nil, p, Meta{Listener: "l", SourceType: "udp"})
	validate(t, ev, good)

	cases := []struct {
		name, from, to string
	}{
		{"version", `"version":"0"`, `"version":"1"`},
		{"id not v7", `-7`, `-4`},
		{"time with fraction", `:15Z","resources"`, `:15.5Z","resources"`},
		{"unknown detail field", `"Length":`, `"Bogus":1,"Length":`},
		{"udp without ports", `,"Port":40123`, ``},
		{"protocol mismatch", `"Protocol":"udp"`, `"Protocol":"tcp"`},
		{"bad ip", `"IP":"10.0.0.7"`, `"IP":"10.0.0.777"`},
		{"bad base64", `"Payload":"`, `"Payload":"!`},
		{"TTL range", `"TTL":64`, `"TTL":256`},
		{"tcp block on udp", `"IP":{`, `"TCP":{"Flags":[],"Seq":0,"Ack":0,"Window":0},"IP":{`},
		{"missing detail", `,"detail":{`, `,"detail2":{`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := string(good)
			if !strings.Contains(s, c.from) {
				t.Fatalf("event lacks %q: %s", c.from, s)
			}
			bad := strings.Replace(s, c.from, c.to, 1)
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
			if err != nil {
				// Some edits break the JSON itself; that is not what this tests.
				t.Fatalf("edit made invalid JSON: %v", err)
			}
			if err := ev.Validate(inst); err == nil {
				t.Errorf("schema accepted %s", bad)
			}
		})
	}
}

// Every leaf field the package declares appears in the schema, and every
// property the schema's detail and its blocks define is a declared leaf (or
// a block on the way to one), so Leaves, the encoder and the schema agree.
func TestSchemaCoversLeaves(t *testing.T) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	defs := doc["$defs"].(map[string]any)
	// resolve follows a $ref to a $defs entry.
	resolve := func(s map[string]any) map[string]any {
		if ref, ok := s["$ref"].(string); ok {
			return defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		}
		return s
	}
	var schemaLeaves []string
	var walk func(prefix string, s map[string]any)
	walk = func(prefix string, s map[string]any) {
		s = resolve(s)
		if items, ok := s["items"].(map[string]any); ok && s["type"] == "array" {
			if _, isObj := resolve(items)["properties"]; isObj {
				walk(prefix, items)
				return
			}
		}
		props, ok := s["properties"].(map[string]any)
		if !ok {
			schemaLeaves = append(schemaLeaves, prefix)
			return
		}
		for k, v := range props {
			walk(prefix+"."+k, v.(map[string]any))
		}
	}
	for k, v := range doc["properties"].(map[string]any) {
		if k == KeyDetail {
			walk(k, defs["detail"].(map[string]any))
			continue
		}
		walk(k, v.(map[string]any))
	}
	for i := range schemaLeaves {
		schemaLeaves[i] = strings.TrimPrefix(schemaLeaves[i], ".")
	}
	var declared []string
	for _, l := range Leaves {
		declared = append(declared, strings.Join(l.Path, "."))
	}
	slices.Sort(schemaLeaves)
	slices.Sort(declared)
	if !slices.Equal(schemaLeaves, declared) {
		t.Errorf("schema leaves and event.Leaves differ:\nschema:   %v\ndeclared: %v", schemaLeaves, declared)
	}
}

// docs/events.md documents every leaf field by its full dotted path.
func TestDocsListEveryLeaf(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range Leaves {
		p := "`" + strings.Join(l.Path, ".") + "`"
		if !bytes.Contains(doc, []byte(p)) {
			t.Errorf("docs/events.md does not mention %s", p)
		}
	}
}
