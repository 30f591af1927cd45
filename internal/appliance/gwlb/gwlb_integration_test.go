//go:build integration

package gwlb_test

import (
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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/bintest"

	"github.com/wirebridge/wirebridge/internal/appliance/gwlb/gwlbtest"
	"github.com/wirebridge/wirebridge/internal/netnstest"
	"github.com/wirebridge/wirebridge/internal/packet"
)

var wbBin string

func TestMain(m *testing.M) { bintest.Main(m, &wbBin) }

// echoApp is a minimal Geneve appliance: it sends every datagram it gets on
// UDP 6081 back as AWS GWLB expects (and as the blog post's censor and
// bench/appliance-echo.c do): the outer IPv4 source and destination
// swapped, the UDP ports kept (from the GWLB's port to 6081), the Geneve
// bytes unchanged, written whole with its own IPv4 and UDP headers on a raw
// socket; and it answers TCP and HTTP (GET /healthz) health checks on 8080.
type echoApp struct {
	conn    *net.UDPConn
	raw     net.PacketConn
	health  net.Listener
	packets atomic.Int64
	maxLen  atomic.Int64
	wg      sync.WaitGroup
}

func startEcho(t *testing.T, ns string, ip netip.Addr) *echoApp {
	t.Helper()
	e := &echoApp{}
	netnstest.Do(t, ns, func() {
		var err error
		if e.conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 6081))); err != nil {
			t.Fatal(err)
		}
		_ = e.conn.SetReadBuffer(8 << 20)
		// IPPROTO_RAW: the echo writes the outer IPv4 header itself.
		if e.raw, err = net.ListenPacket("ip4:255", ip.String()); err != nil {
			t.Fatal(err)
		}
		if e.health, err = net.Listen("tcp4", ":8080"); err != nil {
			t.Fatal(err)
		}
	})
	e.wg.Add(2)
	go func() {
		defer e.wg.Done()
		buf := make([]byte, 65535)
		for {
			n, from, err := e.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			e.packets.Add(1)
			if int64(n) > e.maxLen.Load() {
				e.maxLen.Store(int64(n))
			}
			reply := packet.Build(packet.IPv4{Src: ip, Dst: from.Addr().Unmap(), TTL: 64, DF: true},
				packet.UDP{Src: from.Port(), Dst: 6081}, packet.Payload(buf[:n]))
			if _, err := e.raw.WriteTo(reply, &net.IPAddr{IP: from.Addr().Unmap().AsSlice()}); err != nil {
				return
			}
		}
	}()
	go func() {
		defer e.wg.Done()
		// HTTP on the health port: GET /healthz answers 200, anything else
		// 404; a TCP check's bare connection is accepted and closed.
		_ = http.Serve(e.health, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				http.NotFound(w, r)
			}
		}))
	}()
	t.Cleanup(e.kill)
	return e
}

// kill stops the appliance: no more echo, no more health check answers.
func (e *echoApp) kill() {
	e.conn.Close()
	e.raw.Close()
	e.health.Close()
	e.wg.Wait()
}

func run(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return string(out)
}

// stdout runs cmd and returns its standard output (tshark notes on
// standard error that it runs as root).
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

