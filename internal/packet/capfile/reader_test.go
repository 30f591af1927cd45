package capfile

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// Packet counts from `capinfos -c`, as listed in testdata/pcaps/SOURCES.md.
var sharedCounts = map[string]int{
	"tcpdump_vxlan.pcap":                            10,
	"tcpdump_geneve.pcap":                           39,
	"tcpdump_geneve-gcp.pcap":                       1,
	"tcpdump_erspan-type-i-1.pcap":                  2,
	"tcpdump_erspan-type-ii-2.pcap":                 16,
	"tcpdump_erspan-type-iii-ft-0.pcap":             9,
	"tcpdump_various_gre.pcap":                      100,
	"tcpdump_ipv6-routing-header.pcap":              4,
	"tcpdump_dns_udp.pcap":                          2,
	"tcpdump_syslog_udp.pcap":                       4,
	"tcpdump_icmpv6.pcap":                           5,
	"tcpdump_802.1ad_QinQ.pcap":                     2,
	"tcpdump_tcp-handshake-nano.pcap":               3,
	"tcpdump_ipv4_invalid_total_length.pcap":        1,
	"tcpdump_udp-length-heapoverflow.pcap":          1,
	"zeek_vxlan-encapsulated-http.pcap":             12,
	"zeek_geneve-many-options.pcap":                 10,
	"zeek_geneve-truncated.pcapng":                  1,
	"zeek_gre-erspan3-dot1q.pcap":                   2,
	"zeek_gre-sample.pcap":                          40,
	"zeek_ipv6-hbh-routing0.pcap":                   1,
	"zeek_ipv6-fragmented-dns.pcap":                 8,
	"zeek_http-pipelined-requests.pcap":             49,
	"zeek_http-docker-upgrade-chunked.pcap":         200,
	"zeek_http-vlan-0.pcap":                         14,
	"zeek_pcapng-multi-interface.pcapng":            6,
	"zeek_linux_dlt_sll2.pcap":                      6,
	"zeek_trunc_ip4-trunc.pcap":                     1,
	"zeek_trunc_ip6-ext-trunc.pcap":                 1,
	"zeek_trunc_trunc-hdr.pcap":                     1,
	"zeek_tcp-truncated-header.pcap":                24,
	"suricata-verify_vxlan-aws-traffic-mirror.pcap": 100,
	"suricata-verify_ipv4frags.pcap":                3,
	"suricata-verify_frag-eth-vlan-ip-tcp-syn.pcap": 3,
	"suricata-verify_ipv6-covert-dstopts.pcap":      37,
	"gopacket_pcapng-be-test202.pcapng":             8,
	"arkime_twovlan.pcap":                           6,
	"arkime_bigendian.pcap":                         2,
	"ndpi_syslog.pcap":                              94,
	"pcap2har_http-chunked-gzip.pcap":               28,
}

func TestSharedCapturesReadToEnd(t *testing.T) {
	files := captureFiles(t)
	if len(files) != len(sharedCounts) {
		t.Errorf("found %d capture files, the count table has %d: update the table", len(files), len(sharedCounts))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want, ok := sharedCounts[name]
			if !ok {
				t.Fatalf("no expected count for %s", name)
			}
			input, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			recs, r, err := readAll(t, input)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if len(recs) != want {
				t.Errorf("read %d packets, capinfos counts %d", len(recs), want)
			}
			if r.Offset() != int64(len(input)) {
				t.Errorf("Offset() = %d at the end, file has %d bytes", r.Offset(), len(input))
			}
			wantFormat := FormatPcap
			if strings.HasSuffix(name, ".pcapng") {
				wantFormat = FormatPcapNG
			} else if name == "tcpdump_tcp-handshake-nano.pcap" {
				wantFormat = FormatPcapNano
			}
			if r.Format() != wantFormat {
				t.Errorf("Format() = %v, want %v", r.Format(), wantFormat)
			}
			for i, rec := range recs {
				if rec.info.CaptureLength != len(rec.data) || rec.info.CaptureLength == 0 {
					t.Errorf("packet %d: CaptureLength %d, len(data) %d", i+1, rec.info.CaptureLength, len(rec.data))
				}
				if wantFormat != FormatPcapNG && rec.info.LinkType != r.LinkType() {
					t.Errorf("packet %d: link type %d, file says %d", i+1, rec.info.LinkType, r.LinkType())
				}
			}
		})
	}
}

