//go:build integration

package appliance_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/bintest"

	"github.com/wirebridge/wirebridge/internal/appliance/gwlb/gwlbtest"
	"github.com/wirebridge/wirebridge/internal/netnstest"
)

// The acceptance, through the local GWLB: `wirebridge serve` with an
// appliance: section (examples/censor.yaml itself, or a pass configuration)
// in an appliance namespace of gwlbtest's rig, and `wirebridge gwlb` in
// front of it, with real clients (nc, ping, curl) and tshark.

var wbBin string

func TestMain(m *testing.M) { bintest.Main(m, &wbBin) }

// serveProc is a `wirebridge serve` running in an appliance namespace.
type serveProc struct {
	cmd  *exec.Cmd
	logs gwlbtest.LockedBuffer
	done chan struct{}
	err  error
	ns   string
}

// startServe runs `wirebridge serve -c cfg` in namespace ns (working
// directory: a temporary one) and returns once it printed its banner.
func startServe(t *testing.T, ns, cfg string) *serveProc {
	t.Helper()
	p := &serveProc{cmd: gwlbtest.Cmd(ns, wbBin, "serve", "-c", cfg, "--stats-interval", "0"), done: make(chan struct{}), ns: ns}
	p.cmd.Dir = t.TempDir()
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			p.logs.Write(append(sc.Bytes(), '\n'))
			if strings.Contains(sc.Text(), "Geneve on udp") {
				once.Do(func() { close(ready) })
			}
		}
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
		t.Fatalf("wirebridge serve exited before its banner: %v\n%s", p.err, p.logs.String())
	case <-time.After(time.Minute): // a hang detector
		t.Fatalf("wirebridge serve: no banner after a minute\n%s", p.logs.String())
	}
	return p
}

// metric returns the value of the appliance's metric line starting with
// name (labels included), from its /metrics in its namespace.
func (p *serveProc) metric(t *testing.T, name string) string {
	t.Helper()
	out := run(t, gwlbtest.Cmd(p.ns, "curl", "-sS", "--max-time", "10", "http://127.0.0.1:8081/metrics"))
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	return ""
}

func run(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return string(out)
}

// stdout runs cmd and returns its standard output only.
func stdout(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.Bytes())
	}
	return string(out)
}

// udpServer listens on the server's address, port 3000.
func udpServer(t *testing.T, r *gwlbtest.Rig, ip netip.Addr) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	netnstest.Do(t, r.Server, func() {
		var err error
		if c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 3000))); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// recv reads the next datagram; a minute without one fails the test (a
// hang detector: what must not arrive is checked by the counters).
func recv(t *testing.T, c *net.UDPConn) string {
	t.Helper()
	buf := make([]byte, 9000)
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	n, _, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("nothing arrived at the server: %v", err)
	}
	return string(buf[:n])
}

// ncSend sends payload from the client with `nc -u`.
func ncSend(t *testing.T, r *gwlbtest.Rig, dst netip.Addr, payload string) {
	t.Helper()
	args := []string{"-u", "-w", "1"}
	if dst.Is6() {
		args = append(args, "-6")
	}
	cmd := gwlbtest.Cmd(r.Client, "nc", append(args, dst.String(), "3000")...)
	cmd.Stdin = strings.NewReader(payload)
	run(t, cmd)
}

// TestCensorDemo is the blog post's demo literally: examples/censor.yaml in
// the appliance namespace behind `wirebridge gwlb`; `nc -u` to the server's
// port 3000: "test" arrives, "drop me" does not, "weakly typed programming
// language" arrives as "strongly typed programming language"; `ping -c 10`
// loses exactly icmp_seq 5 and 10.
func TestCensorDemo(t *testing.T) {
	r := gwlbtest.New(t, 1)
	app := startServe(t, r.Appliances[0], filepath.Join(gwlbtest.RepoRoot(t), "examples", "censor.yaml"))
	g := r.StartGWLB(t, wbBin, "--health", "tcp:8080", "--health-interval", "200ms")
	g.WaitLog(t, "appliance health", "to=healthy")

	t.Run("nc", func(t *testing.T) {
		srv := udpServer(t, r, r.ServerIP)
		ncSend(t, r, r.ServerIP, "test\n")
		if got := recv(t, srv); got != "test\n" {
			t.Errorf("sent test, the server got %q", got)
		}
		ncSend(t, r, r.ServerIP, "drop me\n")
		ncSend(t, r, r.ServerIP, "weakly typed programming language\n")
		if got := recv(t, srv); got != "strongly typed programming language\n" {
			t.Errorf("sent weakly typed programming language, the server got %q", got)
		}
		// "drop me" was decided (dropped) before the next datagram arrived.
		if v := app.metric(t, `wirebridge_appliance_rule_packets_total{action="drop",rule="drop-me"}`); v != "1" {
			t.Errorf("drop-me dropped %q packets, want 1", v)
		}
		if v := app.metric(t, `wirebridge_appliance_rule_packets_total{action="modify",rule="weakly-typed"}`); v != "1" {
			t.Errorf("weakly-typed modified %q packets, want 1", v)
		}
	})
	t.Run("ping", func(t *testing.T) {
		cmd := gwlbtest.Cmd(r.Client, "ping", "-c", "10", "-i", "0.2", "-W", "3", r.ServerIP.String())
		out, _ := cmd.CombinedOutput() // exit 1: packets lost
		var seqs []int
		for _, m := range regexp.MustCompile(`icmp_seq=(\d+)`).FindAllStringSubmatch(string(out), -1) {
			var n int
			fmt.Sscan(m[1], &n)
			seqs = append(seqs, n)
		}
		if want := []int{1, 2, 3, 4, 6, 7, 8, 9}; !slices.Equal(seqs, want) || !strings.Contains(string(out), "10 packets transmitted, 8 received") {
			t.Errorf("ping answered icmp_seq %v, want %v (5 and 10 lost):\n%s", seqs, want, out)
		}
	})
	stopServe(t, app)
}

