//go:build integration

package capfile

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// tshark runs `tshark -r file -T fields -e f1 -e f2 ...` and returns the rows.
func tshark(t *testing.T, file string, fields ...string) [][]string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatalf("tshark not installed (scripts/deps.sh installs it): %v", err)
	}
	args := []string{"-n", "-r", file, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line != "" {
			rows = append(rows, strings.Split(line, "\t"))
		}
	}
	return rows
}

// epoch parses tshark's frame.time_epoch ("1767663089.500330493") exactly.
func epoch(t *testing.T, s string) time.Time {
	t.Helper()
	if s == "" {
		return time.Time{}
	}
	secStr, fracStr, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(secStr, 10, 64)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	fracStr = (fracStr + "000000000")[:9]
	ns, err := strconv.ParseInt(fracStr, 10, 64)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return time.Unix(sec, ns)
}

// compareWithTshark checks every packet's time, interface, lengths against
// tshark's view of the same file. tshark also lists pcapng custom blocks as
// records without an interface; those are not packets and are left out.
func compareWithTshark(t *testing.T, file string, recs []record, pcapng bool) {
	t.Helper()
	rows := tshark(t, file, "frame.time_epoch", "frame.interface_id", "frame.cap_len", "frame.len")
	var pkts [][]string
	for _, row := range rows {
		for len(row) < 4 {
			row = append(row, "")
		}
		if pcapng && row[1] == "" {
			continue
		}
		pkts = append(pkts, row)
	}
	if len(pkts) != len(recs) {
		t.Fatalf("tshark lists %d packets, we read %d", len(pkts), len(recs))
	}
	for i, row := range pkts {
		info := recs[i].info
		ts := epoch(t, row[0])
		iface := 0
		if pcapng {
			iface, _ = strconv.Atoi(row[1])
		}
		caplen, _ := strconv.Atoi(row[2])
		wire, _ := strconv.Atoi(row[3])
		if !info.Timestamp.Equal(ts) || info.Timestamp.IsZero() != ts.IsZero() || info.InterfaceIndex != iface ||
			info.CaptureLength != caplen || info.Length != wire {
			t.Errorf("packet %d: we read ts %s iface %d caplen %d len %d; tshark says %v",
				i+1, info.Timestamp.Format(time.RFC3339Nano), info.InterfaceIndex, info.CaptureLength, info.Length, row)
		}
	}
}

func TestTsharkAgreesOnSharedCaptures(t *testing.T) {
	for _, path := range captureFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			recs, r, _ := readFile(t, path)
			compareWithTshark(t, path, recs, r.Format() == FormatPcapNG)
		})
	}
}

func TestTsharkReadsSyntheticPcapng(t *testing.T) {
	input, _ := syntheticPcapng()
	file := filepath.Join(t.TempDir(), "synthetic.pcapng")
	if err := os.WriteFile(file, input, 0o644); err != nil {
		t.Fatal(err)
	}
	recs, _, err := readAll(t, input)
	if err != nil {
		t.Fatal(err)
	}
	compareWithTshark(t, file, recs, true)
}

