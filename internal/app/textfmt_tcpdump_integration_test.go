//go:build integration

package app

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// tcpdumpCaptures are the captures whose lines `read --format text` is
// compared with `tcpdump -nn -r`: every capture of testdata/pcaps and of
// internal/dissect/testdata whose packets are plain (not tunnelled) UDP, TCP
// and ARP — DNS, syslog, HTTP, TLS, DHCP, NTP, TCP handshakes with options.
var tcpdumpCaptures = []string{
	"testdata/pcaps/tcpdump_dns_udp.pcap",
	"testdata/pcaps/tcpdump_syslog_udp.pcap",
	"testdata/pcaps/tcpdump_tcp-handshake-nano.pcap",
	"testdata/pcaps/ndpi_syslog.pcap",
	"testdata/pcaps/pcap2har_http-chunked-gzip.pcap",
	"testdata/pcaps/zeek_http-pipelined-requests.pcap",
	"testdata/pcaps/zeek_http-docker-upgrade-chunked.pcap",
	"testdata/pcaps/zeek_http-vlan-0.pcap",
	"testdata/pcaps/zeek_ipv6-fragmented-dns.pcap",
	"testdata/pcaps/zeek_pcapng-multi-interface.pcapng",
	"testdata/pcaps/tcpdump_802.1ad_QinQ.pcap",
	"internal/dissect/testdata/dhcp-arp-busybox-veth.pcap",
	"internal/dissect/testdata/ntp-chrony-loopback.pcap",
	"internal/dissect/testdata/tls-openssl-curl-loopback.pcap",
}

// tcpdumpDifferences are the known, explained differences between the two
// outputs. Each rewrites one side before the comparison; lines that match
// skip are not compared at all.
var tcpdumpDifferences = []struct {
	why      string
	side     string // "wb" or "tcpdump"
	re       *regexp.Regexp
	repl     string
	skipLine bool
}{
	{why: "wirebridge names the VLAN tags of a frame; tcpdump prints them only with -e", side: "wb",
		re: regexp.MustCompile(`^(\S+ )vlan [0-9,]+, `), repl: "$1"},
	{why: "wirebridge describes the inner packet of a tunnel and puts the outer one in brackets at the end; tcpdump prints the outer header first (here IP in IPv4)", side: "wb",
		re: regexp.MustCompile(`^(\S+ )(.*) \[ipip ([0-9.]+) > ([0-9.]+)\]$`), repl: "${1}IP $3 > $4: $2"},
	{why: "fragments (IPv6 fragment headers, later IPv4 fragments) are printed in wirebridge's own words", side: "tcpdump",
		re: regexp.MustCompile(`frag \(|: ip-proto-|\(frag `), skipLine: true},
	{why: "fragments: wirebridge side", side: "wb", re: regexp.MustCompile(`fragment offset`), skipLine: true},
	{why: "the dissector writes DNS TXT data as one unquoted string where tcpdump quotes each character-string (internal/dissect, DNS AppendText)", side: "tcpdump",
		re: regexp.MustCompile(` TXT .*`), repl: " TXT …"},
	{why: "same, wirebridge side", side: "wb", re: regexp.MustCompile(` TXT .*`), repl: " TXT …"},
}

// TestTextMatchesTcpdump compares `wirebridge read --format text` with
// `tcpdump -nn -r` (TZ=UTC) line by line on the captures above, after the
// documented rewrites of tcpdumpDifferences.
func TestTextMatchesTcpdump(t *testing.T) {
	tcpdump := needTool(t, "tcpdump")
	root := filepath.Join("..", "..")
	compared := 0
	used = make([]int, len(tcpdumpDifferences))
	for _, name := range tcpdumpCaptures {
		t.Run(filepath.Base(name), func(t *testing.T) {
			path := filepath.Join(root, name)
			cmd := exec.Command(tcpdump, "-nn", "-r", path)
			cmd.Env = append(os.Environ(), "TZ=UTC")
			want, err := cmd.Output()
			if err != nil {
				t.Fatalf("tcpdump: %v", err)
			}
			var out, errb bytes.Buffer
			if code := Main(context.Background(), []string{"read", "-q", "--format", "text", path}, Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}); code != 0 {
				t.Fatalf("read exited %d: %s", code, errb.String())
			}
			wl := strings.Split(strings.TrimSuffix(string(want), "\n"), "\n")
			gl := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(wl) != len(gl) {
				t.Fatalf("tcpdump printed %d lines, wirebridge %d", len(wl), len(gl))
			}
			for i := range wl {
				w, wskip := normaliseText(wl[i], "tcpdump")
				g, gskip := normaliseText(gl[i], "wb")
				if wskip || gskip {
					continue
				}
				compared++
				if w != g {
					t.Errorf("line %d differs:\n tcpdump    %s\n wirebridge %s", i+1, wl[i], gl[i])
				}
			}
		})
	}
	for i, d := range tcpdumpDifferences {
		if used[i] == 0 {
			t.Errorf("the known difference %q no longer occurs: remove it", d.why)
		}
	}
	t.Logf("%d lines compared", compared)
	if compared < 300 {
		t.Errorf("only %d lines compared", compared)
	}
}

// used counts, per known difference, the lines it applied to.
var used []int

func normaliseText(line, side string) (string, bool) {
	for i, d := range tcpdumpDifferences {
		if d.side != side || !d.re.MatchString(line) {
			continue
		}
		used[i]++
		if d.skipLine {
			return "", true
		}
		line = d.re.ReplaceAllString(line, d.repl)
	}
	return line, false
}
