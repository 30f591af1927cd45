//go:build integration

package pcap

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

// TestTsharkReadsArchive writes a rotating archive with two link types and
// reads every file back with the real tshark, checking packet counts and
// decoded fields.
func TestTsharkReadsArchive(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatal("tshark not installed (scripts/deps.sh installs it)")
	}
	dir := t.TempDir()
	tg, err := New(Config{Path: filepath.Join(dir, "archive.pcap"), MaxSize: 24 + 10*(16+100)})
	if err != nil {
		t.Fatal(err)
	}
	var b []handoff.Delivery
	for i := 0; i < 25; i++ {
		payload := []byte("<13>msg " + strconv.Itoa(i))
		payload = append(payload, make([]byte, 58-len(payload))...) // 100-byte frames
		b = append(b, targettest.Make(i, payload))
	}
	raw := targettest.Frame([]byte("raw ip"))[14:]
	b = append(b, frameDelivery(100, packet.LinkRaw, raw))
	if err := tg.Send(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	wantTimes := map[string]bool{}
	for _, d := range b {
		ts := d.Capture.Timestamp
		wantTimes[strconv.FormatInt(ts.Unix(), 10)+"."+fmt.Sprintf("%09d", ts.Nanosecond())] = true
	}
	files := tg.Files()
	want := map[string]int{"archive.pcap": 10, "archive-1.pcap": 10, "archive-2.pcap": 5, "archive-raw.pcap": 1}
	if len(files) != len(want) {
		t.Fatalf("files %v", files)
	}
	total := 0
	for _, f := range files {
		out, err := exec.Command(tshark, "-r", f, "-T", "fields",
			"-e", "frame.len", "-e", "ip.src", "-e", "ip.dst", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "frame.time_epoch").Output()
		if err != nil {
			t.Fatalf("tshark -r %s: %v", f, err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if n := want[filepath.Base(f)]; len(lines) != n {
			t.Fatalf("%s: tshark read %d packets, want %d", f, len(lines), n)
		}
		for _, l := range lines {
			fields := strings.Split(l, "\t")
			if len(fields) != 6 || fields[1] != "10.0.0.7" || fields[2] != "10.0.0.2" || fields[3] != "40123" || fields[4] != "514" {
				t.Fatalf("%s: fields %q", f, fields)
			}
			if !wantTimes[fields[5]] {
				t.Fatalf("%s: time %s was not sent (or read twice)", f, fields[5])
			}
			delete(wantTimes, fields[5])
		}
		total += len(lines)
	}
	if total != 26 {
		t.Fatalf("tshark read %d packets in all, want 26", total)
	}
}
