package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/format"
	"strings"
)

// Output is one file written from the definition.
type Output struct {
	// Path is the file's path from the repository root.
	Path string
	// Render returns the file's content given its current content (nil when
	// it does not exist yet); only docs/events.md keeps parts of it.
	Render func(old []byte) ([]byte, error)
}

// Outputs lists the files generated from Fields.
func Outputs() []Output {
	return []Output{
		{"internal/event/fields_gen.go", func([]byte) ([]byte, error) { return GoSource(Fields, DetailTypes) }},
		{"docs/event.schema.json", func([]byte) ([]byte, error) { return JSONSchema(Fields, DetailTypes) }},
		{"docs/events.md", func(old []byte) ([]byte, error) { return DocTables(Fields, DetailTypes, old) }},
	}
}

// node is a field with its place in the tree of paths.
type node struct {
	f        *Field
	key      string // last path element
	parent   *node
	children []*node
	table    string // docs table of the node's own row
}

// childTable is the docs table of n's fields' rows.
func (n *node) childTable() string {
	if n.f.Table != "" {
		return n.f.Table
	}
	return n.table
}

// tree checks fields and returns the top-level nodes and every node in
// definition order.
func tree(fields []Field) (top, all []*node, err error) {
	byPath := map[string]*node{}
	keys := map[string]string{}  // constant name -> value
	views := map[string]string{} // View name -> path
	defs := map[string]bool{}
	var errs []error
	bad := func(f *Field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("field %q: %s", f.Path, fmt.Sprintf(format, args...)))
	}
	for i := range fields {
		f := &fields[i]
		if f.Path == "" {
			errs = append(errs, fmt.Errorf("field %d: empty path", i))
			continue
		}
		if byPath[f.Path] != nil {
			bad(f, "listed twice")
			continue
		}
		n := &node{f: f, key: f.Path, table: "envelope"}
		if i := strings.LastIndexByte(f.Path, '.'); i >= 0 {
			n.key = f.Path[i+1:]
			n.parent = byPath[f.Path[:i]]
			if n.parent == nil || n.parent.f.Type.Leaf() {
				bad(f, "parent %q is not an object listed before it", f.Path[:i])
				continue
			}
			n.parent.children = append(n.parent.children, n)
			n.table = n.parent.childTable()
		} else {
			top = append(top, n)
		}
		byPath[f.Path] = n
		all = append(all, n)

		if f.Type < String || f.Type > ObjectArray {
			bad(f, "no type")
		}
		if !strings.HasPrefix(f.Key, "Key") {
			bad(f, "key constant %q does not start with Key", f.Key)
		} else if v, ok := keys[f.Key]; ok && v != n.key {
			bad(f, "key constant %s is %q elsewhere, %q here", f.Key, v, n.key)
		}
		keys[f.Key] = n.key
		if strings.ContainsAny(f.Doc+f.Present, "|\n") {
			bad(f, "Doc and Present must fit a table cell (no | or line break)")
		}
		if f.Schema != "" && !isJSONObject(f.Schema) {
			bad(f, "Schema is not a JSON object")
		}
		if f.PropertySchema != "" && !isJSONObject(f.PropertySchema) {
			bad(f, "PropertySchema is not a JSON object")
		}
		if f.Def != "" {
			if f.Type != Object {
				bad(f, "Def on a non-object")
			}
			if defs[f.Def] {
				bad(f, "$defs entry %q used twice", f.Def)
			}
			defs[f.Def] = true
		}
		if f.Table != "" && f.Type != Object {
			bad(f, "Table on a non-object")
		}
		wantView := f.Type.Leaf() || f.Type == ObjectArray
		switch {
		case wantView && f.View == "":
			bad(f, "no View name")
		case !wantView && f.View != "":
			bad(f, "View name on an object")
		case f.View != "" && views[f.View] != "":
			bad(f, "View name %q is also %q's", f.View, views[f.View])
		}
		if f.View != "" {
			views[f.View] = f.Path
		}
		if f.Type.Leaf() && f.Schema == "" {
			bad(f, "leaf without Schema")
		}
		if n.parent != nil && n.parent.f.Go != "" && f.Go == "" {
			bad(f, "no Go type in a Go struct")
		}
		if f.Go != "" && !f.Type.Leaf() {
			name := strings.TrimLeft(f.Go, "*[]")
			if f.GoDoc != "" && !strings.HasPrefix(f.GoDoc, name+" ") {
				bad(f, "GoDoc does not start with the struct name %s", name)
			}
		}
	}
	for _, n := range all {
		if !n.f.Type.Leaf() && len(n.children) == 0 {
			bad(n.f, "object without fields")
		}
	}
	return top, all, errors.Join(errs...)
}

func isJSONObject(s string) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal([]byte(s), &m) == nil
}

