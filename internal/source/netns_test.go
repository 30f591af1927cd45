//go:build integration

package source

import (
	"os"
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/netnstest"
)

// testNetns is a network namespace the test created (ip netns add); it is
// deleted when the test ends.
type testNetns struct{ name string }

func newNetns(t *testing.T) *testNetns { return &testNetns{name: netnstest.New(t, "wbsrc")} }

func ip(t *testing.T, args ...string) {
	t.Helper()
	netnstest.IP(t, args...)
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
