package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMirrorCommandErrors: wirebridge mirror says what is wrong with its
// arguments or the file before it reaches any bus or provider.
func TestMirrorCommandErrors(t *testing.T) {
	dir := t.TempDir()
	two := filepath.Join(dir, "two.yaml")
	body := "data_dir: " + filepath.Join(dir, "data") + "\nmirror:\n" +
		"  - {name: a, provider: linux, interfaces: [eth0], collector: {address: 10.0.0.9}}\n" +
		"  - {name: b, provider: linux, interfaces: [eth1], collector: {address: 10.0.0.9}}\n"
	if err := os.WriteFile(two, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no verb", []string{"mirror"}, exitUsage, "expected run, list, ensure ENDPOINT or remove"},
		{"unknown verb", []string{"mirror", "start"}, exitUsage, `got "start"`},
		{"ensure without endpoint", []string{"mirror", "ensure"}, exitUsage, `got "ensure"`},
		{"no mirror entry", []string{"mirror", "list"}, exitFail, "the embedded default configuration has no mirror: entry"},
		{"unknown name", []string{"mirror", "list", "-c", two, "--name", "c"}, exitFail, `no mirror entry "c"`},
		{"ensure needs one entry", []string{"mirror", "ensure", "eth0", "-c", two}, exitFail, "choose one with --name"},
		{"nothing stored yet", []string{"mirror", "list", "-c", two}, exitFail, "no mirror state"},
		{"ensure with no controller", []string{"mirror", "ensure", "eth0", "-c", two, "--name", "a"}, exitFail, "no mirror state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := run(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d with %q", code, errs, tt.code, tt.want)
			}
		})
	}
}
