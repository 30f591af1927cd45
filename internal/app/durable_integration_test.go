//go:build integration

package app

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sendUDP sends each payload as one datagram to addr from inside ns, paced
// so that nothing is dropped on the way in.
func sendUDP(t *testing.T, ns *netns, addr string, payloads []string) {
	t.Helper()
	var c net.Conn
	var err error
	ns.do(t, func() { c, err = net.Dial("udp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, p := range payloads {
		if _, err := c.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		if i%20 == 19 {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestDurableKill9: events accepted while the webhook is down survive a
// kill -9 and arrive, every one, once it comes up after a restart.
func TestDurableKill9(t *testing.T) {
	ns := newNetns(t)
	dir := t.TempDir()
	const hookAddr = "127.0.0.1:18080" // nothing listens yet: the target is down
	cfg := writeConfig(t, dir, fmt.Sprintf(`
data_dir: %s/data
sources:
  - name: udp
    type: udp
    listen: ["127.0.0.1:6000"]
rules:
  - name: all
    pattern: {"detail": {"Destination": {"Port": [6000]}}}
    targets: [webhook]
targets:
  - name: webhook
    type: http
    url: http://%s/events
    timeout: 2s
    delivery:
      max_attempts: 1000
      backoff: {initial: 100ms, max: 500ms}
`, dir, hookAddr))
	wb := startWB(t, ns, dir, cfg, "127.0.0.1:8080")
	const n = 300
	var payloads []string
	for i := range n {
		payloads = append(payloads, fmt.Sprintf("durable-%04d", i))
	}
	sendUDP(t, ns, "127.0.0.1:6000", payloads)
	waitFor(t, 20*time.Second, "every event accepted", func() bool {
		return wb.metric(`wirebridge_deliver_enqueued_total{target="webhook"}`) >= n
	})
	m := wb.metrics()
	accepted := int(m[`wirebridge_deliver_enqueued_total{target="webhook"}`])
	t.Logf("accepted %d, delivered %v, failed attempts %v before kill -9", accepted,
		m[`wirebridge_deliver_delivered_total{target="webhook"}`], m[`wirebridge_deliver_failed_total{target="webhook"}`])
	if accepted != n || m[`wirebridge_source_received_total{source="udp"}`] != n {
		t.Fatalf("accepted %d, received %v; want %d (the test sends slowly enough for no drops)", accepted,
			m[`wirebridge_source_received_total{source="udp"}`], n)
	}
	if m[`wirebridge_deliver_delivered_total{target="webhook"}`] != 0 {
		t.Fatal("delivered while the target was down")
	}
	wb.signal(syscall.SIGKILL)

	// Restart, then bring the target up.
	wb2 := startWB(t, ns, dir, cfg, "127.0.0.1:8080")
	hook := newSink(t, ns, hookAddr)
	up := time.Now()
	// Deliveries the killed process had fetched but not acknowledged come
	// back after the consumer's AckWait (delivery.ack_wait, default 10s); the
	// bound is generous for a loaded CI machine, it is not a timing assertion.
	waitFor(t, 120*time.Second, "every accepted event delivered", func() bool {
		ids := map[string]bool{}
		for _, r := range hook.received() {
			ids[r.ID] = true
		}
		return len(ids) >= n
	})
	t.Logf("all %d delivered %v after the target came up", n, time.Since(up).Round(time.Second))
	got := hook.received()
	byID := map[string]int{}
	byPayload := map[string]bool{}
	for _, r := range got {
		byID[r.ID]++
		var e testEvent
		if err := json.Unmarshal(r.Body, &e); err != nil {
			t.Fatal(err)
		}
		byPayload[string(e.payload(t))] = true
	}
	dups := len(got) - len(byID)
	t.Logf("delivered %d requests: %d distinct event ids, %d duplicates (at-least-once)", len(got), len(byID), dups)
	if len(byID) != n {
		t.Errorf("%d distinct events delivered, want %d", len(byID), n)
	}
	for _, p := range payloads {
		if !byPayload[p] {
			t.Errorf("payload %q never delivered", p)
		}
	}
	if got := wb2.metric(`wirebridge_deliver_enqueued_total{target="webhook"}`); got != 0 {
		t.Errorf("the restarted process accepted %v new events, want 0", got)
	}
	wb2.signal(syscall.SIGTERM)
	if code := wb2.exitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

// TestDeadLetters: a webhook answering 400 dead-letters at once (permanent),
// one answering 503 after max_attempts; `wirebridge dlq list` shows them and
// `dlq replay` delivers them once the webhooks are fixed — through the
// running serve's API, and through the bus with serve stopped.
func TestDeadLetters(t *testing.T) {
	ns := newNetns(t)
	dir := t.TempDir()
	bad := newSink(t, ns, "127.0.0.1:0")
	bad.status.Store(400)
	flaky := newSink(t, ns, "127.0.0.1:0")
	flaky.status.Store(503)
	cfg := writeConfig(t, dir, fmt.Sprintf(`
data_dir: %s/data
sources:
  - name: udp
    type: udp
    listen: ["127.0.0.1:6000"]
rules:
  - name: all
    pattern: {"version": ["0"]}
    targets: [bad, flaky]
targets:
  - name: bad
    type: http
    url: %s
  - name: flaky
    type: http
    url: %s
    delivery:
      max_attempts: 3
      backoff: {initial: 50ms, max: 100ms}
`, dir, bad.url, flaky.url))
	wb := startWB(t, ns, dir, cfg, "127.0.0.1:8080")
	const n = 5
	var payloads []string
	for i := range n {
		payloads = append(payloads, fmt.Sprintf("dead-letter-%d", i))
	}
	sendUDP(t, ns, "127.0.0.1:6000", payloads)
	waitFor(t, 30*time.Second, "both targets' events dead-lettered", func() bool {
		m := wb.metrics()
		return m[`wirebridge_deliver_dead_lettered_total{target="bad"}`] == n &&
			m[`wirebridge_deliver_dead_lettered_total{target="flaky"}`] == n
	})

	list := func(target string) []dlqEntry {
		t.Helper()
		out, errs, code := ns.wb(t, dir, "dlq", "list", target, "-c", cfg, "--json")
		if code != 0 {
			t.Fatalf("dlq list %s: exit %d: %s", target, code, errs)
		}
		var es []dlqEntry
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l == "" {
				continue
			}
			var e dlqEntry
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("dlq list line %q: %v", l, err)
			}
			es = append(es, e)
		}
		return es
	}
	checkEntries := func(target, reason string, attempts int, es []dlqEntry) {
		t.Helper()
		if len(es) != n {
			t.Fatalf("dlq list %s: %d entries, want %d", target, len(es), n)
		}
		for _, e := range es {
			if e.Reason != reason || e.Attempts != attempts || e.Rule != "all" || e.EventID == "" ||
				!strings.Contains(e.Error, fmt.Sprint(map[string]int{"permanent": 400, "max_attempts": 503}[reason])) {
				t.Errorf("dlq %s entry: reason %q attempts %d rule %q id %q error %q; want %s after %d attempts",
					target, e.Reason, e.Attempts, e.Rule, e.EventID, e.Error, reason, attempts)
			}
		}
	}
	checkEntries("bad", "permanent", 1, list("bad"))
	checkEntries("flaky", "max_attempts", 3, list("flaky"))
	// The human-readable listing.
	if out, _, code := ns.wb(t, dir, "dlq", "list", "bad", "-c", cfg); code != 0 || !strings.Contains(out, "bad: 5 dead letter(s)") {
		t.Errorf("dlq list bad (text): exit %d\n%s", code, out)
	}

	// Replay through the running serve once the webhook is fixed.
	bad.status.Store(200)
	if out, errs, code := ns.wb(t, dir, "dlq", "replay", "bad", "-c", cfg); code != 0 || !strings.Contains(out, "5 dead letter(s) moved") {
		t.Fatalf("dlq replay bad: exit %d\n%s%s", code, out, errs)
	}
	waitFor(t, 20*time.Second, "the replayed events delivered", func() bool { return len(bad.received()) >= n })
	if es := list("bad"); len(es) != 0 {
		t.Errorf("dlq list bad after replay: %d entries", len(es))
	}

	// With serve stopped the command opens the bus itself.
	wb.signal(syscall.SIGTERM)
	if code := wb.exitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	checkEntries("flaky", "max_attempts", 3, list("flaky"))
	flaky.status.Store(200)
	if out, errs, code := ns.wb(t, dir, "dlq", "replay", "flaky", "-c", cfg); code != 0 || !strings.Contains(out, "5 dead letter(s) moved") {
		t.Fatalf("dlq replay flaky (bus): exit %d\n%s%s", code, out, errs)
	}
	wb2 := startWB(t, ns, dir, cfg, "127.0.0.1:8080")
	waitFor(t, 20*time.Second, "the replayed events delivered after restart", func() bool { return len(flaky.received()) >= n })
	for name, s := range map[string]*sink{"bad": bad, "flaky": flaky} {
		seen := map[string]bool{}
		for _, r := range s.received() {
			var e testEvent
			if err := json.Unmarshal(r.Body, &e); err != nil {
				t.Fatal(err)
			}
			seen[string(e.payload(t))] = true
		}
		for _, p := range payloads {
			if !seen[p] {
				t.Errorf("%s: %q not delivered after replay", name, p)
			}
		}
	}
	// Unknown and non-durable targets are refused with the reason.
	if _, errs, code := ns.wb(t, dir, "dlq", "list", "nope", "-c", cfg); code != 1 || !strings.Contains(errs, `no target "nope"`) {
		t.Errorf("dlq list nope: exit %d: %s", code, errs)
	}
	wb2.signal(syscall.SIGTERM)
}
