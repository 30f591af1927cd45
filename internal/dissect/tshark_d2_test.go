//go:build integration

package dissect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
)

// TestTsharkTLSDHCPNTPARP runs the TLS, DHCP, NTP and ARP parsers on every
// frame of every capture in testdata/pcaps, of this package's own captures
// (testdata/README.md) and of a pcap of built messages, and compares them
// with tshark packet by packet: handshake type, SNI, ALPN, versions and
// cipher for TLS; message type, xid, client MAC, hostname, requested IP and
// server id for DHCP; version, mode and stratum for NTP; operation and
// addresses for ARP; and the Info column for all four. A frame tshark
// dissects as one of these protocols that our parser rejects fails too, and
// so does the reverse. Disagreements that remain are listed, with the
// reason, in testdata/tshark-differences-tls-dhcp-ntp-arp.json; a listed
// disagreement that no longer occurs fails as well.
//
// tshark 4.0 has no tls.handshake.ja4 field: JA4 is checked in the unit
// tests against the values FoxIO's own implementation gives for the same
// ClientHellos and against the specification's worked example.
func TestTsharkTLSDHCPNTPARP(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatalf("tshark is required (scripts/deps.sh installs it): %v", err)
	}
	var files []string
	for _, pat := range []string{"../../testdata/pcaps/*.pcap", "../../testdata/pcaps/*.pcapng", "testdata/*.pcap"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 4 {
		t.Fatalf("captures missing: %v", files)
	}
	files = append(files, writeBuiltD2(t))

	known := loadD2Known(t)
	seen := map[string]bool{}
	confDir := t.TempDir()
	compared := map[string]int{}
	for _, path := range files {
		name := filepath.Base(path)
		rows := tsharkD2Fields(t, tshark, confDir, path)
		frames := framesFromCapture(t, path)
		if len(rows) != len(frames) {
			t.Errorf("%s: tshark shows %d packets, we read %d", name, len(rows), len(frames))
			continue
		}
		for i, f := range frames {
			row := rows[i]
			for _, d := range compareD2(f, row, compared) {
				key := fmt.Sprintf("%s#%s#%s", name, row["frame.number"], d.field)
				if reason, ok := known[key]; ok && reason != "" {
					seen[key] = true
					continue
				}
				t.Errorf("%s frame %s: %s: ours %q, tshark %q", name, row["frame.number"], d.field, d.ours, d.tshark)
			}
		}
	}
	for key := range known {
		if !seen[key] {
			t.Errorf("known difference %s no longer occurs: remove it from the list", key)
		}
	}
	for _, p := range []string{"tls", "dhcp", "ntp", "arp"} {
		if compared[p] == 0 {
			t.Errorf("no %s frame compared", p)
		}
	}
	t.Logf("frames compared with tshark: %v", compared)
}

// tsharkD2Columns are the fields asked of tshark, in order.
var tsharkD2Columns = []string{
	"frame.number", "frame.cb_pen",
	"tls.handshake.type", "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
	"tls.handshake.extensions.supported_version", "tls.handshake.version", "tls.handshake.ciphersuite",
	"dhcp.type", "dhcp.option.dhcp", "dhcp.id", "dhcp.hw.mac_addr", "dhcp.option.hostname",
	"dhcp.option.requested_ip_address", "dhcp.option.dhcp_server_id",
	"ntp.flags.vn", "ntp.flags.mode", "ntp.stratum",
	"arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4",
	"_ws.col.Info",
}

// tsharkD2Fields returns the columns tshark prints for each packet, in order
// (every occurrence of a field joined with ","). Frames that are pcapng
// Custom Blocks, which tshark 4.0 numbers as frames, are left out.
func tsharkD2Fields(t *testing.T, tshark, confDir, path string) []map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"-n", "-r", path, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, c := range tsharkD2Columns {
		args = append(args, "-e", c)
	}
	cmd := exec.CommandContext(ctx, tshark, args...)
	cmd.Env = append(os.Environ(), "WIRESHARK_CONFIG_DIR="+confDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var rows []map[string]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		cols := strings.Split(line, "\t")
		if len(cols) != len(tsharkD2Columns) {
			t.Fatalf("tshark line with %d columns: %q", len(cols), line)
		}
		row := map[string]string{}
		for i, c := range tsharkD2Columns {
			row[c] = cols[i]
		}
		if row["frame.cb_pen"] == "" {
			rows = append(rows, row)
		}
	}
	return rows
}

type d2Diff struct{ field, ours, tshark string }

// first returns the first of tshark's comma-joined occurrences.
func first(s string) string {
	if i := strings.IndexByte(s, ','); i >= 0 {
		return s[:i]
	}
	return s
}

