package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
