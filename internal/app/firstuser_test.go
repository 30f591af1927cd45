package app

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/config"
	httptarget "github.com/wirebridge/wirebridge/internal/target/http"
	livetarget "github.com/wirebridge/wirebridge/internal/target/live"
	"github.com/wirebridge/wirebridge/internal/target/pcap"
	"github.com/wirebridge/wirebridge/internal/target/replay"
)

// The small things a first user trips on (issue 11 item 10), one test each.

// TestReplayRequiresVNI: without --vni, replay would silently keep VNI 0.
func TestReplayRequiresVNI(t *testing.T) {
	code, out, errOut := run(t, nil, "replay", "--port", "80", "--to", "http://127.0.0.1:9", "--print-config")
	if code != exitUsage || !strings.Contains(errOut, "--vni") || out != "" {
		t.Fatalf("replay without --vni: exit %d, want %d with an error naming --vni\nstdout: %s\nstderr: %s", code, exitUsage, out, errOut)
	}
	// An explicit --vni 0 is a choice, not a default.
	if code, out, errOut := run(t, nil, "replay", "--vni", "0", "--port", "80", "--to", "http://127.0.0.1:9", "--print-config"); code != 0 || !strings.Contains(out, "vni: [0]") {
		t.Fatalf("replay --vni 0: exit %d\n%s%s", code, out, errOut)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// replayUntilBanner runs `wirebridge replay` in-process (loopback, ports chosen by
// the kernel) until its banner is out, calls during (if set) while it
// runs, stops it and returns what it printed; a non-zero exit fails t.
func replayUntilBanner(t *testing.T, during func()) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"replay", "--vni", "42", "--port", "80", "--to", "http://127.0.0.1:9",
			"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"}, Stdio{Out: &out, Err: &errb})
	}()
	waitUntil(t, "the banner", func() bool { return strings.Contains(out.String(), "Events go to:") })
	if during != nil {
		during()
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	return out.String()
}

// TestReplayBanner: replay's banner names what runs (not "the embedded
// default configuration") and a real start-up time.
func TestReplayBanner(t *testing.T) {
	banner := replayUntilBanner(t, nil)
	if strings.Contains(banner, "embedded default") {
		t.Errorf("replay's banner says it serves the embedded default configuration:\n%s", banner)
	}
	if !strings.Contains(banner, "wirebridge replay") {
		t.Errorf("replay's banner does not say what runs:\n%s", banner)
	}
	m := regexp.MustCompile(`started in ([^)]+)\)`).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("no start-up time in the banner:\n%s", banner)
	}
	if d, err := time.ParseDuration(m[1]); err != nil || d > time.Hour {
		t.Errorf("start-up time %q: not the time the start took", m[1])
	}
}

