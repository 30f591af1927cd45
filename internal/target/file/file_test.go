package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/target"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

// decompress reads a finished file with the real gzip/zstd CLI when
// installed (scripts/deps.sh installs both), else with the Go readers.
func decompress(t testing.TB, name string) []byte {
	t.Helper()
	var tool string
	switch {
	case strings.HasSuffix(name, ".gz"):
		tool = "gzip"
	case strings.HasSuffix(name, ".zst"):
		tool = "zstd"
	default:
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if path, err := exec.LookPath(tool); err == nil {
		out, err := exec.Command(path, "-dc", name).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("%s -dc %s: %v: %s", tool, name, err, ee.Stderr)
			}
			t.Fatal(err)
		}
		return out
	}
	b, err := goDecompress(name)
	if err != nil {
		t.Fatalf("decompress %s: %v", name, err)
	}
	return b
}

// goDecompress reads as much of a (possibly unfinished) compressed file as
// the Go readers can, returning what they decoded and their error.
func goDecompress(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		r = zr
	} else {
		zr, err := zstd.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	var out bytes.Buffer
	_, err = io.Copy(&out, r)
	return out.Bytes(), err
}

func decodeLines(t testing.TB, data []byte) [][]byte {
	t.Helper()
	var got [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		b, err := target.DecodeValue(sc.Bytes())
		if err != nil {
			t.Fatalf("line %q: %v", sc.Bytes(), err)
		}
		got = append(got, b)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("output does not end with a newline")
	}
	return got
}

func readAll(t testing.TB, tg *Target) [][]byte {
	var got [][]byte
	for _, name := range tg.Files() {
		got = append(got, decodeLines(t, decompress(t, name))...)
	}
	return got
}

