// Package gwlbtest is test support beside the event path: it builds the
// local Gateway Load Balancer demo in network namespaces (client, server,
// the GWLB and its appliances; scripts/gwlb-rig.sh, as in docs/appliance.md) and
// runs `wirebridge gwlb` in it, so that tests of any Geneve appliance can
// send client → GWLB → appliance → GWLB → server traffic on one host.
package gwlbtest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Rig is the topology scripts/gwlb-rig.sh builds: namespace names and addresses.
type Rig struct {
	Prefix               string
	Client, Server, GWLB string   // namespaces
	Appliances           []string // namespaces, one per appliance
	ClientIP, ServerIP   netip.Addr
	ClientIP6, ServerIP6 netip.Addr
	GWLBIP               netip.Addr   // the GWLB's address on the appliances' subnet
	ApplianceIPs         []netip.Addr // in the order of Appliances
	TUN                  string       // the persistent TUN the routes point at
	script               string
}

var seq atomic.Int32

// New builds the rig with n appliances and removes it when the test ends.
// It needs root and iproute2.
func New(t testing.TB, n int) *Rig {
	t.Helper()
	r := &Rig{
		Prefix:    fmt.Sprintf("wbg%d-%d", os.Getpid()%100000, seq.Add(1)),
		ClientIP:  netip.MustParseAddr("10.0.1.2"),
		ServerIP:  netip.MustParseAddr("10.0.2.2"),
		ClientIP6: netip.MustParseAddr("fd00:1::2"),
		ServerIP6: netip.MustParseAddr("fd00:2::2"),
		GWLBIP:    netip.MustParseAddr("10.0.3.1"),
		TUN:       "gwlb0",
		script:    filepath.Join(RepoRoot(t), "scripts", "gwlb-rig.sh"),
	}
	r.Client, r.Server, r.GWLB = r.Prefix+"-client", r.Prefix+"-server", r.Prefix+"-gwlb"
	for i := 1; i <= n; i++ {
		r.Appliances = append(r.Appliances, fmt.Sprintf("%s-app%d", r.Prefix, i))
		r.ApplianceIPs = append(r.ApplianceIPs, netip.AddrFrom4([4]byte{10, 0, 3, byte(1 + i)}))
	}
	t.Cleanup(func() { _ = exec.Command(r.script, "down", r.Prefix).Run() })
	if out, err := exec.Command(r.script, "up", r.Prefix, fmt.Sprint(n)).CombinedOutput(); err != nil {
		t.Fatalf("%s up: %v\n%s", r.script, err, out)
	}
	return r
}

// RepoRoot returns the repository's root: the nearest directory up from
// the working directory that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = up
	}
}

// Cmd returns a command that runs name in namespace ns.
func Cmd(ns, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Proc is a running `wirebridge gwlb`.
type Proc struct {
	cmd            *exec.Cmd
	stdout, stderr LockedBuffer
	done           chan struct{}
	err            error
}

// StartGWLB runs `bin gwlb --tun TUN --listen GWLBIP --appliance IP:6081
// (each appliance) ARGS` in the GWLB namespace and returns once it prints
// that it is ready. Later flags override earlier ones (--tun); the test
// stops it with Stop, or the cleanup kills it.
func (r *Rig) StartGWLB(t testing.TB, bin string, args ...string) *Proc {
	t.Helper()
	a := []string{"gwlb", "--tun", r.TUN, "--listen", r.GWLBIP.String()}
	for _, ip := range r.ApplianceIPs {
		a = append(a, "--appliance", netip.AddrPortFrom(ip, 6081).String())
	}
	p := &Proc{cmd: Cmd(r.GWLB, bin, append(a, args...)...), done: make(chan struct{})}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.stdout.Write(append(sc.Bytes(), '\n'))
			if strings.HasPrefix(sc.Text(), "ready:") {
				close(ready)
			}
		}
		_, _ = io.Copy(&p.stdout, out)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case <-ready:
	case <-p.done:
		t.Fatalf("wirebridge gwlb exited before it was ready: %v\nstdout:\n%s\nstderr:\n%s", p.err, p.stdout.String(), p.stderr.String())
	case <-time.After(time.Minute): // a hang detector, not a measurement
		t.Fatalf("wirebridge gwlb not ready after a minute\nstdout:\n%s\nstderr:\n%s", p.stdout.String(), p.stderr.String())
	}
	return p
}

// Stop sends SIGTERM and waits for the GWLB to exit; it returns the exit
// error (nil for exit 0) and what it printed on standard output.
func (p *Proc) Stop(t testing.TB) (string, error) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Minute): // a hang detector
		t.Fatalf("wirebridge gwlb still running a minute after SIGTERM\nstderr:\n%s", p.stderr.String())
	}
	return p.stdout.String(), p.err
}

// Stderr returns what the GWLB has logged so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// WaitLog waits until the GWLB's log holds every one of parts on one line;
// it fails the test if the GWLB exits or a minute passes first.
func (p *Proc) WaitLog(t testing.TB, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a hang detector
	for {
		for _, l := range strings.Split(p.stderr.String(), "\n") {
			all := true
			for _, s := range parts {
				all = all && strings.Contains(l, s)
			}
			if all {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("wirebridge gwlb exited (%v) before logging %q\nstderr:\n%s", p.err, parts, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("wirebridge gwlb did not log %q within a minute\nstderr:\n%s", parts, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// LockedBuffer is a bytes.Buffer safe for concurrent writers and readers (a
// process's output read while it runs).
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