// stopServe sends SIGTERM and waits for serve to exit 0.
func stopServe(t *testing.T, p *serveProc) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	waitServe(t, p)
}

// waitServe waits for serve, already sent one SIGTERM, to exit 0 (a second
// signal would end it at once, drain or not).
func waitServe(t *testing.T, p *serveProc) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute): // a hang detector
		t.Fatalf("serve still running two minutes after SIGTERM\n%s", p.logs.String())
	}
	if p.err != nil {
		t.Errorf("serve exited with %v\n%s", p.err, p.logs.String())
	}
}

// passConfig writes a configuration that passes everything but rewrites
// "weakly typed" in UDP to and from port 3000 (IPv4 and IPv6), health on
// 8080 with fast probes, and drain_time drain.
func passConfig(t *testing.T, drain string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "pass.yaml")
	cfg := `appliance:
  health: {probe_interval: 100ms}
  drain_time: ` + drain + `
  rules:
    - name: weakly-typed
      pattern: '{"detail":{"Protocol":["udp"],"$or":[{"Source":{"Port":[3000]}},{"Destination":{"Port":[3000]}}]}}'
      action: modify
      modify: {find: weakly typed, replace: strongly typed}
`
	if err := os.WriteFile(f, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestApplianceOnTheWire: with a pass configuration, TCP goes through whole
// (curl downloads 5 MB intact), an IPv6 UDP payload is rewritten, and an
// 8,500-byte inner packet comes back whole; every Geneve packet the
// appliance returned is checked by tshark: outer and inner IPv4, UDP, TCP,
// ICMP checksums good, the Geneve options those the GWLB sent.
func TestApplianceOnTheWire(t *testing.T) {
	r := gwlbtest.New(t, 1)
	startServe(t, r.Appliances[0], passConfig(t, "1s"))
	pcap, stopCapture := gwlbtest.Capture(t, r.Appliances[0])
	g := r.StartGWLB(t, wbBin, "--health", "http:8080/healthz", "--health-interval", "200ms",
		"--endpoint-id", "0x0102030405060708", "--attachment-id", "0x1112131415161718")
	g.WaitLog(t, "appliance health", "to=healthy")

	t.Run("curl 5 MB", func(t *testing.T) {
		blob := make([]byte, 5<<20)
		_, _ = rand.Read(blob)
		var ln net.Listener
		netnstest.Do(t, r.Server, func() {
			var err error
			if ln, err = net.Listen("tcp4", netip.AddrPortFrom(r.ServerIP, 8000).String()); err != nil {
				t.Fatal(err)
			}
		})
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(blob) })}
		go srv.Serve(ln)
		defer srv.Close()
		file := filepath.Join(t.TempDir(), "blob")
		run(t, gwlbtest.Cmd(r.Client, "curl", "-sS", "--max-time", "120", "-o", file, "http://"+r.ServerIP.String()+":8000/blob"))
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(blob) || sha256.Sum256(got) != sha256.Sum256(blob) {
			t.Errorf("downloaded %d bytes, want %d intact", len(got), len(blob))
		}
	})
	t.Run("ipv6 rewritten", func(t *testing.T) {
		srv := udpServer(t, r, r.ServerIP6)
		ncSend(t, r, r.ServerIP6, "weakly typed over IPv6\n")
		if got := recv(t, srv); got != "strongly typed over IPv6\n" {
			t.Errorf("the server got %q over IPv6", got)
		}
	})
	t.Run("jumbo 8500", func(t *testing.T) {
		out := run(t, gwlbtest.Cmd(r.Client, "ping", "-c", "3", "-i", "0.2", "-W", "5", "-M", "do", "-s", "8472", r.ServerIP.String()))
		if !strings.Contains(out, "3 packets transmitted, 3 received") {
			t.Errorf("8,500-byte ping through the appliance:\n%s", out)
		}
	})
	stopCapture()
	if _, err := g.Stop(t); err != nil {
		t.Errorf("gwlb: %v", err)
	}
	checkReturns(t, pcap, r)
}

