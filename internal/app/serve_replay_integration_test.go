//go:build integration

package app

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
)

// shadowServer is the replay target's peer inside the namespace: an HTTP
// server recording every request it receives.
type shadowServer struct {
	url  string
	mu   sync.Mutex
	reqs []shadowReq
}

type shadowReq struct {
	Method, URI, Host, Remote string
	BodyLen                   int64
	BodySHA                   [32]byte
}

func newShadowServer(t *testing.T, ns *netns) *shadowServer {
	t.Helper()
	var ln net.Listener
	var err error
	ns.do(t, func() { ln, err = net.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	s := &shadowServer{url: "http://" + ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		sr := shadowReq{Method: r.Method, URI: r.RequestURI, Host: r.Host, Remote: r.RemoteAddr, BodyLen: n}
		copy(sr.BodySHA[:], h.Sum(nil))
		s.mu.Lock()
		s.reqs = append(s.reqs, sr)
		s.mu.Unlock()
		fmt.Fprint(w, "shadow")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *shadowServer) received() []shadowReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]shadowReq(nil), s.reqs...)
}

// zeekRequest is one row of a Zeek http.log.
type zeekRequest struct {
	method, host, uri string
	bodyLen           int64
}

func readZeekHTTPLog(t *testing.T, name string) []zeekRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sharedPcaps(t), name))
	if err != nil {
		t.Fatal(err)
	}
	var cols map[string]int
	var out []zeekRequest
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "#fields\t") {
			cols = map[string]int{}
			for i, c := range strings.Split(l, "\t")[1:] {
				cols[c] = i
			}
			continue
		}
		if l == "" || l[0] == '#' {
			continue
		}
		f := strings.Split(l, "\t")
		n, err := strconv.ParseInt(f[cols["request_body_len"]], 10, 64)
		if err != nil {
			t.Fatalf("%s: request_body_len %q: %v", name, f[cols["request_body_len"]], err)
		}
		out = append(out, zeekRequest{f[cols["method"]], f[cols["host"]], f[cols["uri"]], n})
	}
	if len(out) == 0 {
		t.Fatalf("%s: no rows", name)
	}
	return out
}

// captureFrames reads the Ethernet frames of a shared capture.
func captureFrames(t *testing.T, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join(sharedPcaps(t), name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capfile.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		d, info, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if info.LinkType != packet.LinkEthernet {
			t.Fatalf("%s: link type %d, want Ethernet", name, info.LinkType)
		}
		out = append(out, append([]byte(nil), d...))
	}
}

// vxlanDatagram is the UDP payload carrying an Ethernet frame in VXLAN.
func vxlanDatagram(frame []byte, vni uint32) []byte {
	b := make([]byte, 8, 8+len(frame))
	b[0] = 0x08 // I flag: the VNI is valid
	binary.BigEndian.PutUint32(b[4:], vni<<8)
	return append(b, frame...)
}

// decoyFlow is a complete HTTP request for uri to server port: traffic the
// rule must keep away from the shadow.
func decoyFlow(port uint16, uri string) [][]byte {
	eth := packet.Eth{Src: [6]byte{2, 0, 0, 0, 0, 1}, Dst: [6]byte{2, 0, 0, 0, 0, 2}}
	cli, srv := netip.MustParseAddr("192.168.1.104"), netip.MustParseAddr("63.245.209.11")
	req := []byte("GET " + uri + " HTTP/1.1\r\nHost: decoy\r\n\r\n")
	seg := func(flags uint16, seq, ack uint32, payload []byte) []byte {
		return packet.Build(eth, packet.IPv4{Src: cli, Dst: srv},
			packet.TCP{Src: 1674, Dst: port, Seq: seq, Ack: ack, Flags: flags, Window: 65535}, packet.Payload(payload))
	}
	return [][]byte{
		seg(packet.TCPSyn, 1000, 0, nil),
		seg(packet.TCPAck|packet.TCPPsh, 1001, 1, req),
		seg(packet.TCPAck|packet.TCPFin, 1001+uint32(len(req)), 1, nil),
	}
}

