// Package file is the NDJSON archive target: it appends each delivery's Body
// as one line to rotating, optionally compressed files. It is a local sink
// at the end of the data path (deliver ──► target/file ──► disk).
//
// # Lines
//
// Every line is one JSON value (target.AppendDeliveryLine): the event JSON
// wirebridge encoded (Delivery.BodyJSON) as it is, unchecked; any other
// body (an input transformer's output) is checked: a JSON body as it is
// (compacted if it spanned lines), a text body as a JSON string, a binary
// body as {"base64":"..."}. target.DecodeValue reads a line back.
//
// # Files and rotation
//
// Path is a pattern with time directives (%Y %m %d %H %M %S %%, see package
// rotate), expanded with the time (in Location, UTC by default) a file is
// opened. A new file is started
//
//   - without Interval: when the expanded pattern changes (events-%H rolls
//     over every hour);
//   - with Interval: on each multiple of Interval since the Unix epoch (an
//     idle file is closed at the boundary even when nothing arrives); the
//     pattern then only names the files;
//   - before a line that would take the file past MaxSize bytes. Without
//     compression that is the file size, exact (a file exceeds MaxSize only
//     when a single line does). With compression it is the compressed bytes
//     written so far, which lag behind by what the encoder holds (up to a
//     block, about 128 KiB), so compressed files end a little past MaxSize.
//
// A file rotated away from is finished — its compressed stream ended, its
// buffer flushed, fsynced (unless Fsync is "never") and closed — in the
// background, in order and at most two at a time (rotate.MaxLater; a third
// rotation waits), so that a Send never waits for an fsync; Close waits for
// every finishing and reports the first error of one.
//
// Files are created, never appended to: an existing name gets a "-1", "-2"
// ... suffix before its extension. With compression the extension (.gz or
// .zst) is added to Path when missing. Files are opened lazily: a target
// that receives nothing creates nothing.
//
// # Durability
//
// Fsync says when data reaches the disk: "never" (the OS decides), "rotate"
// (default: when a file is finished), "always" (at the end of every Send),
// "interval" (every FsyncInterval, default 1s). Before an fsync the
// compressor is flushed (a gzip/zstd sync point), so everything up to the
// last fsync decompresses after a crash; a crash leaves at most the tail of
// the current file incomplete, and finished files are complete. Without
// compression each Send ends with a write(2) of its lines. With
// compression, lines wait in the encoder until a block fills, an fsync
// point, rotation or Close. Close finishes the compressed stream, so files
// are valid after Close.
//
// A failed write (a full disk, say) fails the Send, which deliver retries.
// A file that no Send succeeded to yet holds nothing accepted and is deleted
// at once (retries on a full disk leave no empty file behind each);
// otherwise the file is finished and the retry starts a new one.
//
// Send calls are serialised by a mutex. A write in progress cannot be
// interrupted: the context is checked before writing.
package file

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/target"
	"github.com/wirebridge/wirebridge/internal/target/internal/rotate"
)

// Compression and fsync policy names.
const (
	CompressNone = "none"
	CompressGzip = "gzip"
	CompressZstd = "zstd"

	FsyncNever    = "never"
	FsyncRotate   = "rotate"
	FsyncAlways   = "always"
	FsyncInterval = "interval"
)

// Config configures a file target.
type Config struct {
	Path          string         // file name pattern (required), e.g. data/events-%Y%m%d-%H.ndjson
	MaxSize       int64          // start a new file past this many bytes; 0: no size limit
	Interval      time.Duration  // start a new file on each multiple of Interval; 0: never
	Compression   string         // none (default), gzip, zstd
	Fsync         string         // never, rotate (default), always, interval
	FsyncInterval time.Duration  // for Fsync interval (default 1s)
	Perm          os.FileMode    // default 0644
	Location      *time.Location // for time directives (default UTC)
	Now           func() time.Time
}

// Target writes NDJSON files.
type Target struct {
	cfg Config

	// arch holds the mutex serialising Send, Close and the background
	// work, the closed flag, the files created and the first error no Send
	// reported (finishing or background fsync), which Close returns.
	arch   rotate.Archive
	cur    *output
	line   []byte
	broken bool // a write or fsync failed: finish the current file before the next write
}

