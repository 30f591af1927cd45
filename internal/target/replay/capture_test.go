package replay

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
	"github.com/wirebridge/wirebridge/internal/source"
	"github.com/wirebridge/wirebridge/internal/tcpreasm"
)

const pcapDir = "../../../testdata/pcaps"

type frame struct {
	data []byte
	info packet.CaptureInfo
}

func readCapture(t testing.TB, name string) []frame {
	t.Helper()
	f, err := os.Open(filepath.Join(pcapDir, name))
	if err != nil {
		t.Fatalf("shared capture missing: %v", err)
	}
	defer f.Close()
	r, err := capfile.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []frame
	for {
		d, info, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, frame{append([]byte(nil), d...), info})
	}
}

// zeekHTTP is one row of a Zeek http.log.
type zeekHTTP struct {
	origPort          string
	method, host, uri string
	bodyLen           int64
}

func readHTTPLog(t testing.TB, name string) []zeekHTTP {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pcapDir, name))
	if err != nil {
		t.Fatalf("shared log missing: %v", err)
	}
	var cols map[string]int
	var out []zeekHTTP
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
		n, _ := strconv.ParseInt(f[cols["request_body_len"]], 10, 64)
		out = append(out, zeekHTTP{f[cols["id.orig_p"]], f[cols["method"]], f[cols["host"]], f[cols["uri"]], n})
	}
	if len(out) == 0 {
		t.Fatalf("%s: no rows", name)
	}
	return out
}

// shadowReq is what the shadow server received.
type shadowReq struct {
	Method, URI, Host, Remote string
	Header                    http.Header
	BodyLen                   int64
	BodySHA                   [32]byte
}

type shadow struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []shadowReq
}

func newShadow(t testing.TB) *shadow {
	s := &shadow{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		sr := shadowReq{Method: r.Method, URI: r.RequestURI, Host: r.Host, Remote: r.RemoteAddr, Header: r.Header.Clone(), BodyLen: n}
		copy(sr.BodySHA[:], h.Sum(nil))
		s.mu.Lock()
		s.reqs = append(s.reqs, sr)
		s.mu.Unlock()
		w.Write([]byte("shadow " + r.RequestURI))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *shadow) received() []shadowReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]shadowReq(nil), s.reqs...)
}

func (s *shadow) addr() string { return strings.TrimPrefix(s.URL, "http://") }

func deliveries(frames []frame) []handoff.Delivery {
	out := make([]handoff.Delivery, len(frames))
	for i, f := range frames {
		out[i] = handoff.Delivery{ID: strconv.Itoa(i), Frame: f.data, Capture: f.info}
	}
	return out
}

// vxlanPayload is the UDP payload carrying frame in VXLAN with vni.
func vxlanPayload(frame []byte, vni uint32) []byte {
	b := make([]byte, 8, 8+len(frame))
	b[0] = 0x08
	binary.BigEndian.PutUint32(b[4:], vni<<8)
	return append(b, frame...)
}

// encapsulate wraps an Ethernet frame in Ethernet/IPv4/UDP/VXLAN as an AWS
// mirror session does (flow hash in the outer source port).
func encapsulate(frame []byte, vni uint32, flowHash uint16) []byte {
	return packet.Build(
		packet.Eth{Src: [6]byte{0x12, 0x42, 0, 0, 0, 1}, Dst: [6]byte{0x12, 0x42, 0, 0, 0, 2}},
		packet.IPv4{Src: netip.MustParseAddr("10.1.0.5"), Dst: netip.MustParseAddr("10.1.0.9")},
		packet.UDP{Src: flowHash, Dst: 4789},
		packet.VXLAN{VNI: vni},
		packet.Payload(frame),
	)
}

func sendAll(t testing.TB, tg *Target, ds []handoff.Delivery) {
	t.Helper()
	if err := tg.Send(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
}

// checkAgainstLog compares the shadow's requests with the Zeek log rows.
func checkAgainstLog(t *testing.T, got []shadowReq, want []zeekHTTP, keepHost bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("shadow received %d requests, http.log lists %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Method != w.method || g.URI != w.uri || g.BodyLen != w.bodyLen || (keepHost && g.Host != w.host) {
			t.Errorf("request %d = %s %s host %s body %d, want %s %s host %s body %d", i, g.Method, g.URI, g.Host, g.BodyLen, w.method, w.uri, w.host, w.bodyLen)
		}
		if i > 0 && g.Remote != got[0].Remote {
			t.Errorf("request %d came on another connection (%s, first %s): the connection's order is not guaranteed", i, g.Remote, got[0].Remote)
		}
	}
}

