//go:build integration

package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/wirebridge/wirebridge/internal/disktest"
	"github.com/wirebridge/wirebridge/internal/event"
)

// TestFullDiskRetriesLeaveNoEmptyFiles: on a full file system every Send
// fails (and deliver retries it); the retries leave no new empty file
// behind each time. Once space is freed, the next Send writes its lines
// to one file.
func TestFullDiskRetriesLeaveNoEmptyFiles(t *testing.T) {
	dir := disktest.Tmpfs(t, "size=1m")
	filler := filepath.Join(dir, "filler")
	disktest.Fill(t, filler)

	tg, err := New(Config{Path: filepath.Join(dir, "events.ndjson"), Fsync: FsyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	batch := []event.Delivery{{ID: "a", Body: []byte(`{"n":1,"pad":"` + strings.Repeat("x", 8000) + `"}`)}}
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
	b, err := os.ReadFile(filepath.Join(dir, ns[0]))
	if err != nil {
		t.Fatal(err)
	}
	if want := string(batch[0].Body) + "\n"; string(b) != want {
		t.Errorf("%s holds %d bytes, want the one line (%d bytes)", ns[0], len(b), len(want))
	}
	if fs := tg.Files(); len(fs) != 1 || filepath.Base(fs[0]) != ns[0] {
		t.Errorf("Files() = %v, want [%s]", fs, ns[0])
	}
}