// checkReturns checks, with tshark, every Geneve packet the appliance sent
// back to the GWLB.
func checkReturns(t *testing.T, pcap string, r *gwlbtest.Rig) {
	t.Helper()
	fields := func(filter string) []string {
		out := stdout(t, exec.Command("tshark", "-n", "-r", pcap,
			"-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
			"-Y", filter, "-T", "fields", "-E", "separator=|",
			"-e", "ip.checksum.status", "-e", "udp.checksum.status", "-e", "tcp.checksum.status",
			"-e", "icmp.checksum.status", "-e", "geneve.option.class", "-e", "geneve.option.type",
			"-e", "geneve.option.unknown.data", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "frame.len", "-e", "ipv6.src"))
		return strings.Split(strings.TrimSpace(out), "\n")
	}
	sent := fields("ip.src == " + r.GWLBIP.String())
	back := fields("ip.src == " + r.ApplianceIPs[0].String())
	if len(back) < 100 {
		t.Fatalf("%d Geneve packets returned in the capture, want the test's traffic", len(back))
	}
	sentTLVs := map[string]bool{}
	for _, l := range sent {
		f := strings.Split(l, "|")
		if len(f) == 11 {
			sentTLVs[f[6]+"|"+strings.Split(f[7], ",")[0]] = true // options, outer source port
		}
	}
	verified := map[string]int{}
	jumbo, v6 := 0, 0
	for _, l := range back {
		f := strings.Split(l, "|")
		if len(f) != 11 {
			t.Fatalf("tshark line %q", l)
		}
		for i, name := range []string{"ip", "udp", "tcp", "icmp"} {
			for _, s := range strings.Split(f[i], ",") {
				if s != "" && s != "1" {
					t.Errorf("%s checksum status %s (0 bad, 2 unverified) in %q", name, s, l)
				}
			}
		}
		switch {
		case f[1] == "1,1":
			verified["udp"]++
		case f[2] == "1":
			verified["tcp"]++
		case f[3] == "1,1" || f[3] == "1":
			verified["icmp"]++
		}
		if f[4] != "0x0108,0x0108,0x0108" {
			t.Errorf("returned Geneve option classes %s, want the three AWS options", f[4])
		}
		ports := strings.Split(f[7], ",")
		if !sentTLVs[f[6]+"|"+ports[0]] {
			t.Errorf("returned options %s from port %s: not those the GWLB sent on that flow", f[6], ports[0])
		}
		if d := strings.Split(f[8], ","); d[0] != "6081" {
			t.Errorf("returned to port %s, want 6081 (ports kept)", f[8])
		}
		if f[3] != "" && f[9] == fmt.Sprint(14+20+8+40+8500) { // the ICMP ones: TCP segments are this size too
			jumbo++
		}
		if f[10] != "" {
			v6++
		}
	}
	for _, p := range []string{"udp", "tcp", "icmp"} {
		if verified[p] == 0 {
			t.Errorf("no inner %s checksum verified good (%v): the check checked nothing", p, verified)
		}
	}
	if jumbo != 6 {
		t.Errorf("%d whole 8,500-byte inner packets returned, want 6 (3 requests, 3 replies)", jumbo)
	}
	if v6 == 0 {
		t.Error("no IPv6 inner packet returned")
	}
}

// flows is a set of UDP flows from the client to the server's port 3000.
type flows struct {
	srv     *net.UDPConn
	clients []*net.UDPConn
}

func newFlows(t *testing.T, r *gwlbtest.Rig, n int) *flows {
	t.Helper()
	f := &flows{srv: udpServer(t, r, r.ServerIP), clients: make([]*net.UDPConn, n)}
	netnstest.Do(t, r.Client, func() {
		for i := range f.clients {
			c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: r.ServerIP.AsSlice(), Port: 3000})
			if err != nil {
				t.Fatal(err)
			}
			f.clients[i] = c
			t.Cleanup(func() { c.Close() })
		}
	})
	return f
}

