package capfile

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// pcapng block types.
const (
	blockSHB = 0x0a0d0d0a // Section Header
	blockIDB = 0x00000001 // Interface Description
	blockPB  = 0x00000002 // Packet (obsolete)
	blockSPB = 0x00000003 // Simple Packet
	blockEPB = 0x00000006 // Enhanced Packet
)

// Option codes of the Interface Description Block that matter for timestamps.
const (
	optEnd        = 0
	optIfTsresol  = 9
	optIfTsoffset = 14
)

const whereBlock = "pcapng block"

// iface is an Interface Description Block, reduced to what packets need.
type iface struct {
	link    packet.LinkType
	snaplen uint32
	offset  int64  // if_tsoffset, seconds added to every timestamp
	perSec  uint64 // timestamp units per second (power of 10 resolutions)
	scale   uint64 // ns per unit (fine == false) or units per ns (fine == true)
	fine    bool   // resolution finer than 1 ns
	pow2    bool   // resolution is 2^-shift seconds
	shift   uint
}

// setResolution sets the timestamp conversion from an if_tsresol value.
func (f *iface) setResolution(v uint8) error {
	if v&0x80 != 0 {
		e := uint(v & 0x7f)
		if e > 63 {
			return fmt.Errorf("if_tsresol 2^-%d is finer than this reader supports (2^-63)", e)
		}
		f.pow2, f.shift = true, e
		return nil
	}
	e := int(v)
	if e > 19 {
		return fmt.Errorf("if_tsresol 10^-%d is finer than this reader supports (10^-19)", e)
	}
	f.pow2 = false
	f.perSec = pow10(e)
	if e <= 9 {
		f.fine, f.scale = false, pow10(9-e)
	} else {
		f.fine, f.scale = true, pow10(e-9)
	}
	return nil
}

func pow10(e int) uint64 {
	p := uint64(1)
	for ; e > 0; e-- {
		p *= 10
	}
	return p
}

// time converts a 64-bit pcapng timestamp in this interface's units.
func (f *iface) time(ts uint64) time.Time {
	var sec, nsec uint64
	switch {
	case f.pow2:
		sec = ts >> f.shift
		frac := ts & (1<<f.shift - 1)
		hi, lo := bits.Mul64(frac, 1e9)
		nsec = hi<<(64-f.shift) | lo>>f.shift // frac*1e9 / 2^shift, < 1e9
	case f.perSec == 1e6: // the default: constant divisors compile to multiplications
		sec, nsec = ts/1e6, ts%1e6*1e3
	case f.perSec == 1e9:
		sec, nsec = ts/1e9, ts%1e9
	default:
		sec = ts / f.perSec
		frac := ts % f.perSec
		if f.fine {
			nsec = frac / f.scale
		} else {
			nsec = frac * f.scale
		}
	}
	return time.Unix(int64(sec)+f.offset, int64(nsec)).UTC()
}

// primeNG processes the blocks before the first packet block.
func (r *Reader) primeNG() error {
	for {
		avail := r.fill(8)
		if avail < 8 {
			return nil // Next reports the end or the truncation
		}
		switch r.u32(r.buf[r.r:]) {
		case blockEPB, blockSPB, blockPB:
			return nil
		}
		var info packet.CaptureInfo
		if _, err := r.block(&info); err != nil {
			return err
		}
	}
}

func (r *Reader) nextNG(info *packet.CaptureInfo) ([]byte, error) {
	if data := r.fastEPB(info); data != nil {
		return data, nil
	}
	for {
		data, err := r.block(info)
		if err != nil || data != nil {
			return data, err
		}
	}
}

// fastEPB returns the packet of a well-formed Enhanced Packet Block that is
// already buffered in full, decoding each field once in the section's byte
// order. Anything else (other blocks, partial or malformed blocks) returns
// nil and is left to block, which reports problems.
func (r *Reader) fastEPB(info *packet.CaptureInfo) []byte {
	b := r.buf[r.r:r.w]
	if len(b) < 32 {
		return nil
	}
	var typ, blen, ifid, tsHigh, tsLow, caplen, orig uint32
	if r.be {
		typ, blen = binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	} else {
		typ, blen = binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
	}
	if typ != blockEPB || blen < 32 || blen%4 != 0 || blen > MaxBlockLength || int(blen) > len(b) {
		return nil
	}
	n := int(blen)
	b = b[:n:n]
	var trailer uint32
	if r.be {
		ifid = binary.BigEndian.Uint32(b[8:])
		tsHigh, tsLow = binary.BigEndian.Uint32(b[12:]), binary.BigEndian.Uint32(b[16:])
		caplen, orig = binary.BigEndian.Uint32(b[20:]), binary.BigEndian.Uint32(b[24:])
		trailer = binary.BigEndian.Uint32(b[n-4:])
	} else {
		ifid = binary.LittleEndian.Uint32(b[8:])
		tsHigh, tsLow = binary.LittleEndian.Uint32(b[12:]), binary.LittleEndian.Uint32(b[16:])
		caplen, orig = binary.LittleEndian.Uint32(b[20:]), binary.LittleEndian.Uint32(b[24:])
		trailer = binary.LittleEndian.Uint32(b[n-4:])
	}
	if trailer != blen || ifid >= uint32(len(r.ifaces)) || caplen > MaxCaptureLength || int(caplen) > n-32 {
		return nil
	}
	f := &r.ifaces[ifid]
	info.Timestamp = f.time(uint64(tsHigh)<<32 | uint64(tsLow))
	info.CaptureLength = int(caplen)
	info.Length = int(orig)
	info.InterfaceIndex = int(ifid)
	info.LinkType = f.link
	r.r += n
	return b[28 : 28+caplen : 28+caplen]
}

