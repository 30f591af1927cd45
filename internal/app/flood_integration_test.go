//go:build integration

package app

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// vmRSS reads the resident set size of pid in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/PID/status")
	return 0
}

// TestFlood sends UDP as fast as two senders can for a few seconds (one of
// them from an address the allow list refuses) and checks that wirebridge
// stays healthy, its memory stays bounded, and every datagram the kernel's
// UDP layer took for the socket is accounted for: received + kernel drops ==
// InDatagrams + InErrors, received == emitted + not_allowed, emitted ==
// processed + queue_full. No assertion on rates; the figures are logged.
func TestFlood(t *testing.T) {
	ns := newNetns(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`
data_dir: %s/data
sources:
  - name: flood
    type: udp
    listen: ["127.0.0.1:6000"]
    allow: [127.0.0.1/32]
rules:
  # Decoded and matched on the packet view, delivered when they hit port 9 (never).
  - name: port9
    pattern: {"detail": {"Destination": {"Port": [9]}}}
    targets: [archive]
targets:
  - name: archive
    type: file
    path: out.ndjson
`, dir))
	wb := startWB(t, ns, dir, cfg, "127.0.0.1:8080")
	before := ns.udpSnmp(t)
	rss0 := vmRSS(t, wb.pid())

	// WB_FLOOD_SECONDS lengthens the flood for the figures in docs/performance.md
	// (go test -tags integration -run TestFlood -v ./internal/app with WB_FLOOD_SECONDS=30).
	floodFor := 10 * time.Second
	if v, err := strconv.Atoi(os.Getenv("WB_FLOOD_SECONDS")); err == nil && v > 0 {
		floodFor = time.Duration(v) * time.Second
	}
	var sent atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, from := range []string{"127.0.0.1", "127.0.0.2"} {
		var c *net.UDPConn
		var err error
		ns.do(t, func() {
			c, err = net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)}, &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: 6000})
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer c.Close()
			// sendmmsg, 64 datagrams a call: as fast as the machine goes.
			pc := ipv4.NewPacketConn(c)
			msgs := make([]ipv4.Message, 64)
			for i := range msgs {
				msgs[i].Buffers = [][]byte{[]byte(fmt.Sprintf("<13>Nov 21 20:40:15 host app: flood message %02d", i))}
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				n, err := pc.WriteBatch(msgs, 0)
				if n > 0 {
					sent.Add(uint64(n))
				}
				if err != nil && !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOBUFS) {
					t.Errorf("sendmmsg: %v", err)
					return
				}
			}
		})
	}

	var maxRSS int64
	healthy, probes := 0, 0
	deadline := time.Now().Add(floodFor)
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		if r := vmRSS(t, wb.pid()); r > maxRSS {
			maxRSS = r
		}
		probes++
		if code, _, err := wb.get("/healthz"); err == nil && code == 200 {
			healthy++
		} else {
			t.Errorf("/healthz during the flood: %d %v", code, err)
		}
	}
	close(stop)
	wg.Wait()

	// Let the socket queues and the pipeline drain.
	var m map[string]float64
	for last := -1.0; ; last = m[`wirebridge_source_received_total{source="flood"}`] {
		time.Sleep(300 * time.Millisecond)
		m = wb.metrics()
		if m[`wirebridge_source_received_total{source="flood"}`] == last && m["wirebridge_pipeline_queued_packets"] == 0 {
			break
		}
	}
	after := ns.udpSnmp(t)
	d := func(k string) uint64 { return after[k] - before[k] }
	get := func(series string) uint64 { return uint64(m[series]) }
	received := get(`wirebridge_source_received_total{source="flood"}`)
	emitted := get(`wirebridge_source_emitted_total{source="flood"}`)
	drop := func(reason string) uint64 {
		return get(fmt.Sprintf(`wirebridge_source_dropped_total{reason=%q,source="flood"}`, reason))
	}
	processed := get(`wirebridge_pipeline_processed_total{source="flood"}`)
	t.Logf("flood for %v: sent %d (%.0f/s); kernel UDP: InDatagrams %d InErrors %d RcvbufErrors %d",
		floodFor, sent.Load(), float64(sent.Load())/floodFor.Seconds(), d("InDatagrams"), d("InErrors"), d("RcvbufErrors"))
	t.Logf("wirebridge: received %d emitted %d processed %d; dropped kernel %d not_allowed %d queue_full %d rate_limited %d/%d",
		received, emitted, processed, drop("kernel"), drop("not_allowed"), drop("queue_full"),
		drop("rate_limited_source"), drop("rate_limited_global"))
	t.Logf("RSS: %d MiB at start, %d MiB max during the flood; /healthz answered %d of %d probes",
		rss0>>20, maxRSS>>20, healthy, probes)

	if received == 0 || drop("not_allowed") == 0 {
		t.Fatalf("flood not seen: received %d, not_allowed %d", received, drop("not_allowed"))
	}
	if got, want := received+drop("kernel"), d("InDatagrams")+d("InErrors"); got != want {
		t.Errorf("received %d + kernel drops %d = %d, the kernel's UDP layer took %d (InDatagrams + InErrors)",
			received, drop("kernel"), got, want)
	}
	if received+drop("kernel") > sent.Load() {
		t.Errorf("accounted %d > sent %d", received+drop("kernel"), sent.Load())
	}
	if received != emitted+drop("not_allowed")+drop("rate_limited_source")+drop("rate_limited_global") {
		t.Errorf("received %d != emitted %d + admission drops", received, emitted)
	}
	pipeDrops := get(`wirebridge_pipeline_dropped_total{reason="queue_full",source="flood"}`) +
		get(`wirebridge_pipeline_dropped_total{reason="shutdown",source="flood"}`)
	if emitted != processed+pipeDrops || pipeDrops != drop("queue_full") {
		t.Errorf("emitted %d != processed %d + pipeline drops %d (source counts queue_full %d)", emitted, processed, pipeDrops, drop("queue_full"))
	}
	const rssBound = 512 << 20
	if maxRSS > rssBound {
		t.Errorf("RSS reached %d MiB, bound %d MiB", maxRSS>>20, rssBound>>20)
	}
	// Still working after the flood.
	sendUDP(t, ns, "127.0.0.1:6000", []string{"after the flood"})
	waitFor(t, 5*time.Second, "a packet after the flood", func() bool {
		return wb.metric(`wirebridge_source_received_total{source="flood"}`) > float64(received)
	})
	wb.signal(syscall.SIGTERM)
	if code := wb.exitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}
