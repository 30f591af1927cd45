package packet

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// A tiny pcap/pcapng frame extractor for the decoder's tests and fuzz seeds
// (the real reader lives in internal/packet/capfile; this one keeps the
// decoder's tests independent of it).

const pcapDir = "../../testdata/pcaps"

type capFrame struct {
	data    []byte
	link    LinkType
	origLen int
}

func (c capFrame) info() CaptureInfo {
	return CaptureInfo{CaptureLength: len(c.data), Length: c.origLen, LinkType: c.link}
}

// captureFiles lists every capture in the shared directory; a missing
// directory fails the test (the repository is always checked out beside it).
func captureFiles(tb testing.TB) []string {
	tb.Helper()
	ents, err := os.ReadDir(pcapDir)
	if err != nil {
		tb.Fatalf("shared captures: %v", err)
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, ".pcap") || strings.HasSuffix(n, ".pcapng") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		tb.Fatalf("no captures in %s", pcapDir)
	}
	return out
}

func readCapture(tb testing.TB, name string) []capFrame {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(pcapDir, name))
	if err != nil {
		tb.Fatalf("read capture: %v", err)
	}
	frames, err := parseCapture(b)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return frames
}

func parseCapture(b []byte) ([]capFrame, error) {
	if len(b) < 24 {
		return nil, fmt.Errorf("short file")
	}
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		return parsePcap(b, binary.LittleEndian)
	case 0xd4c3b2a1, 0x4d3cb2a1:
		return parsePcap(b, binary.BigEndian)
	case 0x0a0d0d0a:
		return parsePcapng(b)
	}
	return nil, fmt.Errorf("unknown magic %x", b[:4])
}

func parsePcap(b []byte, bo binary.ByteOrder) ([]capFrame, error) {
	link := LinkType(bo.Uint32(b[20:24]) & 0xFFFF)
	var out []capFrame
	for off := 24; off < len(b); {
		if len(b)-off < 16 {
			return nil, fmt.Errorf("record header cut at %d", off)
		}
		incl := int(bo.Uint32(b[off+8:]))
		orig := int(bo.Uint32(b[off+12:]))
		off += 16
		if incl > len(b)-off {
			return nil, fmt.Errorf("record cut at %d", off)
		}
		out = append(out, capFrame{data: b[off : off+incl], link: link, origLen: orig})
		off += incl
	}
	return out, nil
}

func parsePcapng(b []byte) ([]capFrame, error) {
	var out []capFrame
	var bo binary.ByteOrder = binary.LittleEndian
	var links []LinkType
	for off := 0; off+12 <= len(b); {
		typ := bo.Uint32(b[off:])
		if typ == 0x0a0d0d0a { // section header: byte order and interfaces reset
			if binary.LittleEndian.Uint32(b[off+8:]) == 0x1a2b3c4d {
				bo = binary.LittleEndian
			} else {
				bo = binary.BigEndian
			}
			links = links[:0]
		}
		blen := int(bo.Uint32(b[off+4:]))
		if blen < 12 || blen > len(b)-off {
			return nil, fmt.Errorf("bad block length %d at %d", blen, off)
		}
		body := b[off+8 : off+blen-4]
		switch typ {
		case 1: // interface description
			if len(body) >= 2 {
				links = append(links, LinkType(bo.Uint16(body)))
			}
		case 6: // enhanced packet
			if len(body) >= 20 {
				ifc := int(bo.Uint32(body))
				cl := int(bo.Uint32(body[12:]))
				ol := int(bo.Uint32(body[16:]))
				if ifc < len(links) && cl <= len(body)-20 {
					out = append(out, capFrame{data: body[20 : 20+cl], link: links[ifc], origLen: ol})
				}
			}
		case 3: // simple packet: interface 0
			if len(body) >= 4 && len(links) > 0 {
				ol := int(bo.Uint32(body))
				cl := min(ol, len(body)-4)
				out = append(out, capFrame{data: body[4 : 4+cl], link: links[0], origLen: ol})
			}
		}
		off += blen
	}
	return out, nil
}

