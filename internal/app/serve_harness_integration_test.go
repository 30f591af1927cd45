//go:build integration

package app

// The harness of the `wirebridge serve` integration tests: TestMain builds
// the real binary; each test runs it as a child process in a network
// namespace of its own (so the default ports are free, the raw source sees
// only the test's traffic and the kernel's UDP counters are the test's
// alone) with real clients (logger, dig, curl) inside the same namespace.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/bintest"

	"github.com/wirebridge/wirebridge/internal/netnstest"
)

// wbBin is the wirebridge binary TestMain built.
var wbBin string

func TestMain(m *testing.M) { bintest.Main(m, &wbBin) }

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required (scripts/deps.sh installs it): %v", name, err)
	}
	return p
}

// ---- network namespaces ----

type netns struct{ name string }

func newNetns(t *testing.T) *netns { return &netns{name: netnstest.New(t, "wbapp")} }

// do runs fn on an OS thread switched into the namespace; sockets opened by fn
// belong to the namespace for their whole life.
func (n *netns) do(t testing.TB, fn func()) { netnstest.Do(t, n.name, fn) }

// command returns cmd run inside the namespace.
func (n *netns) command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.name, name}, args...)...)
}

// run runs a client inside the namespace and returns its combined output.
func (n *netns) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	needTool(t, name)
	out, err := n.command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// httpClient dials inside the namespace.
func (n *netns) httpClient(t testing.TB) *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var c net.Conn
				var err error
				n.do(t, func() { c, err = (&net.Dialer{}).DialContext(ctx, network, addr) })
				return c, err
			},
		},
	}
}

// udpSnmp returns the Udp: counters of /proc/net/snmp inside the namespace.
func (n *netns) udpSnmp(t *testing.T) map[string]uint64 { return netnstest.UDPCounters(t, n.name) }

// ---- HTTP sink (the http target's peer) ----

// sink is an HTTP server inside the namespace that records what it receives
// and answers with a status the test sets.
type sink struct {
	url    string
	status atomic.Int32
	mu     sync.Mutex
	reqs   []sinkReq
	srv    *http.Server
}

type sinkReq struct {
	ID   string // X-Wirebridge-Event-Id
	Body []byte
}

// newSink serves on addr ("127.0.0.1:0" for any port) inside ns.
func newSink(t *testing.T, ns *netns, addr string) *sink {
	t.Helper()
	var ln net.Listener
	var err error
	ns.do(t, func() { ln, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{url: "http://" + ln.Addr().String() + "/events"}
	s.status.Store(http.StatusOK)
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		code := int(s.status.Load())
		if code/100 == 2 {
			s.mu.Lock()
			s.reqs = append(s.reqs, sinkReq{ID: r.Header.Get("X-Wirebridge-Event-Id"), Body: b})
			s.mu.Unlock()
		}
		w.WriteHeader(code)
	})}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *sink) received() []sinkReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkReq(nil), s.reqs...)
}

// ---- the wirebridge child process ----

