//go:build integration

package replay

// The replay comparison harness: the same VXLAN mirror traffic (HTTP/1.1
// keep-alive POSTs with bodies of 0 to 3 KB, both directions mirrored, inner
// frames of at most 1,514 bytes) is sent over loopback UDP to `wirebridge
// replay` and, when WB_GOREPLAY names a GoReplay binary, to `gor
// --input-raw-engine vxlan`, one after the other, each replaying to its own
// loopback shadow. The shadow checks every body against the SHA-256 the
// request carries (full fidelity). Reported per tool and load: requests
// delivered / sent, requests with a wrong body, requests/s (first datagram
// sent to last request received) and CPU of the replaying process per 1,000
// requests (utime+stime from /proc), plus the datagrams the kernel dropped
// on the replaying process's socket (its receive buffer was full). Two loads: WB_COMPARE_PPS
// datagrams/s (default 5,000, about 1,800 requests/s) and unpaced.
//
//	go test -tags integration ./internal/target/replay/ -run TestReplayCompare -v
//	WB_GOREPLAY=/tmp/goreplay/gor WB_COMPARE_CONNS=100 WB_COMPARE_PER_CONN=200 go test -tags integration ./internal/target/replay/ -run TestReplayCompare -v
//
// The harness never builds or fetches GoReplay. Without WB_GOREPLAY it runs
// wirebridge alone, at a small size, and checks that every replayed body is
// right, none twice, and that a missing request is accounted for by a counted
// drop or gap (whether loss happens under load is timing; silent loss is not).

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/bintest"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// compareTraffic is the VXLAN payloads (VXLAN header + inner Ethernet frame)
// of conns keep-alive connections with perConn POSTs each, interleaved by
// request round as a mirror would see concurrent connections.
func compareTraffic(conns, perConn int) (datagrams [][]byte, requests int) {
	const mss = 1448
	type state struct{ cseq, sseq uint32 }
	st := make([]state, conns)
	srv := netip.MustParseAddr("10.9.9.9")
	eth := packet.Eth{Src: [6]byte{2, 0, 0, 0, 0, 1}, Dst: [6]byte{2, 0, 0, 0, 0, 2}}
	add := func(i int, fromClient bool, flags uint16, payload []byte) {
		cli := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		cp := uint16(20000 + i)
		var inner []byte
		if fromClient {
			inner = packet.Build(eth, packet.IPv4{Src: cli, Dst: srv},
				packet.TCP{Src: cp, Dst: 80, Seq: st[i].cseq, Ack: st[i].sseq, Flags: flags, Window: 65535}, packet.Payload(payload))
		} else {
			inner = packet.Build(eth, packet.IPv4{Src: srv, Dst: cli},
				packet.TCP{Src: 80, Dst: cp, Seq: st[i].sseq, Ack: st[i].cseq, Flags: flags, Window: 65535}, packet.Payload(payload))
		}
		n := uint32(len(payload))
		if flags&(packet.TCPSyn|packet.TCPFin) != 0 {
			n++
		}
		if fromClient {
			st[i].cseq += n
		} else {
			st[i].sseq += n
		}
		d := make([]byte, 8, 8+len(inner))
		d[0] = 0x08
		binary.BigEndian.PutUint32(d[4:], 42<<8)
		datagrams = append(datagrams, append(d, inner...))
	}
	for i := range conns {
		st[i] = state{cseq: uint32(i) * 7919, sseq: uint32(i)*104729 + 0xFFFFF000} // server side wraps 2^32
		add(i, true, packet.TCPSyn, nil)
		add(i, false, packet.TCPSyn|packet.TCPAck, nil)
		add(i, true, packet.TCPAck, nil)
	}
	for r := range perConn {
		for i := range conns {
			body := make([]byte, (i*131+r*977)%3072)
			for k := range body {
				body[k] = byte('a' + (i+r+k)%26)
			}
			sum := sha256.Sum256(body)
			req := fmt.Appendf(nil, "POST /r/%d/%d HTTP/1.1\r\nHost: shop.example\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\nX-Body-Sha256: %s\r\n\r\n",
				i, r, len(body), hex.EncodeToString(sum[:]))
			req = append(req, body...)
			for off := 0; off < len(req); off += mss {
				add(i, true, packet.TCPAck|packet.TCPPsh, req[off:min(off+mss, len(req))])
			}
			add(i, false, packet.TCPAck|packet.TCPPsh, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
			requests++
		}
	}
	for i := range conns {
		add(i, true, packet.TCPFin|packet.TCPAck, nil)
		add(i, false, packet.TCPFin|packet.TCPAck, nil)
		add(i, true, packet.TCPAck, nil)
	}
	return datagrams, requests
}

// compareShadow counts requests by URI and checks each body's SHA-256.
type compareShadow struct {
	url     string
	srv     *http.Server
	mu      sync.Mutex
	seen    map[string]int
	total   int
	badBody int
	last    time.Time
}

func newCompareShadow(t *testing.T) *compareShadow {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &compareShadow{url: "http://" + ln.Addr().String(), seen: map[string]int{}}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		io.Copy(h, r.Body)
		ok := hex.EncodeToString(h.Sum(nil)) == r.Header.Get("X-Body-Sha256")
		s.mu.Lock()
		s.seen[r.URL.Path]++
		s.total++
		if !ok {
			s.badBody++
		}
		s.last = time.Now()
		s.mu.Unlock()
		w.Write([]byte("ok"))
	})}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *compareShadow) snapshot() (unique, total, bad int, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen), s.total, s.badBody, s.last
}

