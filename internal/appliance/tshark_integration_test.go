//go:build integration

package appliance

import (
	"encoding/hex"
	"fmt"
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

// TestRepliesPassTshark captures the replies of the censor, an IPv6
// rewrite, a TCP same-length rewrite and an 8,500-byte inner packet, and
// has tshark check every checksum (outer and inner) and the Geneve options.
func TestRepliesPassTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatalf("tshark is required (scripts/deps.sh installs it): %v", err)
	}
	spec := censorSpec()
	spec.Rules = append(spec.Rules,
		RuleSpec{Name: "v6", Pattern: `{"detail":{"Protocol":["udp"],"IP":{"Version":[6]}}}`, Action: ActionModify,
			Modify: &ModifySpec{Find: "ping", Replace: "pong!"}},
		RuleSpec{Name: "tcp", Pattern: `{"detail":{"Protocol":["tcp"]}}`, Action: ActionModify,
			Modify: &ModifySpec{Find: "weakly", Replace: "WEAKLY"}})
	r := start(t, spec, Options{})
	l := newLB(t, r.a.Addr())
	v4a, v4b := netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("192.168.2.20")
	sent := [][]byte{
		udp4("test"),
		udp4("weakly typed programming language"),
		icmpEcho(1),
		geneve(packet.IPv6{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2")},
			packet.UDP{Src: 40001, Dst: 3000}, packet.Payload("ping ping")),
		geneve(packet.IPv4{Src: v4a, Dst: v4b}, packet.TCP{Src: 40000, Dst: 80, Seq: 7, Ack: 9, Flags: packet.TCPAck | packet.TCPPsh},
			packet.Payload("GET /weakly HTTP/1.1\r\n\r\n")),
		geneve(packet.IPv4{Src: v4a, Dst: v4b}, packet.UDP{Src: 40000, Dst: 3000},
			packet.Payload(strings.Repeat("j", 8500-28-12)+"weakly typed")),
	}
	path := filepath.Join(t.TempDir(), "replies.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := capfile.NewWriter(f, packet.LinkRaw, 65535, false)
	if err != nil {
		t.Fatal(err)
	}
	lbPort := netip.AddrPortFrom(lbIP, r.a.Addr().Port())
	for _, d := range sent {
		l.send(t, d)
		reply := l.captured(t)
		l.recv(t)
		checkReply(t, d, reply, lbPort, r.a.Addr())
		if err := pw.WritePacket(packet.CaptureInfo{Timestamp: time.Now(), Length: len(reply), LinkType: packet.LinkRaw}, reply); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	port := r.a.Addr().Port()
	out, err := exec.Command("tshark", "-r", path, "-n",
		"-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
		"-d", fmt.Sprintf("udp.port==%d,geneve", port),
		"-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,",
		"-e", "ip.checksum.status", "-e", "udp.checksum.status", "-e", "tcp.checksum.status", "-e", "icmp.checksum.status",
		"-e", "geneve.options", "-e", "ip.len", "-e", "ipv6.plen", "-e", "_ws.expert.message",
	).CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var kept []string
	for _, ln := range lines {
		if !strings.HasPrefix(ln, "Running as user") {
			kept = append(kept, ln)
		}
	}
	if len(kept) != len(sent) {
		t.Fatalf("tshark printed %d packets, want %d:\n%s", len(kept), len(sent), out)
	}
	sentOpts := hex.EncodeToString(sent[0][8 : 8+32])
	for i, ln := range kept {
		f := strings.Split(ln, "|")
		ipSt, udpSt, tcpSt, icmpSt, opts, expert := f[0], f[1], f[2], f[3], f[4], f[7]
		// Status 1 is Good (0 Bad, 2 Unverified): outer IPv4, and the
		// inner IPv4 when there is one; outer UDP, and the inner UDP.
		wantIP := "1,1"
		if i == 3 {
			wantIP = "1" // IPv6 inside
		}
		if ipSt != wantIP {
			t.Errorf("packet %d: ip checksum status %q, want %q (1 good)", i, ipSt, wantIP)
		}
		wantUDP := "1,1"
		if i == 2 || i == 4 {
			wantUDP = "1"
		}
		if udpSt != wantUDP {
			t.Errorf("packet %d: udp checksum status %q, want %q", i, udpSt, wantUDP)
		}
		if i == 4 && tcpSt != "1" {
			t.Errorf("packet %d: tcp checksum status %q, want 1", i, tcpSt)
		}
		if i == 2 && icmpSt != "1" {
			t.Errorf("packet %d: icmp checksum status %q, want 1", i, icmpSt)
		}
		if strings.ReplaceAll(opts, ":", "") != sentOpts {
			t.Errorf("packet %d: geneve options %s, want %s as sent", i, opts, sentOpts)
		}
		if strings.Contains(strings.ToLower(expert), "bad") || strings.Contains(strings.ToLower(expert), "malformed") {
			t.Errorf("packet %d: tshark expert info %q", i, expert)
		}
	}
	if f := strings.Split(kept[5], "|"); !strings.Contains(f[5], "8502") {
		t.Errorf("jumbo ip lengths %q, want the inner 8502", f[5])
	}
	if f := strings.Split(kept[3], "|"); f[6] != "19" {
		t.Errorf("ipv6 payload length %q, want 19 after the rewrite", f[6])
	}
}