type wantPacket struct {
	ts       time.Time // zero for Simple Packet Blocks
	iface    int
	link     packet.LinkType
	caplen   int
	origLen  int
	firstTwo [2]byte // first two data bytes
}

// checkPackets compares what was read with the expected packets. For shared
// files the figures are tshark's (`tshark -r FILE -T fields -e frame.time_epoch
// -e frame.interface_id -e frame.len -e frame.cap_len`, first bytes from `tshark -x`).
func checkPackets(t *testing.T, recs []record, want []wantPacket) {
	t.Helper()
	if len(recs) != len(want) {
		t.Fatalf("read %d packets, want %d", len(recs), len(want))
	}
	for i, w := range want {
		got := recs[i].info
		if !got.Timestamp.Equal(w.ts) || got.Timestamp.IsZero() != w.ts.IsZero() {
			t.Errorf("packet %d: timestamp %s, want %s", i+1, got.Timestamp.Format(time.RFC3339Nano), w.ts.Format(time.RFC3339Nano))
		}
		if got.InterfaceIndex != w.iface || got.LinkType != w.link || got.CaptureLength != w.caplen || got.Length != w.origLen {
			t.Errorf("packet %d: iface %d link %d caplen %d len %d, want iface %d link %d caplen %d len %d",
				i+1, got.InterfaceIndex, got.LinkType, got.CaptureLength, got.Length, w.iface, w.link, w.caplen, w.origLen)
		}
		if len(recs[i].data) >= 2 && [2]byte(recs[i].data[:2]) != w.firstTwo {
			t.Errorf("packet %d: data starts % x, want % x", i+1, recs[i].data[:2], w.firstTwo)
		}
	}
}

func TestMultiInterfacePcapng(t *testing.T) {
	recs, r := readShared(t, "zeek_pcapng-multi-interface.pcapng")
	if r.LinkType() != packet.LinkEthernet {
		t.Errorf("LinkType() = %d, want Ethernet", r.LinkType())
	}
	// Interface 0 has nanosecond resolution, interface 1 microseconds.
	e := packet.LinkEthernet
	checkPackets(t, recs, []wantPacket{
		{time.Unix(1767663089, 500330493), 0, e, 96, 96, [2]byte{0x32, 0x76}},
		{time.Unix(1767663089, 514291940), 0, e, 214, 214, [2]byte{0x2e, 0xba}},
		{time.Unix(1767663437, 111897000), 1, e, 70, 70, [2]byte{0xa8, 0x9c}},
		{time.Unix(1767663437, 126460000), 1, e, 166, 166, [2]byte{0xa8, 0xa1}},
		{time.Unix(1767663437, 128303000), 1, e, 70, 70, [2]byte{0xa8, 0x9c}},
		{time.Unix(1767663437, 140942000), 1, e, 182, 182, [2]byte{0xa8, 0xa1}},
	})
}

func TestBigEndianMultiSectionPcapng(t *testing.T) {
	recs, r := readShared(t, "gopacket_pcapng-be-test202.pcapng")
	if r.sections != 3 {
		t.Errorf("read %d sections, want 3", r.sections)
	}
	ts := time.Unix(1340954905, 298858000)
	ts2 := time.Unix(1340954905, 301858000)
	e, null := packet.LinkEthernet, packet.LinkNull
	checkPackets(t, recs, []wantPacket{
		{ts, 0, e, 96, 314, [2]byte{0xff, 0xff}},
		{ts, 0, e, 96, 342, [2]byte{0x00, 0x0b}},
		{ts2, 1, null, 168, 168, [2]byte{0x02, 0x00}},
		{time.Time{}, 0, e, 128, 314, [2]byte{0xff, 0xff}}, // Simple Packet Block
		{ts, 0, e, 128, 342, [2]byte{0x00, 0x0b}},
		{time.Time{}, 0, e, 128, 314, [2]byte{0xff, 0xff}}, // Simple Packet Block
		{ts, 0, e, 128, 342, [2]byte{0x00, 0x0b}},
		{ts2, 1, null, 168, 168, [2]byte{0x02, 0x00}},
	})
}