func TestConformance(t *testing.T) {
	for _, comp := range []string{CompressNone, CompressGzip, CompressZstd} {
		t.Run(comp, func(t *testing.T) {
			targettest.Run(t, func(t *testing.T) targettest.Instance {
				tg, err := New(Config{Path: filepath.Join(t.TempDir(), "events-%Y%m%d.ndjson"), Compression: comp, MaxSize: 256 << 10})
				if err != nil {
					t.Fatal(err)
				}
				return targettest.Instance{
					Target:    tg,
					Delivered: func() ([][]byte, error) { return readAll(t, tg), nil },
				}
			})
		})
	}
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func at(h, m, s int) time.Time   { return time.Date(2026, 11, 21, h, m, s, 0, time.UTC) }
func body(i int) []byte {
	return []byte(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", 80)))
}
func one(i int) []handoff.Delivery { return []handoff.Delivery{{ID: fmt.Sprint(i), Body: body(i)}} }
func rel(dir string, n []string) []string {
	out := make([]string, len(n))
	for i, s := range n {
		out[i], _ = filepath.Rel(dir, s)
	}
	return out
}

func TestRotation(t *testing.T) {
	type step struct {
		at time.Time
		n  int // deliveries to send, one per Send
	}
	tests := []struct {
		name      string
		path      string
		cfg       Config
		steps     []step
		wantFiles []string
		wantLines []int // lines per file
	}{
		{
			name:      "by size without compression",
			path:      "events.ndjson",
			cfg:       Config{MaxSize: 500}, // each line is 98 bytes: 5 per file
			steps:     []step{{at(10, 0, 0), 12}},
			wantFiles: []string{"events.ndjson", "events-1.ndjson", "events-2.ndjson"},
			wantLines: []int{5, 5, 2},
		},
		{
			name:  "by interval",
			path:  "events-%H%M.ndjson",
			cfg:   Config{Interval: time.Hour},
			steps: []step{{at(10, 59, 0), 2}, {at(11, 0, 0), 1}, {at(11, 30, 0), 1}, {at(12, 0, 1), 1}},
			// The name records the opening minute; 11:30 stays in the 11:00 file.
			wantFiles: []string{"events-1059.ndjson", "events-1100.ndjson", "events-1200.ndjson"},
			wantLines: []int{2, 2, 1},
		},
		{
			name:      "when the expanded name changes",
			path:      "%Y/%m/%d/events-%H.ndjson",
			steps:     []step{{at(10, 0, 0), 1}, {at(10, 59, 59), 1}, {at(11, 0, 0), 3}},
			wantFiles: []string{"2026/11/21/events-10.ndjson", "2026/11/21/events-11.ndjson"},
			wantLines: []int{2, 3},
		},
		{
			name:      "gzip extension added and size counted compressed",
			path:      "events.ndjson",
			cfg:       Config{Compression: CompressGzip, MaxSize: 1},
			steps:     []step{{at(10, 0, 0), 1}},
			wantFiles: []string{"events.ndjson.gz"},
			wantLines: []int{1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := &clock{}
			cfg := tt.cfg
			cfg.Path = filepath.Join(dir, tt.path)
			cfg.Now = c.Now
			tg, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			seq := 0
			for _, s := range tt.steps {
				c.Set(s.at)
				for i := 0; i < s.n; i++ {
					if err := tg.Send(context.Background(), one(seq)); err != nil {
						t.Fatal(err)
					}
					seq++
				}
			}
			if err := tg.Close(); err != nil {
				t.Fatal(err)
			}
			files := tg.Files()
			if got := rel(dir, files); strings.Join(got, " ") != strings.Join(tt.wantFiles, " ") {
				t.Fatalf("files %v, want %v", got, tt.wantFiles)
			}
			seq = 0
			for i, f := range files {
				lines := decodeLines(t, decompress(t, f))
				if len(lines) != tt.wantLines[i] {
					t.Fatalf("%s has %d lines, want %d", f, len(lines), tt.wantLines[i])
				}
				for _, l := range lines {
					if !bytes.Equal(l, body(seq)) {
						t.Fatalf("%s: line %q, want %q", f, l, body(seq))
					}
					seq++
				}
				if tt.cfg.MaxSize > 0 && tt.cfg.Compression == "" {
					if st, _ := os.Stat(f); st.Size() > tt.cfg.MaxSize {
						t.Fatalf("%s is %d bytes, over MaxSize %d", f, st.Size(), tt.cfg.MaxSize)
					}
				}
			}
		})
	}
}

func TestIdleFileClosedAtBoundary(t *testing.T) {
	dir := t.TempDir()
	c := &clock{}
	c.Set(at(10, 59, 59))
	tg, err := New(Config{Path: filepath.Join(dir, "e.ndjson"), Interval: time.Hour, Compression: CompressZstd, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Send(context.Background(), one(0)); err != nil {
		t.Fatal(err)
	}
	c.Set(at(11, 0, 0))
	// With no further traffic, the background loop finishes the file at the
	// boundary, so it becomes a complete zstd file without Close.
	name := tg.Files()[0]
	deadline := time.Now().Add(targettest.Long)
	for {
		tg.arch.Lock()
		finished := tg.cur == nil
		tg.arch.Unlock()
		if finished {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("idle file was not finished at the interval boundary")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := decodeLines(t, decompress(t, name)); len(got) != 1 || !bytes.Equal(got[0], body(0)) {
		t.Fatalf("finished file holds %q", got)
	}
}

func TestNeverOverwritesExistingFile(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "events.ndjson")
	if err := os.WriteFile(old, []byte("{\"old\":1}\n{\"partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := New(Config{Path: old})
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Send(context.Background(), one(1)); err != nil {
		t.Fatal(err)
	}
	tg.Close()
	if b, _ := os.ReadFile(old); string(b) != "{\"old\":1}\n{\"partial" {
		t.Fatalf("existing file changed: %q", b)
	}
	if got := rel(dir, tg.Files()); len(got) != 1 || got[0] != "events-1.ndjson" {
		t.Fatalf("files %v", got)
	}
}

// TestCrashLeavesReadableData copies the files of a target that was never
// closed, as a crash would leave them, and checks what can be read back.
func TestCrashLeavesReadableData(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		wantAll  bool // every line sent is readable without Close
		wantNone bool // compressed and never flushed: nothing readable yet
	}{
		{"plain, fsync never", Config{Fsync: FsyncNever}, true, false},
		{"gzip, fsync always", Config{Compression: CompressGzip, Fsync: FsyncAlways}, true, false},
		{"zstd, fsync always", Config{Compression: CompressZstd, Fsync: FsyncAlways}, true, false},
		{"zstd, fsync rotate", Config{Compression: CompressZstd, Fsync: FsyncRotate}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := tt.cfg
			cfg.Path = filepath.Join(dir, "e.ndjson")
			tg, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			for i := 0; i < 20; i++ {
				if err := tg.Send(context.Background(), one(i)); err != nil {
					t.Fatal(err)
				}
			}
			name := tg.Files()[0]
			var data []byte
			if cfg.Compression == "" {
				data, _ = os.ReadFile(name)
			} else {
				data, err = goDecompress(name) // an unfinished stream: the CLIs refuse it
				if err == nil && len(data) > 0 {
					t.Fatal("unfinished compressed stream read without error")
				}
			}
			lines := decodeLines(t, data)
			switch {
			case tt.wantAll && len(lines) != 20:
				t.Fatalf("read %d lines before Close, want 20", len(lines))
			case tt.wantNone && len(lines) != 0:
				t.Fatalf("read %d lines, want none before a sync point", len(lines))
			}
			for i, l := range lines {
				if !bytes.Equal(l, body(i)) {
					t.Fatalf("line %d = %q", i, l)
				}
			}
		})
	}
}

func TestFsyncIntervalMakesDataReadable(t *testing.T) {
	dir := t.TempDir()
	tg, err := New(Config{Path: filepath.Join(dir, "e.ndjson"), Compression: CompressGzip, Fsync: FsyncInterval, FsyncInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Send(context.Background(), one(7)); err != nil {
		t.Fatal(err)
	}
	name := tg.Files()[0]
	deadline := time.Now().Add(targettest.Long)
	for {
		data, _ := goDecompress(name)
		if bytes.Equal(data, append(body(7), '\n')) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("line not readable after interval fsync; have %q", data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no path", Config{}, "path is empty"},
		{"bad directive", Config{Path: "a%x"}, "unknown directive"},
		{"bad compression", Config{Path: "a", Compression: "lz4"}, `compression "lz4"`},
		{"bad fsync", Config{Path: "a", Fsync: "sometimes"}, `fsync "sometimes"`},
		{"negative size", Config{Path: "a", MaxSize: -1}, "must not be negative"},
		{"sub-second interval", Config{Path: "a", Interval: time.Millisecond}, "shorter than a second"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestUnwritableDirectoryIsTransient(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "notadir")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := New(Config{Path: filepath.Join(blocker, "e.ndjson")})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	err = tg.Send(context.Background(), one(1))
	if err == nil || target.IsPermanent(err) {
		t.Fatalf("got %v, want a transient error", err)
	}
}

// TestManyRotationsFinishedInBackground: files rotated away from are
// finished in the background (compressed stream ended, flushed, closed);
// after Close every one of them is complete, and the lines are all there
// once, in order, across many rotations, with the event JSON (BodyJSON)
// written as it is and other bodies encoded as before.
func TestManyRotationsFinishedInBackground(t *testing.T) {
	// Bodies padded with hex of random bytes: they compress to about half,
	// so compressed files rotate too.
	rnd := rand.New(rand.NewPCG(1, 2))
	pad := func() string {
		b := make([]byte, 500)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		return fmt.Sprintf("%x", b)
	}
	for _, comp := range []string{CompressNone, CompressGzip, CompressZstd} {
		t.Run(comp, func(t *testing.T) {
			dir := t.TempDir()
			tg, err := New(Config{Path: filepath.Join(dir, "events.ndjson"), Compression: comp, MaxSize: 64 << 10})
			if err != nil {
				t.Fatal(err)
			}
			const total, per = 3000, 50
			want := make([]string, 0, total)
			for i := 0; i < total; i += per {
				batch := make([]handoff.Delivery, per)
				for j := range batch {
					n := i + j
					if n%3 == 2 { // a transformer's text output: not BodyJSON
						text := fmt.Sprintf("text %d %s\n", n, pad())
						batch[j] = handoff.Delivery{ID: fmt.Sprint(n), Body: []byte(text)}
						want = append(want, strconv.Quote(text))
						continue
					}
					b := fmt.Sprintf(`{"n":%d,"pad":"%s"}`, n, pad())
					batch[j] = handoff.Delivery{ID: fmt.Sprint(n), Body: []byte(b), BodyJSON: true}
					want = append(want, b)
				}
				if err := tg.Send(context.Background(), batch); err != nil {
					t.Fatal(err)
				}
			}
			if err := tg.Close(); err != nil {
				t.Fatal(err)
			}
			files := tg.Files()
			if len(files) < 10 {
				t.Fatalf("%d files: want many rotations", len(files))
			}
			var got []string
			for _, f := range files {
				data := decompress(t, f) // fails on an unfinished compressed stream
				if len(data) == 0 || data[len(data)-1] != '\n' {
					t.Fatalf("%s: %d bytes, not ending in a newline", f, len(data))
				}
				got = append(got, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
			}
			if len(got) != total {
				t.Fatalf("%d lines in %d files, want %d", len(got), len(files), total)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("line %d is %.80s..., want %.80s...", i, got[i], want[i])
				}
			}
		})
	}
}
