package event

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
)

// pcapsDir is the repository's capture directory (testdata/pcaps), two
// levels above this package.
func pcapsDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "pcaps")
	if _, err := os.Stat(filepath.Join(dir, "SOURCES.md")); err != nil {
		t.Fatalf("captures missing (testdata/pcaps in the repository): %v", err)
	}
	return dir
}

// captureNames lists every capture file in the shared directory, sorted.
func captureNames(t testing.TB) []string {
	t.Helper()
	dir := pcapsDir(t)
	var names []string
	for _, pat := range []string{"*.pcap", "*.pcapng"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			names = append(names, filepath.Base(f))
		}
	}
	if len(names) == 0 {
		t.Fatalf("no captures in %s", dir)
	}
	sort.Strings(names)
	return names
}

// decodedPackets reads a shared capture and decodes every frame into its own
// Packet (holding a copy of the data). Decode errors are kept in the packets:
// events are built from partially decoded packets too.
func decodedPackets(t testing.TB, name string) []*packet.Packet {
	t.Helper()
	f, err := os.Open(filepath.Join(pcapsDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capfile.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []*packet.Packet
	for {
		data, info, err := r.Next()
		if errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: packet %d: %v", name, len(out)+1, err)
		}
		p := new(packet.Packet)
		_ = packet.Decode(p, append([]byte(nil), data...), info)
		out = append(out, p)
	}
	return out
}

// decodeFrame decodes a hand-built frame of the given link type.
func decodeFrame(t testing.TB, link packet.LinkType, frame []byte) *packet.Packet {
	t.Helper()
	p := new(packet.Packet)
	if err := packet.Decode(p, frame, packet.CaptureInfo{Timestamp: testTime, LinkType: link}); err != nil {
		t.Fatalf("decode hand-built frame: %v", err)
	}
	return p
}

// testTime is the capture time of hand-built packets and the clock of the
// fixed id generator.
var testTime = time.Date(2026, 11, 21, 20, 40, 15, 123456789, time.UTC)

// zeroReader is a randomness source of zeros, for deterministic ids.
type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// fixedEncoder returns an encoder whose ids and clock are deterministic:
// two fixedEncoders produce the same id sequence.
func fixedEncoder() *Encoder {
	clock := func() time.Time { return testTime }
	return &Encoder{IDs: NewIDGenerator(clock, zeroReader{}), Now: clock}
}

var (
	macA = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}
	macB = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}
)
