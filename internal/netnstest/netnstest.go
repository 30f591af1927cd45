// Package netnstest is test support, not a stage of the data path: it runs
// code inside a network namespace a test created (`ip netns add NAME`), so
// integration tests of sources, serve and replay send traffic only inside
// their own namespaces.
package netnstest

import (
	"runtime"
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
