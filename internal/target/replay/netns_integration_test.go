//go:build integration

package replay

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/netnstest"
	"github.com/wirebridge/wirebridge/internal/source"
	"github.com/wirebridge/wirebridge/internal/tcpreasm"
)

// Real kernel mirroring between network namespaces:
//
//	cl (curl, 10.10.1.1) ──veth── sv (server, 10.10.1.2; tc clsact + u32 + mirred on sv0 → vxlan wbm)
//	                               sv (10.10.2.2) ──veth── wb (10.10.2.1:4789: the vxlan source)
//
// The replay target (in this process) sends to a shadow server on loopback.
// The shadow must receive the same requests as the real server: method,
// path, headers and SHA-256 of the body.

type nsh struct{ name string }

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newNS(t *testing.T, tag string) *nsh { return &nsh{netnstest.New(t, "wbrp-"+tag)} }

func (n *nsh) ip(t *testing.T, args ...string) {
	run(t, "ip", append([]string{"-n", n.name}, args...)...)
}
func (n *nsh) exec(t *testing.T, name string, args ...string) string {
	return run(t, "ip", append([]string{"netns", "exec", n.name, name}, args...)...)
}

// do runs fn on a thread inside the namespace; sockets it opens stay there.
func (n *nsh) do(t *testing.T, fn func()) { netnstest.Do(t, n.name, fn) }

// recorder is an HTTP server recording what it receives.
type recorder struct {
	mu   sync.Mutex
	reqs []string // "METHOD URI\nheaders\nsha"
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	n, _ := io.Copy(h, r.Body)
	var hb bytes.Buffer
	r.Header.Write(&hb)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, fmt.Sprintf("%s %s host=%s len=%d sha=%x\n%s", r.Method, r.RequestURI, r.Host, n, h.Sum(nil), hb.String()))
	rc.mu.Unlock()
	fmt.Fprintf(w, "ok %s", r.RequestURI)
}

func (rc *recorder) list() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.reqs...)
}