// output is one open file and its writer stack:
// lines ─► [compressor] ─► bufio ─► counter ─► *os.File.
type output struct {
	f        *os.File
	name     string
	expanded string    // the pattern as expanded for this file
	deadline time.Time // interval boundary after which the file is finished
	count    countingWriter
	bw       *bufio.Writer
	gz       *gzip.Writer
	zs       *zstd.Encoder
	w        io.Writer // where lines go
	lines    int64     // uncompressed bytes written
	dirty    bool      // written since the last fsync
	ok       bool      // a Send to this file succeeded: it holds accepted lines
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// New validates cfg and returns a target; no file is created before the
// first delivery.
func New(cfg Config) (*Target, error) {
	if err := rotate.Validate(cfg.Path); err != nil {
		return nil, fmt.Errorf("file target: %w", err)
	}
	switch cfg.Compression {
	case "", CompressNone:
		cfg.Compression = CompressNone
	case CompressGzip:
		if !strings.HasSuffix(cfg.Path, ".gz") {
			cfg.Path += ".gz"
		}
	case CompressZstd:
		if !strings.HasSuffix(cfg.Path, ".zst") {
			cfg.Path += ".zst"
		}
	default:
		return nil, fmt.Errorf("file target: compression %q: want none, gzip or zstd", cfg.Compression)
	}
	switch cfg.Fsync {
	case "":
		cfg.Fsync = FsyncRotate
	case FsyncNever, FsyncRotate, FsyncAlways, FsyncInterval:
	default:
		return nil, fmt.Errorf("file target: fsync %q: want never, rotate, always or interval", cfg.Fsync)
	}
	if cfg.FsyncInterval <= 0 {
		cfg.FsyncInterval = time.Second
	}
	if err := rotate.CheckLimits(cfg.MaxSize, cfg.Interval); err != nil {
		return nil, fmt.Errorf("file target: %w", err)
	}
	cfg.Perm, cfg.Location, cfg.Now = rotate.Defaults(cfg.Perm, cfg.Location, cfg.Now)
	t := &Target{cfg: cfg}
	if cfg.Interval > 0 || cfg.Fsync == FsyncInterval {
		tick := cfg.FsyncInterval
		if cfg.Interval > 0 && (cfg.Fsync != FsyncInterval || cfg.Interval < tick) {
			tick = min(cfg.Interval, time.Second)
		}
		lastSync := time.Now()
		t.arch.Start(tick, func() { t.background(&lastSync) })
	}
	return t, nil
}

// background closes idle files at interval boundaries and runs the interval
// fsync policy; t.arch is locked.
func (t *Target) background(lastSync *time.Time) {
	if t.cur == nil {
		return
	}
	if !t.cur.deadline.IsZero() && !t.cfg.Now().Before(t.cur.deadline) {
		t.finish()
	} else if t.cfg.Fsync == FsyncInterval && time.Since(*lastSync) >= t.cfg.FsyncInterval && t.cur.dirty {
		if err := t.cur.sync(); err != nil {
			t.broken = true
			t.arch.Keep(fmt.Errorf("file target: fsync %s: %w", t.cur.name, err))
		}
		*lastSync = time.Now()
	}
}

// Files returns the names of the files this target has created, oldest first.
func (t *Target) Files() []string { return t.arch.Files() }

// CopiesBatch tells the deliverer that Send keeps nothing of the batch once
// it returns (the lines are in the file's buffer or written), so the
// buffers the bodies were queued in can be reused.
func (t *Target) CopiesBatch() {}

// Send appends the batch's bodies as lines.
func (t *Target) Send(ctx context.Context, batch []handoff.Delivery) error {
	t.arch.Lock()
	defer t.arch.Unlock()
	if t.arch.Closed() {
		return target.Closed("file")
	}
	if ctx.Err() != nil {
		return target.Canceled("file", ctx)
	}
	if len(batch) == 0 {
		return nil
	}
	if t.broken {
		// A write failed earlier: the current file's tail is unknown, so
		// finish it and start a new one.
		t.finish()
		t.broken = false
	}
	now := t.cfg.Now().In(t.cfg.Location)
	if t.cur != nil && t.rollover(now) {
		t.finish()
	}
	for i := range batch {
		d := &batch[i]
		// The event JSON (BodyJSON) is written as it is; anything else is
		// encoded as a JSON value first.
		n := len(d.Body) + 1
		if !d.BodyJSON {
			t.line = target.AppendLine(t.line[:0], d.Body)
			n = len(t.line)
		}
		if t.cur != nil && t.cfg.MaxSize > 0 && t.cur.full(n, t.cfg.MaxSize) {
			t.finish()
		}
		if t.cur == nil {
			if err := t.open(now); err != nil {
				return err
			}
		}
		if err := t.cur.writeLine(d, t.line); err != nil {
			return t.fail(err)
		}
		t.cur.lines += int64(n)
		t.cur.dirty = true
	}
	if cap(t.line) > 1<<20 {
		t.line = nil
	}
	if t.cfg.Fsync == FsyncAlways {
		if err := t.cur.sync(); err != nil {
			return t.fail(err)
		}
	} else if t.cur.gz == nil && t.cur.zs == nil {
		if err := t.cur.bw.Flush(); err != nil {
			return t.fail(err)
		}
	}
	t.cur.ok = true
	return nil
}

// fail reports a failed write. A file no Send succeeded to holds nothing
// accepted (the failed batch is retried): it is deleted at once, so that
// retries on a full disk do not leave an empty file each. Otherwise the
// file is finished before the next write.
func (t *Target) fail(err error) error {
	name := t.cur.name
	if t.cur.ok {
		t.broken = true
	} else {
		t.discard()
	}
	return fmt.Errorf("file target: write %s: %w", name, err)
}

// discard closes and deletes the current file.
func (t *Target) discard() {
	o := t.cur
	t.cur = nil
	o.f.Close()
	if err := os.Remove(o.name); err != nil && !os.IsNotExist(err) {
		t.arch.Keep(fmt.Errorf("file target: remove %s after a failed write: %w", o.name, err))
		return
	}
	t.arch.Removed(o.name)
}

// rollover reports whether the current file must be finished before
// writing at now.
func (t *Target) rollover(now time.Time) bool {
	if !t.cur.deadline.IsZero() && !now.Before(t.cur.deadline) {
		return true
	}
	return t.cfg.Interval == 0 && rotate.HasTime(t.cfg.Path) && rotate.Expand(t.cfg.Path, now) != t.cur.expanded
}

// writeLine writes d's line: its Body and a newline when d.BodyJSON, line
// (its encoded form) otherwise.
func (o *output) writeLine(d *handoff.Delivery, line []byte) error {
	if !d.BodyJSON {
		_, err := o.w.Write(line)
		return err
	}
	if o.w == io.Writer(o.bw) {
		o.bw.Write(d.Body)
		return o.bw.WriteByte('\n') // bufio keeps the first error
	}
	if _, err := o.w.Write(d.Body); err != nil {
		return err
	}
	_, err := o.w.Write(newline)
	return err
}

var newline = []byte{'\n'}

// full reports whether a line of n bytes must go to a new file.
func (o *output) full(n int, max int64) bool {
	if o.gz == nil && o.zs == nil {
		return o.lines > 0 && o.lines+int64(n) > max
	}
	return o.count.n+int64(o.bw.Buffered()) >= max
}

func (t *Target) open(now time.Time) error {
	expanded := rotate.Expand(t.cfg.Path, now)
	f, name, err := rotate.Create(expanded, t.cfg.Perm)
	if err != nil {
		return fmt.Errorf("file target: %w", err)
	}
	o := &output{f: f, name: name, expanded: expanded, deadline: rotate.NextBoundary(now, t.cfg.Interval)}
	o.count.w = f
	o.bw = bufio.NewWriterSize(&o.count, 256<<10)
	o.w = o.bw
	switch t.cfg.Compression {
	case CompressGzip:
		o.gz = gzip.NewWriter(o.bw)
		o.w = o.gz
	case CompressZstd:
		o.zs, err = zstd.NewWriter(o.bw, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			f.Close()
			return fmt.Errorf("file target: zstd: %w", err)
		}
		o.w = o.zs
	}
	t.cur = o
	t.arch.Created(name)
	return nil
}

// sync flushes the compressor (a sync point) and the buffer, then fsyncs.
func (o *output) sync() error {
	if err := o.flush(); err != nil {
		return err
	}
	if err := o.f.Sync(); err != nil {
		return err
	}
	o.dirty = false
	return nil
}

func (o *output) flush() error {
	var err error
	switch {
	case o.gz != nil:
		err = o.gz.Flush()
	case o.zs != nil:
		err = o.zs.Flush()
	}
	if err != nil {
		return err
	}
	return o.bw.Flush()
}

// finish hands the current file to the background (t.arch.Later), which
// ends its compressed stream, flushes it, fsyncs it (unless Fsync is never)
// and closes it; errors are kept in t.arch for Close to report. The next
// write starts a new file at once.
func (t *Target) finish() {
	o := t.cur
	if o == nil {
		return
	}
	t.cur = nil
	sync := t.cfg.Fsync != FsyncNever
	t.arch.Later(func() error {
		var err error
		switch {
		case o.gz != nil:
			err = o.gz.Close()
		case o.zs != nil:
			err = o.zs.Close()
		}
		if e := o.bw.Flush(); err == nil {
			err = e
		}
		if err := rotate.Finish(o.f, err, sync); err != nil {
			return fmt.Errorf("file target: finish %s: %w", o.name, err)
		}
		return nil
	})
}

// Close finishes the current file. It is idempotent.
func (t *Target) Close() error { return t.arch.Close(t.finish) }
