//go:build integration

package app

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/source"
)

// tcpShadow accepts connections on loopback and keeps every byte each one
// sends, keyed by the flow number the stream starts with ("flow 017 ...").
type tcpShadow struct {
	ln      net.Listener
	mu      sync.Mutex
	streams map[string]*bytes.Buffer
}

func newTCPShadow(t *testing.T) *tcpShadow {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &tcpShadow{ln: ln, streams: map[string]*bytes.Buffer{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.read(c)
		}
	}()
	return s
}

func (s *tcpShadow) read(c net.Conn) {
	defer c.Close()
	var b bytes.Buffer
	var key string
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		s.mu.Lock()
		b.Write(buf[:n])
		if key == "" && b.Len() >= 8 {
			key = string(b.Bytes()[:8])
			s.streams[key] = &b
		}
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// stream returns a copy of what arrived for key.
func (s *tcpShadow) stream(key string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.streams[key]; b != nil {
		return bytes.Clone(b.Bytes())
	}
	return nil
}

// TestReplayManyFlowsSeveralWorkers: with a replay target, serve's pipeline
// runs several workers; many TCP flows mirrored in VXLAN with their segments
// interleaved reach the shadow byte-exact, and the reassembler never saw a
// segment out of order (the pipeline hands batches over in queue order).
func TestReplayManyFlowsSeveralWorkers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4)) // 4 workers even on a 2-core machine
	const flows, segs, segLen = 40, 30, 700
	shadow := newTCPShadow(t)
	dir := t.TempDir()
	s, _, logs := newTestServer(t, dir, fmt.Sprintf(`
data_dir: %s
http: {listen: "127.0.0.1:0"}
sources:
  - name: mirror
    type: vxlan
    listen: ["127.0.0.1:0"]
    vni: [7]
rules:
  - name: replay
    pattern: {"detail": {"Tunnel": {"VNI": [7]}, "Protocol": ["tcp"]}}
    targets: [shadow]
targets:
  - name: shadow
    type: replay
    protocol: tcp
    address: %s
`, dir, shadow.ln.Addr()))
	if n := s.pipe.Workers(); n < 2 {
		t.Fatalf("the pipeline runs %d worker(s) with a replay target, want several", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	base := "http://" + s.http.Addr().String()
	waitUntil(t, "ready", func() bool { code, _ := httpGet(t, base+"/readyz"); return code == 200 })

	eth := packet.Eth{Src: [6]byte{2, 0, 0, 0, 0, 1}, Dst: [6]byte{2, 0, 0, 0, 0, 2}}
	server := netip.MustParseAddr("10.9.9.9")
	want := make([][]byte, flows)
	frames := make([][][]byte, flows) // per flow: SYN, data..., FIN
	for i := range flows {
		cli := netip.AddrFrom4([4]byte{10, 0, byte(i / 200), byte(1 + i%200)})
		seg := func(flags uint16, seq uint32, payload []byte) []byte {
			return packet.Build(eth, packet.IPv4{Src: cli, Dst: server},
				packet.TCP{Src: uint16(40000 + i), Dst: 9000, Seq: seq, Ack: 1, Flags: flags, Window: 65535}, packet.Payload(payload))
		}
		seq := uint32(1000 * (i + 1))
		frames[i] = append(frames[i], seg(packet.TCPSyn, seq, nil))
		seq++
		for j := range segs {
			p := fmt.Appendf(nil, "flow %03d seg %03d|", i, j)
			for len(p) < segLen {
				p = append(p, byte('a'+(i*7+j*13+len(p))%26))
			}
			want[i] = append(want[i], p...)
			frames[i] = append(frames[i], seg(packet.TCPAck|packet.TCPPsh, seq, p))
			seq += uint32(len(p))
		}
		frames[i] = append(frames[i], seg(packet.TCPAck|packet.TCPFin, seq, nil))
	}

	c, err := net.Dial("udp", s.sources[0].(*source.VXLAN).Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Round robin, segment j of every flow, then j+1, in bursts of one
	// round (about 30 KB, far below the socket buffer): the source reads
	// them in batches of several datagrams that the workers process in
	// parallel.
	for j := range segs + 2 {
		for i := range flows {
			if _, err := c.Write(vxlanDatagram(frames[i][j], 7)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}

	complete := func() bool {
		for i := range flows {
			if len(shadow.stream(fmt.Sprintf("flow %03d", i))) < len(want[i]) {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(30 * time.Second)
	for !complete() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_, metrics := httpGet(t, base+"/metrics")
	for i := range flows {
		got := shadow.stream(fmt.Sprintf("flow %03d", i))
		if !bytes.Equal(got, want[i]) {
			t.Errorf("flow %d: the shadow got %d bytes, want %d (byte-exact: %v)", i, len(got), len(want[i]), bytes.HasPrefix(want[i], got))
		}
	}
	for _, w := range []string{
		`wirebridge_source_dropped_total{reason="kernel",source="mirror"} 0`,
		`wirebridge_pipeline_dropped_total{reason="queue_full",source="mirror"} 0`,
		`wirebridge_replay_out_of_order_segments_total{target="shadow"} 0`,
		`wirebridge_replay_gaps_total{target="shadow"} 0`,
		fmt.Sprintf(`wirebridge_rule_matched_total{rule="replay"} %d`, flows*(segs+2)),
	} {
		if !strings.Contains(metrics, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", grepLines(metrics, "wirebridge_replay_", "wirebridge_source_dropped", "wirebridge_pipeline_dropped"))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// grepLines returns the lines of s containing any of subs.
func grepLines(s string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(l, sub) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
