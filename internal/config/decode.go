package config

import (
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

const (
	tagStr   = spec.TagStr
	tagInt   = spec.TagInt
	tagFloat = spec.TagFloat
	tagBool  = spec.TagBool
	tagNull  = spec.TagNull
	tagMerge = "!!merge"
)

// maxNodes bounds the work of one parse, so that nested aliases cannot explode.
const maxNodes = 1_000_000

// decoder fills the typed structs from a yaml.Node tree, collecting every error instead of
// stopping at the first, and recording the position of every value by its YAML path.
type decoder struct {
	file     string
	errs     Errors
	pos      map[string]Pos
	patterns map[string]*patternAt
	nodes    int
	overflow bool
	kinds    *component.Registry // the kinds a target's type may name
}

// scalarDecoder is implemented by types written as one YAML scalar.
type scalarDecoder interface {
	decodeScalar(value, tag string) error
}

// specScalar is implemented by the value types of internal/spec written as one YAML scalar.
type specScalar interface {
	DecodeScalar(value, tag string) error
}

// nodeDecoder is implemented by types that read their YAML node themselves.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string)
}

// defaulter is implemented by structs that have defaults; it is called on every new value before
// its YAML is decoded into it, so that keys left out keep their default.
type defaulter interface {
	setDefaults()
}

// specDefaulter is a defaulter outside this package (component specs and their parts).
type specDefaulter interface {
	SetDefaults()
}

// setDefaults calls the defaults of p (a pointer), if it has any.
func setDefaults(p any) {
	switch df := p.(type) {
	case defaulter:
		df.setDefaults()
	case specDefaulter:
		df.SetDefaults()
	}
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
)

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// spend counts one node against maxNodes.
func (d *decoder) spend() bool {
	d.nodes++
	if d.nodes > maxNodes {
		if !d.overflow {
			d.overflow = true
			d.errs = append(d.errs, &Error{File: d.file, Msg: fmt.Sprintf("configuration is too large (more than %d values after expanding aliases)", maxNodes)})
		}
		return false
	}
	return true
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return describeScalar(n.Value, n.ShortTag())
	}
	return "an unsupported YAML node"
}

func describeScalar(value, tag string) string { return spec.DescribeScalar(value, tag) }

