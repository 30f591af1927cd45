package targettest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/wirebridge/wirebridge/internal/disktest"
	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/target"
)

// FileTarget is a target that writes files and names the ones it created.
type FileTarget interface {
	target.Target
	Files() []string
}

// FullDisk is the disk-full scenario for a target that writes files: open
// makes the target writing in dir (a 1 MiB tmpfs, filled up). On the full
// file system every Send of batch fails with ENOSPC (deliver retries it),
// and the five retries leave at most one file behind, not a new empty or
// header-only file each. Once space is freed the next Send writes one
// file, which check reads back (path: the file's name). Needs root
// (mount); make test runs as root.
func FullDisk(t *testing.T, open func(dir string) FileTarget, batch []handoff.Delivery, check func(t *testing.T, path string)) {
	t.Helper()
	dir := disktest.Tmpfs(t, "size=1m")
	filler := filepath.Join(dir, "filler")
	disktest.Fill(t, filler)
	tg := open(dir)
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
	check(t, filepath.Join(dir, ns[0]))
	if fs := tg.Files(); len(fs) != 1 || filepath.Base(fs[0]) != ns[0] {
		t.Errorf("Files() = %v, want [%s]", fs, ns[0])
	}
}