// TestThroughGWLB: client → GWLB → echo appliance → GWLB → server, as in the
// blog post's demo: ping (IPv4 and IPv6), UDP payloads with nc, a 5 MB
// download with curl, and an 8,500-byte packet all arrive whole, and the
// Geneve packets the GWLB sends carry the AWS options with correct
// checksums (tshark checks them).
func TestThroughGWLB(t *testing.T) {
	r := gwlbtest.New(t, 1)
	app := startEcho(t, r.Appliances[0], r.ApplianceIPs[0])
	pcap, stopCapture := gwlbtest.Capture(t, r.Appliances[0])
	g := r.StartGWLB(t, wbBin, "--health", "tcp:8080", "--health-interval", "200ms",
		"--endpoint-id", "0x0102030405060708", "--attachment-id", "0x1112131415161718")
	g.WaitLog(t, "appliance health", "to=healthy")

	t.Run("ping", func(t *testing.T) {
		out := run(t, gwlbtest.Cmd(r.Client, "ping", "-c", "10", "-i", "0.2", "-W", "5", r.ServerIP.String()))
		if !strings.Contains(out, "10 packets transmitted, 10 received") {
			t.Errorf("ping through the GWLB:\n%s", out)
		}
	})
	t.Run("ping ipv6", func(t *testing.T) {
		out := run(t, gwlbtest.Cmd(r.Client, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "5", r.ServerIP6.String()))
		if !strings.Contains(out, "3 packets transmitted, 3 received") {
			t.Errorf("ping -6 through the GWLB:\n%s", out)
		}
	})
	t.Run("nc udp", func(t *testing.T) {
		var srv *net.UDPConn
		netnstest.Do(t, r.Server, func() {
			var err error
			if srv, err = net.ListenUDP("udp4", &net.UDPAddr{IP: r.ServerIP.AsSlice(), Port: 3000}); err != nil {
				t.Fatal(err)
			}
		})
		defer srv.Close()
		payloads := []string{"test", "drop me", "weakly typed programming language", "\x00\x01\xff binary \r\n"}
		for _, p := range payloads {
			cmd := gwlbtest.Cmd(r.Client, "nc", "-u", "-w", "1", r.ServerIP.String(), "3000")
			cmd.Stdin = strings.NewReader(p)
			run(t, cmd)
			buf := make([]byte, 2048)
			_ = srv.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang detector
			n, _, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("payload %q did not arrive: %v", p, err)
			}
			if string(buf[:n]) != p {
				t.Errorf("sent %q, the server got %q", p, buf[:n])
			}
		}
	})
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
			t.Errorf("downloaded %d bytes, sha256 %x; want %d bytes, %x", len(got), sha256.Sum256(got), len(blob), sha256.Sum256(blob))
		}
	})
	t.Run("jumbo 8500", func(t *testing.T) {
		// 8,472 bytes of ICMP data + 8 ICMP + 20 IPv4 = an 8,500-byte inner packet, DF set.
		out := run(t, gwlbtest.Cmd(r.Client, "ping", "-c", "3", "-i", "0.2", "-W", "5", "-M", "do", "-s", "8472", r.ServerIP.String()))
		if !strings.Contains(out, "3 packets transmitted, 3 received") {
			t.Errorf("8,500-byte ping through the GWLB:\n%s", out)
		}
		// Geneve header (8) + AWS options (32) + the inner packet.
		if got := app.maxLen.Load(); got != 8500+40 {
			t.Errorf("largest Geneve payload at the appliance %d bytes, want %d", got, 8540)
		}
	})

	stopCapture()
	out, err := g.Stop(t)
	if err != nil || !strings.Contains(out, "stopped;") {
		t.Errorf("SIGTERM: %v\n%s\nstderr:\n%s", err, out, g.Stderr())
	}
	// The kernel's own multicast listener reports on the TUN are dropped;
	// nothing else may be.
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "dropped") && !strings.Contains(l, "dropped link_local") {
			t.Errorf("the GWLB dropped packets: %s\n%s", l, out)
		}
	}
	checkWire(t, pcap, r)
	// The rig's TUN is persistent: the GWLB attached to it and leaves it.
	run(t, exec.Command("ip", "-n", r.GWLB, "link", "show", r.TUN))
}

