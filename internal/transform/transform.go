// Package transform is the input transformer of a rule (EventBridge
// InputPath and InputTransformer): what a target receives of a matched event.
//
//	source ──► packet ──► event ──► rule match ──► transform ──► deliver ──► target
//	                                internal/rule  (this package)
//
// internal/rule builds a rule's Transformer with NewTransformer, and the
// pipeline applies it to each matched event (Append). internal/config checks
// a rule's input_path, input_paths and input_template with the same
// NewTransformer, so that a configuration that validates also starts: for
// that the package imports only the standard library, internal/names and
// pattern (its JSON scanner; pattern itself imports only the standard library).
package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/wirebridge/wirebridge/pattern"
)

// Predefined input-template variables (EventBridge names). They need no
// input_paths entry and may not be redefined there.
const (
	VarRuleName      = "aws.events.rule-name"
	VarRuleARN       = "aws.events.rule-arn"
	VarEvent         = "aws.events.event"
	VarEventJSON     = "aws.events.event.json"
	VarIngestionTime = "aws.events.event.ingestion-time"
)

// MaxInputPaths is the most variables one input transformer defines
// (EventBridge's limit).
const MaxInputPaths = 100

// MaxTemplateBytes bounds an input template (EventBridge allows 8192 characters).
const MaxTemplateBytes = 8192

// IngestionTimeLayout is how <aws.events.event.ingestion-time> is written (UTC).
const IngestionTimeLayout = "2006-01-02T15:04:05.000Z"

// ARN returns what <aws.events.rule-arn> holds for a rule: wirebridge has no
// AWS account or region, so it is "wirebridge:rule/<name>".
func ARN(rule string) string { return "wirebridge:rule/" + rule }

// Transformer is a rule's EventBridge-style input transformer: either an
// InputPath (deliver only the part of the event a JSON path selects) or an
// InputTransformer (input_paths defining variables, input_template with
// <var> placeholders).
//
// Substitution follows EventBridge. A template whose first non-blank
// character is '{', '[' or '"' is JSON: a placeholder outside a JSON string
// is replaced by the value as JSON (strings keep their quotes, objects and
// arrays are copied), and inside a JSON string by the value's text (a string
// without its quotes, anything else as its JSON text). Any other template is
// plain text and every placeholder is replaced by the value's text. The
// predefined variables are <aws.events.rule-name>, <aws.events.rule-arn>
// (see ARN), <aws.events.event.ingestion-time> (when the pipeline accepted
// the event, IngestionTimeLayout), <aws.events.event> (the event without its
// detail) and <aws.events.event.json> (the whole event); the last two are
// JSON and may not be used inside a JSON string.
//
// Deliberate differences, so that a JSON template always yields valid JSON:
// text inserted inside a JSON string is JSON-escaped (EventBridge inserts it
// raw), and a variable whose path selects nothing becomes null outside a
// string (empty text elsewhere, as in EventBridge). An InputPath that
// selects nothing delivers null.
type Transformer struct {
	path     Path      // InputPath mode when template is nil
	template []segment // InputTransformer mode
	vars     []variable
	isPath   bool
	needs    bool // needs the event JSON
}

type variable struct {
	name       string
	path       Path
	predefined string // one of the Var* constants, or ""
}

type placeMode uint8

const (
	modeText   placeMode = iota // plain-text template
	modeJSON                    // JSON template, outside a string
	modeString                  // JSON template, inside a string
)

type segment struct {
	lit  string
	v    int // index into vars; -1 for a literal
	mode placeMode
}

// TransformError is an input-transformer error at load; Field is the config
// key ("input_path", "input_paths.<var>" or "input_template").
type TransformError struct {
	Field  string
	Reason string
}

func (e *TransformError) Error() string { return e.Field + ": " + e.Reason }

// Errors returns the TransformErrors NewTransformer joined in err.
func Errors(err error) []*TransformError {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else if err != nil {
		errs = []error{err}
	}
	var out []*TransformError
	for _, e := range errs {
		var te *TransformError
		if errors.As(e, &te) {
			out = append(out, te)
		}
	}
	return out
}

func joinErrs(errs []error) error { return errors.Join(errs...) }

