//go:build integration

package pcap

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/disktest"
	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

// TestFullDiskRetriesLeaveNoEmptyFiles: on a full file system every Send
// fails (and deliver retries it); the retries do not leave a new empty or
// header-only capture file behind each time. Once space is freed, the next
// Send writes its records to one file that reads back whole.
func TestFullDiskRetriesLeaveNoEmptyFiles(t *testing.T) {
	dir := disktest.Tmpfs(t, "size=1m")
	filler := filepath.Join(dir, "filler")
	disktest.Fill(t, filler)

	tg, err := New(Config{Path: filepath.Join(dir, "capture.pcap"), Fsync: FsyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	frame := targettest.Frame(make([]byte, 6000))
	batch := []event.Delivery{{ID: "a", Frame: frame, Capture: packet.CaptureInfo{
		Timestamp: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC), LinkType: packet.LinkEthernet, Length: len(frame)}}}
	for i := range 5 {
		if err := tg.Send(context.Background(), batch); err == nil {
			t.Fatalf("Send %d succeeded on a full file system", i)
		} else if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Send %d: %v, want ENOSPC", i, err)
		}
	}
	names := func() []string {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var ns []string
		for _, e := range ents {
			if e.Name() != "filler" {
				ns = append(ns, e.Name())
			}
		}
		return ns
	}
	if ns := names(); len(ns) > 1 {
		t.Errorf("after 5 failed Sends: files %v, want at most one", ns)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := tg.Send(context.Background(), batch); err != nil {
		t.Fatalf("Send with space back: %v", err)
	}
	if err := tg.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ns := names()
	if len(ns) != 1 {
		t.Fatalf("files %v, want one", ns)
	}
	if _, recs := readFile(t, filepath.Join(dir, ns[0])); len(recs) != 1 {
		t.Errorf("%s holds %d records, want 1", ns[0], len(recs))
	}
	if fs := tg.Files(); len(fs) != 1 || filepath.Base(fs[0]) != ns[0] {
		t.Errorf("Files() = %v, want [%s]", fs, ns[0])
	}
}
