package app

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/kinds"
)

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("data_dir: /tmp/x\nrules:\n  - name: r\n    pattern: '{\"detail\":{\"Port\":[{\"numeric\":[\"<\",1,\">\",5]}]}}'\n    targets: [nowhere]\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	examples, _ := filepath.Glob("../../examples/*.yaml")
	if len(examples) == 0 {
		t.Fatal("no examples")
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr []string
	}{
		{"example is valid", []string{"-c", examples[0]}, 0, ": ok", nil},
		{"every error with file and line", []string{"-c", bad}, 1, "", []string{"bad.yaml:6:", "bogus", "bad.yaml:5:", "nowhere", "bad.yaml:4:"}},
		{"missing file", []string{"-c", filepath.Join(dir, "none.yaml")}, 1, "", []string{"none.yaml"}},
		{"no file given", nil, 2, "", []string{"expected -c FILE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, nil, append([]string{"validate"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errOut)
			}
			if !strings.Contains(out, tc.stdout) {
				t.Fatalf("stdout %q", out)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errOut, s) {
					t.Fatalf("stderr %q does not mention %q", errOut, s)
				}
			}
		})
	}
}

// TestValidateHelpListsKinds: validate --help names every source and target
// type of the registry with its kind's one-line description.
func TestValidateHelpListsKinds(t *testing.T) {
	code, out, errOut := run(t, nil, "validate", "--help")
	help := out + errOut
	if code != exitOK {
		t.Fatalf("validate --help: exit %d\n%s", code, help)
	}
	r := kinds.Default()
	for _, e := range r.Sources {
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(e.Type) + ` +` + regexp.QuoteMeta(e.Kind.Description) + `$`).MatchString(help) {
			t.Errorf("validate --help does not list source type %s with %q", e.Type, e.Kind.Description)
		}
	}
	for _, e := range r.Targets {
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(e.Type) + ` +` + regexp.QuoteMeta(e.Kind.Description) + `$`).MatchString(help) {
			t.Errorf("validate --help does not list target type %s with %q", e.Type, e.Kind.Description)
		}
	}
}