// TestHelpOnce: `wirebridge CMD --help` prints the command's help once, on
// standard output; `wirebridge help CMD` prints the same.
func TestHelpOnce(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := run(t, nil, c.name, "--help")
			want := "Usage: wirebridge " + c.name
			if code != 0 || strings.Count(out+errOut, want) != 1 || errOut != "" {
				t.Errorf("%s --help: exit %d, %q %d times (stdout), stderr %q; want it once on stdout",
					c.name, code, want, strings.Count(out+errOut, want), errOut)
			}
			code, hout, herr := run(t, nil, "help", c.name)
			if code != 0 || hout != out || herr != "" {
				t.Errorf("help %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant what %s --help prints:\n%s", c.name, code, hout, herr, c.name, out)
			}
		})
	}
	if code, _, errOut := run(t, nil, "help", "nope"); code != exitUsage || !strings.Contains(errOut, `unknown command "nope"`) {
		t.Errorf("help nope: exit %d: %s", code, errOut)
	}
	// Bad flags still print the error and the usage, on standard error.
	code, out, errOut := run(t, nil, "read", "--nope")
	if code != exitUsage || out != "" || !strings.Contains(errOut, "flag provided but not defined: -nope") || strings.Count(errOut, "Usage: wirebridge read") != 1 {
		t.Errorf("read --nope: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

// TestVersionFromBuildInfo: the version comes from the build's VCS stamp
// (vcs.revision, vcs.time, vcs.modified), not "(devel)".
func TestVersionFromBuildInfo(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name   string
		linked string
		bi     *debug.BuildInfo
		want   string
	}{
		{"vcs stamp, clean", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs", "git", "vcs.revision", "6df1191c0ffee00000000000000000000000beef", "vcs.time", "2026-12-07T05:59:00Z", "vcs.modified", "false")},
			"6df1191c0ffe (2026-12-07T05:59:00Z) go1.26.8"},
		{"vcs stamp, modified", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs", "git", "vcs.revision", "6df1191c0ffee00000000000000000000000beef", "vcs.time", "2026-12-07T05:59:00Z", "vcs.modified", "true")},
			"6df1191c0ffe-modified (2026-12-07T05:59:00Z, with uncommitted changes) go1.26.8"},
		{"module version from go install", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"},
			Settings: vcs("vcs.revision", "6df1191c0ffee00000000000000000000000beef", "vcs.time", "2026-12-07T05:59:00Z")},
			"v1.4.0 (6df1191c0ffe, 2026-12-07T05:59:00Z) go1.26.8"},
		{"pseudo-version carries the revision", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261207055900-6df1191c0ffe+dirty"},
			Settings: vcs("vcs.revision", "6df1191c0ffee00000000000000000000000beef", "vcs.time", "2026-12-07T05:59:00Z", "vcs.modified", "true")},
			"v0.0.0-20261207055900-6df1191c0ffe+dirty (2026-12-07T05:59:00Z, with uncommitted changes) go1.26.8"},
		{"linked version wins", "v1.2.3", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "v1.2.3 go1.26.8"},
		{"no vcs stamp", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"unknown-version go1.26.8"},
		{"no build info", "", nil, "unknown-version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionFrom(tc.linked, tc.bi); got != tc.want {
				t.Errorf("versionFrom = %q\nwant          %q", got, tc.want)
			}
		})
	}
}

// TestShareFromAnotherDirectory: share with a configuration whose data_dir
// is not the running server's (a relative data_dir from another working
// directory) fails clearly instead of signing with a new key a link the
// server rejects; with the server's data_dir the link works.
func TestShareFromAnotherDirectory(t *testing.T) {
	dir := t.TempDir()
	live := `
http: {listen: %q}
sources:
  - name: udp
    type: udp
    listen: ["127.0.0.1:0"]
rules:
  - name: all
    pattern: {"version": ["0"]}
    targets: [live]
targets:
  - name: live
    type: live
    channel: /packets/all
`
	s, _, _ := newTestServer(t, dir, "data_dir: "+filepath.Join(dir, "data")+fmt.Sprintf(live, "127.0.0.1:0"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	defer func() { cancel(); <-done }()
	addr := s.http.Addr().String()
	waitUntil(t, "ready", func() bool { code, _ := httpGet(t, "http://"+addr+"/readyz"); return code == 200 })

	other := t.TempDir()
	otherCfg := filepath.Join(other, "wirebridge.yaml")
	os.WriteFile(otherCfg, []byte("data_dir: "+filepath.Join(other, "data")+fmt.Sprintf(live, addr)), 0o644)
	code, out, errOut := run(t, nil, "share", "/packets/all", "-c", otherCfg)
	if code != exitFail || out != "" || !strings.Contains(errOut, "rejects") || !strings.Contains(errOut, filepath.Join(other, "data")) {
		t.Errorf("share with another data_dir: exit %d, want %d and a clear error\nstdout: %s\nstderr: %s", code, exitFail, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(other, "data", "live", "share.key")); err == nil {
		t.Error("share created a new key beside the running server's")
	}

	// The server's configuration, with the port it listens on.
	sameCfg := filepath.Join(t.TempDir(), "wirebridge.yaml")
	os.WriteFile(sameCfg, []byte("data_dir: "+filepath.Join(dir, "data")+fmt.Sprintf(live, addr)), 0o644)
	code, out, errOut = run(t, nil, "share", "/packets/all", "-c", sameCfg)
	if code != 0 || strings.Contains(errOut, "note:") {
		t.Fatalf("share with the server's data_dir: exit %d: %s", code, errOut)
	}
	u, err := url.Parse(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimPrefix(u.Fragment, "token=")
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/channels?channel=/packets/all", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the server answers %d to the link share printed", resp.StatusCode)
	}
	// A wildcard channel and a filter pass the check too.
	if code, _, errOut := run(t, nil, "share", "/packets/*", "--filter", `{"detail":{"Protocol":["udp"]}}`, "-c", sameCfg); code != 0 || errOut == "" || strings.Contains(errOut, "note:") {
		t.Errorf("share /packets/* --filter: exit %d: %s", code, errOut)
	}
}

// TestPatternNotBPF: a tcpdump/BPF filter given as --pattern gets an error
// saying patterns are EventBridge JSON, with an example, wherever a pattern
// is taken.
func TestPatternNotBPF(t *testing.T) {
	for _, args := range [][]string{
		{"read", "--pattern", "tcp port 80", demoCapture},
		{"test-pattern", "--pattern", "tcp port 80", "--event", `{"version":"0"}`},
		{"share", "/packets/all", "--filter", "tcp port 80", "-c", shareTestConfig(t)},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, _, errOut := run(t, nil, args...)
			if code == 0 || !strings.Contains(errOut, "EventBridge event pattern") || !strings.Contains(errOut, `{"detail":{"Protocol":["tcp"],"Destination":{"Port":[80]}}}`) {
				t.Errorf("%s: exit %d: %s", strings.Join(args, " "), code, errOut)
			}
		})
	}
	// A JSON pattern with a mistake keeps the compiler's own reason.
	code, _, errOut := run(t, nil, "test-pattern", "--pattern", `{"detail":{"Protocol":"tcp"}}`, "--event", `{"version":"0"}`)
	if code != exitUsage || strings.Contains(errOut, "tcpdump") {
		t.Errorf("invalid JSON pattern: exit %d: %s", code, errOut)
	}
}

