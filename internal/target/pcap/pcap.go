// Package pcap is the packet archive target: it writes the original captured
// frames of the deliveries (Delivery.Frame, Delivery.Capture) to rotating
// classic pcap files that tshark, tcpdump and Wireshark read. It is a local
// sink at the end of the data path (deliver ──► target/pcap ──► disk), using
// the writer in internal/packet/capfile.
//
// # Files
//
// Path is a pattern with time directives (%Y %m %d %H %M %S %%, see the
// file target), expanded in Location (UTC by default) when a file is opened.
// A pcap file holds one link type, so each link type gets its own file: the
// first link type seen after a rotation writes to the expanded path, any
// other one to the path with "-<link>" inserted before the extension
// (archive.pcap, archive-raw.pcap, archive-linux-sll.pcap). Files are
// created, never appended to ("-1", "-2", ... when a name exists).
//
// A new set of files is started on each multiple of Interval (idle files are
// finished at the boundary), or, without Interval, when the expanded pattern
// changes; a single file is replaced when the next frame would take it past
// MaxSize bytes (exact: the size is the file's size on disk once flushed).
//
// Timestamps are written with nanosecond precision unless Microsecond is
// set. Frames longer than Snaplen (default 262144) are truncated, keeping
// their original length. A delivery without a frame cannot be archived: it
// fails permanently (an *handoff.BatchError naming its index).
//
// Each Send ends with a write(2) of what it added, so a crash loses at most
// what an unfinished Send held and leaves at most a partial last record.
// Fsync: "never", "rotate" (default: when a file is finished) or "always"
// (at the end of every Send). Send calls are serialised by a mutex. A file
// rotated away from is finished (flushed, fsynced unless Fsync is "never",
// closed) in the background, in order and at most two at a time, so a Send
// never waits for an fsync; Close waits for them and reports the first
// error of one.
//
// A failed write (a full disk, say) fails the Send, which deliver retries. A
// file no record was written to yet is deleted at once, so retries on a full
// disk leave no empty or header-only file behind each; otherwise the file is
// finished and the retry starts a new one.
package pcap

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
	"github.com/wirebridge/wirebridge/internal/target"
	"github.com/wirebridge/wirebridge/internal/target/internal/rotate"
)

// Fsync policies.
const (
	FsyncNever  = "never"
	FsyncRotate = "rotate"
	FsyncAlways = "always"
)

// Config configures a pcap target.
type Config struct {
	Path        string        // file name pattern (required), e.g. data/pcap/capture-%Y%m%d-%H.pcap
	MaxSize     int64         // replace a file before it would pass this many bytes; 0: no limit
	Interval    time.Duration // start new files on each multiple of Interval; 0: never
	Snaplen     int           // default capfile.MaxCaptureLength (262144)
	Microsecond bool          // microsecond timestamps instead of nanosecond
	Fsync       string        // never, rotate (default), always
	Perm        os.FileMode   // default 0644
	Location    *time.Location
	Now         func() time.Time
}

// Target writes pcap files.
type Target struct {
	cfg Config

	// arch holds the mutex serialising Send, Close and the background
	// work, the closed flag, the files created and the first error no Send
	// reported, which Close returns.
	arch     rotate.Archive
	outs     map[packet.LinkType]*output
	first    packet.LinkType // link type owning the plain name in this period
	expanded string          // the pattern as expanded for this period
	deadline time.Time
}

type output struct {
	f     *os.File
	name  string
	w     *capfile.Writer
	size  int64 // bytes in the file once flushed
	dirty bool
	ok    bool // a flush of records succeeded: the file holds accepted frames
}