// block consumes one pcapng block. It returns the packet of a packet block,
// a nil slice (and no error) for any other block, or an error.
func (r *Reader) block(info *packet.CaptureInfo) ([]byte, error) {
	off := r.Offset()
	avail := r.w - r.r
	if avail < 8 {
		avail = r.fill(8)
		if avail < 8 {
			if avail == 0 && r.srcErr == io.EOF {
				return nil, io.EOF
			}
			return nil, r.short(off, whereBlock, int64(avail), 8)
		}
	}
	typ := r.u32(r.buf[r.r:])
	if typ == blockSHB {
		return nil, r.readSHB(off)
	}
	blen := r.u32(r.buf[r.r+4:])
	if blen < 12 {
		return nil, corrupt(off, whereBlock, "block length %d is less than 12", blen)
	}
	if blen%4 != 0 {
		return nil, corrupt(off, whereBlock, "block length %d is not a multiple of 4", blen)
	}
	switch typ {
	case blockEPB, blockSPB, blockPB, blockIDB:
	default:
		// Anything else (name resolution, statistics, decryption secrets,
		// custom, unknown) is skipped without being held in memory.
		if left := r.skip(int64(blen) - 4); left > 0 {
			return nil, r.short(off, whereBlock, int64(blen)-4-left, int64(blen))
		}
		avail = r.fill(4)
		if avail < 4 {
			return nil, r.short(off, whereBlock, int64(blen)-4+int64(avail), int64(blen))
		}
		if t := r.u32(r.buf[r.r:]); t != blen {
			return nil, corrupt(off, whereBlock, "trailing block length %d does not match the leading %d", t, blen)
		}
		r.r += 4
		return nil, nil
	}
	if blen > MaxBlockLength {
		return nil, corrupt(off, whereBlock, "block length %d exceeds the limit %d", blen, MaxBlockLength)
	}
	n := int(blen)
	if avail < n {
		avail = r.fill(n)
		if avail < n {
			return nil, r.short(off, whereBlock, int64(avail), int64(n))
		}
	}
	b := r.buf[r.r : r.r+n : r.r+n]
	if t := r.u32(b[n-4:]); t != blen {
		return nil, corrupt(off, whereBlock, "trailing block length %d does not match the leading %d", t, blen)
	}

	var ifid, tsHigh, tsLow, caplen, orig uint32
	var start int
	switch typ {
	case blockIDB:
		if err := r.readIDB(off, b); err != nil {
			return nil, err
		}
		r.r += n
		return nil, nil
	case blockEPB, blockPB:
		name := "enhanced packet block"
		if typ == blockPB {
			name = "packet block"
		}
		if n < 32 {
			return nil, corrupt(off, whereBlock, "%s length %d is less than 32", name, n)
		}
		if typ == blockEPB {
			ifid = r.u32(b[8:])
		} else {
			ifid = uint32(r.u16(b[8:]))
		}
		tsHigh, tsLow = r.u32(b[12:]), r.u32(b[16:])
		caplen, orig = r.u32(b[20:]), r.u32(b[24:])
		if ifid >= uint32(len(r.ifaces)) {
			return nil, corrupt(off, whereBlock, "%s: interface %d is not defined (the section has %d)", name, ifid, len(r.ifaces))
		}
		if caplen > MaxCaptureLength {
			return nil, corrupt(off, whereBlock, "%s: captured length %d exceeds the limit %d", name, caplen, MaxCaptureLength)
		}
		if int(caplen) > n-32 {
			return nil, corrupt(off, whereBlock, "%s: captured length %d overruns the block (length %d)", name, caplen, n)
		}
		start = 28
		f := &r.ifaces[ifid]
		info.Timestamp = f.time(uint64(tsHigh)<<32 | uint64(tsLow))
		info.LinkType = f.link
	case blockSPB:
		if n < 16 {
			return nil, corrupt(off, whereBlock, "simple packet block length %d is less than 16", n)
		}
		if len(r.ifaces) == 0 {
			return nil, corrupt(off, whereBlock, "simple packet block before any interface description block")
		}
		f := &r.ifaces[0]
		orig = r.u32(b[8:])
		// The captured length is not stored: it is the original length
		// limited by the interface's snaplen (and by the block).
		caplen = orig
		if f.snaplen != 0 && caplen > f.snaplen {
			caplen = f.snaplen
		}
		if int(caplen) > n-16 {
			caplen = uint32(n - 16)
		}
		if caplen > MaxCaptureLength {
			return nil, corrupt(off, whereBlock, "simple packet block: captured length %d exceeds the limit %d", caplen, MaxCaptureLength)
		}
		start = 12
		info.LinkType = f.link
	}
	r.r += n
	info.CaptureLength = int(caplen)
	info.Length = int(orig)
	info.InterfaceIndex = int(ifid)
	return b[start : start+int(caplen) : start+int(caplen)], nil
}

