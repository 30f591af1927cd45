package capfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// Magic numbers of classic pcap, as the first four bytes read big-endian.
const (
	magicMicro    = 0xa1b2c3d4
	magicMicroSw  = 0xd4c3b2a1
	magicNano     = 0xa1b23c4d
	magicNanoSw   = 0x4d3cb2a1
	magicKuznet   = 0xa1b2cd34 // "modified" pcap (Alexey Kuznetzov's patches)
	magicKuznetSw = 0x34cdb2a1
	magicNG       = 0x0a0d0d0a // pcapng Section Header Block type (a palindrome)
)

const (
	pcapFileHeaderLen   = 24
	pcapRecordHeaderLen = 16
)

// Reader reads packets from a classic pcap or pcapng stream.
//
// It buffers the input itself (one buffer of DefaultBufferSize bytes, grown
// only when a pcapng block larger than the buffer must be held, up to
// MaxBlockLength) and returns packet data as a slice of that buffer, so Next
// allocates nothing. A Reader is not safe for concurrent use.
type Reader struct {
	src    io.Reader
	buf    []byte
	r, w   int   // unread bytes are buf[r:w]
	base   int64 // file offset of buf[0]
	srcErr error // first error returned by src (io.EOF at the end of input)
	err    error // sticky error returned by Next

	format Format
	be     bool // current byte order is big-endian

	// Classic pcap.
	link    packet.LinkType
	snaplen int

	// pcapng: interfaces of the current section.
	ifaces   []iface
	sections int
}

// NewReader sniffs the format from the first bytes of r, reads the file
// header (pcap) or the first Section Header Block (pcapng), and returns a
// Reader positioned at the first packet.
func NewReader(r io.Reader) (*Reader, error) {
	return NewReaderSize(r, DefaultBufferSize)
}

// NewReaderSize is NewReader with a buffer of the given size (at least 4 KiB;
// it grows when a pcapng block needs more, up to MaxBlockLength). A small
// buffer suits many short inputs (tests, fuzzing); NewReader's 1 MiB suits files.
func NewReaderSize(r io.Reader, size int) (*Reader, error) {
	if size < 4096 {
		size = 4096
	}
	rd := &Reader{src: r, buf: make([]byte, size)}
	if err := rd.start(); err != nil {
		return nil, err
	}
	return rd, nil
}

// Format reports the format of the file.
func (r *Reader) Format() Format { return r.format }

// LinkType returns the link type of a classic pcap file. For pcapng, where
// every interface has its own (see CaptureInfo.LinkType), it returns the link
// type of interface 0 of the current section, or 0 when none is defined yet.
func (r *Reader) LinkType() packet.LinkType {
	if r.format == FormatPcapNG {
		if len(r.ifaces) > 0 {
			return r.ifaces[0].link
		}
		return 0
	}
	return r.link
}

// Snaplen returns the snapshot length of a classic pcap file header, or for
// pcapng that of interface 0 of the current section (0 means no limit).
func (r *Reader) Snaplen() int {
	if r.format == FormatPcapNG {
		if len(r.ifaces) > 0 {
			return int(r.ifaces[0].snaplen)
		}
		return 0
	}
	return r.snaplen
}

// Offset returns how many bytes of the input have been consumed: after Next
// returns a packet, the offset of the first byte after its record. Use it
// with the file size for a progress indicator.
func (r *Reader) Offset() int64 { return r.base + int64(r.r) }

// Next returns the next packet. data is valid only until the next call to
// Next (it points into the Reader's buffer); copy it to keep it. At the end
// of input Next returns io.EOF; a file cut short inside a record gives an
// error wrapping io.ErrUnexpectedEOF; malformed content gives an *Error
// wrapping ErrCorrupt. Errors are sticky.
//
// For pcapng, CaptureInfo.InterfaceIndex is the interface's index within its
// section, and packets from Simple Packet Blocks (which carry no timestamp)
// have a zero Timestamp. Timestamps are in UTC.
func (r *Reader) Next() (data []byte, info packet.CaptureInfo, err error) {
	if r.err != nil {
		return nil, info, r.err
	}
	if r.format == FormatPcapNG {
		data, err = r.nextNG(&info)
	} else {
		data, err = r.nextPcap(&info)
	}
	if err != nil {
		r.err = err
	}
	return data, info, err
}

func (r *Reader) start() error {
	avail := r.fill(4)
	if avail < 4 {
		return r.short(0, "file header", int64(avail), 4)
	}
	magic := binary.BigEndian.Uint32(r.buf[r.r:])
	switch magic {
	case magicNG:
		r.format = FormatPcapNG
		if err := r.readSHB(0); err != nil {
			return err
		}
		// Read the interface descriptions that precede the first packet so
		// LinkType and Snaplen answer before Next; a problem there is kept
		// for Next to report.
		r.err = r.primeNG()
		return nil
	case magicMicro, magicMicroSw, magicNano, magicNanoSw:
		return r.readPcapHeader(magic)
	case magicKuznet, magicKuznetSw:
		return &Error{Where: "pcap file header", Msg: fmt.Sprintf("magic %#08x is the modified (Kuznetzov) pcap format, which is not supported", magic), Err: ErrUnknownFormat}
	}
	b := r.buf[r.r : r.r+4]
	hint := ""
	switch {
	case b[0] == 0x1f && b[1] == 0x8b:
		hint = " (gzip-compressed: decompress it first)"
	case b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd:
		hint = " (zstd-compressed: decompress it first)"
	}
	return &Error{Where: "file header", Msg: fmt.Sprintf("first bytes % x are neither pcap nor pcapng%s", b, hint), Err: ErrUnknownFormat}
}

