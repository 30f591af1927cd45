package capfile

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// writerBufferSize is how many bytes the Writer gathers before writing.
const writerBufferSize = MaxCaptureLength + 64<<10

// Writer writes a classic pcap file (little-endian, version 2.4) with one
// link type. It buffers: call Flush before closing the underlying writer.
// A Writer is not safe for concurrent use.
type Writer struct {
	out     output
	link    packet.LinkType
	snaplen int
	nano    bool
}

// output gathers the bytes of a capture file and writes them in large
// blocks; the first write error sticks. Writer and PcapngWriter share it.
type output struct {
	w      io.Writer
	buf    []byte
	format string // "pcap" or "pcapng", for errors
	err    error  // sticky write error
}

func newOutput(w io.Writer, format string) output {
	return output{w: w, buf: make([]byte, 0, writerBufferSize), format: format}
}

// full reports whether n more bytes would overfill the buffer (flush first).
func (o *output) full(n int) bool { return len(o.buf)+n > cap(o.buf) }

// flush writes the buffered data to the underlying writer.
func (o *output) flush() error {
	if o.err != nil {
		return o.err
	}
	if len(o.buf) == 0 {
		return nil
	}
	n, err := o.w.Write(o.buf)
	if err == nil && n < len(o.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		o.err = fmt.Errorf("capfile: writing %s: %w", o.format, err)
		return o.err
	}
	o.buf = o.buf[:0]
	return nil
}

// checkSnaplen returns the snapshot length a writer uses for snaplen: 0
// means MaxCaptureLength.
func checkSnaplen(snaplen int) (int, error) {
	if snaplen == 0 {
		return MaxCaptureLength, nil
	}
	if snaplen < 0 || snaplen > MaxCaptureLength {
		return 0, fmt.Errorf("capfile: snaplen %d out of range 1..%d", snaplen, MaxCaptureLength)
	}
	return snaplen, nil
}

// NewWriter writes the pcap file header to w (buffered) and returns a Writer
// for packets of the given link type. snaplen 0 means MaxCaptureLength;
// packets longer than snaplen are truncated to it (their original length is
// kept). nano selects nanosecond timestamps (magic a1b23c4d) instead of
// microseconds.
func NewWriter(w io.Writer, link packet.LinkType, snaplen int, nano bool) (*Writer, error) {
	snaplen, err := checkSnaplen(snaplen)
	if err != nil {
		return nil, err
	}
	wr := &Writer{out: newOutput(w, "pcap"), link: link, snaplen: snaplen, nano: nano}
	var h [pcapFileHeaderLen]byte
	magic := uint32(magicMicro)
	if nano {
		magic = magicNano
	}
	le := binary.LittleEndian
	le.PutUint32(h[0:], magic)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	// thiszone and sigfigs stay 0.
	le.PutUint32(h[16:], uint32(snaplen))
	le.PutUint32(h[20:], uint32(link))
	wr.out.buf = append(wr.out.buf, h[:]...)
	return wr, nil
}

// WritePacket appends one packet. info.Timestamp gives the record time (a
// zero Timestamp, as from a pcapng Simple Packet Block, is written as the
// epoch; other times must lie between 1970 and 2106); info.Length the
// original length (0 or less than len(data) means len(data)). info.LinkType
// must be the Writer's link type: a classic pcap file holds only one.
func (w *Writer) WritePacket(info packet.CaptureInfo, data []byte) error {
	if w.out.err != nil {
		return w.out.err
	}
	if info.LinkType != w.link {
		return fmt.Errorf("capfile: packet link type %d differs from the file's link type %d", info.LinkType, w.link)
	}
	var sec int64
	var frac int64
	if !info.Timestamp.IsZero() {
		sec = info.Timestamp.Unix()
		if sec < 0 || sec > 0xffffffff {
			return fmt.Errorf("capfile: timestamp %s cannot be stored in a pcap record", info.Timestamp.Format(time.RFC3339Nano))
		}
		frac = int64(info.Timestamp.Nanosecond())
		if !w.nano {
			frac /= 1000
		}
	}
	caplen := len(data)
	if caplen > w.snaplen {
		caplen = w.snaplen
	}
	orig := info.Length
	if orig < len(data) {
		orig = len(data)
	}
	if int64(orig) > 0xffffffff {
		return fmt.Errorf("capfile: original length %d cannot be stored in a pcap record", orig)
	}
	if w.out.full(pcapRecordHeaderLen + caplen) {
		if err := w.out.flush(); err != nil {
			return err
		}
	}
	var h [pcapRecordHeaderLen]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], uint32(sec))
	le.PutUint32(h[4:], uint32(frac))
	le.PutUint32(h[8:], uint32(caplen))
	le.PutUint32(h[12:], uint32(orig))
	w.out.buf = append(w.out.buf, h[:]...)
	w.out.buf = append(w.out.buf, data[:caplen]...)
	return nil
}

// Flush writes the buffered data to the underlying writer.
func (w *Writer) Flush() error { return w.out.flush() }