// New validates cfg and returns a target; no file is created before the
// first frame.
func New(cfg Config) (*Target, error) {
	if err := rotate.Validate(cfg.Path); err != nil {
		return nil, fmt.Errorf("pcap target: %w", err)
	}
	if cfg.Snaplen == 0 {
		cfg.Snaplen = capfile.MaxCaptureLength
	}
	if cfg.Snaplen < 0 || cfg.Snaplen > capfile.MaxCaptureLength {
		return nil, fmt.Errorf("pcap target: snaplen %d out of range 1..%d", cfg.Snaplen, capfile.MaxCaptureLength)
	}
	switch cfg.Fsync {
	case "":
		cfg.Fsync = FsyncRotate
	case FsyncNever, FsyncRotate, FsyncAlways:
	default:
		return nil, fmt.Errorf("pcap target: fsync %q: want never, rotate or always", cfg.Fsync)
	}
	if err := rotate.CheckLimits(cfg.MaxSize, cfg.Interval); err != nil {
		return nil, fmt.Errorf("pcap target: %w", err)
	}
	if cfg.MaxSize > 0 && cfg.MaxSize < 24+16+64 {
		return nil, fmt.Errorf("pcap target: max size %d is too small for a pcap file", cfg.MaxSize)
	}
	cfg.Perm, cfg.Location, cfg.Now = rotate.Defaults(cfg.Perm, cfg.Location, cfg.Now)
	t := &Target{cfg: cfg, outs: map[packet.LinkType]*output{}}
	if cfg.Interval > 0 {
		t.arch.Start(min(cfg.Interval, time.Second), t.background)
	}
	return t, nil
}

// background finishes idle files at interval boundaries; t.arch is locked.
func (t *Target) background() {
	if len(t.outs) > 0 && !t.cfg.Now().Before(t.deadline) {
		t.finishAll()
	}
}

// Files returns the names of the files this target has created, oldest first.
func (t *Target) Files() []string { return t.arch.Files() }

// LinkName is the file name suffix for a link type.
func LinkName(l packet.LinkType) string {
	switch l {
	case packet.LinkNull:
		return "null"
	case packet.LinkEthernet:
		return "ethernet"
	case packet.LinkRaw:
		return "raw"
	case packet.LinkLoop:
		return "loop"
	case packet.LinkLinuxSLL:
		return "linux-sll"
	case packet.LinkIPv4:
		return "ipv4"
	case packet.LinkIPv6:
		return "ipv6"
	case packet.LinkLinuxSLL2:
		return "linux-sll2"
	}
	return "link" + strconv.Itoa(int(l))
}

// Send archives the batch's frames.
// CopiesBatch tells the deliverer that Send keeps nothing of the batch once
// it returns (the records are copied into the file's write buffer), so the
// buffers the frames were queued in can be reused.
func (t *Target) CopiesBatch() {}