// shareTestConfig is a configuration with a live target and data_dir in a
// temporary directory, nothing listening on its http.listen.
func shareTestConfig(t *testing.T) string {
	dir := t.TempDir()
	p := filepath.Join(dir, "wirebridge.yaml")
	os.WriteFile(p, []byte(`data_dir: `+filepath.Join(dir, "data")+`
http: {listen: "127.0.0.1:1"}
sources: [{name: udp, type: udp, listen: ["127.0.0.1:0"]}]
rules: [{name: all, pattern: {"version": ["0"]}, targets: [live]}]
targets: [{name: live, type: live, channel: /packets/all}]
`), 0o644)
	return p
}

// TestTargetCaps: every target type says what it needs; a live target with
// frames: true wants frames but sends events without one (ReplayDiff).
func TestTargetCaps(t *testing.T) {
	reg := defaultRegistry()
	for _, e := range reg.kinds.Targets {
		if e.Kind.Caps == nil || e.Kind.New == nil || e.Kind.NewSpec == nil || e.Kind.Description == "" {
			t.Errorf("target kind %s lacks capabilities, a constructor, a spec or a description", e.Type)
		}
	}
	tests := []struct {
		name          string
		target        config.Target
		frame         bool // gets the frame from the pipeline
		withoutFrames bool // takes events that come without a frame
	}{
		{"live, frames", config.Target{Type: "live", Spec: &livetarget.Spec{Frames: true}}, true, true},
		{"live", config.Target{Type: "live", Spec: &livetarget.Spec{}}, false, true},
		{"pcap", config.Target{Type: "pcap", Spec: &pcap.Spec{}}, true, false},
		{"replay", config.Target{Type: "replay", Spec: &replay.Spec{}}, true, false},
		{"http", config.Target{Type: "http", Spec: &httptarget.Spec{}}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := reg.targetCapsOf(&tc.target)
			if (c.Frame != frameNone) != tc.frame || c.TakesEventsWithoutFrame() != tc.withoutFrames {
				t.Errorf("caps %+v: frame %v, events without frames %v; want %v, %v", c, c.Frame != frameNone, c.TakesEventsWithoutFrame(), tc.frame, tc.withoutFrames)
			}
		})
	}
}

