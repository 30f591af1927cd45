//go:build integration

package source

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/netnstest"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// udpMIB returns the Udp: counters of /proc/net/snmp as seen in ns.
func udpMIB(t *testing.T, ns *testNetns) map[string]uint64 { return netnstest.UDPCounters(t, ns.name) }

// TestUDPFloodAccounting blasts UDP at a udp source in a namespace of its own
// (so the kernel's UDP counters are the test's alone) for a few seconds with a
// small receive buffer, a slow consumer and a rate-limited sender, and checks
// that every datagram the kernel's UDP layer accepted is accounted for:
// received + kernel drops == InDatagrams + InErrors, and
// received == emitted + dropped by admission. No assertion on rates.
func TestUDPFloodAccounting(t *testing.T) {
	ns := newNetns(t)
	var u *UDP
	var err error
	ns.do(t, func() {
		u, err = NewUDP(UDPConfig{
			Common: Common{Name: "flood", EventSource: "wirebridge.udp",
				Allow:     []netip.Prefix{netip.MustParsePrefix("127.0.0.0/30")},
				PerSource: spec.TokenBucket{PPS: 1000, Burst: 100}},
			Listen: []string{"127.0.0.1:0"}, Readers: 2, RecvBuffer: 64 << 10, Batch: 64,
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	before := udpMIB(t, ns)
	var emitted atomic.Uint64
	stop := running(t, u, func(b Batch) {
		emitted.Add(uint64(len(b.Frames)))
		// a slow consumer: the source must not block; the socket buffer overflows instead
		for i := 0; i < len(b.Frames)*200; i++ {
			_ = b.Frames[i%len(b.Frames)].Data[0]
		}
	})
	to := net.UDPAddrFromAddrPort(u.Addrs()[0])
	senders := []string{"127.0.0.1", "127.0.0.2", "127.0.0.9"} // .2 limited by its bucket too, .9 not allowed
	conns := make([]*net.UDPConn, len(senders))
	ns.do(t, func() {
		for i, s := range senders {
			conns[i], err = net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(s)}, to)
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	var sent atomic.Uint64
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			defer c.Close()
			msg := make([]byte, 200)
			for i := 0; time.Now().Before(deadline); i++ {
				copy(msg, fmt.Sprint(i))
				if _, err := c.Write(msg); err == nil {
					sent.Add(1)
				}
			}
		})
	}
	wg.Wait()
	// wait for the socket queues to drain
	for last := uint64(0); ; {
		time.Sleep(300 * time.Millisecond)
		r := u.Stats().Received.Load()
		if r == last {
			break
		}
		last = r
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	after := udpMIB(t, ns)
	st := u.Stats().Snapshot()
	d := func(k string) uint64 { return after[k] - before[k] }
	t.Logf("sent %d; kernel: InDatagrams %d InErrors %d RcvbufErrors %d; source: %+v", sent.Load(), d("InDatagrams"), d("InErrors"), d("RcvbufErrors"), st)
	kernel := st.Dropped["kernel"]
	if st.Received+kernel != d("InDatagrams")+d("InErrors") {
		t.Errorf("received %d + kernel drops %d = %d, kernel UDP layer counted %d delivered + %d errors",
			st.Received, kernel, st.Received+kernel, d("InDatagrams"), d("InErrors"))
	}
	admission := st.Dropped["not_allowed"] + st.Dropped["rate_limited_source"] + st.Dropped["rate_limited_global"]
	if st.Received != st.Emitted+admission || emitted.Load() != st.Emitted {
		t.Errorf("received %d != emitted %d (seen by emit %d) + admission drops %d", st.Received, st.Emitted, emitted.Load(), admission)
	}
	if st.Received+kernel > sent.Load() {
		t.Errorf("accounted %d > sent %d", st.Received+kernel, sent.Load())
	}
	if st.Dropped["not_allowed"] == 0 || st.Dropped["rate_limited_source"] == 0 {
		t.Errorf("flood from a disallowed and a limited sender not counted: %v", st.Dropped)
	}
}