// readSHB consumes a Section Header Block at off, which sets the byte order
// of the section and forgets the interfaces of the previous one.
func (r *Reader) readSHB(off int64) error {
	avail := r.fill(12)
	if avail < 12 {
		return r.short(off, whereBlock, int64(avail), 12)
	}
	bom := r.buf[r.r+8 : r.r+12]
	switch {
	case bom[0] == 0x1a && bom[1] == 0x2b && bom[2] == 0x3c && bom[3] == 0x4d:
		r.be = true
	case bom[0] == 0x4d && bom[1] == 0x3c && bom[2] == 0x2b && bom[3] == 0x1a:
		r.be = false
	default:
		return corrupt(off, whereBlock, "section header block: byte-order magic % x is invalid", bom)
	}
	blen := r.u32(r.buf[r.r+4:])
	if blen < 28 {
		return corrupt(off, whereBlock, "section header block length %d is less than 28", blen)
	}
	if blen%4 != 0 {
		return corrupt(off, whereBlock, "block length %d is not a multiple of 4", blen)
	}
	if blen > MaxBlockLength {
		return corrupt(off, whereBlock, "block length %d exceeds the limit %d", blen, MaxBlockLength)
	}
	n := int(blen)
	avail = r.fill(n)
	if avail < n {
		return r.short(off, whereBlock, int64(avail), int64(n))
	}
	b := r.buf[r.r : r.r+n]
	if major, minor := r.u16(b[12:]), r.u16(b[14:]); major != 1 {
		return corrupt(off, whereBlock, "section header block: unsupported pcapng version %d.%d (want 1.x)", major, minor)
	}
	if t := r.u32(b[n-4:]); t != blen {
		return corrupt(off, whereBlock, "trailing block length %d does not match the leading %d", t, blen)
	}
	r.ifaces = r.ifaces[:0]
	r.sections++
	r.r += n
	return nil
}

// readIDB parses the Interface Description Block b (whole block) at off.
func (r *Reader) readIDB(off int64, b []byte) error {
	if len(b) < 20 {
		return corrupt(off, whereBlock, "interface description block length %d is less than 20", len(b))
	}
	if len(r.ifaces) >= MaxInterfaces {
		return corrupt(off, whereBlock, "interface description block: more than %d interfaces in one section", MaxInterfaces)
	}
	f := iface{link: packet.LinkType(r.u16(b[8:])), snaplen: r.u32(b[12:])}
	resol := uint8(6)
	for opts := b[16 : len(b)-4]; len(opts) >= 4; {
		code, olen := r.u16(opts), int(r.u16(opts[2:]))
		if code == optEnd {
			break
		}
		if 4+olen > len(opts) {
			return corrupt(off, whereBlock, "interface description block: option %d length %d overruns the block", code, olen)
		}
		val := opts[4 : 4+olen]
		switch code {
		case optIfTsresol:
			if olen < 1 {
				return corrupt(off, whereBlock, "interface description block: if_tsresol option is empty")
			}
			resol = val[0]
		case optIfTsoffset:
			if olen != 8 {
				return corrupt(off, whereBlock, "interface description block: if_tsoffset option length %d, want 8", olen)
			}
			f.offset = int64(r.u64(val))
		}
		adv := 4 + (olen+3)&^3
		if adv > len(opts) {
			adv = len(opts)
		}
		opts = opts[adv:]
	}
	if err := f.setResolution(resol); err != nil {
		return corrupt(off, whereBlock, "interface description block: %v", err)
	}
	r.ifaces = append(r.ifaces, f)
	return nil
}