// keyPath is the Go expression of n's path as key constants.
func keyPath(n *node) string {
	var ks []string
	for ; n != nil; n = n.parent {
		ks = append(ks, n.f.Key)
	}
	var b strings.Builder
	b.WriteString("[]string{")
	for i := len(ks) - 1; i >= 0; i-- {
		b.WriteString(ks[i])
		if i > 0 {
			b.WriteString(", ")
		}
	}
	b.WriteString("}")
	return b.String()
}

var goKinds = map[Type]string{
	String:      "KindString",
	Number:      "KindNumber",
	Bool:        "KindBool",
	StringArray: "KindStringArray",
	NumberArray: "KindNumberArray",
}

// GoSource returns internal/event/fields_gen.go: the key constants, the
// detail-type constants, Leaves, and the View's field codes, path table and
// array ids.
func GoSource(fields []Field, types []DetailType) ([]byte, error) {
	_, all, err := tree(fields)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("// Code generated by internal/event/gen from internal/event/schema; DO NOT EDIT.\n\n")
	b.WriteString("package event\n\n")
	for _, n := range all {
		if strings.Contains(n.f.Go, "time.") {
			b.WriteString("import \"time\"\n\n")
			break
		}
	}

	b.WriteString("// Keys of the event JSON: a public contract (docs/events.md,\n")
	b.WriteString("// docs/event.schema.json). The encoder builds its output from these\n")
	b.WriteString("// constants and the View reports fields by them, so the matcher sees the\n")
	b.WriteString("// names the JSON has. Each comment lists the paths that end in the key.\n")
	b.WriteString("const (\n")
	var order []string
	uses := map[string][]string{}
	values := map[string]string{}
	for _, n := range all {
		if _, ok := values[n.f.Key]; !ok {
			order = append(order, n.f.Key)
			values[n.f.Key] = n.key
		}
		uses[n.f.Key] = append(uses[n.f.Key], n.f.Path)
	}
	for _, k := range order {
		fmt.Fprintf(&b, "\t%s = %q // %s\n", k, values[k], strings.Join(uses[k], ", "))
	}
	b.WriteString(")\n\n")

	if len(types) > 0 {
		b.WriteString("// Values of detail-type for events built from packets.\n")
		b.WriteString("const (\n")
		for _, t := range types {
			fmt.Fprintf(&b, "\t%s = %q // %s\n", t.Const, t.Value, t.Comment)
		}
		b.WriteString(")\n\n")
	}

	if err := writeStructs(&b, all); err != nil {
		return nil, err
	}

	b.WriteString("// Leaves lists every leaf field a packet event can carry, in encoding order.\n")
	b.WriteString("// The field accessor for the packet view and the schema tests use it.\n")
	b.WriteString("var Leaves = []Leaf{\n")
	for _, n := range all {
		if n.f.Type.Leaf() {
			fmt.Fprintf(&b, "\t{%s, %s},\n", keyPath(n), goKinds[n.f.Type])
		}
	}
	b.WriteString("}\n\n")

	b.WriteString("// Field codes of the View: one per leaf path of a packet event.\n")
	b.WriteString("const (\n\tvfNone viewField = iota\n")
	for _, n := range all {
		if n.f.Type.Leaf() {
			fmt.Fprintf(&b, "\tvf%s // %s\n", n.f.View, n.f.Path)
		}
	}
	b.WriteString(")\n\n")

	b.WriteString("// viewPaths maps each leaf path to its field code.\n")
	b.WriteString("var viewPaths = []struct {\n\tpath []string\n\tcode viewField\n}{\n")
	for _, n := range all {
		if n.f.Type.Leaf() {
			fmt.Fprintf(&b, "\t{%s, vf%s},\n", keyPath(n), n.f.View)
		}
	}
	b.WriteString("}\n\n")

	var arrays []string
	for _, n := range all {
		if t := n.f.Type; t == StringArray || t == NumberArray || t == ObjectArray {
			p := keyPath(n)
			arrays = append(arrays, fmt.Sprintf("\tarr%s = arrayID(%s)\n", n.f.View, p[len("[]string{"):len(p)-1]))
		}
	}
	if len(arrays) > 0 {
		b.WriteString("// Array ids of the event's arrays, for array-consistent matching.\n")
		b.WriteString("var (\n" + strings.Join(arrays, "") + ")\n")
	}
	out, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("format generated go: %w", err)
	}
	return out, nil
}

