package capfile

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// TestRoundTrip reads every shared capture, writes its packets (one file per
// link type) with the Writer, reads that back and expects the same bytes,
// lengths and timestamps. A classic little-endian file whose header the
// Writer reproduces must come back byte for byte.
func TestRoundTrip(t *testing.T) {
	identical := 0
	for _, path := range captureFiles(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			recs, r, input := readFile(t, path)
			byLink := map[packet.LinkType][]record{}
			for _, rec := range recs {
				byLink[rec.info.LinkType] = append(byLink[rec.info.LinkType], rec)
			}
			nano := r.Format() != FormatPcap
			for link, group := range byLink {
				snaplen := r.Snaplen()
				for _, rec := range group {
					snaplen = max(snaplen, rec.info.CaptureLength)
				}
				snaplen = min(snaplen, MaxCaptureLength)
				var out bytes.Buffer
				w, err := NewWriter(&out, link, snaplen, nano)
				if err != nil {
					t.Fatal(err)
				}
				writeRecords(t, w, group)
				back, r2, err := readAll(t, out.Bytes())
				if err != nil {
					t.Fatalf("reading what was written: %v", err)
				}
				if r2.LinkType() != link || len(back) != len(group) {
					t.Fatalf("link %d: read back %d packets of link %d, wrote %d", link, len(back), r2.LinkType(), len(group))
				}
				for i := range group {
					want := group[i].info
					if want.Timestamp.IsZero() { // a Simple Packet Block has no time: written as the epoch
						want.Timestamp = time.Unix(0, 0).UTC()
					}
					want.InterfaceIndex = 0
					if back[i].info != want || !bytes.Equal(back[i].data, group[i].data) {
						t.Errorf("link %d packet %d: read back %+v, wrote %+v", link, i+1, back[i].info, want)
					}
				}
				if r.Format() != FormatPcapNG && !r.be && bytes.Equal(out.Bytes()[:pcapFileHeaderLen], input[:pcapFileHeaderLen]) {
					if !bytes.Equal(out.Bytes(), input) {
						t.Errorf("same header, but the written file differs from the original")
					}
					identical++
				}
			}
		})
	}
	t.Logf("%d files written back byte for byte", identical)
	if identical < 5 {
		t.Errorf("only %d files were candidates for a byte-for-byte round trip; want at least 5", identical)
	}
}

func TestWriterRecords(t *testing.T) {
	ts := time.Date(2026, 11, 21, 20, 40, 15, 123456789, time.UTC)
	data := bytes.Repeat([]byte{0xab}, 100)
	cases := []struct {
		name     string
		nano     bool
		snaplen  int
		info     packet.CaptureInfo
		data     []byte
		wantTS   time.Time
		wantCap  int
		wantOrig int
	}{
		{"microseconds truncate the nanoseconds", false, 0, packet.CaptureInfo{Timestamp: ts, Length: 100, LinkType: 1}, data,
			time.Date(2026, 11, 21, 20, 40, 15, 123456000, time.UTC), 100, 100},
		{"nanoseconds kept", true, 0, packet.CaptureInfo{Timestamp: ts, Length: 100, LinkType: 1}, data, ts, 100, 100},
		{"snaplen truncates, original length kept", true, 60, packet.CaptureInfo{Timestamp: ts, Length: 1500, LinkType: 1}, data, ts, 60, 1500},
		{"zero length means len(data)", true, 0, packet.CaptureInfo{Timestamp: ts, LinkType: 1}, data, ts, 100, 100},
		{"zero time is the epoch", false, 0, packet.CaptureInfo{LinkType: 1}, data[:10], time.Unix(0, 0), 10, 10},
		{"empty packet", false, 0, packet.CaptureInfo{Timestamp: ts, LinkType: 1}, nil, time.Date(2026, 11, 21, 20, 40, 15, 123456000, time.UTC), 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			w, err := NewWriter(&out, packet.LinkEthernet, tc.snaplen, tc.nano)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.WritePacket(tc.info, tc.data); err != nil {
				t.Fatal(err)
			}
			if out.Len() != 0 {
				t.Errorf("%d bytes written before Flush: the writer should buffer", out.Len())
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			r, err := NewReader(&out)
			if err != nil {
				t.Fatal(err)
			}
			wantSnap := tc.snaplen
			if wantSnap == 0 {
				wantSnap = MaxCaptureLength
			}
			if r.Snaplen() != wantSnap || r.LinkType() != packet.LinkEthernet || (r.Format() == FormatPcapNano) != tc.nano {
				t.Errorf("header: snaplen %d link %d format %v", r.Snaplen(), r.LinkType(), r.Format())
			}
			got, info, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !info.Timestamp.Equal(tc.wantTS) || info.CaptureLength != tc.wantCap || info.Length != tc.wantOrig || !bytes.Equal(got, tc.data[:tc.wantCap]) {
				t.Errorf("read back ts %s caplen %d len %d; want ts %s caplen %d len %d",
					info.Timestamp.Format(time.RFC3339Nano), info.CaptureLength, info.Length, tc.wantTS.Format(time.RFC3339Nano), tc.wantCap, tc.wantOrig)
			}
			if _, _, err := r.Next(); err != io.EOF {
				t.Errorf("after the only packet: %v", err)
			}
		})
	}
}

