//go:build integration

package pipeline

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

	src, err := source.NewUDP(source.UDPConfig{
		Common: source.Common{Name: "syslog", EventSource: "wirebridge.udp"},
		Listen: []string{"127.0.0.1:0"}, Readers: 2, RecvBuffer: 4 << 20, Batch: 64,
	})
	if err != nil {
		t.Fatal(err)
	}
	ft, err := file.New(file.Config{Path: path, Fsync: file.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithCancel(context.Background())
	defer dcancel()
	dw, err := deliver.New(dctx, deliver.Config{Target: "archive", Mode: deliver.Direct, QueueSize: 2 * n}, ft, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{
		Rules:   table(t, cfgRule("all", `{"source":["wirebridge.udp"]}`, "archive")),
		Targets: []Target{{Name: "archive", Deliverer: dw, NeedsBody: true}},
		Workers: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	emit, err := p.Emitter(SourceInfo{Name: "syslog", Type: "udp", EventSource: "wirebridge.udp", QueueSize: 2 * n, Stats: src.Stats()})
	if err != nil {
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
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		scancel()
		<-srcDone
		pcancel()
		dcancel()
		wg.Wait()
	}
	defer stop()

	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(src.Addrs()[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	st := src.Stats()
	waitFor := func(what string, d time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
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
	stop()
	if err := errors.Join(serr, perr, derr); err != nil {
		t.Fatal(err)
	}
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
