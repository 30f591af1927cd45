//go:build integration

package file

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

// TestFullDiskRetriesLeaveNoEmptyFiles: on a full file system every Send
// fails (and deliver retries it); the retries leave no new empty file
// behind each time. Once space is freed, the next Send writes its lines
// to one file.
func TestFullDiskRetriesLeaveNoEmptyFiles(t *testing.T) {
	batch := []handoff.Delivery{{ID: "a", Body: []byte(`{"n":1,"pad":"` + strings.Repeat("x", 8000) + `"}`)}}
	targettest.FullDisk(t, func(dir string) targettest.FileTarget {
		tg, err := New(Config{Path: filepath.Join(dir, "events.ndjson"), Fsync: FsyncAlways})
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}, batch, func(t *testing.T, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := string(batch[0].Body) + "\n"; string(b) != want {
			t.Errorf("%s holds %d bytes, want the one line (%d bytes)", path, len(b), len(want))
		}
	})
}
