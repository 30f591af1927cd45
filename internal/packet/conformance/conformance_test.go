//go:build integration

package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
)

// tsharkPrefs turn off everything that would make tshark's per-packet fields
// depend on other packets: IP defragmentation, TCP reassembly and relative
// sequence numbers. (Names checked with `tshark -G defaultprefs`.)
var tsharkPrefs = []string{
	"-o", "ip.defragment:FALSE",
	"-o", "ipv6.defragment:FALSE",
	"-o", "tcp.desegment_tcp_streams:FALSE",
	"-o", "tcp.relative_sequence_numbers:FALSE",
	"-o", "tcp.analyze_sequence_numbers:FALSE",
}

// unlistedOut, when set, receives every unlisted disagreement as one JSON
// object per line (reason empty), to review before listing any of them.
var unlistedOut = flag.String("unlisted-out", "", "write unlisted disagreements as JSON lines to this file")

// maxTshark bounds how many tshark processes run at once (the dev machine and
// CI have 2 cores).
const maxTshark = 2

// captures lists every capture in the shared directory, failing when there is none.
func captures(t *testing.T) []string {
	t.Helper()
	if _, err := os.Stat(pcapDir); err != nil {
		t.Fatalf("captures directory: %v (testdata/pcaps in the repository)", err)
	}
	var files []string
	for _, pat := range []string{"*.pcap", "*.pcapng"} {
		m, err := filepath.Glob(filepath.Join(pcapDir, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatalf("no captures in %s", pcapDir)
	}
	sort.Strings(files)
	return files
}

// fileResult is what comparing one capture produced.
type fileResult struct {
	packets      int          // packets compared
	eventSkipped int          // packets whose event was not compared (tunnels differ)
	fields       int          // field comparisons made
	diffs        []difference // every disagreement
}

// TestTsharkConformance decodes every shared capture with wirebridge and with
// tshark and requires every field to agree, except the disagreements listed
// (with a reason) in testdata/known-differences.json; a listed disagreement
// that no longer occurs fails too.
func TestTsharkConformance(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatalf("tshark is required (scripts/deps.sh installs it): %v", err)
	}
	files := captures(t)
	known := loadKnown(t)
	knownByFile := map[string][]knownDifference{}
	for _, k := range known.Differences {
		knownByFile[k.File] = append(knownByFile[k.File], k)
	}
	// An empty personal configuration directory: a developer's Wireshark
	// preferences must not change what tshark reports.
	confDir := t.TempDir()

	sem := make(chan struct{}, maxTshark)
	var mu sync.Mutex
	var allUnlisted []difference
	var totalPackets, totalFields, totalKnown int
	t.Run("file", func(t *testing.T) {
		for _, path := range files {
			name := filepath.Base(path)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				start := time.Now()
				res := compareFile(t, tshark, confDir, path)
				entries := knownByFile[name]
				used := map[[2]int]bool{} // (entry, packet) pairs that excused something
				matched := 0
				var unlisted []difference
				for _, d := range res.diffs {
					excused := false
					for i, k := range entries {
						if k.matches(d) {
							used[[2]int{i, d.Packet}] = true
							excused = true
						}
					}
					if !excused {
						unlisted = append(unlisted, d)
						continue
					}
					matched++
					if r := protectedReason(d); r != "" {
						t.Errorf("listed, but may not be: %s (%s)", d, r)
					}
				}
				for _, d := range unlisted {
					msg := "unlisted disagreement"
					if r := protectedReason(d); r != "" {
						msg = "decoder bug (" + r + ")"
					}
					t.Errorf("%s: packet %d %s: wirebridge %q, tshark %q", msg, d.Packet, d.Field, d.Ours, d.Tshark)
				}
				for i, k := range entries {
					for _, p := range k.Packets {
						if !used[[2]int{i, p}] {
							t.Errorf("listed difference no longer occurs in packet %d, update %s: %s", p, knownPath, k)
						}
					}
				}
				t.Logf("%s: %d packets, %d fields compared (events of %d packets not compared: tunnels differ), %d known differences, %d unlisted (%v)",
					name, res.packets, res.fields, res.eventSkipped, matched, len(unlisted), time.Since(start).Round(time.Millisecond))
				mu.Lock()
				totalPackets += res.packets
				totalFields += res.fields
				totalKnown += matched
				allUnlisted = append(allUnlisted, unlisted...)
				mu.Unlock()
			})
		}
	})
	if *unlistedOut != "" {
		var b bytes.Buffer
		for _, d := range allUnlisted {
			j, _ := json.Marshal(d)
			b.Write(j)
			b.WriteByte('\n')
		}
		if err := os.WriteFile(*unlistedOut, b.Bytes(), 0o644); err != nil {
			t.Error(err)
		}
	}
	t.Logf("total: %d files, %d packets, %d fields compared, %d known differences", len(files), totalPackets, totalFields, totalKnown)
	// Entries naming a file that is not a capture here would never be checked.
	present := map[string]bool{}
	for _, f := range files {
		present[filepath.Base(f)] = true
	}
	for f := range knownByFile {
		if !present[f] {
			t.Errorf("%s lists differences for %s, which is not in %s", knownPath, f, pcapDir)
		}
	}
}

