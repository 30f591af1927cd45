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
	// The dissectors' captures (internal/dissect/testdata): TLS, DHCP, NTP
	// and ARP traffic the shared captures lack.
	m, err := filepath.Glob(filepath.Join(dissectCaptures, "*.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m {
		names = append(names, dissectPrefix+filepath.Base(f))
	}
	return names
}

// Captures named dissectPrefix+file are in dissectCaptures.
const (
	dissectPrefix   = "dissect:"
	dissectCaptures = "../dissect/testdata"
)

// decodedPackets reads a shared capture and decodes every frame into its own
// Packet (holding a copy of the data). Decode errors are kept in the packets:
// events are built from partially decoded packets too.
func decodedPackets(t testing.TB, name string) []*packet.Packet {
	t.Helper()
	path := filepath.Join(pcapsDir(t), name)
	if n, ok := strings.CutPrefix(name, dissectPrefix); ok {
		path = filepath.Join(dissectCaptures, n)
	}
	f, err := os.Open(path)
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

// tlsServerHello is a TLS 1.3 ServerHello record: suite 0x1301, the
// supported_versions extension selecting 0x0304.
func tlsServerHello() []byte {
	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // session id
	body = append(body, 0x13, 0x01, 0)       // cipher suite, compression
	body = append(body, 0, 6, 0, 0x2b, 0, 2, 3, 4)
	hs := append([]byte{2, 0, 0, byte(len(body))}, body...)
	return append([]byte{22, 3, 3, 0, byte(len(hs))}, hs...)
}

// dhcpRelayedAck is a DHCPACK relayed by 192.168.10.1 for a renewing client
// (ciaddr, yiaddr, siaddr and giaddr all set).
func dhcpRelayedAck() []byte {
	b := make([]byte, 236)
	b[0], b[1], b[2] = 2, 1, 6 // reply, Ethernet, 6-byte address
	copy(b[4:8], []byte{0xde, 0xad, 0xbe, 0xef})
	copy(b[12:16], []byte{10, 0, 0, 7})     // ciaddr
	copy(b[16:20], []byte{10, 0, 0, 7})     // yiaddr
	copy(b[20:24], []byte{10, 0, 0, 1})     // siaddr
	copy(b[24:28], []byte{192, 168, 10, 1}) // giaddr
	copy(b[28:34], []byte{2, 0, 0, 0, 0, 0x0a})
	b = append(b, 99, 130, 83, 99)
	b = append(b, 53, 1, 5, 54, 4, 10, 0, 0, 1, 51, 4, 0, 0, 0x0e, 0x10, 255)
	return b
}
