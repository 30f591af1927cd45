//go:build integration

package app

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/disktest"
)

// randomPayloads are n datagrams of incompressible text, tagged.
func randomPayloads(tag string, n int) []string {
	ps := make([]string, n)
	for i := range ps {
		b := make([]byte, 900)
		rand.Read(b)
		ps[i] = fmt.Sprintf("%s-%05d-%s", tag, i, base64.StdEncoding.EncodeToString(b))
	}
	return ps
}

// TestDiskFullThenFreed: data_dir on an 8 MiB file system, the webhook
// down, traffic until the store's file system is full; then space is freed
// and the webhook comes up. While full, /readyz is not ready and says why,
// and one WARN is logged; afterwards every stored event is delivered with
// no restart, new events are stored and delivered, and every event received
// is delivered or counted dropped. Full again, SIGTERM stops within
// shutdown_timeout.
func TestDiskFullThenFreed(t *testing.T) {
	ns := newNetns(t)
	dir := t.TempDir()
	data := disktest.Tmpfs(t, "size=8m")
	hook := newSink(t, ns, "127.0.0.1:0")
	hook.status.Store(503)
	cfg := writeConfig(t, dir, fmt.Sprintf(`
data_dir: %s
shutdown_timeout: 6s
sources:
  - name: udp
    type: udp
    listen: ["127.0.0.1:6000"]
rules:
  - name: all
    pattern: {"version": ["0"]}
    targets: [webhook]
targets:
  - name: webhook
    type: http
    url: %s
    timeout: 2s
    delivery:
      max_attempts: 100000
      backoff: {initial: 100ms, max: 500ms}
`, data, hook.url))
	wb := startWB(t, ns, dir, cfg, "127.0.0.1:8080")

	const target = `{target="webhook"}`
	refused := func() float64 {
		return wb.metric(`wirebridge_deliver_dropped_total{reason="refused",target="webhook"}`)
	}
	// fill stores events, then fills what is left of the file system with
	// filler, then sends events until the store refuses them.
	fill := func(tag, filler string) {
		t.Helper()
		before := wb.metric(`wirebridge_deliver_enqueued_total` + target)
		sendUDP(t, ns, "127.0.0.1:6000", randomPayloads(tag+"-stored", 300))
		waitFor(t, 20*time.Second, "300 events stored", func() bool {
			return wb.metric(`wirebridge_deliver_enqueued_total`+target) >= before+300
		})
		disktest.Fill(t, filler)
		was := refused()
		for round := 0; refused() == was; round++ {
			if round == 20 {
				t.Fatalf("nothing refused with the file system full: %v", wb.metrics())
			}
			sendUDP(t, ns, "127.0.0.1:6000", randomPayloads(fmt.Sprintf("%s%02d", tag, round), 200))
			time.Sleep(200 * time.Millisecond)
		}
	}
	filler := filepath.Join(data, "filler")
	fill("a", filler)
	// More traffic while full: refused, counted.
	sendUDP(t, ns, "127.0.0.1:6000", randomPayloads("full", 200))
	var body string
	waitFor(t, 20*time.Second, "/readyz not ready with the store's reason", func() bool {
		code, b, err := wb.get("/readyz")
		body = b
		return err == nil && code == 503 && strings.Contains(b, "bus: jetstream store unavailable")
	})
	t.Logf("/readyz while full: %s", strings.TrimSpace(body))
	if strings.Contains(wb.errb.String(), "write error") {
		t.Log("the store failed a write (ENOSPC) before the free-space check refused")
	}

	// Space back, webhook up.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	hook.status.Store(200)
	waitFor(t, 60*time.Second, "/readyz ready again", func() bool {
		code, _, err := wb.get("/readyz")
		return err == nil && code == 200
	})
	settled := func() bool {
		m := wb.metrics()
		return m[`wirebridge_deliver_store_pending`+target] == 0 &&
			m[`wirebridge_deliver_queue_depth`+target] == 0 &&
			float64(distinct(hook)) == m[`wirebridge_deliver_enqueued_total`+target]
	}
	waitFor(t, 60*time.Second, "every stored event delivered", settled)
	after := randomPayloads("after", 100)
	sendUDP(t, ns, "127.0.0.1:6000", after)
	waitFor(t, 60*time.Second, "the events sent after the episode delivered", func() bool {
		got := map[string]bool{}
		for _, r := range hook.received() {
			got[string(parseEvent(t, r.Body).payload(t))] = true
		}
		for _, p := range after {
			if !got[p] {
				return false
			}
		}
		return settled()
	})

	m := wb.metrics()
	received := m[`wirebridge_source_received_total{source="udp"}`]
	var dropped float64
	for k, v := range m {
		if strings.HasPrefix(k, "wirebridge_deliver_dropped_total{") || strings.HasPrefix(k, "wirebridge_pipeline_dropped_total{") {
			dropped += v
		}
	}
	t.Logf("received %v, delivered %d distinct (%d requests), dropped %v (refused %v), accepted %v",
		received, distinct(hook), len(hook.received()), dropped, refused(), m[`wirebridge_deliver_enqueued_total`+target])
	if float64(distinct(hook))+dropped != received {
		t.Errorf("delivered %d + dropped %v != received %v", distinct(hook), dropped, received)
	}
	if n := strings.Count(wb.errb.String(), "the delivery store takes no writes"); n != 1 {
		t.Errorf("%d warnings about the full store, want 1 for the episode", n)
	}

	// Full again, then SIGTERM: the process stops within shutdown_timeout.
	hook.status.Store(503)
	fill("b", filler)
	wb.signal(syscall.SIGTERM)
	if code := wb.exitCode(); code != 0 || strings.Contains(wb.errb.String(), "shutdown timeout") {
		t.Errorf("exit code %d after SIGTERM while full; log:\n%s", code, tail(wb.errb.String(), 3000))
	}
	if n := strings.Count(wb.errb.String(), "the delivery store takes no writes"); n != 2 {
		t.Errorf("%d warnings about the full store, want 2 for two episodes", n)
	}
}

func distinct(s *sink) int {
	ids := map[string]bool{}
	for _, r := range s.received() {
		ids[r.ID] = true
	}
	return len(ids)
}