func (r *Reader) readPcapHeader(magic uint32) error {
	const where = "pcap file header"
	avail := r.fill(pcapFileHeaderLen)
	if avail < pcapFileHeaderLen {
		return r.short(0, where, int64(avail), pcapFileHeaderLen)
	}
	r.be = magic == magicMicro || magic == magicNano
	r.format = FormatPcap
	if magic == magicNano || magic == magicNanoSw {
		r.format = FormatPcapNano
	}
	h := r.buf[r.r : r.r+pcapFileHeaderLen]
	major, minor := r.u16(h[4:]), r.u16(h[6:])
	if major != 2 {
		return corrupt(0, where, "unsupported version %d.%d (want 2.x)", major, minor)
	}
	r.snaplen = int(r.u32(h[16:]))
	// The low 16 bits hold the link type; the high bits carry FCS information.
	r.link = packet.LinkType(r.u32(h[20:]) & 0xffff)
	r.r += pcapFileHeaderLen
	return nil
}

func (r *Reader) nextPcap(info *packet.CaptureInfo) ([]byte, error) {
	const where = "pcap record"
	off := r.Offset()
	avail := r.w - r.r
	if avail < pcapRecordHeaderLen {
		avail = r.fill(pcapRecordHeaderLen)
		if avail < pcapRecordHeaderLen {
			if avail == 0 && r.srcErr == io.EOF {
				return nil, io.EOF
			}
			return nil, r.short(off, where, int64(avail), pcapRecordHeaderLen)
		}
	}
	h := r.buf[r.r : r.r+pcapRecordHeaderLen]
	var sec, frac, caplen, orig uint32
	if r.be {
		sec = binary.BigEndian.Uint32(h[0:])
		frac = binary.BigEndian.Uint32(h[4:])
		caplen = binary.BigEndian.Uint32(h[8:])
		orig = binary.BigEndian.Uint32(h[12:])
	} else {
		sec = binary.LittleEndian.Uint32(h[0:])
		frac = binary.LittleEndian.Uint32(h[4:])
		caplen = binary.LittleEndian.Uint32(h[8:])
		orig = binary.LittleEndian.Uint32(h[12:])
	}
	if caplen > MaxCaptureLength {
		return nil, corrupt(off, where, "captured length %d exceeds the limit %d", caplen, MaxCaptureLength)
	}
	n := pcapRecordHeaderLen + int(caplen)
	if avail < n {
		avail = r.fill(n)
		if avail < n {
			return nil, r.short(off, where, int64(avail), int64(n))
		}
	}
	start := r.r + pcapRecordHeaderLen
	data := r.buf[start : start+int(caplen) : start+int(caplen)]
	r.r += n
	nsec := int64(frac)
	if r.format == FormatPcap {
		nsec *= 1000
	}
	info.Timestamp = time.Unix(int64(sec), nsec).UTC()
	info.CaptureLength = int(caplen)
	info.Length = int(orig)
	info.LinkType = r.link
	return data, nil
}

// fill tries to make n bytes available in buf[r:w] and returns how many are.
// When it returns fewer than n, r.srcErr says why. n must not exceed
// MaxBlockLength. Bytes before r may be moved or overwritten.
func (r *Reader) fill(n int) int {
	if r.w-r.r >= n {
		return r.w - r.r
	}
	if r.r == r.w {
		r.base += int64(r.r)
		r.r, r.w = 0, 0
	}
	if n > len(r.buf) {
		size := 2 * len(r.buf)
		if size > MaxBlockLength {
			size = MaxBlockLength
		}
		if size < n {
			size = n
		}
		nb := make([]byte, size)
		copy(nb, r.buf[r.r:r.w])
		r.base += int64(r.r)
		r.w -= r.r
		r.r = 0
		r.buf = nb
	} else if r.r+n > len(r.buf) {
		copy(r.buf, r.buf[r.r:r.w])
		r.base += int64(r.r)
		r.w -= r.r
		r.r = 0
	}
	for empty := 0; r.w-r.r < n && r.srcErr == nil; {
		m, err := r.src.Read(r.buf[r.w:])
		if m < 0 || m > len(r.buf)-r.w {
			r.srcErr = errors.New("underlying reader returned an invalid count")
			break
		}
		r.w += m
		if err != nil {
			r.srcErr = err
			break
		}
		if m == 0 {
			if empty++; empty >= 100 {
				r.srcErr = io.ErrNoProgress
			}
		} else {
			empty = 0
		}
	}
	return r.w - r.r
}

// skip consumes up to n bytes without holding them and returns how many it
// could not consume because the input ended.
func (r *Reader) skip(n int64) int64 {
	for n > 0 {
		if r.r == r.w && r.fill(1) == 0 {
			return n
		}
		k := int64(r.w - r.r)
		if k > n {
			k = n
		}
		r.r += int(k)
		n -= k
	}
	return 0
}

// short reports that only have of the want bytes of a header or record at
// off could be read.
func (r *Reader) short(off int64, where string, have, want int64) error {
	if r.srcErr == nil || r.srcErr == io.EOF {
		return &Error{Offset: off, Where: where, Msg: fmt.Sprintf("file ends after %d of %d bytes", have, want), Err: io.ErrUnexpectedEOF}
	}
	return &Error{Offset: off, Where: where, Msg: "read failed", Err: r.srcErr}
}

func (r *Reader) u16(b []byte) uint16 {
	if r.be {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *Reader) u32(b []byte) uint32 {
	if r.be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *Reader) u64(b []byte) uint64 {
	if r.be {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}