// procCPU is the utime+stime of pid.
func procCPU(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+stt) * 10 * time.Millisecond // USER_HZ = 100
}

// socketDrops sums the kernel's drop counters (the last column of
// /proc/net/udp and udp6) of the sockets bound to UDP port: datagrams lost
// because the replaying process did not read them in time.
func socketDrops(port int) uint64 {
	var n uint64
	for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			fs := strings.Fields(l)
			if len(fs) < 13 || !strings.HasSuffix(fs[1], fmt.Sprintf(":%04X", port)) {
				continue
			}
			v, _ := strconv.ParseUint(fs[len(fs)-1], 10, 64)
			n += v
		}
	}
	return n
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
}

// udpBound reports whether some socket is bound to UDP port (IPv4, or IPv6
// dual-stack as gor's).
func udpBound(port int) bool {
	for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), fmt.Sprintf(":%04X ", port)) {
			return true
		}
	}
	return false
}

// send writes the datagrams to addr at pps datagrams per second (0: as fast
// as the socket goes).
func send(t *testing.T, addr string, datagrams [][]byte, pps int) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	for i, d := range datagrams {
		if _, err := c.Write(d); err != nil {
			t.Fatal(err)
		}
		if pps > 0 && i%50 == 49 {
			if ahead := time.Duration(i+1)*time.Second/time.Duration(pps) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
	}
}

type compareResult struct {
	tool, load                string
	sent, delivered, bad, dup int
	reqPerSec                 float64
	cpuPer1000                time.Duration
	kernelDrops               uint64
	extra                     string
}

