package dissect

import (
	"errors"
	"io"
	"os"
	"testing"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
)

// capturedFrame is one decoded frame of a capture file, numbered from 1 as
// Wireshark numbers frames.
type capturedFrame struct {
	num int
	pkt *packet.Packet
}

// payload returns the innermost frame's payload: the transport payload, or
// an ARP frame's body.
func (f capturedFrame) payload() []byte { return f.pkt.Payload() }

// framesFromCapture decodes every frame of a capture file (a path inside the
// repository).
func framesFromCapture(t testing.TB, path string) []capturedFrame {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	r, err := capfile.NewReader(fh)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []capturedFrame
	for n := 1; ; n++ {
		data, info, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s frame %d: %v", path, n, err)
		}
		p := new(packet.Packet)
		// Decode errors are kept in p.Err; the layers decoded stay usable.
		_ = packet.Decode(p, append([]byte(nil), data...), info)
		out = append(out, capturedFrame{num: n, pkt: p})
	}
}

// frameNum returns frame n (from 1) of frames.
func frameNum(t testing.TB, frames []capturedFrame, n int) capturedFrame {
	t.Helper()
	if n < 1 || n > len(frames) {
		t.Fatalf("no frame %d (capture has %d)", n, len(frames))
	}
	return frames[n-1]
}
