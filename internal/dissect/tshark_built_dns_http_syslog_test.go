//go:build integration

package dissect_test

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
)

func writeBuiltPcap(t *testing.T, pkts []builtL7) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "built.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := capfile.NewPcapngWriter(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	src, dst := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for i, p := range pkts {
		var l4 packet.Layer = packet.UDP{Src: p.src, Dst: p.dst}
		if p.tcp {
			l4 = packet.TCP{Src: p.src, Dst: p.dst, Seq: 1000, Ack: 1, Flags: packet.TCPPsh | packet.TCPAck, Window: 512}
		}
		data := packet.Build(packet.Eth{Src: [6]byte{2, 0, 0, 0, 0, 1}, Dst: [6]byte{2, 0, 0, 0, 0, 2}},
			packet.IPv4{Src: src, Dst: dst}, l4, packet.Payload(p.payload))
		info := packet.CaptureInfo{Timestamp: time.Unix(1_765_000_000+int64(i), 0).UTC(), CaptureLength: len(data),
			Length: len(data), LinkType: packet.LinkEthernet}
		if err := w.WritePacket(info, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTsharkBuiltDNSHTTPSyslog compares the parsers with tshark on built packets for the
// cases the shared captures lack. Known differences name the file "built".
func TestTsharkBuiltDNSHTTPSyslog(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatalf("tshark: %v (install the tshark package)", err)
	}
	pkts := builtL7Packets()
	path := writeBuiltPcap(t, pkts)
	if p := os.Getenv("DISSECT_KEEP_BUILT"); p != "" {
		b, _ := os.ReadFile(path)
		_ = os.WriteFile(p, b, 0o644)
	}
	ts := tsharkDissect(t, tshark, path, "-d", "tcp.port==601,syslog", "-d", "udp.port==5355,llmnr")
	ours := decodeCapture(t, path)
	if len(ours) != len(pkts) {
		t.Fatalf("decoded %d packets, built %d", len(ours), len(pkts))
	}
	var diffs []fieldDiff
	compareL7(diffSink{file: "built", diffs: &diffs}, ours, ts)
	for i, p := range pkts {
		if dissected := ts[i+1].has("dns.") || ts[i+1].has("http.") || ts[i+1].has("syslog."); dissected == p.notDissected {
			t.Errorf("built #%d %s: tshark dissected it: %v, want %v", i+1, p.name, dissected, !p.notDissected)
		}
	}
	for _, d := range diffs {
		t.Logf("built #%d is %s", d.packet, pkts[d.packet-1].name)
	}
	known := loadKnownDiffs(t)
	var builtKnown []*knownDiff
	for _, k := range known {
		if k.File == "built" && !strings.HasSuffix(k.Field, ".text") {
			builtKnown = append(builtKnown, k)
		}
	}
	checkKnownDiffs(t, diffs, builtKnown)
}
