//go:build integration

package dissect_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/dissect"
)

// runTcpdump returns tcpdump's line for each packet number.
func runTcpdump(t *testing.T, tcpdump, path string) map[int]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, tcpdump, "-#", "-n", "-r", path).Output()
	if err != nil && len(out) == 0 {
		t.Logf("tcpdump cannot read %s (%v): skipped", filepath.Base(path), err)
		return nil
	}
	lines := map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	last := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if no, err := strconv.Atoi(f[0]); err == nil && strings.HasPrefix(sc.Text(), " ") {
			lines[no], last = sc.Text(), no
		} else if last > 0 {
			lines[last] += "\n" + sc.Text() // a tunnel's inner packet
		}
	}
	return lines
}

// TestTcpdumpTextDNSHTTPSyslog checks AppendText against tcpdump's own line for every
// packet of every capture that a parser reads without error (on the ports
// the tshark comparison uses): tcpdump's line must contain it.
func TestTcpdumpTextDNSHTTPSyslog(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Fatalf("tcpdump: %v (install the tcpdump package)", err)
	}
	entries, err := os.ReadDir(capturesDir)
	if err != nil {
		t.Fatal(err)
	}
	var diffs []fieldDiff
	checked := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".pcap") && !strings.HasSuffix(name, ".pcapng") {
			continue
		}
		path := filepath.Join(capturesDir, name)
		lines := runTcpdump(t, tcpdump, path)
		if lines == nil {
			continue
		}
		var (
			dns    dissect.DNSMessage
			http   dissect.HTTPMessage
			syslog dissect.SyslogMessage
		)
		for _, op := range decodeCapture(t, path) {
			var text []byte
			var proto string
			switch {
			case onPort(op, dnsPorts) && dns.Parse(op.payload, op.tcp) == nil:
				text, proto = dns.AppendText(nil), "dns"
			case op.tcp && onPort(op, httpPorts) && http.Parse(op.payload) == nil:
				text, proto = http.AppendText(nil), "http"
			case op.udp && onPort(op, syslogPorts) && syslog.Parse(op.payload) == nil:
				text, proto = syslog.AppendText(nil), "syslog"
			default:
				continue
			}
			checked++
			if line := lines[op.no]; !strings.Contains(line, string(text)) {
				diffs = append(diffs, fieldDiff{name, op.no, proto + ".text", string(text), line})
			}
		}
	}
	t.Logf("%d packets checked", checked)
	if checked < 100 {
		t.Errorf("only %d packets checked", checked)
	}
	var known []*knownDiff
	for _, k := range loadKnownDiffs(t) {
		if strings.HasSuffix(k.Field, ".text") {
			known = append(known, k)
		}
	}
	checkKnownDiffs(t, diffs, known)
}