// runTshark returns tshark's JSON dissection of path.
func runTshark(t *testing.T, tshark, confDir, path string) []tsharkPacket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"-n", "-r", path, "-T", "json"}, tsharkPrefs...)
	cmd := exec.CommandContext(ctx, tshark, args...)
	cmd.Env = append(os.Environ(), "WIRESHARK_CONFIG_DIR="+confDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start tshark: %v", err)
	}
	pkts, perr := readTshark(out)
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if perr != nil {
		t.Fatalf("tshark %s: %v", path, perr)
	}
	return pkts
}

// decoded is what wirebridge reports for one packet.
type decoded struct {
	fields   fields
	err      error // decode error kind, for the log
	eventErr error // the event JSON could not be read back
}

// decodeFile decodes every packet of path with capfile and packet.Decode.
func decodeFile(t *testing.T, path string) []decoded {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capfile.NewReader(f)
	if err != nil {
		t.Fatalf("capfile: %v", err)
	}
	var out []decoded
	var p packet.Packet
	var enc event.Encoder
	var buf []byte
	for {
		data, info, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("capfile: packet %d: %v", len(out)+1, err)
		}
		d, panicked := decodeOne(&p, &enc, &buf, data, info)
		if panicked != nil {
			t.Errorf("packet %d: Decode or the event encoder panicked: %v", len(out)+1, panicked)
		}
		if d.eventErr != nil {
			t.Errorf("packet %d: %v", len(out)+1, d.eventErr)
		}
		out = append(out, d)
	}
	return out
}

func decodeOne(p *packet.Packet, enc *event.Encoder, buf *[]byte, data []byte, info packet.CaptureInfo) (d decoded, panicked any) {
	defer func() { panicked = recover() }()
	d.err = packet.Decode(p, data, info)
	d.fields = packetFields(p)
	*buf = enc.AppendJSON((*buf)[:0], p, event.Meta{SourceType: "pcap", Listener: "conformance"})
	ev, err := eventFields(*buf)
	if err != nil {
		d.eventErr = fmt.Errorf("%w\n%s", err, *buf)
	}
	for k, v := range ev {
		d.fields[k] = v
	}
	return d, nil
}

// compareFile compares wirebridge with tshark on every packet of path.
func compareFile(t *testing.T, tshark, confDir, path string) fileResult {
	name := filepath.Base(path)
	theirs := runTshark(t, tshark, confDir, path)
	ours := decodeFile(t, path)
	nPackets := 0
	for _, tp := range theirs {
		if !tp.notPacket {
			nPackets++
		}
	}
	if nPackets != len(ours) {
		t.Errorf("tshark reports %d packets, wirebridge read %d", nPackets, len(ours))
	}
	var res fileResult
	i := 0 // index into ours
	for _, tp := range theirs {
		if tp.notPacket {
			continue
		}
		if i >= len(ours) {
			break
		}
		tf := tsharkFields(tp.layers)
		for k, v := range expectedEvent(tf) {
			tf[k] = v
		}
		of := ours[i].fields
		if _, ok := tf["ev._length_unknown"]; ok {
			delete(of, "ev.Length") // no ground truth: see expectedEvent
		}
		// The event describes the innermost frame and the outermost tunnel:
		// when wirebridge and tshark disagree on the tunnels (a disagreement
		// on tN.type, reported and listed on its own), they describe
		// different frames and comparing them adds nothing.
		if tunnelStructure(of) != tunnelStructure(tf) {
			dropEvent(of)
			dropEvent(tf)
			res.eventSkipped++
		}
		res.packets++
		res.fields += unionSize(of, tf)
		res.diffs = append(res.diffs, compareFields(name, tp.number, of, tf)...)
		i++
	}
	return res
}

func unionSize(a, b fields) int {
	n := len(a)
	for k := range b {
		if _, ok := a[k]; !ok {
			n++
		}
	}
	return n
}
