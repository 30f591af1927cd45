package gwlbtest

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Capture runs tcpdump on eth0 of namespace ns for the Geneve port (6081)
// until the returned stop, and returns the pcap file it writes.
//
// stop first waits until tcpdump has written what the kernel handed it: the
// file must stop growing for a second (at most 30 s: a hang detector, not a
// measurement). On a busy machine tcpdump falls behind a burst (a 5 MB
// download is thousands of 9,000-byte packets), and an interrupt would end
// the capture before it read the last packets from its buffer.
func Capture(t testing.TB, ns string) (file string, stop func()) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "geneve.pcap")
	cmd := Cmd(ns, "tcpdump", "-n", "-U", "--immediate-mode", "-B", "65536", "-i", "eth0", "-s", "0", "-w", file, "udp", "port", "6081")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	// tcpdump says "listening on" once the capture is open.
	sc := bufio.NewScanner(stderr)
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if strings.Contains(sc.Text(), "listening on") {
			break
		}
	}
	if len(seen) == 0 || !strings.Contains(seen[len(seen)-1], "listening on") {
		t.Fatalf("tcpdump did not start: %v: %s", sc.Err(), strings.Join(seen, "\n"))
	}
	go func() {
		for sc.Scan() {
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			settle(file, time.Second, 30*time.Second)
			_ = cmd.Process.Signal(syscall.SIGINT)
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)
	return file, stop
}

// settle waits until file's size has not changed for quiet, or limit passed.
func settle(file string, quiet, limit time.Duration) {
	size := func() int64 {
		st, err := os.Stat(file)
		if err != nil {
			return -1
		}
		return st.Size()
	}
	last, since := size(), time.Now()
	for end := time.Now().Add(limit); time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond)
		if n := size(); n != last {
			last, since = n, time.Now()
			continue
		}
		if time.Since(since) >= quiet {
			return
		}
	}
}