func TestClassicByteOrderAndResolution(t *testing.T) {
	t.Run("arkime_bigendian", func(t *testing.T) {
		recs, r := readShared(t, "arkime_bigendian.pcap")
		if !r.be || r.Format() != FormatPcap {
			t.Errorf("big-endian %v format %v, want big-endian pcap", r.be, r.Format())
		}
		e := packet.LinkEthernet
		checkPackets(t, recs, []wantPacket{
			{time.Unix(1335958313, 152630000), 0, e, 98, 98, [2]byte{0x00, 0x00}},
			{time.Unix(1335958317, 529201000), 0, e, 98, 98, [2]byte{0x00, 0x00}},
		})
	})
	t.Run("tcpdump_tcp-handshake-nano", func(t *testing.T) {
		recs, r := readShared(t, "tcpdump_tcp-handshake-nano.pcap")
		if r.Format() != FormatPcapNano || r.LinkType() != packet.LinkLinuxSLL {
			t.Errorf("format %v link %d, want pcap-ns SLL", r.Format(), r.LinkType())
		}
		s := packet.LinkLinuxSLL
		checkPackets(t, recs, []wantPacket{
			{time.Unix(1418145369, 924505488), 0, s, 76, 76, [2]byte{0x00, 0x04}},
			{time.Unix(1418145370, 52027262), 0, s, 76, 76, [2]byte{0x00, 0x00}},
			{time.Unix(1418145370, 52115157), 0, s, 68, 68, [2]byte{0x00, 0x04}},
		})
	})
}

// TestSyntheticPcapng covers what the shared files do not: power-of-2 and
// unusual power-of-10 resolutions, if_tsoffset, obsolete Packet Blocks,
// skipped blocks of every kind, and a byte-order change between sections.
func TestSyntheticPcapng(t *testing.T) {
	input, want := syntheticPcapng()
	recs, r, err := readAll(t, input)
	if err != nil {
		t.Fatal(err)
	}
	checkPackets(t, recs, want)
	if r.sections != 2 || !r.be {
		t.Errorf("sections %d big-endian %v, want 2 sections ending big-endian", r.sections, r.be)
	}
	if r.Offset() != int64(len(input)) {
		t.Errorf("Offset() = %d, want %d", r.Offset(), len(input))
	}
}

