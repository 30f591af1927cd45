//go:build integration

package app

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/disktest"
)

// dataDirConfig is a serve configuration with a durable webhook (so the
// embedded JetStream store is opened) on the given ports.
func dataDirConfig(data, httpAddr, udpAddr, hook string) string {
	return fmt.Sprintf(`
data_dir: %s
http: {listen: %q}
sources:
  - name: udp
    type: udp
    listen: [%q]
rules:
  - name: all
    pattern: {"version": ["0"]}
    targets: [hook]
targets:
  - name: hook
    type: http
    url: %s
    delivery:
      max_attempts: 1
`, data, httpAddr, udpAddr, hook)
}

// TestOneDataDirOneProcess: a second serve on the data_dir a first one
// holds is refused at start-up, its error naming the first one's pid and the
// directory, and nothing was delivered twice; `dlq` commands meanwhile go
// through the running serve's API (found in the lock file, whatever
// http.listen their own configuration names); after a kill -9 the stale lock
// file does not block a restart; a process holding the lock without an API
// makes dlq fail clearly.
func TestOneDataDirOneProcess(t *testing.T) {
	ns := newNetns(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	hook := newSink(t, ns, "127.0.0.1:0")
	hook.status.Store(400) // every event is dead-lettered at once
	cfg1 := writeConfig(t, dir, dataDirConfig(data, "127.0.0.1:8080", "127.0.0.1:6000", hook.url))
	first := startWB(t, ns, dir, cfg1, "127.0.0.1:8080")
	const n = 20
	var payloads []string
	for i := range n {
		payloads = append(payloads, fmt.Sprintf("one-process-%d", i))
	}
	sendUDP(t, ns, "127.0.0.1:6000", payloads)
	waitFor(t, 20*time.Second, "the events dead-lettered", func() bool {
		return first.metric(`wirebridge_deliver_dead_lettered_total{target="hook"}`) == n
	})

	// The second serve: same data_dir, other ports.
	dir2 := t.TempDir()
	cfg2 := writeConfig(t, dir2, dataDirConfig(data, "127.0.0.1:8081", "127.0.0.1:6001", hook.url))
	_, errs, code := ns.wb(t, dir2, "serve", "-c", cfg2)
	pid := strconv.Itoa(first.pid())
	if code != 1 || !strings.Contains(errs, "in use by process "+pid) || !strings.Contains(errs, data) {
		t.Fatalf("second serve: exit %d, want 1 with an error naming pid %s and %s:\n%s", code, pid, data, errs)
	}
	t.Logf("second serve refused: %s", strings.TrimSpace(errs))
	if !first.running() {
		t.Fatal("the first serve stopped")
	}

	// dlq through the running serve. cfg2's http.listen (8081) has nothing
	// on it: the command finds 8080 in the lock file.
	out, errs, code := ns.wb(t, dir2, "dlq", "list", "hook", "-c", cfg2, "--json")
	if code != 0 || strings.Count(out, "\n") != n {
		t.Fatalf("dlq list while serve runs: exit %d, %d lines, want %d\n%s%s", code, strings.Count(out, "\n"), n, out, errs)
	}
	hook.status.Store(200)
	if out, errs, code := ns.wb(t, dir2, "dlq", "replay", "hook", "-c", cfg2); code != 0 || !strings.Contains(out, fmt.Sprintf("%d dead letter(s) moved", n)) {
		t.Fatalf("dlq replay while serve runs: exit %d\n%s%s", code, out, errs)
	}
	waitFor(t, 20*time.Second, "the replayed events delivered", func() bool { return len(hook.received()) >= n })
	// Each event once: no second process re-delivered the store.
	time.Sleep(time.Second) // a bounded look for duplicates, not a pass condition on timing
	ids := map[string]int{}
	for _, r := range hook.received() {
		ids[r.ID]++
	}
	if len(ids) != n || len(hook.received()) != n {
		t.Errorf("the webhook got %d requests for %d events, want %d each once", len(hook.received()), len(ids), n)
	}

	// kill -9 leaves the lock file with a dead pid behind; the restart is not blocked.
	first.signal(syscall.SIGKILL)
	b, _ := os.ReadFile(filepath.Join(data, lockFileName))
	if !strings.Contains(string(b), "pid="+pid) {
		t.Errorf("lock file after kill -9: %q", b)
	}
	again := startWB(t, ns, dir, cfg1, "127.0.0.1:8080")
	again.signal(syscall.SIGTERM)
	if c := again.exitCode(); c != 0 {
		t.Errorf("restart after kill -9: exit %d", c)
	}

	// No serve: dlq takes the lock itself and opens the store.
	out, errs, code = ns.wb(t, dir2, "dlq", "list", "hook", "-c", cfg2)
	if code != 0 || !strings.Contains(out, "hook: no dead letters") {
		t.Errorf("dlq list without serve: exit %d\n%s%s", code, out, errs)
	}

	// A process that holds the lock but has no API (here flock(1)): dlq
	// refuses and says who holds it.
	holder := exec.Command(needTool(t, "flock"), filepath.Join(data, lockFileName), "sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	waitFor(t, 5*time.Second, "flock(1) holding the lock", func() bool { return flockHolder(filepath.Join(data, lockFileName)) != 0 })
	_, errs, code = ns.wb(t, dir2, "dlq", "list", "hook", "-c", cfg2)
	if code != 1 || !strings.Contains(errs, "in use by process "+strconv.Itoa(holder.Process.Pid)) || !strings.Contains(errs, "no HTTP API address") {
		t.Errorf("dlq list with the lock held by flock(1) (pid %d): exit %d: %s", holder.Process.Pid, code, errs)
	}
	_, errs, code = ns.wb(t, dir2, "serve", "-c", cfg2)
	if code != 1 || !strings.Contains(errs, "in use by process "+strconv.Itoa(holder.Process.Pid)) {
		t.Errorf("serve with the lock held by flock(1): exit %d: %s", code, errs)
	}
}

// TestDataDirUnwritable: serve on a read-only data_dir, or on a data_dir
// that is a regular file, fails at start-up with an error naming the
// directory and the reason; dlq on a data_dir that does not exist (a
// relative data_dir from another working directory) says there is no store
// instead of creating one.
func TestDataDirUnwritable(t *testing.T) {
	ns := newNetns(t)
	dir := t.TempDir()
	ro := disktest.Tmpfs(t, "ro,size=1m")
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, tc := range []struct{ name, data, reason string }{
		{"read-only", ro, "read-only file system"},
		{"a regular file", file, "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeConfig(t, t.TempDir(), dataDirConfig(tc.data, "127.0.0.1:8080", "127.0.0.1:6000", "http://127.0.0.1:9/"))
			_, errs, code := ns.wb(t, dir, "serve", "-c", cfg)
			if code != 1 || !strings.Contains(errs, tc.data) || !strings.Contains(errs, tc.reason) {
				t.Errorf("serve: exit %d, want 1 with an error naming %s and %q:\n%s", code, tc.data, tc.reason, errs)
			}
		})
	}
	t.Run("dlq, no data_dir", func(t *testing.T) {
		elsewhere := t.TempDir()
		cfg := writeConfig(t, elsewhere, dataDirConfig("./wirebridge-data", "127.0.0.1:8080", "127.0.0.1:6000", "http://127.0.0.1:9/"))
		_, errs, code := ns.wb(t, elsewhere, "dlq", "list", "hook", "-c", cfg)
		if code != 1 || !strings.Contains(errs, "no dead-letter store") {
			t.Errorf("dlq list: exit %d: %s", code, errs)
		}
		if _, err := os.Stat(filepath.Join(elsewhere, "wirebridge-data")); err == nil {
			t.Error("dlq list created a data_dir")
		}
	})
}
