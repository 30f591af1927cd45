//go:build integration

package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/deliver"
	"github.com/wirebridge/wirebridge/internal/source"
	"github.com/wirebridge/wirebridge/internal/target/file"
)

// TestUDPArchiveInOrder sends 10,000 datagrams from one sender over
// loopback to the real udp source (two readers on its socket), through a
// pipeline with four workers, to the file target in direct mode, and checks
// the NDJSON archive: every datagram once, in sending order (the payload
// carries a sequence number), with strictly increasing capture times
// (detail.Timestamp, the kernel's per-packet receive time). The sender waits
// for the source to have read each block of 250 before it sends the next,
// so nothing can overflow and every counted drop must be zero.
func TestUDPArchiveInOrder(t *testing.T) {
	const n, block = 10000, 250
	path := filepath.Join(t.TempDir(), "archive.ndjson")
	rig := newArchiveRig(t, file.Config{Path: path, Fsync: file.FsyncNever}, n)
	src, dw, st := rig.src, rig.dw, rig.st
	defer rig.stop()

	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(src.Addrs()[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitFor := func(what string, d time.Duration, ok func() bool) { t.Helper(); waitUntil(t, what, d, ok) }
	for i := 0; i < n; i++ {
		if _, err := fmt.Fprintf(conn, "seq %05d", i); err != nil {
			t.Fatal(err)
		}
		if (i+1)%block == 0 {
			sent := uint64(i + 1)
			waitFor(fmt.Sprintf("the source to read %d datagrams", sent), 10*time.Second, func() bool {
				return st.Received.Load()+st.Dropped(source.DropKernel) >= sent
			})
		}
	}
	waitFor("10,000 deliveries", 30*time.Second, func() bool {
		s := dw.Stats()
		return s.Delivered+s.Failed+s.DroppedTotal() >= n
	})
	rig.stop()
	snap := st.Snapshot()
	if snap.DroppedTotal() != 0 || snap.Received != n {
		t.Fatalf("source received %d, dropped %v", snap.Received, snap.Dropped)
	}
	if s := dw.Stats(); s.Delivered != n || s.DroppedTotal() != 0 {
		t.Fatalf("file target: %+v", s)
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var prev time.Time
	i, equal := 0, 0
	for sc.Scan() {
		var ev struct {
			Detail struct {
				Timestamp time.Time
				Payload   []byte
			} `json:"detail"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		seq, err := strconv.Atoi(strings.TrimPrefix(string(ev.Detail.Payload), "seq "))
		if err != nil {
			t.Fatalf("line %d: payload %q", i+1, ev.Detail.Payload)
		}
		if seq != i {
			t.Fatalf("line %d holds datagram %d: out of order", i+1, seq)
		}
		ts := ev.Detail.Timestamp
		if i > 0 && !ts.After(prev) {
			if ts.Equal(prev) {
				equal++
			}
			t.Errorf("line %d: capture time %s not after the previous line's %s", i+1, ts.Format(time.RFC3339Nano), prev.Format(time.RFC3339Nano))
		}
		prev = ts
		i++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("archive holds %d events, want %d", i, n)
	}
	if equal > 0 {
		t.Logf("%d capture times equal to the previous one", equal)
	}
}

// archiveRig is the real udp source (two readers on one socket), a
// pipeline with four workers and a file target in direct mode with a
// catch-all rule.
type archiveRig struct {
	src  *source.UDP
	dw   deliver.Worker
	ft   *file.Target
	st   *source.Stats
	stop func() // stops the source, then the pipeline, then delivery; fails the test on their errors
}

func newArchiveRig(t *testing.T, fc file.Config, queue int) *archiveRig {
	t.Helper()
	src, err := source.NewUDP(source.UDPConfig{
		Common: source.Common{Name: "syslog", EventSource: "wirebridge.udp"},
		Listen: []string{"127.0.0.1:0"}, Readers: 2, RecvBuffer: 4 << 20, Batch: 64,
	})
	if err != nil {
		t.Fatal(err)
	}
	ft, err := file.New(fc)
	if err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithCancel(context.Background())
	dw, err := deliver.New(dctx, deliver.Config{Target: "archive", Mode: deliver.Direct, QueueSize: 2 * queue}, ft, nil, nil)
	if err != nil {
		dcancel()
		t.Fatal(err)
	}
	p, err := New(Config{
		Rules:   table(t, cfgRule("all", `{"source":["wirebridge.udp"]}`, "archive")),
		Targets: []Target{{Name: "archive", Deliverer: dw, NeedsBody: true}},
		Workers: 4,
	})
	if err != nil {
		dcancel()
		t.Fatal(err)
	}
	emit, err := p.Emitter(SourceInfo{Name: "syslog", Type: "udp", EventSource: "wirebridge.udp", QueueSize: 2 * queue, Stats: src.Stats()})
	if err != nil {
		dcancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var derr, perr, serr error
	pctx, pcancel := context.WithCancel(context.Background())
	sctx, scancel := context.WithCancel(context.Background())
	wg.Go(func() { derr = dw.Run(dctx) })
	wg.Go(func() { perr = p.Run(pctx) })
	srcDone := make(chan struct{})
	wg.Go(func() { defer close(srcDone); serr = src.Run(sctx, emit) })
	stopped := false
	r := &archiveRig{src: src, dw: dw, ft: ft, st: src.Stats()}
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		scancel()
		<-srcDone
		pcancel()
		dcancel()
		wg.Wait()
		if err := errors.Join(serr, perr, derr); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(r.stop)
	return r
}

func waitUntil(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestUDPArchiveFlowsRotatedCompressed: four senders (four flows) at once,
// 5,000 datagrams each, through the real udp source and pipeline to a file
// target that compresses (gzip) and rotates every 64 KiB: every datagram is
// archived exactly once, each flow's in its sending order, in files that
// all decompress with the real gzip, and no counter shows a drop.
func TestUDPArchiveFlowsRotatedCompressed(t *testing.T) {
	const flows, per, block = 4, 5000, 250
	dir := t.TempDir()
	rig := newArchiveRig(t, file.Config{Path: filepath.Join(dir, "archive.ndjson"), Compression: file.CompressGzip, MaxSize: 64 << 10}, flows*per)
	var sent sync.WaitGroup
	var mu sync.Mutex
	var sendErr error
	var total atomic.Uint64
	for f := range flows {
		sent.Go(func() {
			conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(rig.src.Addrs()[0]))
			if err != nil {
				mu.Lock()
				sendErr = err
				mu.Unlock()
				return
			}
			defer conn.Close()
			for i := 0; i < per; i++ {
				if _, err := fmt.Fprintf(conn, "flow %d seq %05d", f, i); err != nil {
					mu.Lock()
					sendErr = err
					mu.Unlock()
					return
				}
				if n := total.Add(1); n%block == 0 {
					// Pace all flows together: wait until the source has
					// read what was sent, so nothing can overflow.
					deadline := time.Now().Add(10 * time.Second)
					for rig.st.Received.Load()+rig.st.Dropped(source.DropKernel)+flows < n && time.Now().Before(deadline) {
						time.Sleep(time.Millisecond)
					}
				}
			}
		})
	}
	sent.Wait()
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	waitUntil(t, "20,000 deliveries", 30*time.Second, func() bool {
		s := rig.dw.Stats()
		return s.Delivered+s.Failed+s.DroppedTotal() >= flows*per
	})
	rig.stop()
	if snap := rig.st.Snapshot(); snap.DroppedTotal() != 0 || snap.Received != flows*per {
		t.Fatalf("source received %d, dropped %v", snap.Received, snap.Dropped)
	}
	if s := rig.dw.Stats(); s.Delivered != flows*per || s.DroppedTotal() != 0 {
		t.Fatalf("file target: %+v", s)
	}
	files := rig.ft.Files()
	if len(files) < 3 {
		t.Fatalf("%d files: want rotation every 64 KiB", len(files))
	}
	next := make([]int, flows)
	lines := 0
	for _, name := range files {
		out, err := exec.Command("gzip", "-dc", name).Output()
		if err != nil {
			t.Fatalf("gzip -dc %s: %v", name, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var ev struct {
				Detail struct{ Payload []byte } `json:"detail"`
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var f, seq int
			if _, err := fmt.Sscanf(string(ev.Detail.Payload), "flow %d seq %d", &f, &seq); err != nil || f < 0 || f >= flows {
				t.Fatalf("%s: payload %q", name, ev.Detail.Payload)
			}
			if seq != next[f] {
				t.Fatalf("%s: flow %d: datagram %d where %d was due (lost, repeated or out of order)", name, f, seq, next[f])
			}
			next[f]++
			lines++
		}
	}
	if lines != flows*per {
		t.Fatalf("archive holds %d events, want %d", lines, flows*per)
	}
}
