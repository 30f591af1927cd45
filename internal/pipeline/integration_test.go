//go:build integration

package pipeline

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/source"
)

// tsharkFrames returns the 1-based numbers of the frames of a capture that
// tshark selects with filter.
func tsharkFrames(t *testing.T, name, filter string) []int {
	t.Helper()
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatalf("tshark not installed (scripts/deps.sh installs it): %v", err)
	}
	out, err := exec.Command(bin, "-n", "-r", filepath.Join(pcapDir, name), "-Y", filter, "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var nums []int
	for _, l := range strings.Fields(string(out)) {
		n, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("tshark output %q: %v", l, err)
		}
		nums = append(nums, n)
	}
	return nums
}

// TestSeedRuleAgainstTshark runs the seed rule over the syslog captures and
// checks that the frames it delivers are exactly the frames tshark finds
// with a UDP or TCP destination port 514, PPPoE session frames and
// IPv6-in-IPv4 (6in4) tunnels included: both decoders reach the datagram.
func TestSeedRuleAgainstTshark(t *testing.T) {
	const filter = "udp.dstport == 514 || tcp.dstport == 514"
	captures := []string{"tcpdump_syslog_udp.pcap", "ndpi_syslog.pcap"}

	want := map[string]int{} // frame bytes -> count
	var all []source.Frame
	total := 0
	for _, c := range captures {
		frames := loadFrames(t, c)
		nums := tsharkFrames(t, c, filter)
		for _, n := range nums {
			want[string(frames[n-1].Data)]++
		}
		total += len(nums)
		t.Logf("%s: tshark selects %d of %d frames", c, len(nums), len(frames))
		all = append(all, frames...)
	}
	if total == 0 {
		t.Fatal("tshark selected nothing")
	}

	pcap := &recorder{}
	p, err := New(Config{
		Rules:   table(t, cfgRule("syslog", seedPattern, "pcap")),
		Targets: []Target{{Name: "pcap", Deliverer: pcap, NeedsFrame: true}},
		Workers: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	emit, err := p.Emitter(SourceInfo{Name: "raw", Type: "raw", EventSource: "udp.raw"})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, p)
	emitAll(emit, "raw", "", all, 8)
	if res := stop(); res.err != nil {
		t.Fatal(res.err)
	}
	got := pcap.deliveries()
	if len(got) != total {
		t.Errorf("pipeline delivered %d frames, tshark selects %d", len(got), total)
	}
	for _, d := range got {
		if want[string(d.Frame)] == 0 {
			t.Errorf("delivered a frame tshark does not select: % x", d.Frame[:min(len(d.Frame), 48)])
			continue
		}
		want[string(d.Frame)]--
	}
}