func (t *Target) Send(ctx context.Context, batch []handoff.Delivery) error {
	t.arch.Lock()
	defer t.arch.Unlock()
	if t.arch.Closed() {
		return target.Closed("pcap")
	}
	if ctx.Err() != nil {
		return target.Canceled("pcap", ctx)
	}
	if len(batch) == 0 {
		return nil
	}
	now := t.cfg.Now().In(t.cfg.Location)
	if len(t.outs) > 0 && t.rollover(now) {
		t.finishAll()
	}
	var failed map[int]error
	fail := func(i int, err error) {
		if failed == nil {
			failed = map[int]error{}
		}
		failed[i] = err
	}
	var werr error
	for i := range batch {
		d := &batch[i]
		if len(d.Frame) == 0 {
			fail(i, target.Permanentf("pcap target: delivery %s has no captured frame", d.ID))
			continue
		}
		info := d.Capture
		if info.Timestamp.IsZero() {
			info.Timestamp = d.Accepted
		}
		if ts := info.Timestamp.Unix(); ts < 0 || ts > 0xffffffff {
			fail(i, target.Permanentf("pcap target: delivery %s: timestamp %s out of pcap range", d.ID, info.Timestamp))
			continue
		}
		caplen := min(len(d.Frame), t.cfg.Snaplen)
		rec := int64(16 + caplen)
		o := t.outs[info.LinkType]
		if o != nil && t.cfg.MaxSize > 0 && o.size > 24 && o.size+rec > t.cfg.MaxSize {
			t.finish(info.LinkType)
			o = nil
		}
		if o == nil {
			var err error
			if o, err = t.open(now, info.LinkType); err != nil {
				werr = err
				break
			}
		}
		if err := o.w.WritePacket(info, d.Frame); err != nil {
			werr = fmt.Errorf("pcap target: write %s: %w", o.name, err)
			break
		}
		o.size += rec
		o.dirty = true
	}
	for l, o := range t.outs {
		if !o.dirty {
			continue
		}
		err := o.w.Flush()
		if err == nil && t.cfg.Fsync == FsyncAlways {
			err = o.f.Sync()
		}
		if err != nil {
			if werr == nil {
				werr = fmt.Errorf("pcap target: write %s: %w", o.name, err)
			}
			if o.ok {
				t.finish(l) // its tail is unknown: start a new file next time
			} else {
				t.discard(l) // nothing accepted in it: no empty file per retry
			}
			continue
		}
		o.dirty = false
		o.ok = o.ok || o.size > 24
	}
	if werr != nil {
		return werr // transient: the whole batch is tried again
	}
	if failed != nil {
		return &handoff.BatchError{Failed: failed}
	}
	return nil
}

func (t *Target) rollover(now time.Time) bool {
	if t.cfg.Interval > 0 {
		return !now.Before(t.deadline)
	}
	return rotate.HasTime(t.cfg.Path) && rotate.Expand(t.cfg.Path, now) != t.expanded
}

func (t *Target) open(now time.Time, link packet.LinkType) (*output, error) {
	if t.expanded == "" { // a new period
		t.expanded = rotate.Expand(t.cfg.Path, now)
		t.deadline = rotate.NextBoundary(now, t.cfg.Interval)
		t.first = link
	}
	name := t.expanded
	if link != t.first {
		name = rotate.Insert(name, LinkName(link))
	}
	f, name, err := rotate.Create(name, t.cfg.Perm)
	if err != nil {
		return nil, fmt.Errorf("pcap target: %w", err)
	}
	w, err := capfile.NewWriter(f, link, t.cfg.Snaplen, !t.cfg.Microsecond)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pcap target: %w", err)
	}
	o := &output{f: f, name: name, w: w, size: 24, dirty: true}
	t.outs[link] = o
	t.arch.Created(name)
	return o, nil
}

func (t *Target) finish(l packet.LinkType) {
	o := t.outs[l]
	if o == nil {
		return
	}
	delete(t.outs, l)
	sync := t.cfg.Fsync != FsyncNever
	// Flushed, fsynced and closed in the background (t.arch.Later): the
	// next write starts a new file at once.
	t.arch.Later(func() error {
		if err := rotate.Finish(o.f, o.w.Flush(), sync); err != nil {
			return fmt.Errorf("pcap target: finish %s: %w", o.name, err)
		}
		return nil
	})
}

// discard closes and deletes the file of link type l, which holds no
// accepted frame (its writes failed: the batch is retried). So retries on a
// full disk do not leave an empty or header-only file behind each.
func (t *Target) discard(l packet.LinkType) {
	o := t.outs[l]
	if o == nil {
		return
	}
	delete(t.outs, l)
	o.f.Close()
	if err := os.Remove(o.name); err != nil && !os.IsNotExist(err) {
		t.arch.Keep(fmt.Errorf("pcap target: remove %s after a failed write: %w", o.name, err))
		return
	}
	t.arch.Removed(o.name)
}

func (t *Target) finishAll() {
	for l := range t.outs {
		t.finish(l)
	}
	t.expanded = ""
}

// Close finishes the open files. It is idempotent.
func (t *Target) Close() error { return t.arch.Close(t.finishAll) }
