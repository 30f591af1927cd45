//go:build integration

package app

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestArticleRawSource is the article "UDP as a Serverless Event Source",
// literally: a raw source (event_source udp.raw) sees every UDP datagram
// arriving at the host, the rule {"source":["udp.raw"],"detail":{"Destination":{"Port":[514]}}}
// sends syslog traffic to a file and a webhook, and real `logger --udp`
// messages arrive in both with their payload intact; messages to port 515
// do not.
func TestArticleRawSource(t *testing.T) {
	ns := newNetns(t)
	dir := t.TempDir()
	hook := newSink(t, ns, "127.0.0.1:0")
	cfg := writeConfig(t, dir, fmt.Sprintf(`
data_dir: %s/data
sources:
  - name: raw
    type: raw
    event_source: udp.raw
rules:
  - name: syslog
    pattern: {"source": ["udp.raw"], "detail": {"Destination": {"Port": [514]}}}
    targets: [archive, webhook]
targets:
  - name: archive
    type: file
    path: archive/events.ndjson
    fsync: always
  - name: webhook
    type: http
    url: %s
`, dir, hook.url))
	wb := startWB(t, ns, dir, cfg, "127.0.0.1:8080")
	if !strings.Contains(wb.out.String(), "logger --udp -n 127.0.0.1 -P 514") {
		t.Errorf("startup output does not suggest a logger command:\n%s", wb.out.String())
	}

	const n = 5
	// The port-515 messages go first: once the 514 ones have arrived, the
	// earlier 515 ones would have too, had they matched.
	for i := range n {
		ns.run(t, "logger", "--udp", "-n", "127.0.0.1", "-P", "515", fmt.Sprintf("other port message %d", i))
	}
	want := map[string]bool{}
	for i := range n {
		msg := fmt.Sprintf("article message %d from the test", i)
		want[msg] = true
		ns.run(t, "logger", "--udp", "-n", "127.0.0.1", "-P", "514", msg)
	}

	waitFor(t, 15*time.Second, "5 events in the webhook and the file", func() bool {
		return len(hook.received()) >= n && len(readNDJSON(t, filepath.Join(dir, "data/archive/*.ndjson"))) >= n
	})
	time.Sleep(300 * time.Millisecond) // anything extra (a 515 message) would show now

	check := func(where string, bodies [][]byte) {
		t.Helper()
		if len(bodies) != n {
			t.Errorf("%s: %d events, want %d", where, len(bodies), n)
		}
		seen := map[string]bool{}
		for _, b := range bodies {
			e := parseEvent(t, b)
			if e.Source != "udp.raw" || e.Detail.Destination.Port != 514 || e.Detail.Protocol != "udp" || e.DetailType != "UdpPacket" {
				t.Errorf("%s: event %s: source %q, port %d, protocol %q, detail-type %q", where, e.ID,
					e.Source, e.Detail.Destination.Port, e.Detail.Protocol, e.DetailType)
			}
			p := e.payload(t)
			if e.Detail.Length != len(p) {
				t.Errorf("%s: Length %d, payload %d bytes", where, e.Detail.Length, len(p))
			}
			// logger adds the syslog header: the message text ends the payload.
			found := false
			for msg := range want {
				if bytes.HasSuffix(bytes.TrimRight(p, "\n\x00"), []byte(msg)) && bytes.HasPrefix(p, []byte("<")) {
					found = true
					seen[msg] = true
				}
			}
			if !found {
				t.Errorf("%s: payload %q is none of the messages sent", where, p)
			}
		}
		if len(seen) != n {
			t.Errorf("%s: %d distinct messages, want %d", where, len(seen), n)
		}
	}
	var hookBodies [][]byte
	hookIDs := map[string]bool{}
	for _, r := range hook.received() {
		hookBodies = append(hookBodies, r.Body)
		hookIDs[r.ID] = true
		if e := parseEvent(t, r.Body); e.ID != r.ID {
			t.Errorf("X-Wirebridge-Event-Id %q, body id %q", r.ID, e.ID)
		}
	}
	fileLines := readNDJSON(t, filepath.Join(dir, "data/archive/*.ndjson"))
	check("webhook", hookBodies)
	check("file", fileLines)
	for _, l := range fileLines {
		if id := parseEvent(t, l).ID; !hookIDs[id] {
			t.Errorf("event %s is in the file but not in the webhook", id)
		}
	}

	m := wb.metrics()
	if got := m[`wirebridge_rule_matched_total{rule="syslog"}`]; got != n {
		t.Errorf("rule matched %v, want %d", got, n)
	}
	if got := m[`wirebridge_source_received_total{source="raw"}`]; got < 2*n {
		t.Errorf("raw source received %v, want at least %d (both ports)", got, 2*n)
	}
	wb.signal(syscall.SIGTERM)
	if code := wb.exitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

// TestUDPSourceDig sends a real DNS query (dig) to a udp source.
func TestUDPSourceDig(t *testing.T) {
	ns := newNetns(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`
data_dir: %s/data
sources:
  - name: dns
    type: udp
    listen: ["127.0.0.1:5353"]
rules:
  - name: dns-queries
    pattern: {"detail": {"Destination": {"Port": [5353]}, "Protocol": ["udp"]}}
    targets: [archive]
targets:
  - name: archive
    type: file
    path: dns.ndjson
`, dir))
	wb := startWB(t, ns, dir, cfg, "127.0.0.1:8080")
	needTool(t, "dig")
	// Nothing answers: dig times out (exit 9) after its one try.
	out, _ := ns.command("dig", "@127.0.0.1", "-p", "5353", "example.com", "+tries=1", "+timeout=1").CombinedOutput()
	t.Logf("dig: %s", bytes.TrimSpace(out))
	waitFor(t, 10*time.Second, "the DNS query event", func() bool {
		return len(readNDJSON(t, filepath.Join(dir, "data/dns.ndjson"))) >= 1
	})
	lines := readNDJSON(t, filepath.Join(dir, "data/dns.ndjson"))
	e := parseEvent(t, lines[0])
	p := e.payload(t)
	if e.Source != "wirebridge.udp" || e.Detail.Listener != "dns" || e.Detail.Destination.IP != "127.0.0.1" {
		t.Errorf("event: source %q listener %q destination %q", e.Source, e.Detail.Listener, e.Detail.Destination.IP)
	}
	// A DNS query: 12-byte header, QDCOUNT 1, QNAME example.com, QTYPE A.
	qname := []byte("\x07example\x03com\x00")
	if len(p) < 12+len(qname)+4 || p[4] != 0 || p[5] != 1 || !bytes.Equal(p[12:12+len(qname)], qname) {
		t.Errorf("payload is not a DNS query for example.com: %x", p)
	}
	wb.signal(syscall.SIGTERM)
	if code := wb.exitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

// TestREADMEServe is the README's command: `wirebridge serve` with no
// configuration in an empty directory, then the logger command it prints,
// produces an archived event (NDJSON and pcap) under ./wirebridge-data.
func TestREADMEServe(t *testing.T) {
	ns := newNetns(t)
	dir := t.TempDir()
	wb := startWB(t, ns, dir, "", "127.0.0.1:8080")
	out := wb.out.String()
	for _, w := range []string{"127.0.0.1:5514", "http://127.0.0.1:8080", "wirebridge-data/events/", "wirebridge-data/pcap/"} {
		if !strings.Contains(out, w) {
			t.Errorf("startup output lacks %q:\n%s", w, out)
		}
	}
	try := regexp.MustCompile(`(?m)^\s+(logger .*)$`).FindStringSubmatch(out)
	if try == nil {
		t.Fatalf("no logger command in the startup output:\n%s", out)
	}
	t.Logf("running the printed command: %s", try[1])
	ns.run(t, "sh", "-c", try[1])
	glob := filepath.Join(dir, "wirebridge-data/events/*/*.ndjson")
	waitFor(t, 10*time.Second, "an archived event", func() bool { return len(readNDJSON(t, glob)) >= 1 })
	e := parseEvent(t, readNDJSON(t, glob)[0])
	if !bytes.Contains(e.payload(t), []byte("hello")) || e.Detail.Destination.Port != 5514 {
		t.Errorf("archived event: port %d payload %q", e.Detail.Destination.Port, e.payload(t))
	}
	wb.signal(syscall.SIGINT)
	if code := wb.exitCode(); code != 0 {
		t.Errorf("exit code %d after SIGINT", code)
	}
	pcaps, _ := filepath.Glob(filepath.Join(dir, "wirebridge-data/pcap/*/*.pcap"))
	if len(pcaps) != 1 {
		t.Fatalf("pcap archive files: %v", pcaps)
	}
	if st, err := os.Stat(pcaps[0]); err != nil || st.Size() <= 24 {
		t.Errorf("pcap archive %s holds no packet: %v %v", pcaps[0], st, err)
	}
	tshark := needTool(t, "tshark")
	txt, err := ns.command(tshark, "-r", pcaps[0], "-T", "fields", "-e", "udp.dstport").Output()
	if err != nil || strings.TrimSpace(string(txt)) != "5514" {
		t.Errorf("tshark -r %s: %q %v", pcaps[0], txt, err)
	}
}

// TestReloadRules swaps the rule set on SIGHUP and keeps it when the new
// file is invalid.
func TestReloadRules(t *testing.T) {
	ns := newNetns(t)
	dir := t.TempDir()
	conf := func(port int) string {
		return fmt.Sprintf(`
data_dir: %s/data
sources:
  - name: udp
    type: udp
    listen: ["127.0.0.1:7001", "127.0.0.1:7002"]
rules:
  - name: pick
    pattern: {"detail": {"Destination": {"Port": [%d]}}}
    targets: [archive]
targets:
  - name: archive
    type: file
    path: out.ndjson
    fsync: always
`, dir, port)
	}
	cfg := writeConfig(t, dir, conf(7001))
	wb := startWB(t, ns, dir, cfg, "127.0.0.1:8080")
	send := func(port int, msg string) {
		ns.run(t, "logger", "--udp", "-n", "127.0.0.1", "-P", fmt.Sprint(port), msg)
	}
	count := func(msg string) int {
		c := 0
		for _, l := range readNDJSON(t, filepath.Join(dir, "data/out.ndjson")) {
			if bytes.Contains(parseEvent(t, l).payload(t), []byte(msg)) {
				c++
			}
		}
		return c
	}
	send(7002, "before-reload-7002")
	send(7001, "before-reload-7001")
	waitFor(t, 10*time.Second, "the 7001 event", func() bool { return count("before-reload-7001") == 1 })

	writeConfig(t, dir, conf(7002))
	wb.signal(syscall.SIGHUP)
	wb.waitLog("rules reloaded", 10*time.Second)
	send(7001, "after-reload-7001")
	send(7002, "after-reload-7002")
	waitFor(t, 10*time.Second, "the 7002 event", func() bool { return count("after-reload-7002") == 1 })

	// An invalid file: logged, the process keeps running with the rules it has.
	writeConfig(t, dir, strings.Replace(conf(7002), `"Port": [7002]`, `"Port": [{"numeric": [">"]}]`, 1))
	wb.signal(syscall.SIGHUP)
	wb.waitLog("reload failed", 10*time.Second)
	if !regexp.MustCompile(`wirebridge\.yaml:\d+:\d+: rules\[0\]\.pattern`).MatchString(wb.errb.String()) {
		t.Errorf("the reload error does not name file:line and the pattern:\n%s", tail(wb.errb.String(), 2000))
	}
	send(7002, "after-bad-reload-7002")
	waitFor(t, 10*time.Second, "an event after the failed reload", func() bool { return count("after-bad-reload-7002") == 1 })
	if c := count("before-reload-7002") + count("after-reload-7001"); c != 0 {
		t.Errorf("%d events matched a rule not in force", c)
	}
	wb.signal(syscall.SIGTERM)
	if code := wb.exitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}