// hasProto reports whether tshark dissected any field of the protocol.
func hasProto(row map[string]string, prefix string) bool {
	for k, v := range row {
		if strings.HasPrefix(k, prefix) && v != "" {
			return true
		}
	}
	return false
}

// tsharkInfo returns the last protocol's part of the Info column without
// tshark's expert notes ("[Packet size limited during capture]").
func tsharkInfo(row map[string]string) string {
	info := row["_ws.col.Info"]
	if i := strings.Index(info, "["); i > 0 {
		info = info[:i]
	}
	return strings.TrimRight(info, " ")
}

func compareD2(f capturedFrame, row map[string]string, compared map[string]int) []d2Diff {
	in := f.pkt.Inner()
	pl := f.payload()
	var diffs []d2Diff
	diff := func(field string, ours, theirs any) {
		o, s := fmt.Sprint(ours), fmt.Sprint(theirs)
		if o != s {
			diffs = append(diffs, d2Diff{field, o, s})
		}
	}
	port := func(p uint16) bool { return in.SrcPort == p || in.DstPort == p }
	switch {
	case in.Layers.Has(packet.LayerARP):
		compared["arp"]++
		var m ARPMessage
		err := m.Parse(pl)
		if err != nil && !hasProto(row, "arp.") {
			return nil
		}
		diff("arp.parse", errText(err), wantParse(f))
		diff("arp.opcode", m.Operation, row["arp.opcode"])
		diff("arp.src.hw_mac", string(appendColonHex(nil, m.SenderHW)), row["arp.src.hw_mac"])
		diff("arp.src.proto_ipv4", m.SenderIP(), row["arp.src.proto_ipv4"])
		diff("arp.dst.hw_mac", string(appendColonHex(nil, m.TargetHW)), row["arp.dst.hw_mac"])
		diff("arp.dst.proto_ipv4", m.TargetIP(), row["arp.dst.proto_ipv4"])
		diff("info", string(m.AppendInfo(nil)), tsharkInfo(row))
	case in.Layers.Has(packet.LayerUDP) && (port(67) || port(68)):
		compared["dhcp"]++
		var m DHCPMessage
		err := m.Parse(pl)
		if !hasProto(row, "dhcp.") {
			if err == nil {
				diff("dhcp.parse", "ok", "not dhcp")
			}
			return diffs
		}
		diff("dhcp.parse", errText(err), wantParse(f))
		diff("dhcp.type", m.Op, row["dhcp.type"])
		diff("dhcp.id", "0x"+string(appendHex8(nil, m.XID)), row["dhcp.id"])
		diff("dhcp.hw.mac_addr", string(appendColonHex(nil, m.ClientMAC)), first(row["dhcp.hw.mac_addr"]))
		diff("dhcp.option.dhcp", optNum(m.MessageType), row["dhcp.option.dhcp"])
		diff("dhcp.option.hostname", string(m.Hostname), row["dhcp.option.hostname"])
		diff("dhcp.option.requested_ip_address", optAddr(m.RequestedIP), row["dhcp.option.requested_ip_address"])
		diff("dhcp.option.dhcp_server_id", optAddr(m.ServerID), row["dhcp.option.dhcp_server_id"])
		info := tsharkInfo(row)
		if m.MessageType == 0 && m.Op == BOOTRequest {
			// "Boot Request from MAC (resolved name)": no name resolution here.
			if i := strings.Index(info, " ("); i >= 0 {
				info = info[:i]
			}
		}
		diff("info", string(m.AppendInfo(nil)), info)
	case in.Layers.Has(packet.LayerUDP) && port(123):
		compared["ntp"]++
		var m NTPPacket
		err := m.Parse(pl)
		if !hasProto(row, "ntp.") {
			if err == nil {
				diff("ntp.parse", "ok", "not ntp")
			}
			return diffs
		}
		diff("ntp.parse", errText(err), wantParse(f))
		diff("ntp.flags.vn", m.Version, row["ntp.flags.vn"])
		diff("ntp.flags.mode", m.Mode, row["ntp.flags.mode"])
		if m.Mode < NTPModeControl {
			diff("ntp.stratum", m.Stratum, row["ntp.stratum"])
		}
		diff("info", string(m.AppendInfo(nil)), tsharkInfo(row))
	case in.Layers.Has(packet.LayerTCP) && port(443) && len(pl) > 0:
		compared["tls"]++
		var m TLSHello
		err := m.Parse(pl)
		hs := first(row["tls.handshake.type"])
		if hs != "1" && hs != "2" {
			if err == nil {
				diff("tls.hello", "hello", "no hello")
			}
			return diffs
		}
		diff("tls.parse", errText(err), wantParse(f))
		diff("tls.handshake.type", m.HandshakeType, hs)
		diff("tls.handshake.extensions_server_name", string(m.SNI), row["tls.handshake.extensions_server_name"])
		diff("tls.handshake.extensions_alpn_str", string(bytes.Join(m.ALPN(), []byte(","))), row["tls.handshake.extensions_alpn_str"])
		if sv := row["tls.handshake.extensions.supported_version"]; sv != "" {
			var theirs []string
			for _, v := range strings.Split(sv, ",") {
				if n, err := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 16); err == nil && !isGREASE(uint16(n)) {
					theirs = append(theirs, v)
				}
			}
			var ours []string
			for _, v := range m.Versions() {
				ours = append(ours, "0x"+string(appendHex4(nil, v)))
			}
			diff("tls.handshake.extensions.supported_version", strings.Join(ours, ","), strings.Join(theirs, ","))
		}
		diff("tls.handshake.version", "0x"+string(appendHex4(nil, m.LegacyVersion)), first(row["tls.handshake.version"]))
		if m.HandshakeType == TLSServerHello {
			diff("tls.handshake.ciphersuite", "0x"+string(appendHex4(nil, m.CipherSuite)), first(row["tls.handshake.ciphersuite"]))
		}
		// tshark 4.0's Info names every record's message ("Change Cipher
		// Spec, Client Hello", "Server Hello, Certificate, ...",
		// "[Client Hello Fragment], ..., Client Hello"); ours names the
		// hello and adds the SNI as the issue asks: the hello's name must
		// be one of tshark's.
		ours := string(m.AppendInfo(nil))
		if i := strings.Index(ours, " (SNI="); i >= 0 {
			ours = ours[:i]
		}
		if theirs := tsharkInfo(row); !slices.Contains(strings.Split(theirs, ", "), ours) {
			diff("info", ours, theirs)
		}
	}
	return diffs
}