// TestZeekVXLANEncapsulatedHTTP: the AWS-style VXLAN capture replayed to a
// shadow gives exactly the request in Zeek's http.log.
func TestZeekVXLANEncapsulatedHTTP(t *testing.T) {
	frames := readCapture(t, "zeek_vxlan-encapsulated-http.pcap")
	want := readHTTPLog(t, "zeek_vxlan-encapsulated-http.http.log")
	sh := newShadow(t)
	var diffs []Diff
	var dmu sync.Mutex
	tg, err := New(Config{Name: "shadow", Address: sh.addr(), KeepHost: true, Compare: true,
		OnDiff: func(d Diff) { dmu.Lock(); diffs = append(diffs, d); dmu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	sendAll(t, tg, deliveries(frames))
	tg.Close()
	checkAgainstLog(t, sh.received(), want, true)
	st := tg.Stats()
	if st.RequestsForwarded != 1 || st.Responses[200] != 1 {
		t.Errorf("stats: %+v", st)
	}
	// The shadow answers differently from httpbin: one ReplayDiff.
	dmu.Lock()
	defer dmu.Unlock()
	if len(diffs) != 1 || diffs[0].OriginalStatus != 200 || diffs[0].OriginalBodyLength != 8984 || diffs[0].URI != "/image/svg" || diffs[0].Flow.VNI != 1 {
		t.Errorf("diffs = %+v", diffs)
	}
	// The event carries the reassembled request in detail.HTTP, as a packet
	// event names these fields.
	if len(diffs) == 1 {
		ev := diffs[0].Event("wirebridge.replay")
		h, _ := ev.Detail.(map[string]any)["HTTP"].(map[string]any)
		if h["Method"] != "GET" || h["Path"] != "/image/svg" || h["Version"] != "HTTP/1.1" || h["Host"] == nil || h["Status"] != 200 {
			t.Errorf("detail.HTTP = %v (request %+v)", h, diffs[0].Request)
		}
	}
}

// TestZeekPipelinedThroughVXLANSource: the pipelined capture, encapsulated in
// VXLAN by the test and sent over loopback to the vxlan source, replayed to a
// shadow: the requests of Zeek's http.log arrive in order on one connection.
func TestZeekPipelinedThroughVXLANSource(t *testing.T) {
	frames := readCapture(t, "zeek_http-pipelined-requests.pcap")
	want := readHTTPLog(t, "zeek_http-pipelined-requests.http.log")
	sh := newShadow(t)
	tg, err := New(Config{Name: "shadow", URL: sh.URL, KeepHost: true})
	if err != nil {
		t.Fatal(err)
	}
	src, err := source.NewVXLAN(source.VXLANConfig{Common: source.Common{Name: "mirror"}, Listen: []string{"127.0.0.1:0"}, VNI: []uint32{42}})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(b source.Batch) {
			ds := make([]handoff.Delivery, len(b.Frames))
			for i, f := range b.Frames {
				ds[i] = handoff.Delivery{Frame: append([]byte(nil), f.Data...), Capture: f.Info}
				var p packet.Packet
				if packet.Decode(&p, f.Data, f.Info); p.Tunnel() == nil || p.Tunnel().VNI != 42 {
					t.Errorf("frame without the VXLAN tunnel: %+v", p.Tunnel())
				}
			}
			if err := tg.Send(ctx, ds); err != nil {
				t.Error(err)
			}
			got <- len(ds)
		})
	}()
	conn, err := net.Dial("udp", src.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, vni := range []uint32{43, 42} { // VNI 43 is not allowed: dropped by the source
		for _, f := range frames {
			if _, err := conn.Write(vxlanPayload(f.data, vni)); err != nil {
				t.Fatal(err)
			}
			if vni == 42 {
				sent++
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	for n := 0; n < sent; {
		select {
		case k := <-got:
			n += k
		case <-time.After(10 * time.Second):
			t.Fatalf("the source emitted %d of %d frames", n, sent)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	tg.Close()
	checkAgainstLog(t, sh.received(), want, true)
	if d := src.VNIDropped(); d != uint64(len(frames)) {
		t.Errorf("VNI-dropped = %d, want %d", d, len(frames))
	}
	if snap := src.Stats().Snapshot(); snap.Emitted != uint64(sent) {
		t.Errorf("emitted = %d, want %d", snap.Emitted, sent)
	}
}

// clientStream returns the client-to-server payload of the capture's single
// connection in capture order (the capture has no retransmissions), and the
// indexes of the frames carrying it.
func clientStream(t testing.TB, frames []frame, serverPort uint16) ([]byte, []int) {
	var out []byte
	var idx []int
	var p packet.Packet
	for i, f := range frames {
		packet.Decode(&p, f.data, f.info)
		in := p.Inner()
		if in.Layers.Has(packet.LayerTCP) && in.DstPort == serverPort && in.PayloadLen > 0 {
			out = append(out, p.Payload()...)
			idx = append(idx, i)
		}
	}
	return out, idx
}

// TestInjectedReorderDupLoss: reordering and duplication on the capture path
// give the same requests (byte for byte) as the clean capture; a lost segment
// gives a counted gap and the policy's behaviour, and never a corrupted request.
func TestInjectedReorderDupLoss(t *testing.T) {
	base := readCapture(t, "zeek_http-pipelined-requests.pcap")
	want := readHTTPLog(t, "zeek_http-pipelined-requests.http.log")
	_, data := clientStream(t, base, 80)
	enc := make([]frame, len(base))
	for i, f := range base {
		enc[i] = frame{encapsulate(f.data, 42, 51234), packet.CaptureInfo{Timestamp: f.info.Timestamp, LinkType: packet.LinkEthernet}}
	}
	run := func(t *testing.T, frames []frame, policy tcpreasm.GapPolicy) ([]shadowReq, Stats) {
		sh := newShadow(t)
		tg, err := New(Config{Name: "shadow", URL: sh.URL, Limits: tcpreasm.Limits{GapWait: 50 * time.Millisecond, Policy: policy}})
		if err != nil {
			t.Fatal(err)
		}
		sendAll(t, tg, deliveries(frames))
		time.Sleep(100 * time.Millisecond)
		tg.Flush()
		tg.Close()
		return sh.received(), tg.Stats()
	}
	clean, _ := run(t, enc, tcpreasm.GapSkip)
	if len(clean) != len(want) {
		t.Fatalf("clean run: %d requests, want %d", len(clean), len(want))
	}
	same := func(a, b shadowReq) bool {
		return a.Method == b.Method && a.URI == b.URI && a.BodySHA == b.BodySHA && headerString(a.Header) == headerString(b.Header)
	}
	t.Run("reordered", func(t *testing.T) {
		fr := append([]frame(nil), enc...)
		// Reverse the order of the client's data segments (5 requests, 5 segments here).
		for i, j := 0, len(data)-1; i < j; i, j = i+1, j-1 {
			fr[data[i]], fr[data[j]] = fr[data[j]], fr[data[i]]
		}
		got, st := run(t, fr, tcpreasm.GapSkip)
		if len(got) != len(clean) {
			t.Fatalf("%d requests, want %d", len(got), len(clean))
		}
		for i := range got {
			if !same(got[i], clean[i]) {
				t.Errorf("request %d differs: %+v vs %+v", i, got[i], clean[i])
			}
		}
		if st.Reasm.Gaps != 0 || st.Reasm.OutOfOrder == 0 {
			t.Errorf("gaps %d out of order %d", st.Reasm.Gaps, st.Reasm.OutOfOrder)
		}
	})
	t.Run("duplicated", func(t *testing.T) {
		var fr []frame
		for i, f := range enc {
			fr = append(fr, f)
			if i%2 == 0 {
				fr = append(fr, f) // every other frame twice
			}
		}
		got, st := run(t, fr, tcpreasm.GapSkip)
		if len(got) != len(clean) {
			t.Fatalf("%d requests, want %d", len(got), len(clean))
		}
		for i := range got {
			if !same(got[i], clean[i]) {
				t.Errorf("request %d differs", i)
			}
		}
		if st.Reasm.Retransmitted == 0 || st.Reasm.Gaps != 0 {
			t.Errorf("retransmitted %d gaps %d", st.Reasm.Retransmitted, st.Reasm.Gaps)
		}
	})
	lossy := func() []frame {
		var fr []frame
		for i, f := range enc {
			if i != data[2] { // lose the third request's segment
				fr = append(fr, f)
			}
		}
		return fr
	}
	t.Run("lost segment, skip", func(t *testing.T) {
		got, st := run(t, lossy(), tcpreasm.GapSkip)
		// The lost segment held the whole third request: a gap of its length,
		// after which parsing resumes at the fourth request's line.
		var p packet.Packet
		packet.Decode(&p, enc[data[2]].data, enc[data[2]].info)
		if st.Reasm.Gaps != 1 || st.Reasm.GapBytes != uint64(len(p.Payload())) {
			t.Errorf("gaps %d (%d bytes), want 1 (%d bytes)", st.Reasm.Gaps, st.Reasm.GapBytes, len(p.Payload()))
		}
		wantIdx := []int{0, 1, 3, 4}
		if len(got) != len(wantIdx) {
			t.Fatalf("%d requests, want %d", len(got), len(wantIdx))
		}
		for i, w := range wantIdx {
			if !same(got[i], clean[w]) {
				t.Errorf("request %d is not clean request %d", i, w)
			}
		}
	})
	t.Run("two lost segments, skip", func(t *testing.T) {
		// A second hole is resolved like the first: the request behind it is
		// replayed, each gap counted once.
		var fr []frame
		for i, f := range enc {
			if i != data[1] && i != data[3] {
				fr = append(fr, f)
			}
		}
		got, st := run(t, fr, tcpreasm.GapSkip)
		if st.Reasm.Gaps != 2 || st.Dropped["gap"] != 2 || st.Reasm.Buffered != 0 {
			t.Errorf("gaps %d dropped %v buffered %d, want 2, gap:2, 0", st.Reasm.Gaps, st.Dropped, st.Reasm.Buffered)
		}
		wantIdx := []int{0, 2, 4}
		if len(got) != len(wantIdx) {
			t.Fatalf("%d requests, want %d", len(got), len(wantIdx))
		}
		for i, w := range wantIdx {
			if !same(got[i], clean[w]) {
				t.Errorf("request %d is not clean request %d", i, w)
			}
		}
	})
	t.Run("lost segment, abort", func(t *testing.T) {
		got, st := run(t, lossy(), tcpreasm.GapAbort)
		if st.Reasm.Gaps != 1 || st.Reasm.Ended["gap"] != 1 {
			t.Errorf("gaps %d ended %v", st.Reasm.Gaps, st.Reasm.Ended)
		}
		if len(got) != 2 || !same(got[0], clean[0]) || !same(got[1], clean[1]) {
			t.Fatalf("got %d requests, want the 2 before the hole", len(got))
		}
	})
}

func headerString(h http.Header) string {
	var b strings.Builder
	h.Write(&b)
	return b.String()
}

// TestTCPModeStream: in tcp mode the shadow receives the client stream byte
// for byte, also from a reordered and duplicated capture.
func TestTCPModeStream(t *testing.T) {
	base := readCapture(t, "zeek_http-pipelined-requests.pcap")
	stream, data := clientStream(t, base, 80)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	recv := make(chan []byte, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				b, _ := io.ReadAll(bufio.NewReader(c))
				c.Close()
				recv <- b
			}()
		}
	}()
	tg, err := New(Config{Name: "raw", Protocol: ProtocolTCP, Address: ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	fr := append([]frame(nil), base...)
	fr[data[1]], fr[data[3]] = fr[data[3]], fr[data[1]]
	fr = append(fr[:data[4]+1], fr[data[0]:]...) // replay a tail of the capture again: duplicates
	sendAll(t, tg, deliveries(fr))
	select {
	case got := <-recv:
		if string(got) != string(stream) {
			t.Fatalf("shadow got %d bytes, want %d (prefix %d equal)", len(got), len(stream), commonPrefix(got, stream))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the shadow connection was not closed after the FINs")
	}
	tg.Close()
	if st := tg.Stats(); st.BytesForwarded != uint64(len(stream)) {
		t.Errorf("bytes forwarded = %d, want %d", st.BytesForwarded, len(stream))
	}
}

// commonPrefix is how many leading bytes a and b share.
func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
