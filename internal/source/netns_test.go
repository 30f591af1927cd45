//go:build integration

package source

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wirebridge/wirebridge/internal/netnstest"
)

var nsSeq atomic.Int32

// testNetns is a network namespace the test created (ip netns add); it is
// deleted when the test ends.
type testNetns struct{ name string }

func newNetns(t *testing.T) *testNetns {
	t.Helper()
	name := fmt.Sprintf("wbsrc-%d-%d", os.Getpid(), nsSeq.Add(1))
	ip(t, "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	ip(t, "-n", name, "link", "set", "lo", "up")
	return &testNetns{name: name}
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(needTool(t, "ip"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// do runs fn on an OS thread switched into the namespace: sockets fn opens
// stay in the namespace for their whole life.
func (n *testNetns) do(t *testing.T, fn func()) { netnstest.Do(t, n.name, fn) }

// readFile reads a /proc file as seen from inside the namespace.
func (n *testNetns) readFile(t *testing.T, path string) string {
	var b []byte
	var err error
	n.do(t, func() { b, err = os.ReadFile(strings.Replace(path, "/proc/net/", "/proc/thread-self/net/", 1)) })
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// vethPair creates namespaces a and b joined by a veth pair: a has 10.77.0.1/24
// on "va", b has 10.77.0.2/24 on "vb".
func vethPair(t *testing.T) (a, b *testNetns) {
	a, b = newNetns(t), newNetns(t)
	ip(t, "-n", a.name, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", b.name)
	ip(t, "-n", a.name, "addr", "add", "10.77.0.1/24", "dev", "va")
	ip(t, "-n", b.name, "addr", "add", "10.77.0.2/24", "dev", "vb")
	ip(t, "-n", a.name, "link", "set", "va", "up")
	ip(t, "-n", b.name, "link", "set", "vb", "up")
	return a, b
}
