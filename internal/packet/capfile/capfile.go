// Package capfile reads and writes capture files: classic pcap (microsecond
// and nanosecond, either byte order) and pcapng. It sits at the very start of
// the wirebridge data path, under the pcap file source and `wirebridge read`,
// and at its very end, under the pcap archive target:
//
//	pcap file ──► capfile.Reader ──► packet ──► event ──► rule ──► deliver ──► target (pcap: capfile.Writer)
//
// Writer writes classic pcap (one link type per file); PcapngWriter writes
// pcapng and accepts packets of several link types in one file.
//
// It is written from the file format specifications (no cgo, no libpcap) and
// is built for throughput: the Reader keeps one large buffer and returns
// packet data as a slice into it, so reading allocates nothing per packet.
//
// # Limits
//
// Length fields in a file are not trusted with memory:
//
//   - a packet's captured length may not exceed MaxCaptureLength (256 KiB,
//     libpcap's own MAXIMUM_SNAPLEN); a larger one is reported as corrupt;
//   - a pcapng block the reader has to hold in memory (Section Header,
//     Interface Description, Enhanced/Simple/obsolete Packet blocks) may not
//     exceed MaxBlockLength (1 MiB). Every other block (name resolution,
//     statistics, decryption secrets, custom, unknown) is skipped by streaming
//     past it, whatever its length, without buffering it;
//   - a pcapng section may define at most MaxInterfaces interfaces.
//
// So the memory a Reader uses is bounded by its buffer (DefaultBufferSize, or
// MaxBlockLength when a block needs it) plus a few bytes per interface.
package capfile

import (
	"errors"
	"fmt"
)

// Bounds on what a file may ask the reader to hold; see the package comment.
const (
	MaxCaptureLength  = 256 << 10 // largest captured packet accepted (262144, libpcap's MAXIMUM_SNAPLEN)
	MaxBlockLength    = 1 << 20   // largest pcapng block the reader buffers
	MaxInterfaces     = 1 << 16   // most Interface Description Blocks in one pcapng section
	DefaultBufferSize = 1 << 20   // Reader buffer size used by NewReader
)

// Format names a capture file format.
type Format uint8

// Capture file formats.
const (
	FormatUnknown  Format = iota
	FormatPcap            // classic pcap, microsecond timestamps
	FormatPcapNano        // classic pcap, nanosecond timestamps
	FormatPcapNG          // pcapng
)

var formatNames = [...]string{"unknown", "pcap", "pcap-ns", "pcapng"}

// String returns "pcap", "pcap-ns", "pcapng" or "unknown".
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "unknown"
}

// ErrCorrupt is wrapped by every error that reports malformed file content
// (as opposed to a truncated file, which wraps io.ErrUnexpectedEOF, or a
// failing underlying reader, which wraps that reader's error).
var ErrCorrupt = errors.New("corrupt capture file")

// ErrUnknownFormat is wrapped by the error NewReader returns when the input
// is not a capture file format this package reads.
var ErrUnknownFormat = errors.New("unknown capture file format")

// Error describes a problem at a byte offset of a capture file.
type Error struct {
	Offset int64  // offset of the start of the header or block concerned
	Where  string // "pcap file header", "pcap record", "pcapng block", ...
	Msg    string // what is wrong, lower case
	Err    error  // ErrCorrupt, ErrUnknownFormat, io.ErrUnexpectedEOF or a read error
}

// Error formats as "capfile: pcapng block at offset 1234: block length 7 is not a multiple of 4".
func (e *Error) Error() string {
	s := fmt.Sprintf("capfile: %s at offset %d: %s", e.Where, e.Offset, e.Msg)
	if e.Err != nil && e.Err != ErrCorrupt {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause (ErrCorrupt, ErrUnknownFormat, io.ErrUnexpectedEOF, ...).
func (e *Error) Unwrap() error { return e.Err }

func corrupt(off int64, where, format string, args ...any) error {
	return &Error{Offset: off, Where: where, Msg: fmt.Sprintf(format, args...), Err: ErrCorrupt}
}
