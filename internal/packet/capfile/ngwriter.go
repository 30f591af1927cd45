package capfile

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// PcapngWriter writes a little-endian pcapng file with one section. Unlike a
// classic pcap file it holds packets of several link types: the first packet
// of each link type adds an Interface Description Block for it (nanosecond
// resolution), so a packet's interface in the output is its link type's, not
// info.InterfaceIndex. It buffers: call Flush before closing the underlying
// writer. A PcapngWriter is not safe for concurrent use.
type PcapngWriter struct {
	out     output
	snaplen int
	links   []packet.LinkType // interface i has link type links[i]
}

// NewPcapngWriter writes the Section Header Block to w (buffered). snaplen 0
// means MaxCaptureLength; longer packets are truncated to it.
func NewPcapngWriter(w io.Writer, snaplen int) (*PcapngWriter, error) {
	snaplen, err := checkSnaplen(snaplen)
	if err != nil {
		return nil, err
	}
	pw := &PcapngWriter{out: newOutput(w, "pcapng"), snaplen: snaplen}
	le := binary.LittleEndian
	const app = "wirebridge"
	blen := uint32(28 + 4 + (len(app)+3)&^3 + 4)
	b := pw.out.buf
	b = le.AppendUint32(b, blockSHB)
	b = le.AppendUint32(b, blen)
	b = le.AppendUint32(b, 0x1a2b3c4d)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint64(b, ^uint64(0))  // section length not given
	b = appendOption(b, 4, []byte(app)) // shb_userappl
	b = le.AppendUint32(b, 0)           // opt_endofopt
	b = le.AppendUint32(b, blen)
	pw.out.buf = b
	return pw, nil
}

func appendOption(b []byte, code uint16, val []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	return append(b, zeros[:(4-len(val)%4)%4]...)
}

var zeros [4]byte

// WritePacket appends one packet as an Enhanced Packet Block. A zero
// info.Timestamp (as from a pcapng Simple Packet Block) is written as the
// epoch; other times must lie between 1970 and 2262 (64-bit nanoseconds).
// info.Length 0 or less than len(data) means len(data).
func (w *PcapngWriter) WritePacket(info packet.CaptureInfo, data []byte) error {
	if w.out.err != nil {
		return w.out.err
	}
	var ts uint64
	if !info.Timestamp.IsZero() {
		ns := info.Timestamp.UnixNano()
		if info.Timestamp.Year() < 1970 || info.Timestamp.Year() > 2262 || ns < 0 {
			return fmt.Errorf("capfile: timestamp %s cannot be stored in a pcapng block", info.Timestamp.Format(time.RFC3339Nano))
		}
		ts = uint64(ns)
	}
	caplen := min(len(data), w.snaplen)
	orig := max(info.Length, len(data))
	if int64(orig) > 0xffffffff {
		return fmt.Errorf("capfile: original length %d cannot be stored in a pcapng block", orig)
	}
	id := -1
	for i, l := range w.links {
		if l == info.LinkType {
			id = i
			break
		}
	}
	pad := (4 - caplen%4) % 4
	need := 32 + caplen + pad
	if id < 0 {
		need += 32
	}
	if w.out.full(need) {
		if err := w.out.flush(); err != nil {
			return err
		}
	}
	le := binary.LittleEndian
	b := w.out.buf
	if id < 0 {
		id = len(w.links)
		w.links = append(w.links, info.LinkType)
		b = le.AppendUint32(b, blockIDB)
		b = le.AppendUint32(b, 32)
		b = le.AppendUint16(b, uint16(info.LinkType))
		b = le.AppendUint16(b, 0)
		b = le.AppendUint32(b, uint32(w.snaplen))
		b = append(b, optIfTsresol, 0, 1, 0, 9, 0, 0, 0) // if_tsresol = 9 (ns), padded
		b = le.AppendUint32(b, 0)                        // opt_endofopt
		b = le.AppendUint32(b, 32)
	}
	blen := uint32(32 + caplen + pad)
	b = le.AppendUint32(b, blockEPB)
	b = le.AppendUint32(b, blen)
	b = le.AppendUint32(b, uint32(id))
	b = le.AppendUint32(b, uint32(ts>>32))
	b = le.AppendUint32(b, uint32(ts))
	b = le.AppendUint32(b, uint32(caplen))
	b = le.AppendUint32(b, uint32(orig))
	b = append(b, data[:caplen]...)
	b = append(b, zeros[:pad]...)
	b = le.AppendUint32(b, blen)
	w.out.buf = b
	return nil
}

// Flush writes the buffered data to the underlying writer.
func (w *PcapngWriter) Flush() error { return w.out.flush() }