// runTool starts a replaying process with cmd (listening for VXLAN on
// udpPort), sends the traffic and waits until the shadow saw every request
// or nothing arrived for settle.
func runTool(t *testing.T, tool, load string, args []string, udpPort int, ready func() bool, datagrams [][]byte, requests, pps int,
	shadow *compareShadow, after func(*exec.Cmd) string) compareResult {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	var logs strings.Builder
	var lmu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) { lmu.Lock(); logs.Write(p); lmu.Unlock() })
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			lmu.Lock()
			t.Logf("%s output:\n%s", tool, logs.String())
			lmu.Unlock()
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !ready() {
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready", tool) // the deferred function logs its output
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	drops0, cpu0 := socketDrops(udpPort), procCPU(t, cmd.Process.Pid)
	t0 := time.Now()
	send(t, fmt.Sprintf("127.0.0.1:%d", udpPort), datagrams, pps)
	// gor completes a message after --input-raw-expire (2 s) without packets.
	const settle = 5 * time.Second
	prev, since := -1, time.Now()
	for {
		_, total, _, _ := shadow.snapshot()
		if total >= requests {
			break
		}
		if total != prev {
			prev, since = total, time.Now()
		} else if time.Since(since) > settle {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cpu := procCPU(t, cmd.Process.Pid) - cpu0
	unique, total, bad, last := shadow.snapshot()
	r := compareResult{tool: tool, load: load, sent: requests, delivered: unique, bad: bad, dup: total - unique,
		kernelDrops: socketDrops(udpPort) - drops0}
	if total > 0 {
		r.reqPerSec = float64(total) / last.Sub(t0).Seconds()
		r.cpuPer1000 = cpu * 1000 / time.Duration(total)
	}
	if after != nil {
		r.extra = after(cmd)
	}
	return r
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// metricsOf scrapes a Prometheus endpoint into "name{labels}" -> value.
func metricsOf(url string) map[string]float64 {
	m := map[string]float64{}
	resp, err := http.Get(url)
	if err != nil {
		return m
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		if i := strings.LastIndexByte(l, ' '); i > 0 {
			if v, err := strconv.ParseFloat(l[i+1:], 64); err == nil {
				m[l[:i]] = v
			}
		}
	}
	return m
}

func TestReplayCompare(t *testing.T) {
	conns := envInt("WB_COMPARE_CONNS", 20)
	perConn := envInt("WB_COMPARE_PER_CONN", 50)
	moderate := envInt("WB_COMPARE_PPS", 5000) // datagrams/s of the moderate load
	gor := os.Getenv("WB_GOREPLAY")
	datagrams, requests := compareTraffic(conns, perConn)
	t.Logf("traffic: %d connections x %d requests = %d requests in %d VXLAN datagrams", conns, perConn, requests, len(datagrams))

	wb := bintest.Build(t)

	var results []compareResult
	for _, load := range []struct {
		name string
		pps  int
	}{{fmt.Sprintf("moderate (%d datagrams/s)", moderate), moderate}, {"max (sender unpaced)", 0}} {
		{
			shadow := newCompareShadow(t)
			udp, httpPort := freePort(t, "udp"), freePort(t, "tcp")
			metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)
			args := []string{wb, "replay", "--vni", "42", "--port", "80", "--to", shadow.url,
				"--listen", fmt.Sprintf("127.0.0.1:%d", udp), "--http", fmt.Sprintf("127.0.0.1:%d", httpPort)}
			ready := func() bool {
				resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", httpPort))
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == 200
			}
			var counted float64 // losses wirebridge counted: drops and gaps
			r := runTool(t, "wirebridge", load.name, args, udp, ready, datagrams, requests, load.pps, shadow, func(*exec.Cmd) string {
				m := metricsOf(metricsURL)
				counted = sumPrefix(m, "wirebridge_source_dropped_total") + sumPrefix(m, "wirebridge_pipeline_dropped_total") +
					sumPrefix(m, "wirebridge_deliver_dropped_total") + m[`wirebridge_replay_gaps_total{target="shadow"}`] +
					sumPrefix(m, "wirebridge_replay_requests_dropped_total")
				return fmt.Sprintf("drops: source %v, pipeline %v, deliver queue %v; gaps %v, replay errors %v",
					sumPrefix(m, "wirebridge_source_dropped_total"), sumPrefix(m, "wirebridge_pipeline_dropped_total"),
					sumPrefix(m, "wirebridge_deliver_dropped_total"),
					m[`wirebridge_replay_gaps_total{target="shadow"}`], sumPrefix(m, "wirebridge_replay_target_errors_total"))
			})
			results = append(results, r)
			if r.bad != 0 {
				t.Errorf("wirebridge, %s: %d requests with a wrong body", load.name, r.bad)
			}
			if r.dup != 0 {
				t.Errorf("wirebridge, %s: %d requests delivered twice", load.name, r.dup)
			}
			// Loss under load depends on timing; loss nobody counted does not.
			if r.delivered != requests && r.kernelDrops == 0 && counted == 0 {
				t.Errorf("wirebridge, %s: %d of %d requests delivered, and no drop, gap or kernel drop counted", load.name, r.delivered, requests)
			}
		}
		if gor != "" {
			shadow := newCompareShadow(t)
			udp := freePort(t, "udp")
			args := []string{gor, "--input-raw", ":80", "--input-raw-engine", "vxlan", "--input-raw-vxlan-port", strconv.Itoa(udp),
				"--output-http", shadow.url}
			r := runTool(t, "goreplay", load.name, args, udp, func() bool { return udpBound(udp) }, datagrams, requests, load.pps, shadow, nil)
			results = append(results, r)
		}
	}
	t.Logf("%-10s | %-28s | %-22s | %-9s | %-9s | %-10s | %-14s | %-12s | %s", "tool", "load", "delivered / sent", "bad body", "repeated", "req/s", "CPU/1000 req", "kernel drops", "")
	for _, r := range results {
		t.Logf("%-10s | %-28s | %6d / %6d (%5.1f%%) | %-9d | %-9d | %-10.0f | %-14s | %-12d | %s", r.tool, r.load, r.delivered, r.sent,
			100*float64(r.delivered)/float64(r.sent), r.bad, r.dup, r.reqPerSec, r.cpuPer1000.Round(100*time.Microsecond), r.kernelDrops, r.extra)
	}
}

func sumPrefix(m map[string]float64, prefix string) float64 {
	var s float64
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			s += v
		}
	}
	return s
}