func TestKernelMirrorReplay(t *testing.T) {
	for _, tool := range []string{"ip", "tc", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (scripts/deps.sh installs it)", tool)
		}
	}
	cl, sv, wb := newNS(t, "cl"), newNS(t, "sv"), newNS(t, "wb")
	cl.ip(t, "link", "add", "cl0", "type", "veth", "peer", "name", "sv0", "netns", sv.name)
	sv.ip(t, "link", "add", "wbp", "type", "veth", "peer", "name", "wb0", "netns", wb.name)
	cl.ip(t, "addr", "add", "10.10.1.1/24", "dev", "cl0")
	cl.ip(t, "addr", "add", "fd00:10::1/64", "dev", "cl0", "nodad")
	sv.ip(t, "addr", "add", "10.10.1.2/24", "dev", "sv0")
	sv.ip(t, "addr", "add", "fd00:10::2/64", "dev", "sv0", "nodad")
	sv.ip(t, "addr", "add", "10.10.2.2/24", "dev", "wbp")
	wb.ip(t, "addr", "add", "10.10.2.1/24", "dev", "wb0")
	sv.ip(t, "link", "set", "wbp", "mtu", "9000")
	wb.ip(t, "link", "set", "wb0", "mtu", "9000")
	for _, l := range []struct {
		n   *nsh
		dev string
	}{{cl, "cl0"}, {sv, "sv0"}, {sv, "wbp"}, {wb, "wb0"}} {
		l.n.ip(t, "link", "set", l.dev, "up")
	}
	mirror := func(vni int) {
		_ = exec.Command("ip", "-n", sv.name, "link", "del", "wbm").Run()
		_ = exec.Command("ip", "netns", "exec", sv.name, "tc", "qdisc", "del", "dev", "sv0", "clsact").Run()
		sv.ip(t, "link", "add", "wbm", "type", "vxlan", "id", fmt.Sprint(vni), "remote", "10.10.2.1", "dstport", "4789", "dev", "wbp")
		sv.ip(t, "link", "set", "wbm", "mtu", "8950")
		sv.ip(t, "link", "set", "wbm", "up")
		sv.exec(t, "tc", "qdisc", "add", "dev", "sv0", "clsact")
		for _, dir := range []string{"ingress", "egress"} {
			sv.exec(t, "tc", "filter", "add", "dev", "sv0", dir, "protocol", "all", "u32", "match", "u32", "0", "0",
				"action", "mirred", "egress", "mirror", "dev", "wbm")
		}
	}
	mirror(42)
	// tc sees GSO packets (up to 64 KiB) before segmentation, and the vxlan
	// device sends them as one datagram: the source reads 64 KiB datagrams.

	// The real server in sv, the shadow on loopback here.
	real, shadowRec := &recorder{}, &recorder{}
	var l4, l6 net.Listener
	sv.do(t, func() {
		var err error
		if l4, err = net.Listen("tcp4", "10.10.1.2:80"); err != nil {
			t.Fatal(err)
		}
		if l6, err = net.Listen("tcp6", "[fd00:10::2]:80"); err != nil {
			t.Fatal(err)
		}
	})
	for _, l := range []net.Listener{l4, l6} {
		srv := &http.Server{Handler: real}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
	}
	shadowL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	shadowSrv := &http.Server{Handler: shadowRec}
	go shadowSrv.Serve(shadowL)
	t.Cleanup(func() { shadowSrv.Close() })

	tg, err := New(Config{Name: "shadow", URL: "http://" + shadowL.Addr().String(), KeepHost: true, Limits: tcpreasm.Limits{ServerPorts: []uint16{80}}})
	if err != nil {
		t.Fatal(err)
	}
	var src *source.VXLAN
	wb.do(t, func() {
		src, err = source.NewVXLAN(source.VXLANConfig{Common: source.Common{Name: "mirror", MaxDatagram: 65535}, Listen: []string{"10.10.2.1:4789"},
			VNI: []uint32{42}, RecvBuffer: 16 << 20})
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srcDone := make(chan error, 1)
	go func() {
		srcDone <- src.Run(ctx, func(b source.Batch) {
			ds := make([]handoff.Delivery, len(b.Frames))
			for i, f := range b.Frames {
				ds[i] = handoff.Delivery{Frame: append([]byte(nil), f.Data...), Capture: f.Info}
			}
			_ = tg.Send(ctx, ds)
		})
	}()

	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	body := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16) // 5 MiB
	if err := os.WriteFile(big, body, 0o644); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "small")
	os.WriteFile(small, []byte(strings.Repeat("chunk of upload data\n", 3000)), 0o644)

	waitSame := func(t *testing.T, what string, from int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			r, s := real.list()[from:], shadowRec.list()[min(from, len(shadowRec.list())):]
			if len(s) >= len(r) || time.Now().After(deadline) {
				if len(s) != len(r) {
					st := tg.Stats()
					t.Fatalf("%s: real server got %d requests, shadow %d; stats %+v src %+v vni-dropped %d", what, len(r), len(s), st, src.Stats().Snapshot(), src.VNIDropped())
				}
				for i := range r {
					if r[i] != s[i] {
						t.Fatalf("%s: request %d differs:\nreal:   %s\nshadow: %s", what, i, r[i], s[i])
					}
				}
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	step := func(name string, fn func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			from := len(real.list())
			if len(shadowRec.list()) != from {
				t.Fatalf("shadow out of step before %s", name)
			}
			fn(t)
			waitSame(t, name, from)
			if n := len(real.list()) - from; n == 0 {
				t.Fatalf("%s: the real server received nothing", name)
			}
		})
	}
	step("1000 keep-alive requests", func(t *testing.T) {
		cl.exec(t, "curl", "-sS", "-o", "/dev/null", "http://10.10.1.2/keepalive/[1-1000]?x=y")
		if n := len(real.list()); n < 1000 {
			t.Fatalf("real server got %d", n)
		}
	})
	step("100 pipelined requests", func(t *testing.T) {
		var c net.Conn
		cl.do(t, func() { c, err = net.Dial("tcp4", "10.10.1.2:80") })
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var b bytes.Buffer
		for i := range 100 {
			fmt.Fprintf(&b, "GET /pipelined/%d HTTP/1.1\r\nHost: 10.10.1.2\r\nX-Seq: %d\r\n\r\n", i, i)
		}
		if _, err := c.Write(b.Bytes()); err != nil { // all 100 requests before any response
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		for i := range 100 {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("response %d: %v", i, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	step("5 MB POST", func(t *testing.T) {
		cl.exec(t, "curl", "-sS", "-o", "/dev/null", "--data-binary", "@"+big, "-H", "Content-Type: application/octet-stream", "http://10.10.1.2/upload")
	})
	step("chunked uploads", func(t *testing.T) {
		for i := range 3 {
			cl.exec(t, "curl", "-sS", "-o", "/dev/null", "-H", "Transfer-Encoding: chunked", "--data-binary", "@"+small, fmt.Sprintf("http://10.10.1.2/chunked/%d", i))
		}
	})
	step("IPv6", func(t *testing.T) {
		args := []string{"-sS", "-g"}
		for i := range 20 { // one keep-alive connection over IPv6
			args = append(args, "-o", "/dev/null", fmt.Sprintf("http://[fd00:10::2]/v6/%d", i))
		}
		cl.exec(t, "curl", args...)
		if n := len(real.list()); !strings.Contains(real.list()[n-20], "/v6/0 ") {
			t.Fatalf("the real server did not get 20 IPv6 requests")
		}
	})
	t.Run("VNI 43 ignored", func(t *testing.T) {
		mirror(43)
		before, dropped := len(shadowRec.list()), src.VNIDropped()
		cl.exec(t, "curl", "-sS", "-o", "/dev/null", "http://10.10.1.2/vni43/[1-10]")
		time.Sleep(time.Second)
		if n := len(shadowRec.list()); n != before {
			t.Errorf("shadow got %d requests from VNI 43", n-before)
		}
		if src.VNIDropped() == dropped {
			t.Error("no VNI-43 packet was counted as dropped")
		}
	})
	cancel()
	<-srcDone
	tg.Close()
	st := tg.Stats()
	t.Logf("real server: %d requests, shadow: %d", len(real.list()), len(shadowRec.list()))
	t.Logf("replay stats: forwarded %d, gaps %d, retransmitted %d, out of order %d, dropped %v, errors %v",
		st.RequestsForwarded, st.Reasm.Gaps, st.Reasm.Retransmitted, st.Reasm.OutOfOrder, st.Dropped, st.Errors)
	if st.Reasm.Gaps != 0 {
		t.Errorf("gaps = %d on a lossless mirror path", st.Reasm.Gaps)
	}
}