// wantParse is the parse result expected when tshark dissects the
// protocol: success, or ErrTruncated when the capture cut the frame short.
func wantParse(f capturedFrame) string {
	if f.pkt.Info.CaptureLength < f.pkt.Info.Length {
		return ErrTruncated.Error()
	}
	return errText(nil)
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func optNum(v uint8) string {
	if v == 0 {
		return ""
	}
	return strconv.Itoa(int(v))
}

func optAddr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// loadD2Known reads the documented disagreements, keyed file#frame#field.
func loadD2Known(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("testdata/tshark-differences-tls-dhcp-ntp-arp.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Differences []struct {
			File   string `json:"file"`
			Frames []int  `json:"frames"`
			Field  string `json:"field"`
			Reason string `json:"reason"`
		} `json:"differences"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("known differences: %v", err)
	}
	out := map[string]string{}
	for _, d := range doc.Differences {
		if d.Reason == "" {
			t.Fatalf("known difference %s %s without a reason", d.File, d.Field)
		}
		for _, n := range d.Frames {
			out[fmt.Sprintf("%s#%d#%s", d.File, n, d.Field)] = d.Reason
		}
	}
	return out
}

// writeBuiltD2 writes the built messages (cases the captures lack) to a
// pcap in a temporary directory and returns its path. Each TCP message is
// on its own connection so tshark's per-stream state does not carry over.
func writeBuiltD2(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "built-tls-dhcp-ntp-arp.pcap")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := capfile.NewWriter(fh, packet.LinkEthernet, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	cli, srv := netip.MustParseAddr("10.9.0.2"), netip.MustParseAddr("10.9.0.1")
	mac1, mac2 := [6]byte{2, 0, 0, 0, 0, 1}, [6]byte{2, 0, 0, 0, 0, 2}
	bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	var frames [][]byte
	tcp := func(sport, dport uint16, payload []byte) {
		frames = append(frames, packet.Build(packet.Eth{Src: mac1, Dst: mac2}, packet.IPv4{Src: cli, Dst: srv},
			packet.TCP{Src: sport, Dst: dport, Seq: 1, Ack: 1, Flags: packet.TCPAck | packet.TCPPsh, Window: 512}, packet.Payload(payload)))
	}
	udp := func(sport, dport uint16, payload []byte) {
		frames = append(frames, packet.Build(packet.Eth{Src: mac1, Dst: bcast}, packet.IPv4{Src: cli, Dst: srv},
			packet.UDP{Src: sport, Dst: dport}, packet.Payload(payload)))
	}
	arp := func(eth packet.Eth, a packet.ARP) { frames = append(frames, packet.Build(eth, a)) }

	// TLS.
	split := specHello()
	split.recordSize = 37
	old := testHello{legacy: 0x0301, ciphers: []uint16{0x0035, 0x002f}, noExts: true}
	serverHello := handshakeMsg(TLSServerHello, append(append(append(u16s(0x0303), make([]byte, 32)...), 0),
		append(u16s(0x1301), append([]byte{0}, vec16(append(u16s(tlsExtSupportedVersions), vec16(u16s(0x0304))...))...)...)...))
	tcp(40001, 443, specHello().encode())
	tcp(40002, 443, split.encode())
	tcp(40003, 443, append(tlsRecord(tlsChangeCipherSpec, []byte{1}), specHello().encode()...))
	tcp(40004, 443, old.encode())
	tcp(443, 40005, tlsRecord(tlsHandshake, serverHello))
	tcp(40006, 443, tlsRecord(tlsApplicationData, []byte("not a hello")))
	// DHCP.
	udp(68, 67, testDHCP(BOOTRequest, []byte{53, 1, 8, 52, 1, 3, 255}, "\x0c\x04host\xff", "\x32\x04\x0a\x00\x00\x07\xff"))
	udp(67, 68, testDHCP(BOOTReply, nil, "srv", "pxelinux.0"))
	udp(68, 67, testDHCP(BOOTRequest, []byte{53, 1, 1, 12, 5, 'h', 'o', 's', 't', '1', 255}, "", ""))
	udp(67, 68, testDHCP(BOOTReply, []byte{53, 1, 6, 54, 4, 10, 9, 0, 1, 255}, "", ""))
	udp(68, 67, testDHCP(BOOTRequest, []byte{53, 1, 7, 54, 4, 10, 9, 0, 1, 255}, "", ""))
	// NTP.
	udp(123, 123, testNTP(3<<3|4, 1, "GPS\x00", 0))
	udp(123, 40010, testNTP(3<<6|4<<3|4, 0, "RATE", 0))
	udp(40011, 123, []byte{2<<3 | 6, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	udp(40012, 123, testNTP(4<<3|3, 0, "", 0))
	// ARP.
	a1, a2 := netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.2")
	zero := netip.IPv4Unspecified()
	arp(packet.Eth{Src: mac1, Dst: bcast}, packet.ARP{Op: ARPRequest, SenderMAC: mac1, SenderIP: zero, TargetIP: a1})
	arp(packet.Eth{Src: mac1, Dst: bcast}, packet.ARP{Op: ARPRequest, SenderMAC: mac1, SenderIP: a1, TargetIP: a1})
	arp(packet.Eth{Src: mac1, Dst: bcast}, packet.ARP{Op: ARPReply, SenderMAC: mac1, SenderIP: a1, Target: mac1, TargetIP: a1})
	arp(packet.Eth{Src: mac1, Dst: mac2}, packet.ARP{Op: ARPReply, SenderMAC: mac1, SenderIP: a1, Target: mac2, TargetIP: a2})
	arp(packet.Eth{Src: mac1, Dst: bcast, Type: packet.EtherTypeRARP}, packet.ARP{Op: ARPReverseRequest, SenderMAC: mac1, SenderIP: zero, Target: mac1, TargetIP: zero})
	arp(packet.Eth{Src: mac2, Dst: mac1, Type: packet.EtherTypeRARP}, packet.ARP{Op: ARPReverseReply, SenderMAC: mac2, SenderIP: a2, Target: mac1, TargetIP: a1})
	// A ClientHello larger than one TCP segment (as post-quantum key
	// shares make them), in two segments of one stream: tshark reassembles
	// it and shows it at the second; we parse each segment alone (see the
	// differences list).
	big := specHello()
	big.exts = append(big.exts, testExt{0x0015, make([]byte, 1500)})
	bigRec := big.encode()
	for i, part := range [][]byte{bigRec[:1000], bigRec[1000:]} {
		frames = append(frames, packet.Build(packet.Eth{Src: mac1, Dst: mac2}, packet.IPv4{Src: cli, Dst: srv},
			packet.TCP{Src: 40020, Dst: 443, Seq: uint32(1 + 1000*i), Ack: 1, Flags: packet.TCPAck | packet.TCPPsh, Window: 512}, packet.Payload(part)))
	}

	ts := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for i, fr := range frames {
		info := packet.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(fr), Length: len(fr), LinkType: packet.LinkEthernet}
		if err := w.WritePacket(info, fr); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	if len(frames) == 0 || !slices.ContainsFunc(frames, func(b []byte) bool { return len(b) > 0 }) {
		t.Fatal("no built frames")
	}
	return path
}
