package app

import (
	"bytes"
	"encoding"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/kinds"
)

var updateConfigs = flag.Bool("update-configs", false, "rewrite the results in testdata/configs.json (not its inputs)")

// configsFile holds every configuration the tests of internal/config,
// internal/app and internal/replay parsed on 2026-12-07, before the
// configuration was split into per-kind specs (issue 13) — the embedded
// default, every example, every valid and invalid config of the tests — with
// what parsing it gave: the effective settings (defaults applied) or the
// errors. The inputs stay fixed even when the tests that produced them
// change, so the refactoring provably keeps every config validating the same
// way, with the same values and the same error text.
const configsFile = "testdata/configs.json"

type recordedConfig struct {
	Key       string          `json:"key"` // a hash of the YAML
	From      string          `json:"from"`
	YAML      string          `json:"yaml"`
	Errors    string          `json:"errors,omitempty"`
	Effective json.RawMessage `json:"effective,omitempty"`
	// Marker is set on the records that quote a path outside data_dir as
	// the test wrote it (internal/repocheck lets such a line pass).
	Marker string `json:"marker,omitempty"`
}

// TestEveryConfigParsesAsBefore parses each recorded configuration again and
// compares the result with the one recorded.
func TestEveryConfigParsesAsBefore(t *testing.T) {
	t.Setenv("WIREBRIDGE_GOLDEN_SECRET", "s3cret")
	b, err := os.ReadFile(configsFile)
	if err != nil {
		t.Fatal(err)
	}
	var recs []recordedConfig
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) < 100 {
		t.Fatalf("only %d recorded configurations", len(recs))
	}
	valid := 0
	for i := range recs {
		r := &recs[i]
		errs, eff := parseForGolden(t, []byte(r.YAML))
		if *updateConfigs {
			r.Errors, r.Effective = errs, eff
			continue
		}
		if errs != r.Errors {
			t.Errorf("%s (%s): errors changed:\n got: %s\nwant: %s\nconfig:\n%s", r.Key, r.From, errs, r.Errors, r.YAML)
		}
		var want bytes.Buffer
		if len(r.Effective) > 0 {
			if err := json.Compact(&want, r.Effective); err != nil {
				t.Fatal(err)
			}
			valid++
		}
		if !bytes.Equal(eff, want.Bytes()) {
			t.Errorf("%s (%s): effective settings changed:\n got: %s\nwant: %s", r.Key, r.From, eff, want.Bytes())
		}
	}
	if *updateConfigs {
		// One record a line, so that a record's marker is on its line.
		out := []byte("[\n")
		for i := range recs {
			r := &recs[i]
			r.Marker = ""
			if strings.Contains(r.YAML+r.Errors+string(r.Effective), "../") {
				r.Marker = "outside-ok: paths as the test wrote them"
			}
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
			if i < len(recs)-1 {
				out = append(out, ',')
			}
			out = append(out, '\n')
		}
		if err := os.WriteFile(configsFile, append(out, "]\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Logf("%d configurations compared, %d of them valid", len(recs), valid)
}

// parseForGolden parses a configuration and renders the result without
// machine-specific text (the working directory): the errors, or the
// effective settings as compact JSON.
func parseForGolden(t *testing.T, data []byte) (string, json.RawMessage) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	clean := func(s string) string { return strings.ReplaceAll(s, wd, "$PWD") }
	cfg, err := config.Parse("config.yaml", data, kinds.Default())
	if err != nil {
		return clean(err.Error()), nil
	}
	b, err := json.Marshal(effective(reflect.ValueOf(cfg).Elem()))
	if err != nil {
		t.Fatal(err)
	}
	return "", json.RawMessage(clean(string(b)))
}

// effective renders a parsed configuration as the YAML keys a user writes:
// each exported field under its yaml tag name; a field tagged yaml:"-" that
// holds a struct (the type-specific settings of a source or target) has its
// keys placed beside the common ones, as in the file; values with a text form
// (sizes, durations, secrets — shown redacted) as that text. So the rendering
// does not depend on how the Go types are arranged, only on what a user can
// write and what it means.
func effective(v reflect.Value) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.CanInterface() {
		switch x := v.Interface().(type) {
		case time.Duration:
			return x.String()
		case encoding.TextMarshaler:
			b, err := x.MarshalText()
			if err != nil {
				return "!" + err.Error()
			}
			return string(b)
		}
		if v.CanAddr() {
			if x, ok := v.Addr().Interface().(encoding.TextMarshaler); ok {
				b, _ := x.MarshalText()
				return string(b)
			}
		}
	}
	switch v.Kind() {
	case reflect.Struct:
		m := map[string]any{}
		fill(m, v)
		return m
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return string(v.Bytes())
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = effective(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		m := map[string]any{}
		for _, k := range v.MapKeys() {
			m[k.String()] = effective(v.MapIndex(k))
		}
		return m
	}
	return v.Interface()
}

func fill(m map[string]any, v reflect.Value) {
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		fv := v.Field(i)
		if name == "-" || strings.Contains(f.Tag.Get("yaml"), ",inline") {
			for fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Interface {
				if fv.IsNil() {
					break
				}
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Struct {
				fill(m, fv)
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.Contains(f.Tag.Get("yaml"), ",omitempty") && fv.IsZero() {
			continue // a section added since the recording, absent
		}
		m[name] = effective(fv)
	}
}
