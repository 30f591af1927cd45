package config

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/source"
)

// repoRoot is the module root, relative to this package's directory (the test's working dir).
const repoRoot = "../.."

var envRef = regexp.MustCompile(`env:([A-Za-z_][A-Za-z0-9_]*)`)

// TestExamples loads and validates every examples/*.yaml. Secrets they name as env:NAME are
// given placeholder values, as an operator's environment would.
// They are loaded from the repository root, where a user runs them (input paths are relative
// to the working directory).
func TestExamples(t *testing.T) {
	t.Chdir(repoRoot)
	files, err := filepath.Glob(filepath.Join("examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d example configs in examples/, want at least 4", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range envRef.FindAllStringSubmatch(string(data), -1) {
				if _, ok := os.LookupEnv(m[1]); !ok {
					t.Setenv(m[1], "example-"+strings.ToLower(m[1]))
				}
			}
			c, err := Load(f, testKinds)
			if err != nil {
				t.Fatalf("%v", err)
			}
			if c.Appliance != nil {
				return // an appliance needs no sources, rules or targets (examples/censor.yaml)
			}
			if len(c.Sources) == 0 || len(c.Rules) == 0 || len(c.Targets) == 0 {
				t.Errorf("example has %d sources, %d rules, %d targets", len(c.Sources), len(c.Rules), len(c.Targets))
			}
		})
	}
}

// TestArticleExample pins the acceptance setup: a raw source with event_source udp.raw
// and the article's rule to a file target and an http target.
func TestArticleExample(t *testing.T) {
	c, err := Load(filepath.Join(repoRoot, "examples", "article.yaml"), testKinds)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Sources[0]; srcSpec[*source.RawSpec](s) == nil || s.EventSource != "udp.raw" {
		t.Errorf("source = %+v, want raw with event_source udp.raw", s)
	}
	if got := string(c.Rules[0].Pattern); got != `{"source":["udp.raw"],"detail":{"Destination":{"Port":[514]}}}` {
		t.Errorf("pattern = %s", got)
	}
	var types []string
	for _, name := range c.Rules[0].Targets {
		for _, tg := range c.Targets {
			if tg.Name == name {
				types = append(types, tg.Type)
			}
		}
	}
	slices.Sort(types)
	if !slices.Equal(types, []string{"file", "http"}) {
		t.Errorf("rule targets have types %v, want file and http", types)
	}
}

// yamlKeys lists every YAML key reachable from t, with variants' keys included.
func yamlKeys(t reflect.Type, seen map[reflect.Type]bool, out map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] || !strings.HasPrefix(t.PkgPath(), "github.com/wirebridge/wirebridge/") {
		return
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
		yamlKeys(f.Type, seen, out)
	}
}

// TestDocsCoverEveryKey keeps docs/config.md in step with the structs: every key appears there
// in backquotes.
func TestDocsCoverEveryKey(t *testing.T) {
	docs, err := os.ReadFile(filepath.Join(repoRoot, "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	seen := map[reflect.Type]bool{}
	yamlKeys(reflect.TypeFor[Config](), seen, keys)
	for _, e := range testKinds.Sources {
		yamlKeys(reflect.TypeOf(e.Kind.NewSpec()), seen, keys)
	}
	for _, e := range testKinds.Targets {
		yamlKeys(reflect.TypeOf(e.Kind.NewSpec()), seen, keys)
	}
	yamlKeys(reflect.TypeOf(testKinds.Appliance.NewSpec()), seen, keys)
	for _, e := range testKinds.Mirrors {
		yamlKeys(reflect.TypeOf(e.Kind.NewSpec()), seen, keys)
	}
	if len(keys) < 60 {
		t.Fatalf("found only %d keys: the reflection walk is broken", len(keys))
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if !strings.Contains(string(docs), "`"+k+"`") {
			t.Errorf("docs/config.md does not document `%s`", k)
		}
	}
	for _, st := range testKinds.SourceTypes() {
		if !strings.Contains(string(docs), "`type: "+st+"`") {
			t.Errorf("docs/config.md does not document source `type: %s`", st)
		}
	}
	for _, tt := range testKinds.TargetTypes() {
		if !strings.Contains(string(docs), "`type: "+tt+"`") {
			t.Errorf("docs/config.md does not document target `type: %s`", tt)
		}
	}
	for _, p := range testKinds.MirrorProviders() {
		if !strings.Contains(string(docs), "`provider: "+p+"`") {
			t.Errorf("docs/config.md does not document mirror `provider: %s`", p)
		}
	}
	// The default configuration is shown verbatim.
	if !strings.Contains(string(docs), strings.TrimSpace(string(defaultYAML))) {
		t.Error("docs/config.md does not include internal/config/default.yaml verbatim")
	}
}

// TestCensorExample pins examples/censor.yaml, which checks rely on: the
// reference censor's appliance on :6081 with its health check on 8080, its
// three rules, and wirebridge's HTTP API moved off 8080; and it is the
// example docs/appliance.md shows.
func TestCensorExample(t *testing.T) {
	c, err := Load(filepath.Join(repoRoot, "examples", "censor.yaml"), testKinds)
	if err != nil {
		t.Fatal(err)
	}
	if c.Appliance == nil {
		t.Fatal("no appliance section")
	}
	var got struct {
		Listen string
		Health struct{ Listen string }
		Rules  []struct{ Name, Action string }
	}
	b, _ := json.Marshal(c.Appliance.Spec)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, r := range got.Rules {
		rules = append(rules, r.Name+":"+r.Action)
	}
	if got.Listen != ":6081" || got.Health.Listen != ":8080" || c.HTTP.Listen != DefaultApplianceHTTPListen ||
		!slices.Equal(rules, []string{"drop-me:drop", "weakly-typed:modify", "every-5th-ping:every_nth"}) {
		t.Errorf("censor: listen %s, health %s, http %s, rules %v", got.Listen, got.Health.Listen, c.HTTP.Listen, rules)
	}
	example, err := os.ReadFile(filepath.Join(repoRoot, "examples", "censor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "appliance.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- censor -->\\s*```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/appliance.md has no <!-- censor --> block")
	}
	var kept []string // the example without its comments
	for _, l := range strings.Split(string(example), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			kept = append(kept, l)
		}
	}
	if strings.TrimSpace(strings.Join(kept, "\n")) != strings.TrimSpace(string(m[1])) {
		t.Errorf("docs/appliance.md's censor differs from examples/censor.yaml:\n%s\n---\n%s", m[1], strings.Join(kept, "\n"))
	}
}
