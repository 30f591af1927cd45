package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/kinds"
)

// TestSecondServerOnDataDirRefused: a second server on the data_dir a first
// one holds does not start (it would open the same JetStream store and
// deliver everything stored twice); its error names the holder's pid and
// the directory. Once the first has stopped, the directory is free again.
func TestSecondServerOnDataDirRefused(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	yaml := `
data_dir: ` + data + `
http: {listen: "127.0.0.1:0"}
sources:
  - name: udp
    type: udp
    listen: ["127.0.0.1:0"]
rules:
  - name: all
    pattern: {"version": ["0"]}
    targets: [hook]
targets:
  - name: hook
    type: http
    url: http://127.0.0.1:9/events
`
	first, _, _ := newTestServer(t, dir, yaml)
	path := filepath.Join(dir, "wirebridge.yaml")
	cfg, err := config.Load(path, kinds.Default())
	if err != nil {
		t.Fatal(err)
	}
	logger, level, _ := newLogger(config.Log{Level: "error", Format: "text"}, os.Stderr)
	second, err := newServer(context.Background(), cfg, path, Stdio{Out: os.Stderr, Err: os.Stderr}, logger, level)
	if err == nil {
		second.release()
		first.release()
		t.Fatal("a second server on the same data_dir started")
	}
	msg := err.Error()
	if !errors.Is(err, errLocked) || !strings.Contains(msg, "process "+strconv.Itoa(os.Getpid())) || !strings.Contains(msg, data) {
		t.Errorf("error %q: want errLocked naming pid %d and %s", msg, os.Getpid(), data)
	}
	b, _ := os.ReadFile(filepath.Join(data, lockFileName))
	if !strings.Contains(string(b), "pid="+strconv.Itoa(os.Getpid())+"\n") || !strings.Contains(string(b), "http=127.0.0.1:") {
		t.Errorf("lock file holds %q, want the pid and the HTTP address", b)
	}
	first.release()
	third, err := newServer(context.Background(), cfg, path, Stdio{Out: os.Stderr, Err: os.Stderr}, logger, level)
	if err != nil {
		t.Fatalf("after the first server stopped: %v", err)
	}
	third.release()
}

func TestLockDataDir(t *testing.T) {
	t.Run("stale lock file", func(t *testing.T) {
		// A holder killed with -9 leaves its file (and pid) behind; the
		// kernel released its flock, so the directory is free.
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, lockFileName), []byte("pid=999999999\nhttp=127.0.0.1:1\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		l, err := lockDataDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer l.release()
		b, _ := os.ReadFile(filepath.Join(dir, lockFileName))
		if string(b) != "pid="+strconv.Itoa(os.Getpid())+"\n" {
			t.Errorf("lock file %q after taking it", b)
		}
	})
	t.Run("held, pid from /proc/locks", func(t *testing.T) {
		dir := t.TempDir()
		l, err := lockDataDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer l.release()
		// The holder has not written its pid yet.
		l.f.Truncate(0)
		_, err = lockDataDir(dir)
		var le *lockedError
		if !errors.As(err, &le) || le.Holder.Pid != os.Getpid() {
			t.Fatalf("err %v: want a lockedError naming pid %d", err, os.Getpid())
		}
	})
	t.Run("data_dir is a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "file")
		os.WriteFile(f, nil, 0o640)
		_, err := lockDataDir(f)
		if err == nil || !strings.Contains(err.Error(), f) || errors.Is(err, errLocked) {
			t.Fatalf("err %v: want a clear error naming %s", err, f)
		}
	})
	t.Run("lock file is a symlink", func(t *testing.T) {
		// Whoever can write in data_dir must not make serve (root) empty
		// another file through a symlink named wirebridge.lock.
		dir := t.TempDir()
		victim := filepath.Join(t.TempDir(), "victim")
		if err := os.WriteFile(victim, []byte("keep me\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, filepath.Join(dir, lockFileName)); err != nil {
			t.Fatal(err)
		}
		l, err := lockDataDir(dir)
		if err == nil {
			l.release()
		}
		if b, _ := os.ReadFile(victim); string(b) != "keep me\n" {
			t.Errorf("the symlink's target now holds %q", b)
		}
		if err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Errorf("err %v: want an error saying the lock file is a symlink", err)
		}
	})
	t.Run("released", func(t *testing.T) {
		dir := t.TempDir()
		l, err := lockDataDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		l.release()
		l2, err := lockDataDir(dir)
		if err != nil {
			t.Fatalf("after release: %v", err)
		}
		l2.release()
	})
}

func TestUsesDataDir(t *testing.T) {
	abs := filepath.Join(t.TempDir(), "out.ndjson")
	tests := []struct {
		name, target string
		want         bool
	}{
		{"durable target (embedded store)", `{name: t, type: http, url: "http://127.0.0.1:9/"}`, true},
		{"direct http target", `{name: t, type: http, url: "http://127.0.0.1:9/", delivery: {mode: direct}}`, false},
		{"relative file target", `{name: t, type: file, path: out.ndjson}`, true},
		{"absolute file target", `{name: t, type: file, path: "` + abs + `"}`, false},
		{"relative pcap target", `{name: t, type: pcap, path: out.pcap}`, true},
		{"live target, key file", `{name: t, type: live, channel: /x}`, true},
		{"stdout only", `{name: t, type: stdout}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			y := "data_dir: " + filepath.Join(t.TempDir(), "data") + "\nsources: [{name: u, type: udp, listen: [\"127.0.0.1:0\"]}]\n" +
				"rules: [{name: r, pattern: {\"version\": [\"0\"]}, targets: [t]}]\ntargets: [" + tc.target + "]\n"
			c, err := config.Parse("t.yaml", []byte(y), kinds.Default())
			if err != nil {
				t.Fatalf("%v\n%s", err, y)
			}
			if got := usesDataDir(c); got != tc.want {
				t.Errorf("usesDataDir = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDialAddr(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"loopback", "127.0.0.1:8080", "127.0.0.1:8080"},
		{"any IPv4", "0.0.0.0:8080", "127.0.0.1:8080"},
		{"any IPv6", "[::]:8080", "127.0.0.1:8080"},
		{"no host", ":8080", "127.0.0.1:8080"},
		{"IPv6 loopback", "[::1]:8080", "[::1]:8080"},
		{"name", "localhost:8080", "localhost:8080"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := dialAddr(tc.in); got != tc.want {
				t.Errorf("dialAddr(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