func syntheticPcapng() ([]byte, []wantPacket) {
	le, be := binary.LittleEndian, binary.BigEndian
	payload := func(a, b byte, n int) []byte {
		d := bytes.Repeat([]byte{0x5a}, n)
		d[0], d[1] = a, b
		return d
	}
	g := &ngBuilder{}
	g.shb(le)
	g.idb(1, 0)                                                                                  // 0: Ethernet, default µs
	g.block(4, []byte{1, 0, 9, 0, 10, 0, 0, 1, 'h', 'o', 's', 't', 0, 0, 0, 0, 0, 0, 0, 0})      // NRB: 10.0.0.1 host
	g.idb(101, 0, ngOpt{optIfTsresol, []byte{3}}, ngOpt{optIfTsoffset, u64opt(le, 1000)})        // 1: raw, ms, +1000 s
	g.idb(113, 64, ngOpt{2, []byte("eth9")}, ngOpt{optIfTsresol, []byte{0x80 | 20}})             // 2: SLL, 2^-20 s, snaplen 64
	g.idb(276, 0, ngOpt{optIfTsresol, []byte{12}}, ngOpt{optIfTsoffset, u64opt(le, 1700000000)}) // 3: SLL2, ps, +1700000000 s
	g.epb(0, 1700000000123456, 60, payload(0xaa, 0x01, 60), ngOpt{1, []byte("a comment")})
	g.block(5, make([]byte, 16))                                                                  // ISB: interface 0, no options
	g.block(0x40000bad, []byte{0, 0, 0x7e, 0xd9, 1, 2})                                           // custom block
	g.block(0x0000000a, append(le.AppendUint32(le.AppendUint32(nil, 0x544c534b), 5), "abcde"...)) // DSB
	g.epb(1, 1700000000123, 1500, payload(0x45, 0x00, 41))
	g.epb(2, 1700000000<<20|1<<19, 100, payload(0x00, 0x04, 64))
	g.epb(2, 1700000000<<20|1, 64, payload(0x00, 0x04, 64))
	// The fraction stays under 0.018 s: tshark 4.0 computes frac*1e9 in 64 bits and
	// overflows beyond that (it shows .015790852 for .901234567890), and the
	// integration test compares this file with tshark.
	g.epb(3, 12345678_012345678_901, 20, payload(0x08, 0x00, 20))
	g.pb(1, 1700000001500, 33, payload(0x60, 0x00, 33))
	g.spb(80, payload(0xaa, 0x02, 80))
	g.shb(be) // new section: interfaces reset, byte order changes
	g.idb(228, 48, ngOpt{optIfTsresol, []byte{9}})
	g.epb(0, 1700000000987654321, 40, payload(0x45, 0x01, 40))
	g.spb(100, payload(0x45, 0x02, 48)) // truncated to the snaplen 48
	g.spb(30, payload(0x45, 0x03, 30))

	want := []wantPacket{
		{time.Unix(1700000000, 123456000), 0, 1, 60, 60, [2]byte{0xaa, 0x01}},
		{time.Unix(1700001000, 123000000), 1, 101, 41, 1500, [2]byte{0x45, 0x00}},
		{time.Unix(1700000000, 500000000), 2, 113, 64, 100, [2]byte{0x00, 0x04}},
		{time.Unix(1700000000, 953), 2, 113, 64, 64, [2]byte{0x00, 0x04}}, // 1/2^20 s = 953.67 ns, truncated
		{time.Unix(1700000000+12345678, 12345678), 3, 276, 20, 20, [2]byte{0x08, 0x00}},
		{time.Unix(1700001001, 500000000), 1, 101, 33, 33, [2]byte{0x60, 0x00}},
		{time.Time{}, 0, 1, 80, 80, [2]byte{0xaa, 0x02}},
		{time.Unix(1700000000, 987654321), 0, 228, 40, 40, [2]byte{0x45, 0x01}},
		{time.Time{}, 0, 228, 48, 100, [2]byte{0x45, 0x02}},
		{time.Time{}, 0, 228, 30, 30, [2]byte{0x45, 0x03}},
	}
	return g.b, want
}

