package rotate

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestArchiveCloseAndKeep(t *testing.T) {
	first, second := errors.New("first"), errors.New("second")
	tests := []struct {
		name string
		keep []error
		want error
	}{
		{"nothing kept", nil, nil},
		{"nil is ignored", []error{nil}, nil},
		{"first error wins", []error{nil, first, second}, first},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a Archive
			finished := 0
			err := a.Close(func() {
				if !a.Closed() {
					t.Error("finish runs before the Archive is marked closed")
				}
				for _, e := range tt.keep {
					a.Keep(e)
				}
				finished++
			})
			if err != tt.want {
				t.Errorf("Close = %v, want %v", err, tt.want)
			}
			if err := a.Close(func() { finished++ }); err != nil {
				t.Errorf("second Close = %v, want nil", err)
			}
			if finished != 1 {
				t.Errorf("finish ran %d times, want 1", finished)
			}
		})
	}
}

func TestArchiveFiles(t *testing.T) {
	var a Archive
	if got := a.Files(); len(got) != 0 {
		t.Fatalf("Files of a new Archive = %q", got)
	}
	a.Lock()
	a.Created("a.pcap")
	a.Created("a-raw.pcap")
	a.Unlock()
	got := a.Files()
	if want := []string{"a.pcap", "a-raw.pcap"}; !slices.Equal(got, want) {
		t.Fatalf("Files = %q, want %q", got, want)
	}
	got[0] = "changed"
	if a.Files()[0] != "a.pcap" {
		t.Fatal("Files returns the Archive's own slice")
	}
}

func TestArchiveStartStopsAtClose(t *testing.T) {
	var a Archive
	var ticks atomic.Int64
	ticked := make(chan struct{}, 1)
	a.Start(time.Millisecond, func() {
		if a.TryLock() {
			a.Unlock()
			t.Error("tick runs without the Archive locked")
		}
		ticks.Add(1)
		select {
		case ticked <- struct{}{}:
		default:
		}
	})
	select {
	case <-ticked:
	case <-time.After(10 * time.Second):
		t.Fatal("the background loop never ticked")
	}
	if err := a.Close(func() {}); err != nil {
		t.Fatal(err)
	}
	// Close waits for the loop to end: no tick runs after it returns.
	n := ticks.Load()
	time.Sleep(20 * time.Millisecond)
	if got := ticks.Load(); got != n {
		t.Fatalf("%d ticks after Close", got-n)
	}
}

func TestFinish(t *testing.T) {
	flushErr := errors.New("flush failed")
	tests := []struct {
		name string
		err  error
		sync bool
		want error
	}{
		{"clean without fsync", nil, false, nil},
		{"clean with fsync", nil, true, nil},
		{"flush error is returned", flushErr, true, flushErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "f"))
			if err != nil {
				t.Fatal(err)
			}
			if got := Finish(f, tt.err, tt.sync); got != tt.want {
				t.Fatalf("Finish = %v, want %v", got, tt.want)
			}
			if err := f.Close(); !errors.Is(err, os.ErrClosed) {
				t.Fatalf("file still open after Finish (Close: %v)", err)
			}
		})
	}
	t.Run("close error", func(t *testing.T) {
		f, err := os.Create(filepath.Join(t.TempDir(), "f"))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := Finish(f, nil, false); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Finish of a closed file = %v, want os.ErrClosed", err)
		}
	})
}

// TestArchiveLater: finishings run in the background one at a time, in the
// order given; Later waits once MaxLater are in progress; the first error
// is kept; Close waits for every finishing and returns it.
func TestArchiveLater(t *testing.T) {
	var a Archive
	release := make(chan struct{})
	var mu = make(chan struct{}, 1)
	var order []int
	var running, most atomic.Int32
	fail := errors.New("fsync failed")
	finishing := func(i int) func() error {
		return func() error {
			n := running.Add(1)
			defer running.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release
			mu <- struct{}{}
			order = append(order, i)
			<-mu
			if i == 2 || i == 4 {
				return fail
			}
			return nil
		}
	}
	later := func(i int) {
		a.Lock()
		a.Later(finishing(i))
		a.Unlock()
	}
	later(1)
	later(2) // MaxLater (2) in progress now
	third := make(chan struct{})
	go func() { later(3); close(third) }()
	select {
	case <-third:
		t.Fatal("a third Later did not wait while two finishings were in progress")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-third
	later(4)
	err := a.Close(func() { a.Later(finishing(5)) }) // Close holds the lock
	if err != fail {
		t.Errorf("Close = %v, want the first finishing's error", err)
	}
	if !slices.Equal(order, []int{1, 2, 3, 4, 5}) {
		t.Errorf("finished in order %v, want 1..5 (Close waits for all)", order)
	}
	if m := most.Load(); m != 1 {
		t.Errorf("%d finishings ran at once, want 1", m)
	}
}
