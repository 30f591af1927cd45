package capfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestCorruptInput(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	rec4 := pcapRec(le, 1, 2, 4, 4, []byte{1, 2, 3, 4}) // 20 bytes

	// ng returns a pcapng file: LE section (28 bytes) + Ethernet IDB (20 bytes), then what f adds.
	ng := func(f func(g *ngBuilder)) []byte {
		g := &ngBuilder{}
		g.shb(le)
		g.idb(1, 0)
		if f != nil {
			f(g)
		}
		return g.b
	}
	// epbBody is an EPB body with the given fields and data.
	epbBody := func(ifid, caplen, orig uint32, data []byte) []byte {
		var b []byte
		b = le.AppendUint32(b, ifid)
		b = le.AppendUint64(b, 0)
		b = le.AppendUint32(b, caplen)
		b = le.AppendUint32(b, orig)
		return append(b, data...)
	}
	shbWith := func(bom uint32, major uint16, blen uint32) []byte {
		var b []byte
		b = le.AppendUint32(b, blockSHB)
		b = le.AppendUint32(b, blen)
		b = le.AppendUint32(b, bom)
		b = le.AppendUint16(b, major)
		b = le.AppendUint16(b, 0)
		b = le.AppendUint64(b, ^uint64(0))
		return le.AppendUint32(b, blen)
	}
	rawBlock := func(typ, blen uint32, body []byte) []byte {
		b := le.AppendUint32(nil, typ)
		b = le.AppendUint32(b, blen)
		return append(b, body...)
	}
	okEPB := func(g *ngBuilder) { g.epb(0, 1, 4, []byte{1, 2, 3, 4}) } // 36 bytes at offset 48

	cases := []struct {
		name   string
		input  []byte
		atOpen bool  // NewReader fails (otherwise the first failing Next)
		is     error // errors.Is target
		msg    string
	}{
		{"empty input", nil, true, io.ErrUnexpectedEOF,
			"capfile: file header at offset 0: file ends after 0 of 4 bytes: unexpected EOF"},
		{"magic cut short", []byte{0xd4, 0xc3}, true, io.ErrUnexpectedEOF,
			"capfile: file header at offset 0: file ends after 2 of 4 bytes: unexpected EOF"},
		{"text file", []byte("hello, this is not a capture"), true, ErrUnknownFormat,
			"capfile: file header at offset 0: first bytes 68 65 6c 6c are neither pcap nor pcapng: unknown capture file format"},
		{"gzip file", []byte{0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0}, true, ErrUnknownFormat,
			"capfile: file header at offset 0: first bytes 1f 8b 08 00 are neither pcap nor pcapng (gzip-compressed: decompress it first): unknown capture file format"},
		{"modified pcap little-endian", pcapBytes(le, magicKuznet, 1, 65535), true, ErrUnknownFormat,
			"capfile: pcap file header at offset 0: magic 0x34cdb2a1 is the modified (Kuznetzov) pcap format, which is not supported: unknown capture file format"},
		{"modified pcap big-endian", pcapBytes(be, magicKuznet, 1, 65535), true, ErrUnknownFormat,
			"capfile: pcap file header at offset 0: magic 0xa1b2cd34 is the modified (Kuznetzov) pcap format, which is not supported: unknown capture file format"},
		{"pcap header cut short", pcapBytes(le, magicMicro, 1, 65535)[:10], true, io.ErrUnexpectedEOF,
			"capfile: pcap file header at offset 0: file ends after 10 of 24 bytes: unexpected EOF"},
		{"pcap version 3", func() []byte { b := pcapBytes(be, magicNano, 1, 65535); b[5] = 3; return b }(), true, ErrCorrupt,
			"capfile: pcap file header at offset 0: unsupported version 3.4 (want 2.x)"},
		{"pcap captured length over the limit", pcapBytes(le, magicMicro, 1, 65535, rec4, pcapRec(le, 1, 2, 300000, 300000, nil)), false, ErrCorrupt,
			"capfile: pcap record at offset 44: captured length 300000 exceeds the limit 262144"},
		{"pcap hostile captured length", pcapBytes(be, magicMicro, 1, 65535, pcapRec(be, 1, 2, 0xffffffff, 60, nil)), false, ErrCorrupt,
			"capfile: pcap record at offset 24: captured length 4294967295 exceeds the limit 262144"},
		{"pcap record header cut short", append(pcapBytes(le, magicMicro, 1, 65535, rec4), make([]byte, 10)...), false, io.ErrUnexpectedEOF,
			"capfile: pcap record at offset 44: file ends after 10 of 16 bytes: unexpected EOF"},
		{"pcap record data cut short", pcapBytes(le, magicNano, 1, 65535, rec4, pcapRec(le, 1, 2, 100, 100, make([]byte, 50))), false, io.ErrUnexpectedEOF,
			"capfile: pcap record at offset 44: file ends after 66 of 116 bytes: unexpected EOF"},

		{"pcapng bad byte-order magic", shbWith(0x11223344, 1, 28), true, ErrCorrupt,
			"capfile: pcapng block at offset 0: section header block: byte-order magic 44 33 22 11 is invalid"},
		{"pcapng section header too short", shbWith(0x1a2b3c4d, 1, 24), true, ErrCorrupt,
			"capfile: pcapng block at offset 0: section header block length 24 is less than 28"},
		{"pcapng section header length not a multiple of 4", shbWith(0x1a2b3c4d, 1, 30), true, ErrCorrupt,
			"capfile: pcapng block at offset 0: block length 30 is not a multiple of 4"},
		{"pcapng section header huge", shbWith(0x1a2b3c4d, 1, 0x7ffffffc), true, ErrCorrupt,
			"capfile: pcapng block at offset 0: block length 2147483644 exceeds the limit 1048576"},
		{"pcapng version 2", shbWith(0x1a2b3c4d, 2, 28), true, ErrCorrupt,
			"capfile: pcapng block at offset 0: section header block: unsupported pcapng version 2.0 (want 1.x)"},
		{"pcapng section header cut short", shbWith(0x1a2b3c4d, 1, 28)[:20], true, io.ErrUnexpectedEOF,
			"capfile: pcapng block at offset 0: file ends after 20 of 28 bytes: unexpected EOF"},
		{"pcapng section header trailer mismatch", func() []byte { b := shbWith(0x1a2b3c4d, 1, 28); b[24] = 32; return b }(), true, ErrCorrupt,
			"capfile: pcapng block at offset 0: trailing block length 32 does not match the leading 28"},
		{"block length not a multiple of 4", append(ng(okEPB), rawBlock(blockEPB, 70, make([]byte, 64))...), false, ErrCorrupt,
			"capfile: pcapng block at offset 84: block length 70 is not a multiple of 4"},
		{"block length less than 12", append(ng(nil), rawBlock(0x40000bad, 8, nil)...), false, ErrCorrupt,
			"capfile: pcapng block at offset 48: block length 8 is less than 12"},
		{"packet block over the limit", append(ng(nil), rawBlock(blockEPB, 2<<20, make([]byte, 64))...), false, ErrCorrupt,
			"capfile: pcapng block at offset 48: block length 2097152 exceeds the limit 1048576"},
		{"block trailer mismatch", func() []byte { b := ng(okEPB); b[len(b)-4]++; return b }(), false, ErrCorrupt,
			"capfile: pcapng block at offset 48: trailing block length 37 does not match the leading 36"},
		{"skipped block trailer mismatch", ng(func(g *ngBuilder) { g.b = append(g.b, rawBlock(4, 16, le.AppendUint32(make([]byte, 4), 20))...) }), false, ErrCorrupt,
			"capfile: pcapng block at offset 48: trailing block length 20 does not match the leading 16"},
		{"skipped block cut short", append(ng(nil), rawBlock(0x40000bad, 100, make([]byte, 40))...), false, io.ErrUnexpectedEOF,
			"capfile: pcapng block at offset 48: file ends after 48 of 100 bytes: unexpected EOF"},
		{"enhanced packet block cut short", func() []byte { b := ng(okEPB); return b[:len(b)-6] }(), false, io.ErrUnexpectedEOF,
			"capfile: pcapng block at offset 48: file ends after 30 of 36 bytes: unexpected EOF"},
		{"block header cut short", append(ng(okEPB), 6, 0, 0, 0, 64), false, io.ErrUnexpectedEOF,
			"capfile: pcapng block at offset 84: file ends after 5 of 8 bytes: unexpected EOF"},
		{"enhanced packet block too short", ng(func(g *ngBuilder) { g.block(blockEPB, make([]byte, 16)) }), false, ErrCorrupt,
			"capfile: pcapng block at offset 48: enhanced packet block length 28 is less than 32"},
		{"enhanced packet block undefined interface", ng(func(g *ngBuilder) { g.block(blockEPB, epbBody(3, 4, 4, make([]byte, 4))) }), false, ErrCorrupt,
			"capfile: pcapng block at offset 48: enhanced packet block: interface 3 is not defined (the section has 1)"},
		{"enhanced packet block captured length overruns", ng(func(g *ngBuilder) { g.block(blockEPB, epbBody(0, 100, 100, make([]byte, 8))) }), false, ErrCorrupt,
			"capfile: pcapng block at offset 48: enhanced packet block: captured length 100 overruns the block (length 40)"},
		{"enhanced packet block captured length over the limit", ng(func(g *ngBuilder) { g.block(blockEPB, epbBody(0, 0x80000000, 100, make([]byte, 8))) }), false, ErrCorrupt,
			"capfile: pcapng block at offset 48: enhanced packet block: captured length 2147483648 exceeds the limit 262144"},
		{"packet block undefined interface", ng(func(g *ngBuilder) { g.pb(1, 0, 4, make([]byte, 4)) }), false, ErrCorrupt,
			"capfile: pcapng block at offset 48: packet block: interface 1 is not defined (the section has 1)"},
		{"simple packet block before any interface", func() []byte {
			g := &ngBuilder{}
			g.shb(be)
			g.spb(4, make([]byte, 4))
			return g.b
		}(), false, ErrCorrupt,
			"capfile: pcapng block at offset 28: simple packet block before any interface description block"},
		{"interfaces reset by a new section", func() []byte {
			b := ng(okEPB)
			g := &ngBuilder{b: b}
			g.shb(be)
			okEPB(g)
			return g.b
		}(), false, ErrCorrupt,
			"capfile: pcapng block at offset 112: enhanced packet block: interface 0 is not defined (the section has 0)"},
		{"interface option overruns", ng(func(g *ngBuilder) { g.block(blockIDB, []byte{1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 200, 0, 6, 0, 0, 0}) }), false, ErrCorrupt,
			"capfile: pcapng block at offset 48: interface description block: option 9 length 200 overruns the block"},
		{"interface too short", ng(func(g *ngBuilder) { g.block(blockIDB, []byte{1, 0, 0, 0}) }), false, ErrCorrupt,
			"capfile: pcapng block at offset 48: interface description block length 16 is less than 20"},
		{"interface resolution too fine", ng(func(g *ngBuilder) { g.idb(1, 0, ngOpt{optIfTsresol, []byte{20}}) }), false, ErrCorrupt,
			"capfile: pcapng block at offset 48: interface description block: if_tsresol 10^-20 is finer than this reader supports (10^-19)"},
		{"interface binary resolution too fine", ng(func(g *ngBuilder) { g.idb(1, 0, ngOpt{optIfTsresol, []byte{0x80 | 64}}) }), false, ErrCorrupt,
			"capfile: pcapng block at offset 48: interface description block: if_tsresol 2^-64 is finer than this reader supports (2^-63)"},
		{"interface empty resolution", ng(func(g *ngBuilder) { g.idb(1, 0, ngOpt{optIfTsresol, nil}) }), false, ErrCorrupt,
			"capfile: pcapng block at offset 48: interface description block: if_tsresol option is empty"},
		{"interface offset wrong length", ng(func(g *ngBuilder) { g.idb(1, 0, ngOpt{optIfTsoffset, []byte{1, 2, 3, 4}}) }), false, ErrCorrupt,
			"capfile: pcapng block at offset 48: interface description block: if_tsoffset option length 4, want 8"},
		{"too many interfaces", ng(func(g *ngBuilder) {
			for range MaxInterfaces {
				g.idb(1, 0)
			}
		}), false, ErrCorrupt,
			"capfile: pcapng block at offset 1310748: interface description block: more than 65536 interfaces in one section"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReaderSize(bytes.NewReader(tc.input), 0)
			if tc.atOpen {
				if err == nil {
					t.Fatalf("NewReader succeeded, want error %q", tc.msg)
				}
			} else {
				if err != nil {
					t.Fatalf("NewReader: %v", err)
				}
				for i := 0; i < 1<<20; i++ {
					_, _, err = r.Next()
					if err != nil {
						break
					}
				}
				if err == io.EOF {
					t.Fatalf("read to the end, want error %q", tc.msg)
				}
				// Errors are sticky.
				if _, _, err2 := r.Next(); err2 != err {
					t.Errorf("second Next returned %v, want the same error", err2)
				}
			}
			if err.Error() != tc.msg {
				t.Errorf("error\n got %q\nwant %q", err.Error(), tc.msg)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *capfile.Error", err)
			}
		})
	}
}

// errReader returns some bytes, then a failure.
type errReader struct {
	data []byte
	err  error
}

func (e *errReader) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestReadErrorIsReported(t *testing.T) {
	le := binary.LittleEndian
	boom := errors.New("disk on fire")
	input := pcapBytes(le, magicMicro, 1, 65535, pcapRec(le, 1, 2, 4, 4, []byte{1, 2, 3, 4}), []byte{1, 2, 3})
	r, err := NewReader(&errReader{data: input, err: boom})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Next(); err != nil {
		t.Fatalf("first packet: %v", err)
	}
	_, _, err = r.Next()
	if !errors.Is(err, boom) || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want the read error", err)
	}
	if want := "capfile: pcap record at offset 44: read failed: disk on fire"; err.Error() != want {
		t.Errorf("got %q, want %q", err.Error(), want)
	}
}
