package event

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
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

// dnsQ and dnsRR describe a question and a resource record for dnsMessage.
type dnsQ struct {
	name       string
	typ, class uint16
}

type dnsRR struct {
	name       string
	typ, class uint16
	ttl        uint32
	data       []byte
}

// dnsName is name in DNS wire form (labels, no compression).
func dnsName(name string) []byte {
	var b []byte
	if name != "" {
		for _, l := range strings.Split(name, ".") {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
	}
	return append(b, 0)
}

// dnsMessage builds a DNS message with header flags (QR, opcode, ... rcode as
// the 16-bit word), the questions and answer records given.
func dnsMessage(id, flags uint16, qs []dnsQ, ans []dnsRR) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(len(qs)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(ans)))
	b = append(b, 0, 0, 0, 0)
	for _, q := range qs {
		b = append(b, dnsName(q.name)...)
		b = binary.BigEndian.AppendUint16(b, q.typ)
		b = binary.BigEndian.AppendUint16(b, q.class)
	}
	for _, r := range ans {
		b = append(b, dnsName(r.name)...)
		b = binary.BigEndian.AppendUint16(b, r.typ)
		b = binary.BigEndian.AppendUint16(b, r.class)
		b = binary.BigEndian.AppendUint32(b, r.ttl)
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.data)))
		b = append(b, r.data...)
	}
	return b
}

// tcpDNS prefixes a DNS message with its two-byte length, as over TCP.
func tcpDNS(msg []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)
}