// TestTsharkReadsWrittenPcap writes the packets of shared captures with the
// Writer and expects tshark to decode the result exactly as it decodes the
// original.
func TestTsharkReadsWrittenPcap(t *testing.T) {
	fields := []string{"frame.time_epoch", "frame.cap_len", "frame.len", "frame.protocols",
		"ip.src", "ip.dst", "ipv6.src", "tcp.srcport", "tcp.seq_raw", "udp.dstport", "dns.qry.name", "http.request.uri"}
	cases := []struct {
		name    string
		file    string
		nano    bool
		snaplen int
	}{
		{"microseconds ethernet http", "zeek_http-pipelined-requests.pcap", false, 0},
		{"nanoseconds linux sll", "tcpdump_tcp-handshake-nano.pcap", true, 0},
		{"from pcapng, two resolutions", "zeek_pcapng-multi-interface.pcapng", true, 0},
		{"ipv6 fragments", "zeek_ipv6-fragmented-dns.pcap", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			orig := filepath.Join(pcapsDir(t), tc.file)
			recs, r, _ := readFile(t, orig)
			out := filepath.Join(t.TempDir(), "out.pcap")
			writeFile(t, out, recs, r.LinkType(), tc.snaplen, tc.nano)
			want := tshark(t, orig, fields...)
			got := tshark(t, out, fields...)
			if len(got) != len(recs) || len(want) != len(recs) {
				t.Fatalf("tshark counts %d packets in ours, %d in the original; we wrote %d", len(got), len(want), len(recs))
			}
			for i := range want {
				if strings.Join(got[i], "|") != strings.Join(want[i], "|") {
					t.Errorf("packet %d:\n ours %q\n orig %q", i+1, got[i], want[i])
				}
			}
			if got[0][3] == "" || !strings.Contains(got[0][3], "ip") {
				t.Errorf("tshark did not decode IP in the first packet: %q", got[0])
			}
		})
	}
	t.Run("snaplen truncates", func(t *testing.T) {
		orig := filepath.Join(pcapsDir(t), "zeek_http-pipelined-requests.pcap")
		recs, r, _ := readFile(t, orig)
		out := filepath.Join(t.TempDir(), "out.pcap")
		writeFile(t, out, recs, r.LinkType(), 64, true)
		rows := tshark(t, out, "frame.cap_len", "frame.len", "ip.src")
		if len(rows) != len(recs) {
			t.Fatalf("tshark counts %d packets, we wrote %d", len(rows), len(recs))
		}
		for i, row := range rows {
			wantCap := min(64, recs[i].info.CaptureLength)
			if row[0] != strconv.Itoa(wantCap) || row[1] != strconv.Itoa(recs[i].info.Length) || row[2] == "" {
				t.Errorf("packet %d: tshark %q, want cap_len %d len %d and an ip.src", i+1, row, wantCap, recs[i].info.Length)
			}
		}
	})
}

func writeFile(t *testing.T, path string, recs []record, link packet.LinkType, snaplen int, nano bool) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriter(f, link, snaplen, nano)
	if err != nil {
		t.Fatal(err)
	}
	writeRecords(t, w, recs)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTsharkReadsWrittenPcapng rewrites captures with the PcapngWriter (the
// big-endian multi-section file mixes Ethernet and BSD loopback) and expects
// tshark to decode each packet as it decodes the original.
func TestTsharkReadsWrittenPcapng(t *testing.T) {
	fields := []string{"frame.cap_len", "frame.len", "frame.protocols", "frame.encap_type", "ip.src", "ip.dst", "udp.srcport", "dns.qry.name"}
	for _, name := range []string{"gopacket_pcapng-be-test202.pcapng", "zeek_pcapng-multi-interface.pcapng", "tcpdump_tcp-handshake-nano.pcap"} {
		t.Run(name, func(t *testing.T) {
			orig := filepath.Join(pcapsDir(t), name)
			recs, r, _ := readFile(t, orig)
			out := filepath.Join(t.TempDir(), "out.pcapng")
			f, err := os.Create(out)
			if err != nil {
				t.Fatal(err)
			}
			w, err := NewPcapngWriter(f, 0)
			if err != nil {
				t.Fatal(err)
			}
			writeRecords(t, w, recs)
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			// tshark lists the original's custom blocks as records with no
			// encapsulation type (protocols "data"); keep only packets.
			keep := func(rows [][]string) [][]string {
				var k [][]string
				for _, row := range rows {
					if len(row) > 3 && row[3] != "" {
						k = append(k, row)
					}
				}
				return k
			}
			want := tshark(t, orig, fields...)
			got := tshark(t, out, fields...)
			if r.Format() == FormatPcapNG {
				want = keep(want)
				got = keep(got)
			}
			if len(got) != len(recs) || len(want) != len(recs) {
				t.Fatalf("tshark lists %d packets in ours, %d in the original; we wrote %d", len(got), len(want), len(recs))
			}
			for i := range want {
				if strings.Join(got[i], "|") != strings.Join(want[i], "|") {
					t.Errorf("packet %d:\n ours %q\n orig %q", i+1, got[i], want[i])
				}
			}
			compareWithTshark(t, out, asPcapngWritten(recs), true)
		})
	}
}
