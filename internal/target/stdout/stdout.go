// Package stdout is the stdout delivery target: it writes each delivery's
// Body as one NDJSON line (see target.AppendLine) to an io.Writer, standard
// output by default. It is a local sink at the end of the data path
// (deliver ──► target/stdout ──► os.Stdout).
//
// Send calls are serialised: each batch is encoded into one buffer and
// written with a single Write, so lines of concurrent batches never
// interleave. A Write in progress cannot be interrupted: the context is
// checked before writing.
package stdout

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/target"
)

// Config configures a stdout target.
type Config struct {
	// Writer receives the lines; nil means os.Stdout. Close does not close it.
	Writer io.Writer
}

// Target writes NDJSON lines to a Writer.
type Target struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	closed bool
}

// New returns a stdout target.
func New(cfg Config) (*Target, error) {
	w := cfg.Writer
	if w == nil {
		w = os.Stdout
	}
	return &Target{w: w}, nil
}

// Send writes the batch as NDJSON lines with one Write call.
func (t *Target) Send(ctx context.Context, batch []event.Delivery) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return target.Closed("stdout")
	}
	if ctx.Err() != nil {
		return target.Canceled("stdout", ctx)
	}
	if len(batch) == 0 {
		return nil
	}
	b := t.buf[:0]
	for i := range batch {
		b = target.AppendLine(b, batch[i].Body)
	}
	t.buf = b
	if cap(t.buf) > 4<<20 { // do not keep a huge buffer after a huge batch
		t.buf = nil
	}
	if _, err := t.w.Write(b); err != nil {
		return fmt.Errorf("stdout target: write: %w", err)
	}
	return nil
}

// Close marks the target closed. It is idempotent.
func (t *Target) Close() error {
	t.mu.Lock()
	t.closed = true
	t.buf = nil
	t.mu.Unlock()
	return nil
}
