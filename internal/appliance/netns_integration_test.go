//go:build integration

package appliance

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wirebridge/wirebridge/internal/netnstest"
)

// The appliance as it runs in production: its own process in its own
// network namespace, on the default ports (Geneve on every address port
// 6081, health on 8080), the load balancer in another namespace across a
// veth pair, SIGTERM to stop it:
//
//	lb (10.99.0.1, udp 6081) ──veth── app (10.99.0.2: geneve :6081, health :8080)
const (
	processEnv = "WB_APPLIANCE_PROCESS" // set: TestApplianceProcess runs the appliance
	lbNSIP     = "10.99.0.1"
	appNSIP    = "10.99.0.2"
)

// TestApplianceProcess is the appliance process the namespace test starts
// (it does nothing in an ordinary run): the censor on the default ports;
// SIGTERM drains it.
func TestApplianceProcess(t *testing.T) {
	if os.Getenv(processEnv) == "" {
		t.Skip("the appliance process of TestNamespaceCensorAndDrain")
	}
	spec := censorSpec()
	spec.DrainTime = 10 * time.Second
	spec.Health.ProbeInterval = 50 * time.Millisecond
	spec.Health.UnhealthyThreshold = 20
	a, err := New(spec, Options{Name: "censor"})
	if err != nil {
		t.Fatal(err)
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		fmt.Println("draining")
		_ = a.Drain(context.Background())
	}()
	fmt.Println("listening", a.Addr(), a.HealthAddr())
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := a.Stats()
	fmt.Printf("stopped received=%d returned=%d dropped=%d\n", st.Received, st.Returned, st.Dropped)
}

// healthStatus speaks HTTP/1.0 to the health check over a socket opened on
// the calling (namespace-locked) thread: the status code, or 0 when the
// connection is refused.
func healthStatus(addr string) int {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("GET /healthz HTTP/1.0\r\n\r\n")); err != nil {
		return 0
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0
	}
	var code int
	if _, err := fmt.Sscanf(line, "HTTP/1.0 %d", &code); err != nil {
		_, _ = fmt.Sscanf(line, "HTTP/1.1 %d", &code)
	}
	return code
}

func TestNamespaceCensorAndDrain(t *testing.T) {
	needRaw(t)
	lbNS, appNS := netnstest.New(t, "wbalb"), netnstest.New(t, "wbaapp")
	netnstest.IP(t, "-n", lbNS, "link", "add", "lb0", "type", "veth", "peer", "name", "app0", "netns", appNS)
	netnstest.IP(t, "-n", lbNS, "addr", "add", lbNSIP+"/24", "dev", "lb0")
	netnstest.IP(t, "-n", appNS, "addr", "add", appNSIP+"/24", "dev", "app0")
	netnstest.IP(t, "-n", lbNS, "link", "set", "lb0", "up")
	netnstest.IP(t, "-n", appNS, "link", "set", "app0", "up")

	var out bytes.Buffer
	cmd := exec.Command("ip", "netns", "exec", appNS, os.Args[0], "-test.run=^TestApplianceProcess$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), processEnv+"=1")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(patience):
		}
		if t.Failed() {
			t.Logf("appliance process output:\n%s", out.String())
		}
	})

	app := netip.MustParseAddrPort(appNSIP + ":6081")
	health := appNSIP + ":8080"
	var conn *net.UDPConn
	var capFD int
	netnstest.Do(t, lbNS, func() {
		var err error
		// The load balancer's port 6081: replies come back to it.
		if conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(lbNSIP), Port: 6081}); err != nil {
			t.Fatal(err)
		}
		if capFD, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(patience)
		for healthStatus(health) != 200 {
			if time.Now().After(deadline) {
				t.Fatal("the appliance never reported healthy")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	defer conn.Close()
	defer unix.Close(capFD)
	tv := unix.NsecToTimeval(int64(patience))
	_ = unix.SetsockoptTimeval(capFD, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	l := &lb{conn: conn, app: app, cap: capFD}
	lbAP := netip.MustParseAddrPort(lbNSIP + ":6081")

	// The censor, through a real NIC path, with the wildcard listener
	// answering from the address the datagram was sent to.
	type want struct {
		sent    []byte
		payload string
	}
	var seq []want
	for _, p := range []string{"test", "drop me", "weakly typed programming language"} {
		if p != "drop me" {
			seq = append(seq, want{udp4(p), strings.Replace(p, "weakly", "strongly", 1)})
		}
		l.send(t, udp4(p))
	}
	for _, w := range seq {
		reply := capturedFrom(t, l, netip.MustParseAddr(appNSIP), netip.MustParseAddr(lbNSIP))
		p := checkReply(t, w.sent, reply, lbAP, app)
		if string(p.Payload()) != w.payload {
			t.Errorf("payload %q, want %q", p.Payload(), w.payload)
		}
		if got := l.recvFrom(t, app); !bytes.Equal(got, reply[outerLen:]) {
			t.Error("socket and capture disagree")
		}
	}

	// SIGTERM: unhealthy first, then every packet still comes back during the drain.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	netnstest.Do(t, lbNS, func() {
		deadline := time.Now().Add(patience)
		for healthStatus(health) != 0 {
			if time.Now().After(deadline) {
				t.Fatal("still healthy after SIGTERM")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	const n = 200
	for i := range n {
		l.send(t, udp4(fmt.Sprintf("draining %03d", i)))
	}
	for i := range n {
		if got, want := string(l.recvFrom(t, app)), fmt.Sprintf("draining %03d", i); !strings.HasSuffix(got, want) {
			t.Fatalf("reply %d during the drain ends %q, want %q", i, got[len(got)-len(want):], want)
		}
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("appliance process: %v", err)
		}
	case <-time.After(patience + 10*time.Second):
		t.Fatal("the appliance did not stop after its drain time")
	}
	if !strings.Contains(out.String(), "draining") || !strings.Contains(out.String(), "stopped received=") {
		t.Errorf("appliance process output:\n%s", out.String())
	}
}

// capturedFrom returns the next captured UDP packet from src to dst.
func capturedFrom(t *testing.T, l *lb, src, dst netip.Addr) []byte {
	t.Helper()
	buf := make([]byte, 65536)
	for {
		n, _, err := unix.Recvfrom(l.cap, buf, 0)
		if err != nil {
			t.Fatalf("capture: %v", err)
		}
		p := buf[:n]
		if n >= outerLen && netip.AddrFrom4([4]byte(p[12:16])) == src && netip.AddrFrom4([4]byte(p[16:20])) == dst {
			return append([]byte(nil), p...)
		}
	}
}

// recvFrom is lb.recv for a load balancer whose replies come from app.
func (l *lb) recvFrom(t *testing.T, app netip.AddrPort) []byte {
	t.Helper()
	buf := make([]byte, 65536)
	_ = l.conn.SetReadDeadline(time.Now().Add(patience))
	n, from, err := l.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	if from.Addr() != app.Addr() {
		t.Fatalf("reply from %v, want %v", from, app.Addr())
	}
	return buf[:n]
}
