//go:build integration

package pcap

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

// TestFullDiskRetriesLeaveNoEmptyFiles: on a full file system every Send
// fails (and deliver retries it); the retries do not leave a new empty or
// header-only capture file behind each time. Once space is freed, the next
// Send writes its records to one file that reads back whole.
func TestFullDiskRetriesLeaveNoEmptyFiles(t *testing.T) {
	frame := targettest.Frame(make([]byte, 6000))
	batch := []handoff.Delivery{{ID: "a", Frame: frame, Capture: packet.CaptureInfo{
		Timestamp: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC), LinkType: packet.LinkEthernet, Length: len(frame)}}}
	targettest.FullDisk(t, func(dir string) targettest.FileTarget {
		tg, err := New(Config{Path: filepath.Join(dir, "capture.pcap"), Fsync: FsyncAlways})
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}, batch, func(t *testing.T, path string) {
		if _, recs := readFile(t, path); len(recs) != 1 {
			t.Errorf("%s holds %d records, want 1", path, len(recs))
		}
	})
}
