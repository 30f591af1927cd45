package app

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const seedRule = `{"source":["udp.raw"],"detail":{"Destination":{"Port":[514]}}}`

func rawUDPEvent(port int) string {
	return `{"version":"0","id":"x","source":"udp.raw","detail-type":"UdpPacket","detail":{"Destination":{"IP":"127.0.0.1","Port":` +
		strconv.Itoa(port) + `}}}`
}

func TestTestPattern(t *testing.T) {
	dir := t.TempDir()
	evFile := filepath.Join(dir, "ev.json")
	if err := os.WriteFile(evFile, []byte(rawUDPEvent(514)), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string
	}{
		{"seed rule matches port 514", []string{"--pattern", seedRule, "--event", rawUDPEvent(514)}, "", 0, "match", ""},
		{"seed rule does not match port 515", []string{"--pattern", seedRule, "--event", rawUDPEvent(515)}, "", 1, "no match", ""},
		{"event from a file", []string{"--pattern", seedRule, "--event", "@" + evFile}, "", 0, "match", ""},
		{"event from stdin, first NDJSON line", []string{"--pattern", seedRule, "--event", "-"}, rawUDPEvent(514) + "\n" + rawUDPEvent(515) + "\n", 0, "match", ""},
		{"invalid pattern names the path", []string{"--pattern", `{"detail":{"Destination":{"Port":[{"numeric":["<",10,">",5]}]}}}`, "--event", rawUDPEvent(514)}, "", 2, "", "detail.Destination.Port"},
		{"invalid event", []string{"--pattern", seedRule, "--event", `{"source":`}, "", 2, "", "invalid event"},
		{"missing flags", []string{"--pattern", seedRule}, "", 2, "", "required"},
		{"explain a match", []string{"--explain", "--pattern", seedRule, "--event", rawUDPEvent(514)}, "", 0, "matched   detail.Destination.Port: number 514 <- 514\n  matched   source: exact \"udp.raw\" <- \"udp.raw\"\nmatch", ""},
		{"quiet", []string{"-q", "--pattern", seedRule, "--event", rawUDPEvent(515)}, "", 1, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, strings.NewReader(tc.stdin), append([]string{"test-pattern"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (stdout %q, stderr %q)", code, tc.code, out, errOut)
			}
			if strings.TrimSpace(out) != tc.stdout {
				t.Fatalf("stdout %q, want %q", out, tc.stdout)
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("stderr %q does not mention %q", errOut, tc.stderr)
			}
		})
	}
}