// writeStructs writes the Go structs of the objects that have a Go type.
func writeStructs(b *bytes.Buffer, all []*node) error {
	uses := map[string][]*node{}
	var names []string
	for _, n := range all {
		if n.f.Go == "" || n.f.Type.Leaf() {
			continue
		}
		name := strings.TrimLeft(n.f.Go, "*[]")
		if uses[name] == nil {
			names = append(names, name)
		}
		uses[name] = append(uses[name], n)
	}
	for _, name := range names {
		ns := uses[name]
		sig := func(n *node) string {
			var s []string
			for _, c := range n.children {
				s = append(s, fmt.Sprint(c.key, c.f.Go, c.f.Required))
			}
			return strings.Join(s, ";")
		}
		if ns[0].f.GoDoc == "" {
			return fmt.Errorf("field %q: no GoDoc for struct %s", ns[0].f.Path, name)
		}
		for _, n := range ns[1:] {
			if sig(n) != sig(ns[0]) {
				return fmt.Errorf("field %q: struct %s has other fields at %s", n.f.Path, name, ns[0].f.Path)
			}
			if n.f.GoDoc != "" {
				return fmt.Errorf("field %q: GoDoc for struct %s, documented at %s", n.f.Path, name, ns[0].f.Path)
			}
		}
		writeComment(b, "", ns[0].f.GoDoc)
		fmt.Fprintf(b, "type %s struct {\n", name)
		for _, c := range ns[0].children {
			if len(ns) == 1 && c.f.Doc != "" && c.f.Type.Leaf() {
				writeComment(b, "\t", c.f.Doc)
			}
			tag := c.key
			if !c.f.Required {
				tag += ",omitempty"
			}
			fmt.Fprintf(b, "\t%s %s `json:%q`\n", c.key, c.f.Go, tag)
		}
		b.WriteString("}\n\n")
	}
	return nil
}

// writeComment writes text as a Go comment at indent, wrapped near 80
// columns.
func writeComment(b *bytes.Buffer, indent, text string) {
	line := indent + "//"
	for _, w := range strings.Fields(text) {
		if len(line)+1+len(w) > 78 && line != indent+"//" {
			b.WriteString(line + "\n")
			line = indent + "//"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
}

// JSONSchema returns docs/event.schema.json.
func JSONSchema(fields []Field, types []DetailType) ([]byte, error) {
	top, _, err := tree(fields)
	if err != nil {
		return nil, err
	}
	s := &schemaWriter{}
	var b strings.Builder
	b.WriteString(`{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":`)
	b.WriteString(quote(ID) + `,"title":` + quote(Title) + `,"description":` + quote(Description))
	b.WriteString(`,"type":"object"` + s.required(top) + `,"additionalProperties":false,"properties":`)
	b.WriteString(s.properties(top))
	b.WriteString(`,"allOf":` + s.eventRules(types) + `,"$defs":{`)
	for i, d := range Shared {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quote(d.Name) + ":" + s.compact(d.Schema))
	}
	for _, d := range s.defs {
		b.WriteString("," + quote(d.name) + ":" + d.schema)
	}
	b.WriteString("}}")
	if s.err != nil {
		return nil, s.err
	}
	out, err := indentJSON([]byte(b.String()))
	if err != nil {
		return nil, fmt.Errorf("assemble json schema: %w", err)
	}
	return out, nil
}

type schemaWriter struct {
	defs []struct{ name, schema string }
	err  error
}

// compact returns JSON text s compacted.
func (s *schemaWriter) compact(text string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(text)); err != nil && s.err == nil {
		s.err = fmt.Errorf("schema text %.40q: %w", text, err)
	}
	return b.String()
}

// members returns the members of JSON object text, without braces, with a
// leading comma; "" when there are none.
func (s *schemaWriter) members(text string) string {
	if text == "" {
		return ""
	}
	c := s.compact(text)
	if len(c) < 2 || c[0] != '{' {
		if s.err == nil {
			s.err = fmt.Errorf("schema text %.40q: not a JSON object", text)
		}
		return ""
	}
	if inner := c[1 : len(c)-1]; inner != "" {
		return "," + inner
	}
	return ""
}

func (s *schemaWriter) required(ns []*node) string {
	var req []string
	for _, n := range ns {
		if n.f.Required {
			req = append(req, quote(n.key))
		}
	}
	if len(req) == 0 {
		return ""
	}
	return `,"required":[` + strings.Join(req, ",") + "]"
}

func (s *schemaWriter) properties(ns []*node) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range ns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quote(n.key) + ":" + s.property(n))
	}
	b.WriteByte('}')
	return b.String()
}

// object is the schema of object n from its fields, plus extra's keywords.
func (s *schemaWriter) object(n *node, extra string) string {
	return `{"type":"object"` + s.required(n.children) + `,"additionalProperties":false,"properties":` +
		s.properties(n.children) + s.members(extra) + "}"
}