func TestWriterRejects(t *testing.T) {
	t.Run("snaplen", func(t *testing.T) {
		for _, s := range []int{-1, MaxCaptureLength + 1} {
			if _, err := NewWriter(io.Discard, 1, s, false); err == nil || !strings.Contains(err.Error(), "snaplen") {
				t.Errorf("snaplen %d: err %v", s, err)
			}
		}
	})
	cases := []struct {
		name string
		info packet.CaptureInfo
		msg  string
	}{
		{"other link type", packet.CaptureInfo{Timestamp: time.Unix(1, 0), LinkType: packet.LinkRaw},
			"capfile: packet link type 101 differs from the file's link type 1"},
		{"before 1970", packet.CaptureInfo{Timestamp: time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), LinkType: 1},
			"capfile: timestamp 1969-12-31T23:59:59Z cannot be stored in a pcap record"},
		{"after 2106", packet.CaptureInfo{Timestamp: time.Date(2106, 2, 7, 6, 28, 16, 0, time.UTC), LinkType: 1},
			"capfile: timestamp 2106-02-07T06:28:16Z cannot be stored in a pcap record"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := NewWriter(io.Discard, packet.LinkEthernet, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			err = w.WritePacket(tc.info, []byte{1, 2, 3})
			if err == nil || err.Error() != tc.msg {
				t.Errorf("got %v, want %q", err, tc.msg)
			}
		})
	}
	t.Run("last second before 2106 is fine", func(t *testing.T) {
		w, _ := NewWriter(io.Discard, packet.LinkEthernet, 0, false)
		if err := w.WritePacket(packet.CaptureInfo{Timestamp: time.Unix(0xffffffff, 999999999), LinkType: 1}, []byte{1}); err != nil {
			t.Error(err)
		}
	})
}

// failWriter writes half of what it is given, with err (nil: a short write).
type failWriter struct {
	n   int
	err error
}

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	return len(p) / 2, f.err
}

func TestWriterErrorIsSticky(t *testing.T) {
	newPcap := func(w io.Writer) (packetWriter, error) { return NewWriter(w, packet.LinkEthernet, 0, false) }
	newPcapng := func(w io.Writer) (packetWriter, error) { return NewPcapngWriter(w, 0) }
	for _, tt := range []struct {
		name    string
		open    func(io.Writer) (packetWriter, error)
		err     error
		wantErr string
	}{
		{"pcap write error", newPcap, errors.New("no space left"), "capfile: writing pcap: no space left"},
		{"pcap short write", newPcap, nil, "capfile: writing pcap: short write"},
		{"pcapng write error", newPcapng, errors.New("no space left"), "capfile: writing pcapng: no space left"},
		{"pcapng short write", newPcapng, nil, "capfile: writing pcapng: short write"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fw := &failWriter{err: tt.err}
			w, err := tt.open(fw)
			if err != nil {
				t.Fatal(err)
			}
			info := packet.CaptureInfo{Timestamp: time.Unix(1, 0), LinkType: 1}
			if err := w.WritePacket(info, []byte{1}); err != nil {
				t.Fatal(err)
			}
			err = w.Flush()
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Flush: %v, want %s", err, tt.wantErr)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("Flush error %v does not wrap %v", err, tt.err)
			}
			if err2 := w.WritePacket(info, []byte{1}); err2 != err {
				t.Errorf("WritePacket after a failure: %v", err2)
			}
			if err2 := w.Flush(); err2 != err || fw.n != 1 {
				t.Errorf("Flush after a failure: %v (%d writes)", err2, fw.n)
			}
		})
	}
}