// round sends one datagram per flow tagged tag and returns once the server
// has them all (a minute without progress fails: a hang detector).
func (f *flows) round(t *testing.T, tag string) {
	t.Helper()
	want := map[string]bool{}
	for i, c := range f.clients {
		m := fmt.Sprintf("%s %d", tag, i)
		want[m] = true
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2048)
	for len(want) > 0 {
		_ = f.srv.SetReadDeadline(time.Now().Add(time.Minute))
		n, _, err := f.srv.ReadFromUDPAddrPort(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s: %d datagrams never reached the server (e.g. %v)", tag, len(want), want)
		} else if err != nil {
			t.Fatal(err)
		}
		delete(want, string(buf[:n]))
	}
}

// passed is the metric of the datagrams to and from port 3000 the pass
// configuration returned without a rewrite.
const passed = `wirebridge_appliance_rule_packets_total{action="pass",rule="weakly-typed"}`

// TestApplianceFailover: two appliances behind the GWLB; `kill -9` one: its
// health check fails, it is marked unhealthy, and every flow reaches the
// server through the other.
func TestApplianceFailover(t *testing.T) {
	r := gwlbtest.New(t, 2)
	apps := []*serveProc{startServe(t, r.Appliances[0], passConfig(t, "1s")), startServe(t, r.Appliances[1], passConfig(t, "1s"))}
	g := r.StartGWLB(t, wbBin, "--health", "http:8080/healthz", "--health-interval", "100ms", "--health-timeout", "1s",
		"--unhealthy-threshold", "2", "--healthy-threshold", "2")
	for _, ip := range r.ApplianceIPs {
		g.WaitLog(t, "appliance="+ip.String()+":6081", "to=healthy")
	}
	f := newFlows(t, r, 64)
	f.round(t, "before")
	for i, a := range apps {
		if v := a.metric(t, passed); v == "" || v == "0" {
			t.Errorf("appliance %d returned none of the 64 flows (%q): not hashed over both", i+1, v)
		}
	}
	_ = apps[0].cmd.Process.Kill() // kill -9
	<-apps[0].done
	g.WaitLog(t, "appliance="+r.ApplianceIPs[0].String()+":6081", "from=healthy", "to=unhealthy")
	before := apps[1].metric(t, passed)
	f.round(t, "after")
	after := apps[1].metric(t, passed)
	var b, a int
	fmt.Sscan(before, &b)
	fmt.Sscan(after, &a)
	if a-b != 64 {
		t.Errorf("after appliance 1 died, appliance 2 passed %d datagrams, want all 64", a-b)
	}
	stopServe(t, apps[1])
}

// TestApplianceDrain: SIGTERM on an appliance turns it unhealthy first —
// the GWLB marks it unhealthy while it still runs, draining — and no
// datagram sent during the drain is lost: flows keep reaching the server,
// through it until the GWLB moves them, then through the other.
func TestApplianceDrain(t *testing.T) {
	r := gwlbtest.New(t, 2)
	apps := []*serveProc{startServe(t, r.Appliances[0], passConfig(t, "20s")), startServe(t, r.Appliances[1], passConfig(t, "1s"))}
	g := r.StartGWLB(t, wbBin, "--health", "http:8080/healthz", "--health-interval", "100ms", "--health-timeout", "1s",
		"--unhealthy-threshold", "2", "--healthy-threshold", "2")
	for _, ip := range r.ApplianceIPs {
		g.WaitLog(t, "appliance="+ip.String()+":6081", "to=healthy")
	}
	f := newFlows(t, r, 64)
	f.round(t, "before")

	_ = apps[0].cmd.Process.Signal(syscall.SIGTERM)
	// Rounds during the drain: every datagram arrives, before and after
	// the GWLB notices.
	unhealthy := "appliance=" + r.ApplianceIPs[0].String() + ":6081"
	for i := 0; !strings.Contains(g.Stderr(), unhealthy+" from=healthy to=unhealthy") || i < 3; i++ {
		f.round(t, fmt.Sprintf("drain %d", i))
		if i > 1000 {
			t.Fatalf("the GWLB never marked appliance 1 unhealthy:\n%s", g.Stderr())
		}
	}
	select {
	case <-apps[0].done:
		t.Fatalf("appliance 1 exited before the GWLB marked it unhealthy (drain_time 20s):\n%s", apps[0].logs.String())
	default:
	}
	f.round(t, "after")
	l := apps[0].logs.String()
	if u, d := strings.Index(l, "appliance unhealthy"), strings.Index(l, "appliance draining"); u < 0 || d < 0 {
		t.Errorf("appliance 1's log lacks unhealthy/draining:\n%s", l)
	}
	waitServe(t, apps[0]) // its drain ends by itself
	stopServe(t, apps[1])
}
