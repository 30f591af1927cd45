//go:build integration

package source

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The port holder is this test binary run again as a separate process
// (TestHelperHoldUDP): it binds WB_HOLD_UDP with SO_REUSEPORT, like a second
// wirebridge or a socat/nc with reuseport would, prints "bound" or
// "bind-error <error>", counts the datagrams it receives and prints
// "received N" when its stdin closes.

// TestHelperHoldUDP is the port holder; it does nothing in a normal run.
func TestHelperHoldUDP(t *testing.T) {
	addr := os.Getenv("WB_HOLD_UDP")
	if addr == "" {
		t.Skip("helper process only")
	}
	os.Exit(holdUDP(addr))
}

func holdUDP(addr string) int {
	ap := netip.MustParseAddrPort(addr)
	family := unix.AF_INET
	if ap.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		fmt.Println("bind-error socket:", err)
		return 0
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		fmt.Println("bind-error SO_REUSEPORT:", err)
		return 0
	}
	var sa unix.Sockaddr = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	if family == unix.AF_INET6 {
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		fmt.Println("bind-error", err)
		return 0
	}
	fmt.Println("bound")
	f := os.NewFile(uintptr(fd), "held")
	c, err := net.FilePacketConn(f)
	if err != nil {
		fmt.Println("bind-error FilePacketConn:", err)
		return 0
	}
	n := 0
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	buf := make([]byte, 65536)
	for {
		select {
		case <-done:
			fmt.Println("received", n)
			return 0
		default:
		}
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, _, err := c.ReadFrom(buf); err == nil {
			n++
		}
	}
}

// holder is a running port holder process.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
	bound bool
	err   string // the bind error, if it did not bind
}

func startHolder(t *testing.T, addr netip.AddrPort) *holder {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestHelperHoldUDP$")
	cmd.Env = append(os.Environ(), "WB_HOLD_UDP="+addr.String())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &holder{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	t.Cleanup(func() {
		h.stdin.Close()
		_ = h.cmd.Wait()
	})
	if !h.out.Scan() {
		t.Fatalf("port holder for %s said nothing", addr)
	}
	line := h.out.Text()
	h.bound = line == "bound"
	if !h.bound {
		h.err = strings.TrimPrefix(line, "bind-error ")
	}
	return h
}

// received stops the holder and returns how many datagrams it received
// (none if it could not bind).
func (h *holder) received(t *testing.T) int {
	t.Helper()
	h.stdin.Close()
	if !h.bound {
		return 0
	}
	if !h.out.Scan() {
		t.Fatal("port holder did not report what it received")
	}
	n, err := strconv.Atoi(strings.TrimPrefix(h.out.Text(), "received "))
	if err != nil {
		t.Fatalf("port holder: %q", h.out.Text())
	}
	return n
}

// freeUDPPort returns a port no socket holds on 127.0.0.1 at the moment.
func freeUDPPort(t *testing.T) uint16 {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

// TestUDPPortHeldByAnotherProcess: a port another process holds with
// SO_REUSEPORT (same user: root here) is a start-up error naming the port,
// for every readers setting and for the wildcard as for the same address.
func TestUDPPortHeldByAnotherProcess(t *testing.T) {
	tests := []struct {
		name    string
		hold    string // the other process's address
		listen  string // ours, with %d for the port
		readers int
	}{
		{"same address, one reader", "127.0.0.1", "127.0.0.1:%d", 1},
		{"same address, two readers", "127.0.0.1", "127.0.0.1:%d", 2},
		{"wildcard over a held address", "127.0.0.1", ":%d", 2},
		{"address under a held wildcard", "0.0.0.0", "127.0.0.1:%d", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			port := freeUDPPort(t)
			h := startHolder(t, netip.AddrPortFrom(netip.MustParseAddr(tc.hold), port))
			if !h.bound {
				t.Fatalf("port holder could not bind %s:%d: %s", tc.hold, port, h.err)
			}
			listen := fmt.Sprintf(tc.listen, port)
			u, err := NewUDP(UDPConfig{Common: Common{Name: "excl"}, Listen: []string{listen}, Readers: tc.readers})
			if err == nil {
				u.Close()
				t.Fatalf("NewUDP(%s) with the port held by another process: no error", listen)
			}
			if !strings.Contains(err.Error(), strconv.Itoa(int(port))) || !errors.Is(err, unix.EADDRINUSE) {
				t.Errorf("error %q: want it to name port %d and wrap EADDRINUSE", err, port)
			}
			t.Logf("%v", err)
		})
	}
}

// TestUDPOtherProcessCannotJoin: once the udp source holds a port, another
// process binding it with SO_REUSEPORT fails, or (if the kernel let it bind)
// receives nothing: 20 logger messages from 20 processes (20 flows) all reach
// the source.
func TestUDPOtherProcessCannotJoin(t *testing.T) {
	tests := []struct {
		name    string
		listen  string
		other   string // the other process's address
		readers int
	}{
		{"same address, one reader", "127.0.0.1:0", "127.0.0.1", 1},
		{"same address, two readers", "127.0.0.1:0", "127.0.0.1", 2},
		{"address under our wildcard", ":0", "127.0.0.1", 2},
		{"wildcard over our address", "127.0.0.1:0", "0.0.0.0", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := NewUDP(UDPConfig{Common: Common{Name: "excl"}, Listen: []string{tc.listen}, Readers: tc.readers})
			if err != nil {
				t.Fatal(err)
			}
			c := newCollector()
			running(t, u, c.emit)
			port := u.Addrs()[0].Port()
			h := startHolder(t, netip.AddrPortFrom(netip.MustParseAddr(tc.other), port))
			if h.bound {
				t.Logf("the other process bound %s:%d; it must receive nothing", tc.other, port)
			} else {
				t.Logf("the other process could not bind: %s", h.err)
			}
			const n = 20
			for i := range n {
				runTool(t, "logger", "--udp", "-n", "127.0.0.1", "-P", strconv.Itoa(int(port)), "--rfc3164", "-t", "wbexcl", fmt.Sprintf("message %d", i))
			}
			c.waitFor(t, 10*time.Second, "20 logger messages", func(fs []got) bool { return len(fs) >= n })
			if other := h.received(t); other != 0 {
				t.Errorf("the other process received %d of %d datagrams", other, n)
			}
			if got := len(c.snapshot()); got != n {
				t.Errorf("source received %d datagrams, want %d", got, n)
			}
		})
	}
}
