//go:build integration

package app

import (
	"bufio"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadFromTcpdumpPipe: `tcpdump -U -w - | wirebridge read -`, the
// README's live use: each datagram's line comes out while tcpdump keeps the
// pipe open, one after the other. (--immediate-mode: without it libpcap
// hands tcpdump its packets in blocks, up to a second late.)
func TestReadFromTcpdumpPipe(t *testing.T) {
	ns := newNetns(t)
	needTool(t, "tcpdump")
	needTool(t, "logger")
	cmd := ns.command("sh", "-c", "tcpdump -i lo -n --immediate-mode -U -w - udp port 7514 2>/dev/null | "+wbBin+" read -q --format text -")
	// Its own process group: the cleanup ends tcpdump and wirebridge by the
	// group's id.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// tcpdump needs a moment to open the interface: send until the first
	// line shows, then one datagram at a time, each awaited.
	first := false
	deadline := time.Now().Add(20 * time.Second)
	for !first {
		if time.Now().After(deadline) {
			t.Fatal("no line for the first datagrams within 20s")
		}
		ns.run(t, "logger", "-n", "127.0.0.1", "-P", "7514", "-d", "warm-up")
		select {
		case l := <-lines:
			first = strings.Contains(l, "UDP")
		case <-time.After(500 * time.Millisecond):
		}
	}
	for len(lines) > 0 {
		<-lines
	}
	for i := range 3 {
		sent := time.Now()
		ns.run(t, "logger", "-n", "127.0.0.1", "-P", "7514", "-d", fmt.Sprintf("live-%d", i))
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the pipeline ended")
			}
			if !strings.Contains(l, ".7514") {
				t.Errorf("line %q is not the datagram to port 7514", l)
			}
			t.Logf("datagram %d: line after %v: %s", i, time.Since(sent).Round(time.Millisecond), l)
		case <-time.After(10 * time.Second):
			t.Fatalf("datagram %d: no line 10s after it was sent, with tcpdump's pipe still open", i)
		}
	}
}
