package pcap

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
	"github.com/wirebridge/wirebridge/internal/target"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

type record struct {
	data []byte
	info packet.CaptureInfo
}

// readFile reads a pcap file back with capfile.Reader.
func readFile(t testing.TB, name string) (packet.LinkType, []record) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capfile.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var recs []record
	for {
		data, info, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		recs = append(recs, record{bytes.Clone(data), info})
	}
	return r.LinkType(), recs
}

func TestConformance(t *testing.T) {
	targettest.Run(t, func(t *testing.T) targettest.Instance {
		tg, err := New(Config{Path: filepath.Join(t.TempDir(), "archive-%Y%m%d.pcap"), MaxSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return targettest.Instance{
			Target: tg,
			Delivered: func() ([][]byte, error) {
				var got [][]byte
				for _, name := range tg.Files() {
					_, recs := readFile(t, name)
					for _, r := range recs {
						got = append(got, r.data)
					}
				}
				return got, nil
			},
			Expect: func(d handoff.Delivery) []byte { return d.Frame },
		}
	})
}

func frameDelivery(seq int, link packet.LinkType, frame []byte) handoff.Delivery {
	d := targettest.Make(seq, []byte("x"))
	d.Frame = frame
	d.Capture.LinkType = link
	d.Capture.CaptureLength = len(frame)
	d.Capture.Length = len(frame)
	return d
}

func TestRecords(t *testing.T) {
	ts := time.Date(2026, 11, 21, 20, 40, 15, 123456789, time.UTC)
	eth := targettest.Frame([]byte("hello"))
	big := targettest.Frame(bytes.Repeat([]byte{0xab}, 1400))
	tests := []struct {
		name      string
		cfg       Config
		info      packet.CaptureInfo
		frame     []byte
		wantData  []byte
		wantOrig  int
		wantStamp time.Time
	}{
		{"nanosecond timestamp kept", Config{}, packet.CaptureInfo{Timestamp: ts, LinkType: packet.LinkEthernet}, eth, eth, len(eth), ts},
		{"microsecond precision", Config{Microsecond: true}, packet.CaptureInfo{Timestamp: ts, LinkType: packet.LinkEthernet}, eth, eth, len(eth), ts.Truncate(time.Microsecond)},
		{"snaplen truncates, keeps original length", Config{Snaplen: 100}, packet.CaptureInfo{Timestamp: ts, LinkType: packet.LinkEthernet}, big, big[:100], len(big), ts},
		{"wire length beyond capture kept", Config{}, packet.CaptureInfo{Timestamp: ts, Length: 9000, LinkType: packet.LinkEthernet}, eth, eth, 9000, ts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Path = filepath.Join(t.TempDir(), "a.pcap")
			tg, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			d := handoff.Delivery{ID: "1", Frame: tt.frame, Capture: tt.info}
			if err := tg.Send(context.Background(), []handoff.Delivery{d}); err != nil {
				t.Fatal(err)
			}
			tg.Close()
			link, recs := readFile(t, tg.Files()[0])
			if link != packet.LinkEthernet || len(recs) != 1 {
				t.Fatalf("link %d, %d records", link, len(recs))
			}
			r := recs[0]
			if !bytes.Equal(r.data, tt.wantData) || r.info.Length != tt.wantOrig || !r.info.Timestamp.Equal(tt.wantStamp) {
				t.Fatalf("record %d bytes, orig %d, time %s; want %d, %d, %s", len(r.data), r.info.Length, r.info.Timestamp, len(tt.wantData), tt.wantOrig, tt.wantStamp)
			}
		})
	}
}

func TestOneFilePerLinkType(t *testing.T) {
	dir := t.TempDir()
	tg, err := New(Config{Path: filepath.Join(dir, "archive.pcap")})
	if err != nil {
		t.Fatal(err)
	}
	eth := targettest.Frame([]byte("a"))
	raw := eth[14:] // the IPv4 packet alone
	b := []handoff.Delivery{
		frameDelivery(1, packet.LinkEthernet, eth),
		frameDelivery(2, packet.LinkRaw, raw),
		frameDelivery(3, packet.LinkEthernet, eth),
		frameDelivery(4, packet.LinkLinuxSLL2, append(make([]byte, 20), raw...)),
	}
	if err := tg.Send(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	tg.Close()
	want := map[string]struct {
		link packet.LinkType
		n    int
	}{
		"archive.pcap":            {packet.LinkEthernet, 2},
		"archive-raw.pcap":        {packet.LinkRaw, 1},
		"archive-linux-sll2.pcap": {packet.LinkLinuxSLL2, 1},
	}
	files := tg.Files()
	if len(files) != len(want) {
		t.Fatalf("files %v", files)
	}
	for _, f := range files {
		w, ok := want[filepath.Base(f)]
		if !ok {
			t.Fatalf("unexpected file %s", f)
		}
		link, recs := readFile(t, f)
		if link != w.link || len(recs) != w.n {
			t.Fatalf("%s: link %d with %d records, want %d with %d", f, link, len(recs), w.link, w.n)
		}
	}
}

func TestSizeRotation(t *testing.T) {
	dir := t.TempDir()
	frame := targettest.Frame(make([]byte, 58)) // 100-byte frame: 116 bytes per record
	tg, err := New(Config{Path: filepath.Join(dir, "a.pcap"), MaxSize: 24 + 3*116})
	if err != nil {
		t.Fatal(err)
	}
	var b []handoff.Delivery
	for i := 0; i < 7; i++ {
		b = append(b, frameDelivery(i, packet.LinkEthernet, frame))
	}
	if err := tg.Send(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	tg.Close()
	var names []string
	counts := []int{}
	for _, f := range tg.Files() {
		names = append(names, filepath.Base(f))
		_, recs := readFile(t, f)
		counts = append(counts, len(recs))
		st, _ := os.Stat(f)
		if st.Size() > 24+3*116 {
			t.Fatalf("%s is %d bytes, over the limit", f, st.Size())
		}
	}
	if strings.Join(names, " ") != "a.pcap a-1.pcap a-2.pcap" || counts[0] != 3 || counts[1] != 3 || counts[2] != 1 {
		t.Fatalf("files %v with %v records", names, counts)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func TestIntervalRotation(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Date(2026, 11, 21, 10, 59, 0, 0, time.UTC)}
	tg, err := New(Config{Path: filepath.Join(dir, "cap-%H%M.pcap"), Interval: time.Hour, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	frame := targettest.Frame([]byte("x"))
	send := func() {
		if err := tg.Send(context.Background(), []handoff.Delivery{frameDelivery(1, packet.LinkEthernet, frame)}); err != nil {
			t.Fatal(err)
		}
	}
	send()
	send()
	c.Set(time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC))
	send()
	tg.Close()
	var names []string
	for _, f := range tg.Files() {
		names = append(names, filepath.Base(f))
	}
	if strings.Join(names, " ") != "cap-1059.pcap cap-1100.pcap" {
		t.Fatalf("files %v", names)
	}
}

func TestDeliveryWithoutFrameIsPermanent(t *testing.T) {
	tg, err := New(Config{Path: filepath.Join(t.TempDir(), "a.pcap")})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	b := []handoff.Delivery{frameDelivery(0, packet.LinkEthernet, targettest.Frame(nil)), {ID: "no-frame", Body: []byte(`{}`)}}
	err = tg.Send(context.Background(), b)
	var be *handoff.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || be.Failed[1] == nil || !target.IsPermanent(be.Failed[1]) {
		t.Fatalf("got %v, want a BatchError with index 1 permanent", err)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no path", Config{}, "path is empty"},
		{"snaplen too big", Config{Path: "a", Snaplen: 1 << 20}, "snaplen"},
		{"bad fsync", Config{Path: "a", Fsync: "interval"}, `fsync "interval"`},
		{"tiny max size", Config{Path: "a", MaxSize: 10}, "too small"},
		{"negative interval", Config{Path: "a", Interval: -time.Hour}, "pcap target: max size and interval must not be negative"},
		{"sub-second interval", Config{Path: "a", Interval: time.Millisecond}, "pcap target: interval 1ms is shorter than a second"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want %q", err, tt.want)
			}
		})
	}
}
