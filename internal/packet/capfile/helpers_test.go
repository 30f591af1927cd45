package capfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// pcapsDir returns the shared capture directory (../../../testdata/pcaps
// from this package).
func pcapsDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "testdata", "pcaps")
	if _, err := os.Stat(filepath.Join(dir, "SOURCES.md")); err != nil {
		t.Fatalf("captures missing (testdata/pcaps in the repository): %v", err)
	}
	return dir
}

// captureFiles lists every *.pcap and *.pcapng in the shared directory.
func captureFiles(t testing.TB) []string {
	t.Helper()
	dir := pcapsDir(t)
	var files []string
	for _, pat := range []string{"*.pcap", "*.pcapng"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatalf("no capture files in %s", dir)
	}
	return files
}

type record struct {
	data []byte
	info packet.CaptureInfo
}

// readAll reads every packet (copying the data) until an error; io.EOF is
// returned as nil.
func readAll(t testing.TB, input []byte) ([]record, *Reader, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(input))
	if err != nil {
		return nil, nil, err
	}
	var recs []record
	for {
		data, info, err := r.Next()
		if errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return recs, r, nil
		}
		if err != nil {
			return recs, r, err
		}
		recs = append(recs, record{data: bytes.Clone(data), info: info})
	}
}

// readFile reads the capture at path and all its records, failing the test
// on any error; it also returns the file's bytes.
func readFile(t testing.TB, path string) ([]record, *Reader, []byte) {
	t.Helper()
	input, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, r, err := readAll(t, input)
	if err != nil {
		t.Fatalf("read %s: %v", filepath.Base(path), err)
	}
	return recs, r, input
}

// readShared is readFile for a capture of the shared pcaps directory.
func readShared(t testing.TB, name string) ([]record, *Reader) {
	t.Helper()
	recs, r, _ := readFile(t, filepath.Join(pcapsDir(t), name))
	return recs, r
}

// packetWriter is what Writer and PcapngWriter have in common.
type packetWriter interface {
	WritePacket(packet.CaptureInfo, []byte) error
	Flush() error
}

// writeRecords writes recs with w and flushes it.
func writeRecords(t testing.TB, w packetWriter, recs []record) {
	t.Helper()
	for _, rec := range recs {
		if err := w.WritePacket(rec.info, rec.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// asPcapngWritten returns the CaptureInfo of recs as a PcapngWriter's file
// reads back: a zero time as the epoch, and one interface per link type,
// numbered in order of first appearance.
func asPcapngWritten(recs []record) []record {
	c := slices.Clone(recs)
	var links []packet.LinkType
	for i := range c {
		info := &c[i].info
		if info.Timestamp.IsZero() {
			info.Timestamp = time.Unix(0, 0).UTC()
		}
		info.InterfaceIndex = slices.Index(links, info.LinkType)
		if info.InterfaceIndex < 0 {
			info.InterfaceIndex = len(links)
			links = append(links, info.LinkType)
		}
	}
	return c
}

// byteOrder is binary.LittleEndian or binary.BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// ngBuilder writes pcapng blocks for tests.
type ngBuilder struct {
	order byteOrder
	b     []byte
}

func (g *ngBuilder) block(typ uint32, body []byte) {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	g.b = g.order.AppendUint32(g.b, typ)
	g.b = g.order.AppendUint32(g.b, n)
	g.b = append(g.b, body...)
	g.b = g.order.AppendUint32(g.b, n)
}

func (g *ngBuilder) shb(order byteOrder) {
	g.order = order
	var body []byte
	body = order.AppendUint32(body, 0x1a2b3c4d)
	body = order.AppendUint16(body, 1)
	body = order.AppendUint16(body, 0)
	body = order.AppendUint64(body, ^uint64(0)) // section length unknown
	g.block(blockSHB, body)
}

type ngOpt struct {
	code uint16
	val  []byte
}

func (g *ngBuilder) opts(body []byte, opts []ngOpt) []byte {
	if len(opts) == 0 {
		return body
	}
	for _, o := range opts {
		body = g.order.AppendUint16(body, o.code)
		body = g.order.AppendUint16(body, uint16(len(o.val)))
		body = append(body, o.val...)
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
	}
	return append(body, 0, 0, 0, 0) // opt_endofopt
}

func (g *ngBuilder) idb(link uint16, snaplen uint32, opts ...ngOpt) {
	var body []byte
	body = g.order.AppendUint16(body, link)
	body = g.order.AppendUint16(body, 0)
	body = g.order.AppendUint32(body, snaplen)
	g.block(blockIDB, g.opts(body, opts))
}

func (g *ngBuilder) epb(ifid uint32, ts uint64, orig uint32, data []byte, opts ...ngOpt) {
	var body []byte
	body = g.order.AppendUint32(body, ifid)
	body = g.order.AppendUint32(body, uint32(ts>>32))
	body = g.order.AppendUint32(body, uint32(ts))
	body = g.order.AppendUint32(body, uint32(len(data)))
	body = g.order.AppendUint32(body, orig)
	body = append(body, data...)
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	g.block(blockEPB, g.opts(body, opts))
}

func (g *ngBuilder) pb(ifid uint16, ts uint64, orig uint32, data []byte) {
	var body []byte
	body = g.order.AppendUint16(body, ifid)
	body = g.order.AppendUint16(body, 0) // drops
	body = g.order.AppendUint32(body, uint32(ts>>32))
	body = g.order.AppendUint32(body, uint32(ts))
	body = g.order.AppendUint32(body, uint32(len(data)))
	body = g.order.AppendUint32(body, orig)
	body = append(body, data...)
	g.block(blockPB, body)
}

func (g *ngBuilder) spb(orig uint32, data []byte) {
	var body []byte
	body = g.order.AppendUint32(body, orig)
	body = append(body, data...)
	g.block(blockSPB, body)
}

func u64opt(order byteOrder, v uint64) []byte { return order.AppendUint64(nil, v) }

// pcapBytes builds a classic pcap file: header fields, then records.
func pcapBytes(order byteOrder, magic uint32, link uint32, snaplen uint32, recs ...[]byte) []byte {
	var b []byte
	b = order.AppendUint32(b, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, snaplen)
	b = order.AppendUint32(b, link)
	for _, r := range recs {
		b = append(b, r...)
	}
	return b
}

func pcapRec(order byteOrder, sec, frac, caplen, orig uint32, data []byte) []byte {
	var b []byte
	b = order.AppendUint32(b, sec)
	b = order.AppendUint32(b, frac)
	b = order.AppendUint32(b, caplen)
	b = order.AppendUint32(b, orig)
	return append(b, data...)
}
