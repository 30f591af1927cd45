package pipeline

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
	"github.com/wirebridge/wirebridge/internal/rule"
	"github.com/wirebridge/wirebridge/internal/source"
)

// pcapDir is where the shared captures are, relative to this package.
const pcapDir = "../../testdata/pcaps"

const seedPattern = `{"source":["udp.raw"],"detail":{"Destination":{"Port":[514]}}}`

// loadFrames reads every frame of a shared capture, copied.
func loadFrames(tb testing.TB, name string) []source.Frame {
	tb.Helper()
	f, err := os.Open(filepath.Join(pcapDir, name))
	if err != nil {
		tb.Fatalf("capture missing (testdata/pcaps in the repository): %v", err)
	}
	defer f.Close()
	r, err := capfile.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var out []source.Frame
	for {
		data, info, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, source.Frame{Data: append([]byte(nil), data...), Info: info})
	}
}

// dstPort decodes f, independently of the event, pattern and pipeline
// code, and returns the destination port of its innermost decoded transport
// header (UDP or TCP), or -1: what a pattern on detail.Destination.Port sees.
func dstPort(f source.Frame) int {
	var p packet.Packet
	_ = packet.Decode(&p, f.Data, f.Info)
	in := p.Inner()
	if in.Layers.Has(packet.LayerUDP) || in.Layers.Has(packet.LayerTCP) {
		return int(in.DstPort)
	}
	return -1
}

// port514 counts the frames with destination port 514 (dstPort).
func port514(tb testing.TB, frames []source.Frame) int {
	tb.Helper()
	n := 0
	for _, f := range frames {
		if dstPort(f) == 514 {
			n++
		}
	}
	return n
}

// emitAll emits frames in batches of size n, with the batch's buffers
// reused and scribbled over after each emit, as a real source does.
func emitAll(emit source.Emit, name, eventSource string, frames []source.Frame, n int) {
	var buf []byte
	batch := make([]source.Frame, 0, n)
	for i := 0; i < len(frames); i += n {
		end := min(i+n, len(frames))
		buf = buf[:0]
		batch = batch[:0]
		for _, f := range frames[i:end] {
			off := len(buf)
			buf = append(buf, f.Data...)
			batch = append(batch, source.Frame{Data: buf[off:len(buf):len(buf)], Info: f.Info})
		}
		emit(source.Batch{Source: name, EventSource: eventSource, Frames: batch})
		for j := range buf { // the source reuses its buffers once emit returns
			buf[j] = 0xee
		}
	}
}

// recorder is an in-test Deliverer that keeps copies of what it receives.
type recorder struct {
	mu   sync.Mutex
	got  []handoff.Delivery
	gate chan struct{} // when set, Enqueue waits for it to close (or ctx)
	max  int           // when > 0, accept at most max deliveries in total
}

func (r *recorder) Enqueue(ctx context.Context, ds []handoff.Delivery) (int, error) {
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(ds)
	if r.max > 0 && len(r.got)+n > r.max {
		n = max(r.max-len(r.got), 0)
	}
	for _, d := range ds[:n] {
		if d.Body != nil {
			d.Body = append([]byte(nil), d.Body...)
		}
		if d.Frame != nil {
			d.Frame = append([]byte(nil), d.Frame...)
		}
		r.got = append(r.got, d)
	}
	return n, nil
}

func (r *recorder) deliveries() []handoff.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]handoff.Delivery(nil), r.got...)
}

func cfgRule(name, pat string, targets ...string) rule.Spec {
	return rule.Spec{Name: name, Pattern: []byte(pat), Targets: targets, Enabled: true}
}

func table(tb testing.TB, rules ...rule.Spec) *rule.Table {
	tb.Helper()
	t, err := rule.NewTable(rules)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}