// property is n's schema in its parent's properties.
func (s *schemaWriter) property(n *node) string {
	f := n.f
	switch {
	case f.Type.Leaf():
		m := s.members(f.Schema)
		if f.Doc == "" {
			return "{" + strings.TrimPrefix(m, ",") + "}"
		}
		return `{"description":` + quote(f.Doc) + m + "}"
	case f.Type == ObjectArray:
		return `{"type":"array"` + s.members(f.Schema) + `,"items":` + s.object(n, "") + "}"
	case f.Def != "":
		s.defs = append(s.defs, struct{ name, schema string }{f.Def, s.object(n, f.Schema)})
		if f.PropertySchema != "" {
			return s.compact(f.PropertySchema)
		}
		return `{"$ref":` + quote("#/$defs/"+f.Def) + "}"
	default:
		return s.object(n, f.Schema)
	}
}

// eventRules is the envelope's "allOf": the packet detail-types have a
// packet detail, and each its own constraints on it.
func (s *schemaWriter) eventRules(types []DetailType) string {
	var values []string
	for _, t := range types {
		values = append(values, quote(t.Value))
	}
	var b strings.Builder
	b.WriteString(`[{"if":{"properties":{"detail-type":{"enum":[` + strings.Join(values, ",") + `]}}},` +
		`"then":{"properties":{"detail":{"$ref":"#/$defs/detail"}}}}`)
	for _, t := range types {
		b.WriteString(`,{"if":{"properties":{"detail-type":{"const":` + quote(t.Value) + `}}},` +
			`"then":{"properties":{"detail":` + s.compact(t.Detail) + `}}}`)
	}
	b.WriteString("]")
	return b.String()
}

// quote is s as a JSON string, with <, > and & as they are.
func quote(s string) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	_ = e.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

var docTypes = map[Type]string{
	String:      "string",
	Number:      "number",
	Bool:        "boolean",
	StringArray: "array of string",
	NumberArray: "array of number",
	Object:      "object",
	ObjectArray: "array of object",
}

// Marker comments around a generated docs table.
const (
	beginMarker = "<!-- generated: %s (go generate ./internal/event/...) -->\n"
	endMarker   = "<!-- end generated: %s -->\n"
)

// replaceBetween replaces the text between the marker lines of table name
// with what write writes.
func replaceBetween(doc []byte, name string, write func(*bytes.Buffer)) ([]byte, error) {
	begin, end := fmt.Sprintf(beginMarker, name), fmt.Sprintf(endMarker, name)
	i := bytes.Index(doc, []byte(begin))
	j := bytes.Index(doc, []byte(end))
	if i < 0 || j < i {
		return nil, fmt.Errorf("docs/events.md: no %q line followed by %q for table %s",
			strings.TrimSpace(begin), strings.TrimSpace(end), name)
	}
	var b bytes.Buffer
	b.Write(doc[:i+len(begin)])
	write(&b)
	b.Write(doc[j:])
	return b.Bytes(), nil
}

// DocTables returns docs/events.md (given as old) with every field table and
// the detail-type table regenerated between their markers; the text outside
// the markers is kept.
func DocTables(fields []Field, types []DetailType, old []byte) ([]byte, error) {
	_, all, err := tree(fields)
	if err != nil {
		return nil, err
	}
	var names []string
	rows := map[string][]*node{}
	for _, n := range all {
		if n.f.Doc == "" {
			continue
		}
		if rows[n.table] == nil {
			names = append(names, n.table)
		}
		rows[n.table] = append(rows[n.table], n)
	}
	out := old
	for _, name := range names {
		out, err = replaceBetween(out, "fields "+name, func(b *bytes.Buffer) { writeTable(b, rows[name]) })
		if err != nil {
			return nil, err
		}
	}
	out, err = replaceBetween(out, "detail-types", func(b *bytes.Buffer) {
		b.WriteString("| Value | When |\n|---|---|\n")
		for _, t := range types {
			b.WriteString("| `" + t.Value + "` | " + t.When + " |\n")
		}
	})
	if err != nil {
		return nil, err
	}
	if n := bytes.Count(out, []byte("<!-- generated: fields ")); n != len(names) {
		return nil, fmt.Errorf("docs/events.md: %d field table markers, %d tables in the definition", n, len(names))
	}
	return out, nil
}

func writeTable(b *bytes.Buffer, rows []*node) {
	present := false
	for _, n := range rows {
		present = present || n.f.Present != ""
	}
	row := func(cells ...string) {
		b.WriteByte('|')
		for _, c := range cells {
			if c == "" {
				b.WriteString(" |")
			} else {
				b.WriteString(" " + c + " |")
			}
		}
		b.WriteByte('\n')
	}
	if present {
		row("Field", "Type", "Present", "Description")
		b.WriteString("|---|---|---|---|\n")
	} else {
		row("Field", "Type", "Description")
		b.WriteString("|---|---|---|\n")
	}
	for _, n := range rows {
		if present {
			row("`"+n.f.Path+"`", docTypes[n.f.Type], n.f.Present, n.f.Doc)
		} else {
			row("`"+n.f.Path+"`", docTypes[n.f.Type], n.f.Doc)
		}
	}
}