// checkWire checks every Geneve packet the GWLB sent, with tshark: outer and
// inner IPv4, UDP, TCP and ICMP checksums good, the three AWS options with
// the ids given, and one flow cookie for both directions of the ping flow.
func checkWire(t *testing.T, pcap string, r *gwlbtest.Rig) {
	t.Helper()
	out := stdout(t, exec.Command("tshark", "-n", "-r", pcap,
		"-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
		"-Y", "ip.src == "+r.GWLBIP.String(), "-T", "fields", "-E", "separator=|",
		"-e", "ip.checksum.status", "-e", "udp.checksum.status", "-e", "tcp.checksum.status",
		"-e", "icmp.checksum.status", "-e", "icmpv6.checksum.status",
		"-e", "geneve.option.class", "-e", "geneve.option.type", "-e", "geneve.option.unknown.data",
		"-e", "ip.src", "-e", "icmp.type", "-e", "frame.len"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 40 {
		t.Fatalf("%d Geneve packets from the GWLB in the capture, want the test's traffic:\n%s", len(lines), out)
	}
	pingCookies := map[string]bool{}
	jumbo := 0
	verified := map[string]int{} // inner checksums tshark found good, by protocol

	for _, l := range lines {
		f := strings.Split(l, "|")
		if len(f) != 11 {
			t.Fatalf("tshark line %q", l)
		}
		for i, name := range []string{"ip", "udp", "tcp", "icmp", "icmpv6"} {
			for _, s := range strings.Split(f[i], ",") {
				if s != "" && s != "1" { // 1: good
					t.Errorf("%s checksum status %s (0 bad, 2 unverified) in %q", name, s, l)
				}
			}
		}
		switch {
		case f[1] == "1,1":
			verified["udp"]++
		case f[2] == "1":
			verified["tcp"]++
		case f[3] == "1":
			verified["icmp"]++
		case f[4] == "1":
			verified["icmpv6"]++
		}
		if f[0] != "1,1" && f[0] != "1" {
			t.Errorf("ip checksum statuses %q", f[0])
		}
		if f[5] != "0x0108,0x0108,0x0108" || f[6] != "1,2,3" && f[6] != "0x01,0x02,0x03" {
			t.Errorf("Geneve options class %s type %s, want the three AWS options", f[5], f[6])
		}
		d := strings.Split(f[7], ",")
		if len(d) != 3 || d[0] != "0102030405060708" || d[1] != "1112131415161718" || len(d[2]) != 8 {
			t.Errorf("Geneve option data %q, want the endpoint id, the attachment id and a 4-byte cookie", f[7])
			continue
		}
		srcs := strings.Split(f[8], ",")
		if f[9] == "8" || f[9] == "0" { // echo request or reply, IPv4 ping flows
			if len(srcs) == 2 && (srcs[1] == r.ClientIP.String() || srcs[1] == r.ServerIP.String()) && f[10] == "166" {
				pingCookies[d[2]] = true // the 10-packet ping, both directions (84-byte inner packets; 14+20+8+40 bytes before them)
			}
		}
		if f[9] != "" && f[10] == fmt.Sprint(14+20+8+40+8500) {
			jumbo++
		}
	}
	for _, p := range []string{"udp", "tcp", "icmp", "icmpv6"} {
		if verified[p] == 0 {
			t.Errorf("no inner %s checksum verified good by tshark (%v): the check checked nothing", p, verified)
		}
	}
	if len(pingCookies) != 1 {
		t.Errorf("ping flows' cookies: %v", pingCookies)
	}
	if jumbo != 6 {
		t.Errorf("%d whole 8,500-byte inner ICMP packets on the wire from the GWLB, want 6 (3 requests, 3 replies)", jumbo)
	}
}

// TestGWLBCreatesAndRemovesTUN: a TUN the GWLB creates carries the MTU and
// address given and is gone after SIGTERM.
func TestGWLBCreatesAndRemovesTUN(t *testing.T) {
	r := gwlbtest.New(t, 1)
	startEcho(t, r.Appliances[0], r.ApplianceIPs[0])
	g := r.StartGWLB(t, wbBin, "--tun", "gwlbtest1", "--addr", "10.9.9.1/24", "--mtu", "9000")
	out := run(t, exec.Command("ip", "-n", r.GWLB, "addr", "show", "gwlbtest1"))
	if !strings.Contains(out, "mtu 9000") || !strings.Contains(out, "10.9.9.1/24") || !strings.Contains(out, ",UP") {
		t.Errorf("the TUN:\n%s", out)
	}
	if out, err := g.Stop(t); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, out)
	}
	if out, err := exec.Command("ip", "-n", r.GWLB, "link", "show", "gwlbtest1").CombinedOutput(); err == nil {
		t.Errorf("the TUN is still there after the GWLB stopped:\n%s", out)
	}
}