func TestReaderSmallBufferAndChunkedInput(t *testing.T) {
	// The same file read through a 4 KiB buffer fed one byte at a time gives
	// the same packets as a plain read.
	for _, name := range []string{"zeek_http-docker-upgrade-chunked.pcap", "gopacket_pcapng-be-test202.pcapng", "zeek_pcapng-multi-interface.pcapng"} {
		t.Run(name, func(t *testing.T) {
			input, err := os.ReadFile(filepath.Join(pcapsDir(t), name))
			if err != nil {
				t.Fatal(err)
			}
			want, _, err := readAll(t, input)
			if err != nil {
				t.Fatal(err)
			}
			r, err := NewReaderSize(iotestOneByte{bytes.NewReader(input)}, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; ; i++ {
				data, info, err := r.Next()
				if err == io.EOF {
					if i != len(want) {
						t.Fatalf("read %d packets, want %d", i, len(want))
					}
					break
				}
				if err != nil {
					t.Fatalf("packet %d: %v", i+1, err)
				}
				if !bytes.Equal(data, want[i].data) || info != want[i].info {
					t.Fatalf("packet %d differs", i+1)
				}
			}
		})
	}
}

// iotestOneByte returns one byte per Read call.
type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestPcapngLargeBlockGrowsBuffer(t *testing.T) {
	g := &ngBuilder{}
	g.shb(binary.LittleEndian)
	g.idb(1, 0)
	g.block(0x40000bad, make([]byte, 3<<20)) // a 3 MiB custom block is skipped, not buffered
	big := bytes.Repeat([]byte{7}, MaxCaptureLength)
	g.epb(0, 1, MaxCaptureLength, big)
	r, err := NewReaderSize(bytes.NewReader(g.b), 0)
	if err != nil {
		t.Fatal(err)
	}
	data, info, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, big) || info.CaptureLength != MaxCaptureLength {
		t.Errorf("got %d bytes (caplen %d), want %d", len(data), info.CaptureLength, MaxCaptureLength)
	}
	if len(r.buf) > MaxBlockLength {
		t.Errorf("buffer grew to %d bytes, beyond MaxBlockLength", len(r.buf))
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Errorf("after the last packet: %v, want io.EOF", err)
	}
}

func TestEmptyCaptures(t *testing.T) {
	le := binary.LittleEndian
	g := &ngBuilder{}
	g.shb(le)
	g.idb(1, 0)
	cases := []struct {
		name  string
		input []byte
	}{
		{"pcap header only", pcapBytes(le, magicMicro, 1, 65535)},
		{"pcapng section and interface only", g.b},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			if r.LinkType() != packet.LinkEthernet || r.Snaplen() < 0 {
				t.Errorf("LinkType %d Snaplen %d", r.LinkType(), r.Snaplen())
			}
			for range 2 { // io.EOF is sticky
				if _, _, err := r.Next(); err != io.EOF {
					t.Fatalf("Next: %v, want io.EOF", err)
				}
			}
		})
	}
}

func TestTimestampResolutions(t *testing.T) {
	cases := []struct {
		name    string
		tsresol uint8
		offset  int64
		ts      uint64
		want    time.Time
	}{
		{"microseconds (default)", 6, 0, 1700000000_123456, time.Unix(1700000000, 123456000)},
		{"nanoseconds", 9, 0, 1700000000_123456789, time.Unix(1700000000, 123456789)},
		{"seconds", 0, 0, 1700000000, time.Unix(1700000000, 0)},
		{"milliseconds with offset", 3, -3600, 1700000000_999, time.Unix(1700000000-3600, 999000000)},
		{"picoseconds, large fraction", 12, 0, 12345678_901234567_890, time.Unix(12345678, 901234567)},
		{"10^-19, largest power of ten", 19, 0, 18_446744073709551615, time.Unix(1, 844674407)},
		{"2^-0", 0x80, 0, 1700000000, time.Unix(1700000000, 0)},
		{"2^-10, 1/1024 s", 0x80 | 10, 0, 5<<10 | 1, time.Unix(5, 976562)},
		{"2^-32, 32.32 fixed point", 0x80 | 32, 0, 1700000000<<32 | 1<<31, time.Unix(1700000000, 500000000)},
		{"2^-63, largest power of two", 0x80 | 63, 0, 1<<63 | 1<<62, time.Unix(1, 500000000)},
		{"2^-63, all fraction bits", 0x80 | 63, 0, 1<<63 - 1, time.Unix(0, 999999999)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := iface{offset: tc.offset}
			if err := f.setResolution(tc.tsresol); err != nil {
				t.Fatal(err)
			}
			if got := f.time(tc.ts); !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("got %s, want %s", got.Format(time.RFC3339Nano), tc.want.UTC().Format(time.RFC3339Nano))
			}
		})
	}
}
