// Package netnstest is test support, not a stage of the data path: it creates
// network namespaces for a test (`ip netns add`), runs code inside them and
// reads their kernel counters, so integration tests of sources, serve and
// replay send traffic only inside their own namespaces.
package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// Do runs fn on an OS thread switched into the namespace /var/run/netns/name:
// sockets fn opens belong to that namespace for their whole life. If the
// thread cannot be switched back it stays locked, and the runtime discards it
// when the goroutine exits.
func Do(t testing.TB, name string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer unix.Close(orig)
	target, err := unix.Open("/var/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("setns %s: %v", name, err)
	}
	defer func() {
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			t.Errorf("setns back: %v", err)
			return
		}
		runtime.UnlockOSThread()
	}()
	fn()
}

var seq atomic.Int32

// New creates a network namespace named prefix-PID-N with its loopback up
// and deletes it when the test ends. It fails the test when `ip` is missing
// (scripts/deps.sh installs iproute2) or the namespace cannot be made.
func New(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), seq.Add(1))
	IP(t, "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	IP(t, "-n", name, "link", "set", "lo", "up")
	return name
}

// IP runs `ip ARGS`, failing the test with its output if it fails.
func IP(t testing.TB, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip is required (scripts/deps.sh installs iproute2): %v", err)
	}
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// UDPCounters returns the kernel's Udp: counters (InDatagrams, RcvbufErrors,
// ...) of /proc/net/snmp as seen inside namespace name.
func UDPCounters(t testing.TB, name string) map[string]uint64 {
	t.Helper()
	var b []byte
	var err error
	Do(t, name, func() { b, err = os.ReadFile("/proc/thread-self/net/snmp") })
	if err != nil {
		t.Fatal(err)
	}
	var names, vals []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Udp: ") {
			if names == nil {
				names = strings.Fields(l)[1:]
			} else {
				vals = strings.Fields(l)[1:]
			}
		}
	}
	if len(names) == 0 || len(names) != len(vals) {
		t.Fatal("no Udp counters in /proc/net/snmp")
	}
	m := make(map[string]uint64, len(names))
	for i, k := range names {
		v, err := strconv.ParseUint(vals[i], 10, 64)
		if err != nil {
			t.Fatalf("Udp %s: %v", k, err)
		}
		m[k] = v
	}
	return m
}