// TestGWLBFailover: two appliances share the flows; when one dies its HTTP
// health check fails, it is marked unhealthy, and its flows move to the other: every
// datagram still reaches the server.
func TestGWLBFailover(t *testing.T) {
	r := gwlbtest.New(t, 2)
	apps := []*echoApp{startEcho(t, r.Appliances[0], r.ApplianceIPs[0]), startEcho(t, r.Appliances[1], r.ApplianceIPs[1])}
	g := r.StartGWLB(t, wbBin, "--health", "http:8080/healthz", "--health-interval", "100ms", "--health-timeout", "1s",
		"--unhealthy-threshold", "2", "--healthy-threshold", "2")
	for _, ip := range r.ApplianceIPs {
		g.WaitLog(t, "appliance="+ip.String()+":6081", "to=healthy")
	}

	var srv *net.UDPConn
	const flows = 64
	clients := make([]*net.UDPConn, flows)
	netnstest.Do(t, r.Server, func() {
		var err error
		if srv, err = net.ListenUDP("udp4", &net.UDPAddr{IP: r.ServerIP.AsSlice(), Port: 3000}); err != nil {
			t.Fatal(err)
		}
	})
	defer srv.Close()
	netnstest.Do(t, r.Client, func() {
		for i := range clients {
			c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: r.ServerIP.AsSlice(), Port: 3000})
			if err != nil {
				t.Fatal(err)
			}
			clients[i] = c
			t.Cleanup(func() { c.Close() })
		}
	})
	// round sends one datagram per flow and waits until the server has them all.
	round := func(tag string) {
		t.Helper()
		want := map[string]bool{}
		for i, c := range clients {
			m := fmt.Sprintf("%s %d", tag, i)
			want[m] = true
			if _, err := c.Write([]byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		buf := make([]byte, 2048)
		for len(want) > 0 {
			_ = srv.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang detector
			n, _, err := srv.ReadFromUDPAddrPort(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%s: %d datagrams never reached the server (e.g. %v)", tag, len(want), want)
			} else if err != nil {
				t.Fatal(err)
			}
			delete(want, string(buf[:n]))
		}
	}
	round("before")
	for i, a := range apps {
		if a.packets.Load() == 0 {
			t.Errorf("appliance %d got none of %d flows: not hashed over both", i+1, flows)
		}
	}

	apps[0].kill()
	g.WaitLog(t, "appliance="+r.ApplianceIPs[0].String()+":6081", "from=healthy", "to=unhealthy")
	before := apps[1].packets.Load()
	round("after")
	if got := apps[1].packets.Load() - before; got != flows {
		t.Errorf("after appliance 1 died, appliance 2 got %d datagrams, want all %d", got, flows)
	}

	out, err := g.Stop(t)
	if err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, out)
	}
	if !strings.Contains(out, r.ApplianceIPs[0].String()+":6081: ") || !strings.Contains(out, "unhealthy") {
		t.Errorf("final stats do not show appliance 1 unhealthy:\n%s", out)
	}
}

// TestGWLBOversize: with the TUN's MTU raised past what the appliances'
// link carries (9,000 + 68 > 9,001), a 9,000-byte packet is not cut or
// fragmented: it is dropped and counted as oversize, while 8,500-byte
// packets still go through.
func TestGWLBOversize(t *testing.T) {
	r := gwlbtest.New(t, 1)
	startEcho(t, r.Appliances[0], r.ApplianceIPs[0])
	g := r.StartGWLB(t, wbBin, "--mtu", "9000")
	out, err := gwlbtest.Cmd(r.Client, "ping", "-c", "2", "-i", "0.2", "-W", "2", "-M", "do", "-s", "8972", r.ServerIP.String()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "2 packets transmitted, 0 received") {
		t.Errorf("9,000-byte ping: %v\n%s", err, out)
	}
	run(t, gwlbtest.Cmd(r.Client, "ping", "-c", "2", "-i", "0.2", "-W", "5", "-M", "do", "-s", "8472", r.ServerIP.String()))
	stats, err := g.Stop(t)
	if err != nil || !strings.Contains(stats, "dropped oversize: 2\n") {
		t.Errorf("stats (%v):\n%s", err, stats)
	}
}

// TestGWLBTUNDeleted: when its TUN is deleted under it, the GWLB stops with
// an error (exit 1) instead of running on without a data path.
func TestGWLBTUNDeleted(t *testing.T) {
	r := gwlbtest.New(t, 1)
	startEcho(t, r.Appliances[0], r.ApplianceIPs[0])
	g := r.StartGWLB(t, wbBin)
	run(t, exec.Command("ip", "-n", r.GWLB, "link", "del", r.TUN))
	g.WaitLog(t, "tun read")
	out, err := g.Stop(t)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit %v, want 1\nstdout:\n%s\nstderr:\n%s", err, out, g.Stderr())
	}
}
