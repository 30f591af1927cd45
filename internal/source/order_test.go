package source

import (
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"
)

// TestUDPPerPacketTimeAndOrder sends 2,000 datagrams carrying a sequence
// number from one socket and checks that the source emits them in sending
// order, each with its own capture time (the kernel's per-packet
// timestamp), strictly increasing: not one time per receive batch. With several
// readers sharing the socket the order holds as well.
func TestUDPPerPacketTimeAndOrder(t *testing.T) {
	for _, readers := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("readers=%d", readers), func(t *testing.T) {
			const n = 2000
			u := newTestUDP(t, UDPConfig{Listen: []string{"127.0.0.1:0"}, Readers: readers, RecvBuffer: 8 << 20, Batch: 64})
			c := newCollector()
			stop := running(t, u, c.emit)
			conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(u.Addrs()[0]))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			before := time.Now()
			var b [8]byte
			for i := range n {
				binary.BigEndian.PutUint64(b[:], uint64(i))
				if _, err := conn.Write(b[:]); err != nil {
					t.Fatal(err)
				}
				if i%100 == 99 {
					time.Sleep(time.Millisecond) // let the readers keep up: nothing is dropped
				}
			}
			fs := c.waitFor(t, 10*time.Second, "every datagram", func(fs []got) bool {
				return uint64(len(fs))+u.Stats().Dropped(DropKernel) >= n
			})
			after := time.Now()
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if d := u.Stats().Dropped(DropKernel); d != 0 {
				t.Fatalf("the kernel dropped %d datagrams: pace the sender", d)
			}
			distinct := map[time.Time]bool{}
			for i, f := range fs {
				if len(f.payload) != 8 {
					t.Fatalf("frame %d: payload %x", i, f.payload)
				}
				if seq := binary.BigEndian.Uint64(f.payload); seq != uint64(i) {
					t.Fatalf("frame %d carries sequence number %d: out of order", i, seq)
				}
				ts := f.info.Timestamp
				if ts.Before(before) || ts.After(after) {
					t.Errorf("frame %d: capture time %v outside the test's run %v..%v", i, ts, before, after)
				}
				if i > 0 && !ts.After(fs[i-1].info.Timestamp) {
					t.Errorf("frame %d: capture time %v not after frame %d's %v", i, ts, i-1, fs[i-1].info.Timestamp)
				}
				distinct[ts] = true
			}
			if len(distinct) != n {
				t.Errorf("%d distinct capture times for %d datagrams", len(distinct), n)
			}
		})
	}
}