// TestTargetWhereReplay: the banner's "Events go to" names a replay target's
// shadow, whether it is given as url (http) or address (tcp); an http shadow
// showed as "http " and nothing else.
func TestTargetWhereReplay(t *testing.T) {
	tests := []struct {
		name string
		r    replay.Spec
		want string
	}{
		{"http url", replay.Spec{Protocol: "http", URL: "http://127.0.0.1:9/prefix"}, "http http://127.0.0.1:9/prefix"},
		{"http address", replay.Spec{Protocol: "http", Address: "127.0.0.1:9"}, "http 127.0.0.1:9"},
		{"tcp address", replay.Spec{Protocol: "tcp", Address: "127.0.0.1:6432"}, "tcp 127.0.0.1:6432"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			if got := targetWhere(&config.Target{Type: "replay", Spec: &r}); got != tt.want {
				t.Errorf("targetWhere = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestHelpNamesFilesThatExist: a file of the repository named in a
// command's help (an example to copy) exists in a clone, from the
// repository root where the examples run ("wirebridge read
// testdata/syslog.pcap" named a file the repository never had).
func TestHelpNamesFilesThatExist(t *testing.T) {
	path := regexp.MustCompile(`\b(?:testdata|examples)/[^\s'"\x60)]+`)
	for _, c := range commands() {
		_, out, _ := run(t, nil, c.name, "--help")
		for _, p := range path.FindAllString(out, -1) {
			if _, err := os.Stat(filepath.Join("..", "..", p)); err != nil {
				t.Errorf("wirebridge %s --help names %s, which the repository does not have", c.name, p)
			}
		}
	}
}

// TestServeHelpShareLink: serve's help says what the banner does: a share
// link only on a terminal, elsewhere the command that prints one (it said
// serve prints a link, unconditionally).
func TestServeHelpShareLink(t *testing.T) {
	_, out, _ := run(t, nil, "serve", "--help")
	flat := strings.Join(strings.Fields(out), " ")
	if !strings.Contains(flat, "share link to watch it in the browser when its output is a terminal") || !strings.Contains(flat, "wirebridge share /packets/all") {
		t.Errorf("serve --help does not say the link is printed only on a terminal, and how to get one otherwise:\n%s", out)
	}
}

// TestShareWithPortZero: with http.listen on port 0, share finds the running
// serve's address in data_dir's lock file (as dlq does) and prints a link to
// it; it printed http://127.0.0.1:0/#token=..., which nothing answers. With no
// serve running there is no port to link to: a clear error.
func TestShareWithPortZero(t *testing.T) {
	dir := t.TempDir()
	yaml := "data_dir: " + filepath.Join(dir, "data") + `
http: {listen: "127.0.0.1:0"}
sources:
  - {name: udp, type: udp, listen: ["127.0.0.1:0"]}
rules:
  - {name: all, pattern: {"version": ["0"]}, targets: [live]}
targets:
  - {name: live, type: live, channel: /packets/all}
`
	cfgPath := filepath.Join(dir, "wirebridge.yaml")
	if code, out, errOut := run(t, nil, "share", "/packets/all", "-c", writeConfigFile(t, cfgPath, yaml)); code == 0 || strings.Contains(out, ":0/") {
		t.Errorf("share with port 0 and no serve: exit %d, want an error\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	s, _, _ := newTestServer(t, dir, yaml)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	defer func() { cancel(); <-done }()
	addr := s.http.Addr().String()
	waitUntil(t, "ready", func() bool { code, _ := httpGet(t, "http://"+addr+"/readyz"); return code == 200 })
	code, out, errOut := run(t, nil, "share", "/packets/all", "-c", cfgPath)
	if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "http://"+addr+"/#token=") || strings.Contains(errOut, "note:") {
		t.Errorf("share with the serve on %s: exit %d\nstdout: %s\nstderr: %s", addr, code, out, errOut)
	}
}

func writeConfigFile(t *testing.T, path, yaml string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHelpTidy: no help ends in an empty "Flags:" section (version has no
// flags) or has a line ending in a space ("Usage: wirebridge version ").
func TestHelpTidy(t *testing.T) {
	for _, c := range commands() {
		_, out, _ := run(t, nil, c.name, "--help")
		if strings.HasSuffix(strings.TrimSpace(out), "Flags:") {
			t.Errorf("%s --help ends in an empty Flags: section", c.name)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasSuffix(l, " ") && strings.TrimSpace(l) != "" {
				t.Errorf("%s --help: line %q ends in a space", c.name, l)
			}
		}
	}
}
