package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// root is the repository root, seen from this package's directory.
var root = filepath.Join("..", "..", "..")

// Every generated file is what the definition generates now, byte for byte.
func TestGeneratedFilesUpToDate(t *testing.T) {
	for _, o := range Outputs() {
		t.Run(o.Path, func(t *testing.T) {
			have, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(o.Path)))
			if err != nil {
				t.Fatalf("%v: run `go generate ./internal/event/...`", err)
			}
			want, err := o.Render(have)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if !bytes.Equal(have, want) {
				t.Errorf("%s is stale (it differs from what internal/event/schema generates, first at line %d): run `go generate ./internal/event/...`",
					o.Path, firstDiffLine(have, want))
			}
		})
	}
}

func firstDiffLine(a, b []byte) int {
	line := 1
	for i := 0; i < len(a) && i < len(b) && a[i] == b[i]; i++ {
		if a[i] == '\n' {
			line++
		}
	}
	return line
}

// The checks of tree reject definitions the generators could not turn into
// consistent files.
func TestTreeRejectsBadDefinitions(t *testing.T) {
	leaf := func(path, key, view string) Field {
		return Field{Path: path, Key: key, Type: Number, Schema: `{"type": "integer"}`, View: view}
	}
	obj := func(path, key string) Field { return Field{Path: path, Key: key, Type: Object} }
	cases := []struct {
		name   string
		fields []Field
		want   string
	}{
		{"ok", []Field{obj("a", "KeyA"), leaf("a.b", "KeyB", "B")}, ""},
		{"parent missing", []Field{leaf("a.b", "KeyB", "B")}, "parent"},
		{"parent after child", []Field{leaf("a.b", "KeyB", "B"), obj("a", "KeyA")}, "parent"},
		{"parent is a leaf", []Field{leaf("a", "KeyA", "A"), leaf("a.b", "KeyB", "B")}, "parent"},
		{"listed twice", []Field{leaf("a", "KeyA", "A"), leaf("a", "KeyA", "A2")}, "listed twice"},
		{"key reused for another name", []Field{leaf("a", "KeyA", "A"), leaf("b", "KeyA", "B")}, "KeyA is"},
		{"key without prefix", []Field{leaf("a", "A", "A")}, "does not start with Key"},
		{"view reused", []Field{leaf("a", "KeyA", "A"), leaf("b", "KeyB", "A")}, "View name"},
		{"leaf without view", []Field{leaf("a", "KeyA", "")}, "no View"},
		{"object with view", []Field{{Path: "a", Key: "KeyA", Type: Object, View: "A"}, leaf("a.b", "KeyB", "B")}, "View name on an object"},
		{"empty object", []Field{obj("a", "KeyA")}, "without fields"},
		{"leaf without schema", []Field{{Path: "a", Key: "KeyA", Type: Number, View: "A"}}, "without Schema"},
		{"schema not an object", []Field{{Path: "a", Key: "KeyA", Type: Number, View: "A", Schema: `[1]`}}, "not a JSON object"},
		{"pipe in doc", []Field{{Path: "a", Key: "KeyA", Type: Number, View: "A", Schema: `{}`, Doc: "a | b"}}, "table cell"},
		{"def twice", []Field{
			{Path: "a", Key: "KeyA", Type: Object, Def: "d"}, leaf("a.x", "KeyX", "X"),
			{Path: "b", Key: "KeyB", Type: Object, Def: "d"}, leaf("b.y", "KeyY", "Y"),
		}, "used twice"},
		{"no type", []Field{{Path: "a", Key: "KeyA", Schema: `{}`, View: "A"}}, "no type"},
		{"go struct field without go type", []Field{{Path: "a", Key: "KeyA", Type: Object, Go: "*A", GoDoc: "A is a."}, leaf("a.b", "KeyB", "B")}, "no Go type"},
		{"go doc not on the struct name", []Field{{Path: "a", Key: "KeyA", Type: Object, Go: "*A", GoDoc: "The a."}, leaf("a.b", "KeyB", "B")}, "GoDoc does not start"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := tree(c.fields)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("accepted; want an error containing %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

// DocTables rewrites only what lies between its markers and insists on a
// marker pair for every table the definition has.
func TestDocTables(t *testing.T) {
	fields := []Field{
		{Path: "a", Key: "KeyA", Type: String, Required: true, Doc: "The `a`.", Schema: `{"type": "string"}`, View: "A"},
		{Path: "o", Key: "KeyO", Type: Object, Table: "o", Doc: "See O."},
		{Path: "o.b", Key: "KeyB", Type: Bool, Present: "when true", Doc: "B.", Schema: `{"const": true}`, View: "B"},
		{Path: "o.c", Key: "KeyC", Type: NumberArray, Doc: "C.", Schema: `{"type": "array"}`, View: "C"},
	}
	types := []DetailType{{Const: "TypeX", Value: "X", When: "Always."}}
	doc := "# Events\n\nprose\n" +
		"<!-- generated: detail-types (go generate ./internal/event/...) -->\n<!-- end generated: detail-types -->\n" +
		"<!-- generated: fields envelope (go generate ./internal/event/...) -->\nold table\n<!-- end generated: fields envelope -->\n" +
		"more prose\n" +
		"<!-- generated: fields o (go generate ./internal/event/...) -->\n<!-- end generated: fields o -->\nend\n"
	got, err := DocTables(fields, types, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := "# Events\n\nprose\n" +
		"<!-- generated: detail-types (go generate ./internal/event/...) -->\n" +
		"| Value | When |\n|---|---|\n| `X` | Always. |\n" +
		"<!-- end generated: detail-types -->\n" +
		"<!-- generated: fields envelope (go generate ./internal/event/...) -->\n" +
		"| Field | Type | Description |\n|---|---|---|\n" +
		"| `a` | string | The `a`. |\n" +
		"| `o` | object | See O. |\n" +
		"<!-- end generated: fields envelope -->\n" +
		"more prose\n" +
		"<!-- generated: fields o (go generate ./internal/event/...) -->\n" +
		"| Field | Type | Present | Description |\n|---|---|---|---|\n" +
		"| `o.b` | boolean | when true | B. |\n" +
		"| `o.c` | array of number | | C. |\n" +
		"<!-- end generated: fields o -->\nend\n"
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	again, err := DocTables(fields, types, got)
	if err != nil || !bytes.Equal(again, got) {
		t.Fatalf("regenerating changed the file (err %v)", err)
	}

	missing := strings.Replace(doc, "<!-- end generated: fields o -->\n", "", 1)
	if _, err := DocTables(fields, types, []byte(missing)); err == nil {
		t.Error("accepted a table without its end marker")
	}
	extra := doc + "<!-- generated: fields gone (go generate ./internal/event/...) -->\n<!-- end generated: fields gone -->\n"
	if _, err := DocTables(fields, types, []byte(extra)); err == nil {
		t.Error("accepted markers of a table the definition does not have")
	}
}

// indentJSON changes only the layout: the result compacts to the input, and
// short values stay on one line.
func TestIndentJSON(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"scalar", `1.50`, "1.50\n"},
		{"short object", `{"b":1,"a":[true,null,"x<y"]}`, "{\"b\": 1, \"a\": [true, null, \"x<y\"]}\n"},
		{"empty", `{"a":{},"b":[]}`, "{\"a\": {}, \"b\": []}\n"},
		{"long", `{"k":"` + strings.Repeat("x", 120) + `","o":{"p":1}}`,
			"{\n  \"k\": \"" + strings.Repeat("x", 120) + "\",\n  \"o\": {\"p\": 1}\n}\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := indentJSON([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
	if _, err := indentJSON([]byte(`{"a":`)); err == nil {
		t.Error("accepted truncated JSON")
	}
}

func FuzzIndentJSON(f *testing.F) {
	f.Add([]byte(`{"b":1,"a":[true,null,"x<y",{"c":"\u00e9"}]}`))
	f.Add([]byte(`[` + strings.Repeat(`"long string",`, 20) + `0]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := indentJSON(in)
		if !json.Valid(in) {
			return // errors or ignores what follows a value; must not panic
		}
		if err != nil {
			t.Fatalf("valid JSON rejected: %v", err)
		}
		var a, b any
		da, db := json.NewDecoder(bytes.NewReader(in)), json.NewDecoder(bytes.NewReader(out))
		da.UseNumber()
		db.UseNumber()
		if da.Decode(&a) != nil || db.Decode(&b) != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("layout changed the value:\n in %s\nout %s", in, out)
		}
	})
}

// GoSource writes one struct per Go type and refuses objects that would
// need two different structs of one name.
func TestGoStructs(t *testing.T) {
	obj := func(path, key string) Field {
		return Field{Path: path, Key: key, Type: Object, Go: "*E", GoDoc: "E is an endpoint."}
	}
	leaf := func(path, key, view, goType string) Field {
		return Field{Path: path, Key: key, Type: Number, Schema: `{}`, View: view, Go: goType, Doc: "The " + view + "."}
	}
	fields := []Field{
		{Path: "d", Key: "KeyD", Type: Object, Go: "*D", GoDoc: "D is the detail."},
		leaf("d.n", "KeyN", "N", "int"),
		obj("d.s", "KeyS"), leaf("d.s.p", "KeyP", "SP", "*uint16"),
		{Path: "d.t", Key: "KeyT", Type: Object, Go: "*E"}, leaf("d.t.p", "KeyP", "TP", "*uint16"),
	}
	b, err := GoSource(fields, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Join(strings.Fields(string(b)), " ") // without gofmt's alignment
	for _, want := range []string{
		"// D is the detail. type D struct { // The N. n int `json:\"n,omitempty\"`",
		"s *E `json:\"s,omitempty\"`",
		// E serves two objects: no per-field comments, which could differ.
		"// E is an endpoint. type E struct { p *uint16 `json:\"p,omitempty\"` }",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("generated Go lacks %q:\n%s", want, src)
		}
	}
	if n := strings.Count(src, "type E struct"); n != 1 {
		t.Errorf("struct E written %d times", n)
	}
	fields[len(fields)-1].Go = "uint16"
	if _, err := GoSource(fields, nil); err == nil || !strings.Contains(err.Error(), "other fields") {
		t.Errorf("two shapes of struct E: err %v", err)
	}
}

// Schema texts that are not JSON objects are errors, wherever they are.
func TestJSONSchemaRejectsBadSchemaText(t *testing.T) {
	fields := []Field{{Path: "a", Key: "KeyA", Type: Number, Schema: `{}`, View: "A"}}
	cases := []struct {
		name  string
		types []DetailType
	}{
		{"ok", []DetailType{{Value: "X", Detail: `{"required": ["a"]}`}}},
		{"detail not JSON", []DetailType{{Value: "X", Detail: `{"required": [`}}},
		{"detail empty", []DetailType{{Value: "X"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := JSONSchema(fields, c.types)
			if (err == nil) != (c.name == "ok") {
				t.Fatalf("err %v", err)
			}
		})
	}
	var s schemaWriter
	if m := s.members(`[1]`); m != "" || s.err == nil {
		t.Errorf("members of an array: %q, err %v", m, s.err)
	}
}