// TestServeVXLANReplay runs the real binary with a vxlan source and a replay
// target fed by a rule on the VNI and the original server port; the
// pipelined-requests capture, re-encapsulated in VXLAN by the test and sent
// over UDP, reaches the shadow as exactly the requests of Zeek's http.log, in
// order, on one connection. The same traffic and another request on VNI 43,
// and a request to port 81 on VNI 42, match no rule and never reach the shadow. It runs once as
// `wirebridge serve -c` and once as the short `wirebridge replay` command.
func TestServeVXLANReplay(t *testing.T) {
	frames := captureFrames(t, "zeek_http-pipelined-requests.pcap")
	want := readZeekHTTPLog(t, "zeek_http-pipelined-requests.http.log")

	for _, mode := range []string{"serve", "replay"} {
		t.Run(mode, func(t *testing.T) {
			ns := newNetns(t)
			dir := t.TempDir()
			shadow := newShadowServer(t, ns)
			var wb *wbProc
			switch mode {
			case "serve":
				cfg := writeConfig(t, dir, fmt.Sprintf(`
data_dir: %s/data
sources:
  - name: mirror
    type: vxlan
    listen: ["127.0.0.1:4789"]
rules:
  - name: replay
    pattern: {"detail": {"Tunnel": {"VNI": [42]}, "Protocol": ["tcp"], "$or": [{"Destination": {"Port": [80]}}, {"Source": {"Port": [80]}}]}}
    targets: [shadow]
targets:
  - name: shadow
    type: replay
    url: %s
    host: keep
`, dir, shadow.url))
				wb = startWB(t, ns, dir, cfg, "127.0.0.1:8080")
			case "replay":
				wb = startReplayCmd(t, ns, dir, "--vni", "42", "--port", "80", "--to", shadow.url,
					"--listen", "127.0.0.1:4789", "--http", "127.0.0.1:8080")
			}

			var conn net.Conn
			var err error
			ns.do(t, func() { conn, err = net.Dial("udp", "127.0.0.1:4789") })
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			send := func(frames [][]byte, vni uint32) {
				for _, f := range frames {
					if _, err := conn.Write(vxlanDatagram(f, vni)); err != nil {
						t.Fatal(err)
					}
					time.Sleep(100 * time.Microsecond) // stay far below the socket buffer
				}
			}
			wrongVNI, wrongPort := decoyFlow(80, "/wrong-vni"), decoyFlow(81, "/wrong-port")
			send(frames, 43)    // another mirror session: no rule
			send(wrongVNI, 43)  // ditto
			send(wrongPort, 42) // another server port: no rule
			send(frames, 42)

			waitFor(t, 20*time.Second, fmt.Sprintf("%d requests at the shadow", len(want)), func() bool {
				return len(shadow.received()) >= len(want)
			})
			// Anything extra (VNI 43, the decoy) went through the same
			// source and queue earlier, and would have arrived by now.
			time.Sleep(300 * time.Millisecond)
			got := shadow.received()
			if len(got) != len(want) {
				t.Fatalf("shadow received %d requests, http.log lists %d: %+v", len(got), len(want), got)
			}
			for i, w := range want {
				g := got[i]
				host := w.host
				if mode == "replay" { // the short command rewrites Host to the shadow's
					host = strings.TrimPrefix(shadow.url, "http://")
				}
				if g.Method != w.method || g.URI != w.uri || g.Host != host || g.BodyLen != w.bodyLen {
					t.Errorf("request %d = %s %s host %s body %d, want %s %s host %s body %d",
						i, g.Method, g.URI, g.Host, g.BodyLen, w.method, w.uri, host, w.bodyLen)
				}
				if g.Remote != got[0].Remote {
					t.Errorf("request %d on another connection (%s, first %s)", i, g.Remote, got[0].Remote)
				}
			}
			rule := "replay"
			m := wb.metrics()
			for series, v := range map[string]float64{
				`wirebridge_replay_requests_forwarded_total{target="shadow"}`:   float64(len(want)),
				`wirebridge_replay_responses_total{code="200",target="shadow"}`: float64(len(want)),
				`wirebridge_replay_gaps_total{target="shadow"}`:                 0,
				`wirebridge_replay_packets_total{target="shadow"}`:              float64(len(frames)),
				`wirebridge_source_received_total{source="mirror"}`:             float64(2*len(frames) + len(wrongVNI) + len(wrongPort)),
				`wirebridge_rule_matched_total{rule="` + rule + `"}`:            float64(len(frames)),
			} {
				if m[series] != v {
					t.Errorf("%s = %v, want %v", series, m[series], v)
				}
			}
			wb.signal(syscall.SIGTERM)
			if code := wb.exitCode(); code != 0 {
				t.Errorf("exit code %d after SIGTERM", code)
			}
		})
	}
}

// startReplayCmd runs `wirebridge replay ARGS` in ns and waits for /readyz.
func startReplayCmd(t *testing.T, ns *netns, dir string, args ...string) *wbProc {
	t.Helper()
	return startProc(t, ns, dir, "127.0.0.1:8080", append([]string{"replay"}, args...))
}
