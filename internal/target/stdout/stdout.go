// Package stdout is the stdout delivery target: it writes each delivery's
// Body as one NDJSON line (see target.AppendLine) to an io.Writer, standard
// output by default; with Pretty, as indented JSON for people to read. It is
// a local sink at the end of the data path
// (deliver ──► target/stdout ──► os.Stdout).
//
// Send calls are serialised: each batch is encoded into one buffer and
// written with a single Write, so lines of concurrent batches never
// interleave. A Write in progress cannot be interrupted: the context is
// checked before writing.
package stdout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/target"
)

// Config configures a stdout target.
type Config struct {
	// Writer receives the lines; nil means os.Stdout. Close does not close it.
	Writer io.Writer
	// Pretty writes each delivery as indented JSON (two spaces) and a
	// newline instead of one NDJSON line: a stream of JSON values that
	// json.Decoder or jq read, but not line by line. Bodies that are not
	// JSON become the same JSON string or {"base64":...} value as in NDJSON.
	Pretty bool
}

// Target writes NDJSON lines to a Writer.
type Target struct {
	mu      sync.Mutex
	w       io.Writer
	pretty  bool
	buf     []byte
	scratch []byte // pretty: one compact value before indenting
	closed  bool
}

// New returns a stdout target.
func New(cfg Config) (*Target, error) {
	w := cfg.Writer
	if w == nil {
		w = os.Stdout
	}
	return &Target{w: w, pretty: cfg.Pretty}, nil
}

// Send writes the batch as NDJSON lines (or indented values) with one Write call.
// CopiesBatch tells the deliverer that Send keeps nothing of the batch once
// it returns (the lines are copied into the target's buffer and written), so
// the buffers the bodies were queued in can be reused.
func (t *Target) CopiesBatch() {}

func (t *Target) Send(ctx context.Context, batch []handoff.Delivery) error {
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
		if t.pretty {
			t.scratch = target.AppendDeliveryValue(t.scratch[:0], &batch[i])
			b = appendIndented(b, t.scratch)
		} else {
			b = target.AppendDeliveryLine(b, &batch[i])
		}
	}
	t.buf = b
	if cap(t.buf) > 4<<20 { // do not keep a huge buffer after a huge batch
		t.buf = nil
	}
	if cap(t.scratch) > 4<<20 {
		t.scratch = nil
	}
	if _, err := t.w.Write(b); err != nil {
		return fmt.Errorf("stdout target: write: %w", err)
	}
	return nil
}

// appendIndented appends the JSON value v indented by two spaces per level,
// and a newline.
func appendIndented(dst, v []byte) []byte {
	buf := bytes.NewBuffer(dst)
	if err := json.Indent(buf, v, "", "  "); err != nil {
		// Unreachable: AppendValue always makes valid JSON. Keep the value.
		buf.Truncate(len(dst))
		buf.Write(v)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// Close marks the target closed. It is idempotent.
func (t *Target) Close() error {
	t.mu.Lock()
	t.closed = true
	t.buf = nil
	t.mu.Unlock()
	return nil
}
