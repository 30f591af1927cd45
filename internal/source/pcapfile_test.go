package source

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet/capfile"
	"github.com/wirebridge/wirebridge/internal/spec"
)

func sharedPcap(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "testdata", "pcaps", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("capture missing (testdata/pcaps in the repository): %v", err)
	}
	return p
}

type recFrame struct {
	data []byte
	ts   time.Time
}

// readAll reads a capture with capfile directly: the expected replay.
func readAll(t *testing.T, path string) []recFrame {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capfile.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []recFrame
	for {
		d, info, err := r.Next()
		if err != nil {
			break
		}
		out = append(out, recFrame{append([]byte(nil), d...), info.Timestamp})
	}
	return out
}

// fakeClock makes replay pacing observable without timing: sleeping advances it.
type fakeClock struct {
	now    time.Duration
	sleeps []time.Duration
}

func (c *fakeClock) install(p *PCAP) {
	p.elapsed = func(time.Time) time.Duration { return c.now }
	p.sleep = func(ctx context.Context, d time.Duration) error {
		c.sleeps = append(c.sleeps, d)
		c.now += d
		return ctx.Err()
	}
}

func TestPCAPReplay(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		speed spec.Speed
		batch int
	}{
		{"syslog max", "tcpdump_syslog_udp.pcap", spec.Speed{Mode: spec.SpeedMax}, 0},
		{"syslog recorded", "tcpdump_syslog_udp.pcap", spec.Speed{Mode: spec.SpeedRecorded, Factor: 1}, 0},
		{"syslog x2", "tcpdump_syslog_udp.pcap", spec.Speed{Mode: spec.SpeedScaled, Factor: 2}, 0},
		{"syslog x0.5", "tcpdump_syslog_udp.pcap", spec.Speed{Mode: spec.SpeedScaled, Factor: 0.5}, 0},
		{"gre x10 batch 7", "tcpdump_various_gre.pcap", spec.Speed{Mode: spec.SpeedScaled, Factor: 10}, 7},
		{"pcapng max batch 1", "gopacket_pcapng-be-test202.pcapng", spec.Speed{Mode: spec.SpeedMax}, 1},
		{"vxlan recorded", "tcpdump_vxlan.pcap", spec.Speed{Mode: spec.SpeedRecorded, Factor: 1}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := sharedPcap(t, tc.file)
			want := readAll(t, path)
			p, err := NewPCAP(PCAPConfig{Common: Common{Name: "replay", EventSource: "wirebridge.pcap"}, File: path, Speed: tc.speed, Batch: tc.batch})
			if err != nil {
				t.Fatal(err)
			}
			clk := &fakeClock{}
			clk.install(p)
			c := newCollector()
			if err := p.Run(context.Background(), c.emit); err != nil {
				t.Fatal(err)
			}
			fs := c.snapshot()
			if len(fs) != len(want) {
				t.Fatalf("replayed %d frames, want %d", len(fs), len(want))
			}
			for i := range fs {
				if !bytes.Equal(fs[i].data, want[i].data) || !fs[i].info.Timestamp.Equal(want[i].ts) {
					t.Fatalf("frame %d differs from the file (order or content)", i)
				}
			}
			// Pacing: the fake clock ends at the capture's duration / factor.
			var wantEnd time.Duration
			switch tc.speed.Mode {
			case spec.SpeedRecorded:
				wantEnd = want[len(want)-1].ts.Sub(want[0].ts)
			case spec.SpeedScaled:
				wantEnd = time.Duration(float64(want[len(want)-1].ts.Sub(want[0].ts)) / tc.speed.Factor)
			}
			if clk.now != wantEnd {
				t.Errorf("paced over %v, want %v (%d sleeps)", clk.now, wantEnd, len(clk.sleeps))
			}
			if tc.speed.Mode == spec.SpeedMax && len(clk.sleeps) != 0 {
				t.Errorf("max speed slept %d times", len(clk.sleeps))
			}
			st := p.Stats().Snapshot()
			if st.Received != uint64(len(want)) || st.Emitted != uint64(len(want)) || st.DroppedTotal() != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestPCAPLoop(t *testing.T) {
	path := sharedPcap(t, "tcpdump_syslog_udp.pcap")
	want := readAll(t, path)
	p, err := NewPCAP(PCAPConfig{Common: Common{Name: "loop"}, File: path, Speed: spec.Speed{Mode: spec.SpeedScaled, Factor: 3}, Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{}
	clk.install(p)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := newCollector()
	rounds := 3
	emit := func(b Batch) {
		c.emit(b)
		if len(c.snapshot()) >= rounds*len(want) {
			cancel()
		}
	}
	if err := p.Run(ctx, emit); err != nil {
		t.Fatal(err)
	}
	fs := c.snapshot()
	if len(fs) < rounds*len(want) {
		t.Fatalf("got %d frames, want at least %d", len(fs), rounds*len(want))
	}
	for i := 0; i < rounds*len(want); i++ {
		if !bytes.Equal(fs[i].data, want[i%len(want)].data) {
			t.Fatalf("frame %d is not frame %d of the file", i, i%len(want))
		}
	}
	dur := want[len(want)-1].ts.Sub(want[0].ts)
	// round r's last packet is due at ((r+1)*dur)/3
	if min := time.Duration(float64(time.Duration(rounds-1)*dur+dur) / 3); clk.now < min-time.Microsecond {
		t.Errorf("paced over %v, want at least %v", clk.now, min)
	}
}

func TestPCAPErrors(t *testing.T) {
	dir := t.TempDir()
	notPcap := filepath.Join(dir, "x.txt")
	if err := os.WriteFile(notPcap, []byte("this is not a capture file at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  PCAPConfig
	}{
		{"missing file", PCAPConfig{File: filepath.Join(dir, "nope.pcap")}},
		{"not a capture", PCAPConfig{File: notPcap}},
		{"bad factor", PCAPConfig{File: sharedPcap(t, "tcpdump_syslog_udp.pcap"), Speed: spec.Speed{Mode: spec.SpeedScaled}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPCAP(tc.cfg)
			if err == nil {
				p.Close()
				t.Fatal("no error")
			}
		})
	}
}

// TestPCAPFIFORefused: a pcap source on a FIFO is refused at once. Opening it
// blocked until a writer appeared (serve deaf to SIGTERM), and with a writer
// the replay failed on its first seek ("illegal seek").
func TestPCAPFIFORefused(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "cap.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		p, err := NewPCAP(PCAPConfig{File: fifo})
		if err == nil {
			p.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("err = %v, want %q", err, "not a regular file")
		}
	case <-time.After(20 * time.Second):
		t.Errorf("opening a FIFO pcap source blocked (no answer in 20s)")
		if fd, err := syscall.Open(fifo, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			syscall.Close(fd)
		}
		<-done
	}
}