type wbProc struct {
	t       *testing.T
	ns      *netns
	dir     string
	cfg     string // config file path ("" for the embedded default)
	cmd     *exec.Cmd
	out     *syncBuf // stdout
	errb    *syncBuf // stderr (logs)
	done    chan struct{}
	waitErr error
	http    *http.Client
	base    string
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeConfig writes a configuration file in dir.
func writeConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	p := filepath.Join(dir, "wirebridge.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startWB runs `wirebridge serve` in ns with working directory dir and
// waits for /readyz (on httpAddr) to answer 200 and the startup banner.
func startWB(t *testing.T, ns *netns, dir, cfgPath, httpAddr string, args ...string) *wbProc {
	t.Helper()
	full := []string{"serve", "--stats-interval", "1s"}
	if cfgPath != "" {
		full = append(full, "-c", cfgPath)
	}
	p := startProc(t, ns, dir, httpAddr, append(full, args...))
	p.cfg = cfgPath
	return p
}

// startProc runs wirebridge with argv (a command that serves: serve or
// replay) in ns with working directory dir, and waits for /readyz (on
// httpAddr) to answer 200 and for the startup banner.
func startProc(t *testing.T, ns *netns, dir, httpAddr string, argv []string) *wbProc {
	t.Helper()
	name := "wirebridge " + argv[0]
	p := &wbProc{t: t, ns: ns, dir: dir, out: &syncBuf{}, errb: &syncBuf{}, done: make(chan struct{}),
		http: ns.httpClient(t), base: "http://" + httpAddr}
	p.cmd = ns.command(wbBin, argv...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.errb
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if p.running() {
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr (last 6000 bytes):\n%s", name, p.out.String(), name, tail(p.errb.String(), 6000))
		}
	})
	waitFor(t, 20*time.Second, name+" ready", func() bool {
		if !p.running() {
			t.Fatalf("%s exited during startup: %v\nstdout:\n%s\nstderr:\n%s", name, p.waitErr, p.out.String(), p.errb.String())
		}
		code, _, err := p.get("/readyz")
		return err == nil && code == 200
	})
	// The banner is written, in one write, before /readyz turns ready; the
	// goroutine copying the pipe into p.out may still be on its way.
	waitFor(t, 5*time.Second, "the startup banner", func() bool {
		return strings.Contains(p.out.String()+p.errb.String(), "Events go to:")
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (p *wbProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *wbProc) pid() int { return p.cmd.Process.Pid }

func (p *wbProc) get(path string) (int, string, error) {
	resp, err := p.http.Get(p.base + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// metrics scrapes /metrics into "name{labels}" -> value.
func (p *wbProc) metrics() map[string]float64 {
	p.t.Helper()
	code, body, err := p.get("/metrics")
	if err != nil || code != 200 {
		p.t.Fatalf("GET /metrics: %d %v", code, err)
	}
	m := map[string]float64{}
	for _, l := range strings.Split(body, "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			continue
		}
		m[l[:i]] = v
	}
	return m
}

// metric reads one series, 0 when absent.
func (p *wbProc) metric(series string) float64 { return p.metrics()[series] }

// signal sends sig and, for SIGTERM/SIGINT/SIGKILL, waits for the exit.
func (p *wbProc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	if sig == syscall.SIGHUP {
		return
	}
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		p.t.Fatalf("wirebridge did not exit after %v", sig)
	}
}

// exitCode is the exit status after the process ended (-1: killed by a signal).
func (p *wbProc) exitCode() int {
	<-p.done
	return p.cmd.ProcessState.ExitCode()
}

// waitLog waits for a log line containing s.
func (p *wbProc) waitLog(s string, d time.Duration) {
	p.t.Helper()
	waitFor(p.t, d, "log line "+strconv.Quote(s), func() bool { return strings.Contains(p.errb.String(), s) })
}

// wb runs a wirebridge command (dlq, validate ...) in ns and returns its
// stdout, stderr and exit code.
func (n *netns) wb(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := n.command(wbBin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---- events ----

type testEvent struct {
	ID         string   `json:"id"`
	Source     string   `json:"source"`
	DetailType string   `json:"detail-type"`
	Resources  []string `json:"resources"`
	Detail     struct {
		Listener string
		Source   struct {
			IP   string
			Port int
		}
		Destination struct {
			IP   string
			Port int
		}
		Protocol    string
		Length      int
		Payload     string
		Truncated   bool
		DecodeError string
	} `json:"detail"`
}

func parseEvent(t *testing.T, b []byte) testEvent {
	t.Helper()
	var e testEvent
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("event %q: %v", b, err)
	}
	return e
}

func (e testEvent) payload(t *testing.T) []byte {
	t.Helper()
	p, err := base64.StdEncoding.DecodeString(e.Detail.Payload)
	if err != nil {
		t.Fatalf("payload %q: %v", e.Detail.Payload, err)
	}
	return p
}

// readNDJSON reads every line of the files matching glob.
func readNDJSON(t *testing.T, glob string) [][]byte {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			if len(sc.Bytes()) > 0 {
				lines = append(lines, append([]byte(nil), sc.Bytes()...))
			}
		}
		fh.Close()
	}
	return lines
}