func TestWriterLargeVolume(t *testing.T) {
	// More than a buffer's worth, with maximum-size packets, goes out intact.
	var out bytes.Buffer
	w, err := NewWriter(&out, packet.LinkRaw, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{MaxCaptureLength, 1, 60000, MaxCaptureLength, 3}
	for i, n := range sizes {
		d := bytes.Repeat([]byte{byte(i + 1)}, n)
		if err := w.WritePacket(packet.CaptureInfo{Timestamp: time.Unix(int64(i), 0), LinkType: packet.LinkRaw}, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	recs, _, err := readAll(t, out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(sizes) {
		t.Fatalf("read %d packets", len(recs))
	}
	for i, n := range sizes {
		if len(recs[i].data) != n || recs[i].data[n-1] != byte(i+1) || recs[i].info.Timestamp.Unix() != int64(i) {
			t.Errorf("packet %d: %d bytes, want %d", i, len(recs[i].data), n)
		}
	}
}

func TestNoAllocations(t *testing.T) {
	input := udpPcap(1000, false)
	r, err := NewReader(&loopReader{data: input, start: pcapFileHeaderLen})
	if err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(5000, func() {
		if _, _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("Reader.Next (pcap): %v allocs per packet", a)
	}
	ng := udpPcapng(1000)
	r, err = NewReader(&loopReader{data: ng, start: ngHeaderLen})
	if err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(5000, func() {
		if _, _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("Reader.Next (pcapng): %v allocs per packet", a)
	}
	w, err := NewWriter(io.Discard, packet.LinkEthernet, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	frame := udpFrame()
	info := packet.CaptureInfo{Timestamp: time.Unix(1700000000, 1), Length: len(frame), LinkType: 1}
	if a := testing.AllocsPerRun(20000, func() {
		if err := w.WritePacket(info, frame); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("Writer.WritePacket: %v allocs per packet", a)
	}
}

// TestPcapngWriterRoundTrip writes every shared capture, all link types in
// one file, and reads it back.
func TestPcapngWriterRoundTrip(t *testing.T) {
	for _, path := range captureFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			recs, _, _ := readFile(t, path)
			var out bytes.Buffer
			w, err := NewPcapngWriter(&out, 0)
			if err != nil {
				t.Fatal(err)
			}
			writeRecords(t, w, recs)
			back, r, err := readAll(t, out.Bytes())
			if err != nil {
				t.Fatalf("reading what was written: %v", err)
			}
			if r.Format() != FormatPcapNG || len(back) != len(recs) {
				t.Fatalf("read back %d packets (%v), wrote %d", len(back), r.Format(), len(recs))
			}
			written := asPcapngWritten(recs)
			for i := range recs {
				want := written[i].info
				if back[i].info != want || !bytes.Equal(back[i].data, recs[i].data) {
					t.Errorf("packet %d: read back %+v, wrote %+v", i+1, back[i].info, want)
				}
			}
		})
	}
}

func TestPcapngWriterRecords(t *testing.T) {
	ts := time.Date(2026, 11, 21, 20, 40, 15, 123456789, time.UTC)
	var out bytes.Buffer
	w, err := NewPcapngWriter(&out, 60)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{0xcd}, 100)
	writes := []struct {
		info packet.CaptureInfo
		data []byte
	}{
		{packet.CaptureInfo{Timestamp: ts, Length: 1500, LinkType: packet.LinkRaw, InterfaceIndex: 7}, data},
		{packet.CaptureInfo{Timestamp: ts.Add(time.Nanosecond), LinkType: packet.LinkEthernet}, data[:3]},
		{packet.CaptureInfo{LinkType: packet.LinkRaw}, data[:5]},
		{packet.CaptureInfo{Timestamp: ts, LinkType: packet.LinkEthernet}, nil},
	}
	for _, wr := range writes {
		if err := w.WritePacket(wr.info, wr.data); err != nil {
			t.Fatal(err)
		}
	}
	if out.Len() != 0 {
		t.Errorf("%d bytes written before Flush", out.Len())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	recs, _, err := readAll(t, out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	checkPackets(t, recs, []wantPacket{
		{ts, 0, packet.LinkRaw, 60, 1500, [2]byte{0xcd, 0xcd}},
		{ts.Add(time.Nanosecond), 1, packet.LinkEthernet, 3, 3, [2]byte{0xcd, 0xcd}},
		{time.Unix(0, 0), 0, packet.LinkRaw, 5, 5, [2]byte{0xcd, 0xcd}},
		{ts, 1, packet.LinkEthernet, 0, 0, [2]byte{}},
	})

	for _, bad := range []time.Time{time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC)} {
		err := w.WritePacket(packet.CaptureInfo{Timestamp: bad, LinkType: 1}, data)
		if err == nil || !strings.Contains(err.Error(), "cannot be stored in a pcapng block") {
			t.Errorf("timestamp %s: err %v", bad, err)
		}
	}
	if _, err := NewPcapngWriter(io.Discard, MaxCaptureLength+1); err == nil {
		t.Error("snaplen over the limit accepted")
	}
	frame := udpFrame()
	info := packet.CaptureInfo{Timestamp: ts, Length: len(frame), LinkType: 1}
	if a := testing.AllocsPerRun(20000, func() {
		if err := w.WritePacket(info, frame); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("PcapngWriter.WritePacket: %v allocs per packet", a)
	}
}