// checkInvariants asserts what must hold after any Decode: at least one
// frame, every offset and length inside the buffer, Err agreeing with the
// returned error.
func checkInvariants(tb testing.TB, p *Packet, err error) {
	tb.Helper()
	n := len(p.Data)
	if p.NumFrames < 1 || p.NumFrames > MaxDepth {
		tb.Fatalf("NumFrames = %d", p.NumFrames)
	}
	if (err == nil) != (p.Err == OK) || (err != nil && err != error(p.Err)) {
		tb.Fatalf("returned %v but p.Err = %v", err, p.Err)
	}
	if p.Err != OK && (p.ErrDepth < 0 || p.ErrDepth != p.NumFrames-1) {
		tb.Fatalf("ErrDepth %d with %d frames", p.ErrDepth, p.NumFrames)
	}
	if int(p.Err) >= len(kindNames) {
		tb.Fatalf("unknown kind %d", p.Err)
	}
	for i := 0; i < p.NumFrames; i++ {
		f := &p.Frames[i]
		in := func(name string, off int, absentOK bool) {
			if absentOK && off == -1 {
				return
			}
			if off < 0 || off > n {
				tb.Fatalf("frame %d: %s = %d outside [0,%d]", i, name, off, n)
			}
		}
		in("Start", f.Start, false)
		in("IPOff", f.IPOff, true)
		in("L4Off", f.L4Off, true)
		in("PayloadOff", f.PayloadOff, false)
		if f.PayloadLen < 0 || f.PayloadOff+f.PayloadLen > n {
			tb.Fatalf("frame %d: payload [%d,+%d) outside %d", i, f.PayloadOff, f.PayloadLen, n)
		}
		if f.PayloadWireLen < f.PayloadLen {
			tb.Fatalf("frame %d: PayloadWireLen %d < PayloadLen %d", i, f.PayloadWireLen, f.PayloadLen)
		}
		if f.IPOff >= 0 && f.IPOff < f.Start || f.L4Off >= 0 && (f.L4Off < f.IPOff || f.IPOff < 0) {
			tb.Fatalf("frame %d: offsets out of order: start %d ip %d l4 %d", i, f.Start, f.IPOff, f.L4Off)
		}
		if f.L4Partial && (f.L4Off < 0 || f.Layers&(LayerUDP|LayerTCP) == 0 || f.PayloadLen != 0) {
			tb.Fatalf("frame %d: partial transport header with l4 %d layers %#x payload %d", i, f.L4Off, f.Layers, f.PayloadLen)
		}
		if i > 0 && f.Link == LinkOpaque && (i != p.NumFrames-1 || f.Layers != 0 || f.IPOff != -1 || f.PayloadOff != f.Start) {
			tb.Fatalf("frame %d of %d: opaque frame with layers %#x ip %d payload at %d, start %d", i, p.NumFrames, f.Layers, f.IPOff, f.PayloadOff, f.Start)
		}
		if i > 0 && f.Start < p.Frames[i-1].Start {
			tb.Fatalf("frame %d starts at %d before its outer frame (%d)", i, f.Start, p.Frames[i-1].Start)
		}
	}
	for i := 0; i < p.NumFrames-1; i++ {
		t := &p.Tunnels[i]
		if t.Type == TunnelNone || t.Off < 0 || t.Off > n {
			tb.Fatalf("tunnel %d: type %v off %d", i, t.Type, t.Off)
		}
		if t.NumOptions < 0 || t.NumOptions > MaxGeneveOptions {
			tb.Fatalf("tunnel %d: %d options", i, t.NumOptions)
		}
		for j := 0; j < t.NumOptions; j++ {
			o := t.Options[j]
			if o.Off < 0 || o.Len < 0 || o.Off+o.Len > n {
				tb.Fatalf("tunnel %d option %d: [%d,+%d) outside %d", i, j, o.Off, o.Len, n)
			}
		}
	}
	_ = p.Payload()
	_ = p.Truncated()
}
