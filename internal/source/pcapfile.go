package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet/capfile"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// PCAPConfig configures a pcap (capture file replay) source.
type PCAPConfig struct {
	Common
	File  string
	Speed spec.Speed // recorded (default), scaled by Factor, or max
	Loop  bool       // start again at the end of the file
	Batch int        // frames per batch; default 64
}

// PCAP replays a pcap or pcapng file. Frames keep their recorded timestamps
// and link types; pacing follows the gaps between timestamps divided by the
// speed factor (a packet without a timestamp, or one earlier than the one
// before, is not delayed). Frames are copied from the file reader into the
// source's batch buffer, so a batch stays valid across reads.
type PCAP struct {
	cfg   PCAPConfig
	stats Stats
	adm   *admitter
	f     *os.File
	once  sync.Once

	// sleep waits for d or until ctx ends and elapsed tells the time since
	// Run started; tests replace both with a fake clock to observe pacing.
	sleep   func(ctx context.Context, d time.Duration) error
	elapsed func(start time.Time) time.Duration
}

// NewPCAP opens the file and checks its format.
func NewPCAP(cfg PCAPConfig) (*PCAP, error) {
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.Speed.Mode == "" {
		cfg.Speed = spec.Speed{Mode: spec.SpeedRecorded, Factor: 1}
	}
	if cfg.Speed.Mode == spec.SpeedScaled && cfg.Speed.Factor <= 0 {
		return nil, fmt.Errorf("pcap source %q: speed factor %v must be positive", cfg.Name, cfg.Speed.Factor)
	}
	// O_NONBLOCK: opening a FIFO must not wait for a writer. The source
	// replays a file from its start (again with loop), so only a regular
	// file will do.
	f, err := os.OpenFile(cfg.File, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("pcap source %q: %w", cfg.Name, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("pcap source %q: %s is not a regular file (a capture file is replayed from its start)", cfg.Name, cfg.File)
	}
	if _, err := capfile.NewReader(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("pcap source %q: %s: %w", cfg.Name, cfg.File, err)
	}
	p := &PCAP{cfg: cfg, f: f, sleep: sleepCtx, elapsed: time.Since}
	p.adm = newAdmitter(&p.cfg.Common, &p.stats)
	return p, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Name is the source's configured name.
func (p *PCAP) Name() string { return p.cfg.Name }

// Stats are the source's counters.
func (p *PCAP) Stats() *Stats { return &p.stats }

// Close closes the file of a source that is not running.
func (p *PCAP) Close() error {
	p.once.Do(func() { p.f.Close() })
	return nil
}

// Run replays the file (repeatedly with Loop) and returns nil at its end or
// when ctx is cancelled.
func (p *PCAP) Run(ctx context.Context, emit Emit) error {
	defer p.Close()
	batch := p.cfg.Batch
	buf := make([]byte, 0, 64<<10)
	frames := make([]Frame, 0, batch)
	senders := make([]netip.Addr, 0, batch)
	max := p.cfg.maxDatagram() + 64 // room for link + IP headers
	start := time.Now()
	var base time.Time // recorded time of the first packet
	var shift time.Duration
	var last time.Time
	flush := func() {
		if len(frames) == 0 {
			return
		}
		kept := p.adm.filter(frames, senders)
		if len(kept) > 0 {
			p.stats.Emitted.Add(uint64(len(kept)))
			emit(Batch{Source: p.cfg.Name, EventSource: p.cfg.EventSource, Frames: kept})
		}
		frames, senders, buf = frames[:0], senders[:0], buf[:0]
	}
	for {
		if _, err := p.f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("pcap source %q: %w", p.cfg.Name, err)
		}
		r, err := capfile.NewReader(p.f)
		if err != nil {
			return fmt.Errorf("pcap source %q: %w", p.cfg.Name, err)
		}
		var first, prev time.Time
		for {
			if ctx.Err() != nil {
				flush()
				return nil
			}
			data, info, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				flush()
				return fmt.Errorf("pcap source %q: %s: %w", p.cfg.Name, p.cfg.File, err)
			}
			ts := info.Timestamp
			if ts.IsZero() || ts.Before(prev) {
				ts = prev
			}
			if first.IsZero() {
				first = ts
			}
			prev = ts
			if base.IsZero() {
				base = ts
			}
			if p.cfg.Speed.Mode != spec.SpeedMax && !ts.IsZero() {
				due := ts.Sub(base) + shift
				if p.cfg.Speed.Mode == spec.SpeedScaled {
					due = time.Duration(float64(due) / p.cfg.Speed.Factor)
				}
				if wait := due - p.elapsed(start); wait > 0 {
					flush() // what is due now goes out before we wait
					if err := p.sleep(ctx, wait); err != nil {
						return nil
					}
				}
			}
			last = ts
			n := min(len(data), max)
			if len(buf)+n > cap(buf) || len(frames) == batch {
				flush()
				if n > cap(buf) {
					buf = make([]byte, 0, n)
				}
			}
			off := len(buf)
			buf = append(buf, data[:n]...)
			info.CaptureLength = n
			if info.Length < n {
				info.Length = n
			}
			if n < len(data) {
				p.stats.Truncated.Add(1)
			}
			p.stats.Received.Add(1)
			p.stats.Bytes.Add(uint64(info.Length))
			frames = append(frames, Frame{Data: buf[off : off+n : off+n], Info: info})
			senders = append(senders, senderOf(data, info.LinkType))
		}
		flush()
		if !p.cfg.Loop {
			return nil
		}
		if !first.IsZero() {
			// the next round starts where this one ended
			shift += last.Sub(first)
		}
		if p.stats.Received.Load() == 0 {
			return nil // an empty file loops forever otherwise
		}
	}
}
