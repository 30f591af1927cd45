package event

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// goldenCaptures are encoded to NDJSON (one event per frame, fixed ids) and
// compared with testdata/<capture>.golden; -update rewrites the files.
var goldenCaptures = []string{
	"tcpdump_syslog_udp.pcap",
	"tcpdump_tcp-handshake-nano.pcap",
	"suricata-verify_vxlan-aws-traffic-mirror.pcap",
	"tcpdump_geneve.pcap",
	"tcpdump_erspan-type-ii-2.pcap",
	"tcpdump_802.1ad_QinQ.pcap",
	"zeek_ipv6-fragmented-dns.pcap",
	"zeek_gre-sample.pcap",
	"tcpdump_udp-length-heapoverflow.pcap",
}

func TestGolden(t *testing.T) {
	for _, name := range goldenCaptures {
		t.Run(name, func(t *testing.T) {
			e := fixedEncoder()
			var out []byte
			for _, p := range decodedPackets(t, name) {
				out = e.AppendJSON(out, p, Meta{Listener: "golden", SourceType: "pcap"})
				out = append(out, '\n')
			}
			path := filepath.Join("testdata", strings.TrimSuffix(name, filepath.Ext(name))+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if !bytes.Equal(out, want) {
				gl, wl := bytes.Split(out, []byte("\n")), bytes.Split(want, []byte("\n"))
				for i := 0; i < len(gl) && i < len(wl); i++ {
					if !bytes.Equal(gl[i], wl[i]) {
						t.Fatalf("line %d differs:\n got %s\nwant %s", i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("got %d lines, want %d", len(gl), len(wl))
			}
		})
	}
}