// NewTransformer builds a transformer. inputPath is exclusive with
// inputPaths/template. It returns nil and no error when all three are empty
// (the event is delivered as it is). Every problem is reported, each as a
// *TransformError, joined.
func NewTransformer(inputPath string, inputPaths map[string]string, template string) (*Transformer, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &TransformError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if inputPath != "" {
		p, err := ParsePath(inputPath)
		if err != nil {
			bad("input_path", "%v", err)
		}
		if template == "" && len(inputPaths) == 0 {
			if err != nil {
				return nil, joinErrs(errs)
			}
			return &Transformer{path: p, isPath: true, needs: true}, nil
		}
		// Both: report that, and whatever else is wrong with the rest.
		bad("input_path", "input_path and input_template/input_paths are exclusive (EventBridge InputPath or InputTransformer)")
	}
	if template == "" {
		if len(inputPaths) > 0 {
			bad("input_template", "required when input_paths is set")
			return nil, joinErrs(errs)
		}
		return nil, nil
	}
	t := &Transformer{}
	if len(inputPaths) > MaxInputPaths {
		bad("input_paths", "more than %d variables", MaxInputPaths)
	}
	if len(template) > MaxTemplateBytes {
		bad("input_template", "%d bytes (at most %d)", len(template), MaxTemplateBytes)
	}
	names := make([]string, 0, len(inputPaths))
	for k := range inputPaths {
		names = append(names, k)
	}
	slices.Sort(names)
	index := map[string]int{}
	for _, k := range names {
		field := "input_paths." + k
		switch {
		case isPredefined(k):
			bad(field, "variable name %q is reserved", k)
			continue
		case k == "" || strings.IndexFunc(k, func(r rune) bool { return r > 0x7f || !isVarByte(byte(r)) || r == '.' }) >= 0:
			bad(field, "invalid variable name %q: use letters, digits, '-' and '_'", k)
			continue
		}
		p, err := ParsePath(inputPaths[k])
		if err != nil {
			bad(field, "%v", err)
			continue
		}
		index[k] = len(t.vars)
		t.vars = append(t.vars, variable{name: k, path: p})
	}
	t.template = t.parseTemplate(template, index, inputPaths, bad)
	if len(errs) > 0 {
		return nil, joinErrs(errs)
	}
	if isJSONTemplate(template) && template[firstNonBlank(template)] != '"' {
		if !json.Valid(t.sample()) {
			bad("input_template", "not valid JSON once placeholders are replaced by values")
			return nil, joinErrs(errs)
		}
	}
	for _, s := range t.template {
		if s.v >= 0 {
			v := t.vars[s.v]
			if v.predefined == "" || v.predefined == VarEvent || v.predefined == VarEventJSON {
				t.needs = true
			}
		}
	}
	return t, nil
}

func isVarByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

func isPredefined(name string) bool {
	switch name {
	case VarRuleName, VarRuleARN, VarEvent, VarEventJSON, VarIngestionTime:
		return true
	}
	return false
}

func firstNonBlank(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return i
		}
	}
	return len(s)
}

func isJSONTemplate(s string) bool {
	i := firstNonBlank(s)
	return i < len(s) && (s[i] == '{' || s[i] == '[' || s[i] == '"')
}

// parseTemplate splits the template into literals and placeholders, noting
// for each placeholder whether it sits inside a JSON string.
func (t *Transformer) parseTemplate(tpl string, index map[string]int, defined map[string]string, bad func(string, string, ...any)) []segment {
	jsonMode := isJSONTemplate(tpl)
	var segs []segment
	inString := false
	lit := 0
	used := map[string]bool{}
	for i := 0; i < len(tpl); i++ {
		c := tpl[i]
		if jsonMode {
			if inString && c == '\\' {
				i++
				continue
			}
			if c == '"' {
				inString = !inString
				continue
			}
		}
		if c != '<' {
			continue
		}
		j := i + 1
		for j < len(tpl) && isVarByte(tpl[j]) {
			j++
		}
		if j == i+1 || j >= len(tpl) || tpl[j] != '>' {
			continue // not a placeholder: literal '<'
		}
		name := tpl[i+1 : j]
		mode := modeText
		if jsonMode {
			mode = modeJSON
			if inString {
				mode = modeString
			}
		}
		v, ok := index[name]
		switch {
		case ok:
		case isPredefined(name):
			v = len(t.vars)
			index[name] = v
			t.vars = append(t.vars, variable{name: name, predefined: name})
		case hasKey(defined, name):
			v = -2 // defined but invalid: already reported
		default:
			if !used[name] {
				bad("input_template", "placeholder <%s> is not defined in input_paths", name)
			}
			v = -2
		}
		used[name] = true
		if mode == modeString && (name == VarEvent || name == VarEventJSON) {
			bad("input_template", "placeholder <%s> holds JSON and cannot be used inside a string", name)
		}
		if mode == modeJSON {
			k := j + 1
			for k < len(tpl) && (tpl[k] == ' ' || tpl[k] == '\t' || tpl[k] == '\n' || tpl[k] == '\r') {
				k++
			}
			if k < len(tpl) && tpl[k] == ':' {
				bad("input_template", "placeholder <%s> cannot be used as an object key", name)
			}
		}
		if i > lit {
			segs = append(segs, segment{lit: tpl[lit:i], v: -1})
		}
		segs = append(segs, segment{v: v, mode: mode})
		lit = j + 1
		i = j
	}
	if lit < len(tpl) {
		segs = append(segs, segment{lit: tpl[lit:], v: -1})
	}
	return segs
}

