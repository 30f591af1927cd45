//go:build integration

package app

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecondSignalStopsAtOnce: the first SIGINT starts the graceful stop —
// here an appliance's drain of a minute — and a second SIGINT ends the
// process at once, as Ctrl-C twice does in most servers (before, every
// further signal was ignored until the drain ended).
func TestSecondSignalStopsAtOnce(t *testing.T) {
	ns := newNetns(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, `
http: {listen: "127.0.0.1:18080"}
shutdown_timeout: 2m
appliance:
  listen: "127.0.0.1:16081"
  health: {listen: "127.0.0.1:0"}
  drain_time: 60s
`)
	p := startWB(t, ns, dir, cfg, "127.0.0.1:18080")
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the appliance's drain to start", func() bool {
		return strings.Contains(p.errb.String(), "appliance draining")
	})
	if !p.running() {
		t.Fatalf("wirebridge stopped before its drain time: %v", p.waitErr)
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(20 * time.Second): // a hang detector: the drain alone lasts 60 s
		t.Fatal("a second SIGINT did not end the process (it waits for the 60 s drain)")
	}
	var ee *exec.ExitError
	if !errors.As(p.waitErr, &ee) {
		t.Fatalf("exit: %v, want the end by SIGINT", p.waitErr)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("exit status %v, want killed by SIGINT (the signal's default action)", ee)
	}
}