// decode decodes n into v (addressable), recording positions under path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if !d.spend() {
		return
	}
	d.pos[path] = Pos{n.Line, n.Column}
	if n.Kind == yaml.AliasNode {
		r := resolveAlias(n)
		if r == nil || r.Kind == yaml.AliasNode {
			d.errorf(n, path, "unresolved alias")
			return
		}
		n = r
	}
	if isNull(n) {
		return // keep the default
	}
	if v.CanAddr() {
		switch u := v.Addr().Interface().(type) {
		case nodeDecoder:
			u.decodeNode(d, n, path)
			return
		case scalarDecoder:
			if n.Kind != yaml.ScalarNode {
				d.errorf(n, path, "expected a single value, got %s", kindName(n))
				return
			}
			if err := u.decodeScalar(n.Value, n.ShortTag()); err != nil {
				d.errorf(n, path, "%s", err.Error())
			}
			return
		case specScalar:
			if n.Kind != yaml.ScalarNode {
				d.errorf(n, path, "expected a single value, got %s", kindName(n))
				return
			}
			if err := u.DecodeScalar(n.Value, n.ShortTag()); err != nil {
				d.errorf(n, path, "%s", err.Error())
			}
			return
		}
	}
	switch v.Type() {
	case durationType:
		d.decodeDuration(n, v, path)
		return
	case prefixType:
		d.decodePrefix(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		setDefaults(nv.Interface())
		d.decode(n, nv.Elem(), path)
		v.Set(nv)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, path, "expected a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != tagBool {
			d.errorf(n, path, "expected true or false, got %s", kindName(n))
			return
		}
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err != nil {
			d.errorf(n, path, "expected true or false, got %s", kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != tagInt {
			if n.Kind == yaml.ScalarNode && bigInteger.MatchString(n.Value) {
				d.errorf(n, path, "integer %s is out of range", n.Value)
			} else {
				d.errorf(n, path, "expected an integer, got %s", kindName(n))
			}
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || v.OverflowInt(i) {
			d.errorf(n, path, "integer %s is out of range", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != tagInt {
			d.errorf(n, path, "expected a non-negative integer, got %s", kindName(n))
			return
		}
		i, err := strconv.ParseUint(n.Value, 0, 64)
		if err != nil || v.OverflowUint(i) {
			d.errorf(n, path, "integer %s is out of range", n.Value)
			return
		}
		v.SetUint(i)
	case reflect.Float32, reflect.Float64:
		tag := n.ShortTag()
		if n.Kind != yaml.ScalarNode || (tag != tagInt && tag != tagFloat) {
			d.errorf(n, path, "expected a number, got %s", kindName(n))
			return
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil && tag == tagInt {
			var i int64
			i, err = strconv.ParseInt(n.Value, 0, 64)
			f = float64(i)
		}
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.errorf(n, path, "expected a finite number, got %s", n.Value)
			return
		}
		v.SetFloat(f)
	default:
		d.errorf(n, path, "unsupported configuration field type %s", v.Type())
	}
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "expected a duration such as 30s, got %s", kindName(n))
		return
	}
	if n.ShortTag() == tagInt && n.Value == "0" {
		v.SetInt(0)
		return
	}
	if n.ShortTag() != tagStr {
		d.errorf(n, path, "expected a duration with a unit such as 30s or 5m, got %s", kindName(n))
		return
	}
	dur, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		d.errorf(n, path, "invalid duration %q: use a Go duration such as 500ms, 30s, 5m or 24h", n.Value)
		return
	}
	if dur < 0 {
		d.errorf(n, path, "duration %q must not be negative", n.Value)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) decodePrefix(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "expected a CIDR such as 10.0.0.0/8, got %s", kindName(n))
		return
	}
	s := strings.TrimSpace(n.Value)
	var p netip.Prefix
	var err error
	if strings.Contains(s, "/") {
		p, err = netip.ParsePrefix(s)
	} else {
		var a netip.Addr
		if a, err = netip.ParseAddr(s); err == nil {
			p = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil || !p.IsValid() || strings.Contains(s, "%") {
		d.errorf(n, path, "invalid CIDR %q: want an address or a network such as 10.0.0.0/8 or fd00::/8", n.Value)
		return
	}
	v.Set(reflect.ValueOf(p.Masked()))
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected a list, got %s", kindName(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		e := out.Index(i)
		setDefaults(e.Addr().Interface())
		d.decode(c, e, fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(out)
}

var bigInteger = regexp.MustCompile(`^[-+]?[0-9][0-9_]*$`)

func joinKey(path, key string) string { return spec.JoinKey(path, key) }

type pair struct {
	key, value *yaml.Node
}

// pairs lists a mapping's key/value pairs, with merge keys (<<) expanded: explicit keys win over
// merged ones. Duplicate explicit keys and non-scalar keys are reported.
func (d *decoder) pairs(n *yaml.Node, path string) []pair { return d.mergePairs(n, path, 0) }

// maxMergeDepth bounds chains of merge keys (and breaks cycles such as &a {<<: *a}).
const maxMergeDepth = 16

func (d *decoder) mergePairs(n *yaml.Node, path string, depth int) []pair {
	var out []pair
	seen := map[string]bool{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && (k.ShortTag() == tagMerge || k.Value == "<<" && k.Style == 0) {
			merges = append(merges, val)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "mapping keys must be plain strings, got %s", kindName(k))
			continue
		}
		if seen[k.Value] {
			d.errorf(k, joinKey(path, k.Value), "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, pair{k, val})
	}
	for _, m := range merges {
		m = resolveAlias(m)
		var srcs []*yaml.Node
		switch {
		case m != nil && m.Kind == yaml.MappingNode:
			srcs = []*yaml.Node{m}
		case m != nil && m.Kind == yaml.SequenceNode:
			for _, s := range m.Content {
				srcs = append(srcs, resolveAlias(s))
			}
		}
		for _, s := range srcs {
			if s == nil || s.Kind != yaml.MappingNode {
				d.errorf(n, path, "merge key << needs a mapping or a list of mappings")
				continue
			}
			if !d.spend() {
				return out
			}
			if depth >= maxMergeDepth {
				d.errorf(n, path, "merge keys (<<) nest more than %d deep", maxMergeDepth)
				return out
			}
			for _, p := range d.mergePairs(s, path, depth+1) {
				if !seen[p.key.Value] {
					seen[p.key.Value] = true
					out = append(out, p)
				}
			}
		}
	}
	return out
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.errorf(n, path, "unsupported map key type %s", v.Type().Key())
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, p := range d.pairs(n, path) {
		ev := reflect.New(v.Type().Elem()).Elem()
		kp := joinKey(path, p.key.Value)
		d.decode(p.value, ev, kp)
		m.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(v.Type().Key()), ev)
	}
	v.Set(m)
}

// field is a struct field reachable from YAML.
type field struct {
	index   int
	name    string // YAML key
	variant string // for variant pointers: the type value selecting them
	kind    string // for a component spec: the role of the kind ("source", "target" or "mirror")
}

func fieldsOf(t reflect.Type) (keys []field, variants []field, typeField int) {
	typeField = -1
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if vr := f.Tag.Get("variant"); vr != "" {
			variants = append(variants, field{index: i, variant: vr})
			continue
		}
		if k := f.Tag.Get("kind"); k != "" {
			variants = append(variants, field{index: i, kind: k})
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		keys = append(keys, field{index: i, name: name})
		if name == "type" || f.Tag.Get("selects") == "kind" {
			typeField = i
		}
	}
	return keys, variants, typeField
}

// option is one type a struct with variants may take: a variant pointer field, or a component
// kind filling the struct's spec field.
type option struct {
	name  string
	index int          // the field set
	elem  reflect.Type // the struct the type's keys are read into
	alloc func() any   // a new value of the type (a pointer to elem)
}

// options lists the types a struct's variant fields allow, in documentation order.
func (d *decoder) options(t reflect.Type, variants []field) []option {
	var out []option
	for _, vf := range variants {
		ft := t.Field(vf.index).Type
		if vf.kind == "" {
			out = append(out, option{name: vf.variant, index: vf.index, elem: ft.Elem(), alloc: func() any { return reflect.New(ft.Elem()).Interface() }})
			continue
		}
		if d.kinds == nil {
			continue
		}
		switch vf.kind {
		case "source":
			for _, e := range d.kinds.Sources {
				s := e.Kind.NewSpec()
				out = append(out, option{name: e.Type, index: vf.index, elem: reflect.TypeOf(s).Elem(), alloc: func() any { return e.Kind.NewSpec() }})
			}
		case "target":
			for _, e := range d.kinds.Targets {
				s := e.Kind.NewSpec()
				out = append(out, option{name: e.Type, index: vf.index, elem: reflect.TypeOf(s).Elem(), alloc: func() any { return e.Kind.NewSpec() }})
			}
		case "mirror":
			for _, e := range d.kinds.Mirrors {
				s := e.Kind.NewSpec()
				out = append(out, option{name: e.Provider, index: vf.index, elem: reflect.TypeOf(s).Elem(), alloc: func() any { return e.Kind.NewSpec() }})
			}
		}
	}
	return out
}

func findKey(fs []field, name string) (field, bool) {
	for _, f := range fs {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// decodeStruct decodes a mapping into a struct. A struct with variant fields (Source, Target,
// Mirror) reads the key selecting the variant first ("type", or the field tagged
// selects:"kind", such as a mirror's "provider"), allocates the variant it names and accepts
// that variant's keys beside the common ones.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	keys, variants, typeField := fieldsOf(v.Type())
	ps := d.pairs(n, path)
	var variant reflect.Value // the selected variant struct
	var variantKeys []field
	typeKnown, hasType := false, false
	opts := d.options(v.Type(), variants)
	typeKey := "type"
	if typeField >= 0 {
		typeKey, _, _ = strings.Cut(v.Type().Field(typeField).Tag.Get("yaml"), ",")
	}
	if len(variants) > 0 && typeField >= 0 {
		for _, p := range ps {
			if p.key.Value != typeKey {
				continue
			}
			hasType = true
			d.decode(p.value, v.Field(typeField), joinKey(path, typeKey))
			t := v.Field(typeField).String()
			var names []string
			for _, o := range opts {
				names = append(names, o.name)
				if o.name == t {
					nv := o.alloc()
					setDefaults(nv)
					v.Field(o.index).Set(reflect.ValueOf(nv))
					variant = reflect.ValueOf(nv).Elem()
					variantKeys, _, _ = fieldsOf(variant.Type())
					typeKnown = true
				}
			}
			if !typeKnown && t != "" {
				d.errorf(p.value, joinKey(path, typeKey), "unknown %s %q (want one of %s)", typeKey, t, strings.Join(names, ", "))
			}
		}
		if tv := resolveAlias(findValue(ps, typeKey)); !hasType || (tv != nil && isNull(tv)) {
			d.errorf(n, joinKey(path, typeKey), "required")
		}
	}
	for _, p := range ps {
		k := p.key.Value
		if k == typeKey && typeField >= 0 && len(variants) > 0 {
			continue
		}
		kp := joinKey(path, k)
		if f, ok := findKey(keys, k); ok {
			d.decode(p.value, v.Field(f.index), kp)
			continue
		}
		if f, ok := findKey(variantKeys, k); ok {
			d.decode(p.value, variant.Field(f.index), kp)
			continue
		}
		if len(variants) > 0 {
			var owners []string
			for _, o := range opts {
				vk, _, _ := fieldsOf(o.elem)
				if _, ok := findKey(vk, k); ok {
					owners = append(owners, o.name)
				}
			}
			if len(owners) > 0 {
				if typeKnown {
					d.errorf(p.key, kp, "key %q is not valid for %s %s (it is a key of %s %s)", k, typeKey, v.Field(typeField).String(), typeKey, strings.Join(owners, ", "))
				}
				continue
			}
		}
		known := make([]string, 0, len(keys)+len(variantKeys))
		for _, f := range slices.Concat(keys, variantKeys) {
			known = append(known, f.name)
		}
		msg := fmt.Sprintf("unknown key %q", k)
		if s := suggest(k, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		d.errorf(p.key, kp, "%s", msg)
	}
}

// suggest returns the known name closest to s, if it is close enough to be a likely typo.
func suggest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if dist := editDistance(s, k); dist < bestD {
			best, bestD = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func findValue(ps []pair, key string) *yaml.Node {
	for _, p := range ps {
		if p.key.Value == key {
			return p.value
		}
	}
	return nil
}
