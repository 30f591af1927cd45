package app

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestValidateFIFOSecret: `wirebridge validate` on a configuration whose file: secret names a FIFO
// (made with mkfifo, no writer) answers with an error naming it, instead of blocking forever.
func TestValidateFIFOSecret(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "token")
	if out, err := exec.Command("mkfifo", fifo).CombinedOutput(); err != nil {
		t.Fatalf("mkfifo: %v %s", err, out)
	}
	cfg := filepath.Join(dir, "wirebridge.yaml")
	y := "data_dir: " + filepath.Join(dir, "data") + "\n" +
		"sources: [{name: u, type: udp, listen: ['127.0.0.1:0']}]\n" +
		"rules: [{name: r, pattern: {version: ['0']}, targets: [h]}]\n" +
		"targets: [{name: h, type: http, url: 'http://127.0.0.1:9/', bearer_token: 'file:" + fifo + "'}]\n"
	if err := os.WriteFile(cfg, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := run(t, nil, "validate", "-c", cfg)
		done <- result{code, out, errOut}
	}()
	select {
	case r := <-done:
		if r.code != exitFail || !strings.Contains(r.errOut, "targets[0].bearer_token: read secret file "+fifo+": not a regular file") {
			t.Fatalf("exit %d, stderr %q", r.code, r.errOut)
		}
	case <-time.After(20 * time.Second):
		t.Error("validate blocked on the FIFO (no answer in 20s)")
		// Open the write side so that the blocked open returns and the test can end.
		if fd, err := syscall.Open(fifo, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			syscall.Close(fd)
		}
		<-done
	}
}