// sample is the template with every placeholder replaced by a typical value,
// to check that a JSON template stays JSON.
func (t *Transformer) sample() []byte {
	var b []byte
	for _, s := range t.template {
		switch {
		case s.v == -1:
			b = append(b, s.lit...)
		case s.mode == modeJSON:
			b = append(b, "null"...)
		default:
			b = append(b, 'x')
		}
	}
	return b
}

// NeedsEvent reports whether Append reads Input.Event (some variable selects
// from the event, or the template holds the whole event). A transformer that
// only uses rule names and the ingestion time does not.
func (t *Transformer) NeedsEvent() bool { return t != nil && t.needs }

// Input is what a transformer reads for one matched event.
type Input struct {
	Event         []byte    // the event JSON (required when NeedsEvent)
	Rule          string    // the rule's name
	IngestionTime time.Time // when wirebridge accepted the event
}

// Append appends the transformed input to dst.
func (t *Transformer) Append(dst []byte, in *Input) []byte {
	if t.isPath {
		v, ok := t.path.Lookup(in.Event)
		if !ok {
			return append(dst, "null"...)
		}
		return append(dst, v...)
	}
	for _, s := range t.template {
		if s.v < 0 {
			dst = append(dst, s.lit...)
			continue
		}
		dst = t.appendVar(dst, &t.vars[s.v], s.mode, in)
	}
	return dst
}

func (t *Transformer) appendVar(dst []byte, v *variable, mode placeMode, in *Input) []byte {
	var str string
	switch v.predefined {
	case "":
		val, ok := v.path.Lookup(in.Event)
		if !ok {
			if mode == modeJSON {
				return append(dst, "null"...)
			}
			return dst
		}
		return appendValue(dst, val, mode)
	case VarEventJSON:
		return append(dst, in.Event...)
	case VarEvent:
		return appendWithoutDetail(dst, in.Event)
	case VarRuleName:
		str = in.Rule
	case VarRuleARN:
		str = ARN(in.Rule)
	case VarIngestionTime:
		var buf [32]byte
		return appendStr(dst, in.IngestionTime.UTC().AppendFormat(buf[:0], IngestionTimeLayout), mode)
	}
	return appendStr(dst, []byte(str), mode)
}

// appendStr appends a Go string value in the placeholder's mode.
func appendStr(dst, s []byte, mode placeMode) []byte {
	switch mode {
	case modeJSON:
		return pattern.AppendJSONString(dst, bytesString(s), false)
	case modeString:
		return pattern.AppendJSONEscaped(dst, bytesString(s), false)
	default:
		return append(dst, s...)
	}
}

// appendValue appends the raw JSON value val in the placeholder's mode.
func appendValue(dst, val []byte, mode placeMode) []byte {
	isStr := len(val) >= 2 && val[0] == '"'
	switch mode {
	case modeJSON:
		return append(dst, val...)
	case modeString:
		if isStr {
			return append(dst, val[1:len(val)-1]...) // already escaped for a JSON string
		}
		return pattern.AppendJSONEscaped(dst, bytesString(val), false)
	default:
		if isStr {
			n := len(dst)
			if out, _, err := pattern.AppendJSONUnquoted(dst, val, 0); err == nil {
				return out
			}
			return append(dst[:n], val[1:len(val)-1]...) // not valid JSON: as it is
		}
		return append(dst, val...)
	}
}

// bytesString views b as a string without copying it, for the escapers:
// they only read it during the call.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// appendWithoutDetail appends the event object without its "detail" member.
// What follows a member that is not valid JSON is left out.
func appendWithoutDetail(dst, ev []byte) []byte {
	i := pattern.JSONSkipSpace(ev, 0)
	if i >= len(ev) || ev[i] != '{' {
		return append(dst, ev...)
	}
	dst = append(dst, '{')
	first := true
	i = pattern.JSONSkipSpace(ev, i+1)
	for i < len(ev) && ev[i] == '"' {
		kend, _, err := pattern.JSONSkipString(ev, i)
		if err != nil {
			break
		}
		key := ev[i:kend]
		vstart, err := pattern.JSONColon(ev, kend)
		if err != nil {
			break
		}
		vend, err := pattern.JSONSkipValue(ev, vstart, 1)
		if err != nil {
			break
		}
		if string(key) != `"detail"` {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, key...)
			dst = append(dst, ':')
			dst = append(dst, ev[vstart:vend]...)
		}
		var more bool
		if i, more, err = pattern.JSONNext(ev, vend, '}'); err != nil || !more {
			break
		}
	}
	return append(dst, '}')
}
