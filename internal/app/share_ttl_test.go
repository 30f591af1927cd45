package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShareTTLCap: `wirebridge share --ttl` refuses a lifetime beyond live.share_max_ttl (24h by
// default) with an error that names the limit, and accepts one up to it.
func TestShareTTLCap(t *testing.T) {
	dir := t.TempDir()
	conf := func(name, extra string) string {
		p := filepath.Join(dir, name)
		y := "data_dir: " + filepath.Join(dir, "data") + "\n" + extra +
			"sources: [{name: u, type: udp, listen: ['127.0.0.1:0']}]\n" +
			"rules: [{name: r, pattern: {version: ['0']}, targets: [live]}]\n" +
			"targets: [{name: live, type: live, channel: /packets/all}]\n"
		if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	def := conf("default.yaml", "")
	raised := conf("raised.yaml", "live: {share_max_ttl: 72h}\n")
	zero := conf("zero.yaml", "live: {share_ttl: 0}\n")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"default cap refuses 48h", []string{"-c", def, "/packets/all", "--ttl", "48h"}, exitUsage,
			"wirebridge share: --ttl 48h0m0s is longer than live.share_max_ttl (24h0m0s): ask for less, or raise live.share_max_ttl in the configuration"},
		{"default cap allows 24h", []string{"-c", def, "/packets/all", "--ttl", "24h"}, exitOK, "read-only link to /packets/all, valid until"},
		{"raised cap allows 48h", []string{"-c", raised, "/packets/all", "--ttl", "48h"}, exitOK, "read-only link to /packets/all, valid until"},
		{"share_ttl 0 is the default", []string{"-c", zero, "/packets/all"}, exitOK, "read-only link to /packets/all, valid until"},
		{"raised cap refuses 73h", []string{"-c", raised, "/packets/all", "--ttl", "73h"}, exitUsage, "is longer than live.share_max_ttl (72h0m0s)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, nil, append([]string{"share"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errOut, tc.code, tc.stderr)
			}
			if (code == exitOK) != strings.Contains(out, "#token=") {
				t.Errorf("stdout %q", out)
			}
		})
	}
}
