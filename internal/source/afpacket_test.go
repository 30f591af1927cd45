//go:build integration

package source

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// TestAFPacketVethFilter captures on a veth in a namespace the test creates.
// Namespace b sends UDP to two closed ports of a; a's kernel answers with ICMP
// port unreachable. Each filter must let through exactly its share.
func TestAFPacketVethFilter(t *testing.T) {
	tests := []struct {
		name      string
		filter    string
		readers   int
		wantUDP   []uint16 // destination ports of UDP datagrams from b seen
		wantICMP  bool     // port unreachable from a seen
		forbidARP bool
	}{
		{"no filter", "", 1, []uint16{7777, 7778}, true, false},
		{"udp port 7777", "udp and port 7777", 1, []uint16{7777}, false, true},
		{"icmp", "icmp", 1, nil, true, true},
		{"host of b, fanout 2", "host 10.77.0.2 and udp", 2, []uint16{7777, 7778}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nsA, nsB := vethPair(t)
			f, err := ParseFilter(tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var src *AFPacket
			nsA.do(t, func() {
				src, err = NewAFPacket(AFPacketConfig{Common: Common{Name: "veth", EventSource: "wirebridge.afpacket"},
					Interface: "va", Filter: f, Readers: tc.readers, RingSize: 1 << 20, BlockSize: 1 << 16, BlockTimeout: 5 * time.Millisecond})
			})
			if err != nil {
				t.Fatal(err)
			}
			if src.LinkType() != packet.LinkEthernet {
				t.Fatalf("link type %d", src.LinkType())
			}
			c := newCollector()
			stop := running(t, src, c.emit)
			nsB.do(t, func() {
				conn, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(10, 77, 0, 1), Port: 7777})
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				if _, err := conn.Write([]byte("to-7777")); err != nil {
					t.Fatal(err)
				}
				c2, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(10, 77, 0, 1), Port: 7778})
				if err != nil {
					t.Fatal(err)
				}
				defer c2.Close()
				if _, err := c2.Write([]byte("to-7778")); err != nil {
					t.Fatal(err)
				}
			})
			a, b := netip.MustParseAddr("10.77.0.1"), netip.MustParseAddr("10.77.0.2")
			summarise := func(fs []got) (udp map[uint16]int, icmp, arp, other int) {
				udp = map[uint16]int{}
				for _, f := range fs {
					var p packet.Packet
					_ = packet.Decode(&p, f.data, f.info)
					in := p.Inner()
					switch {
					case in.Protocol == 17 && in.Src == b && in.Dst == a:
						udp[in.DstPort]++
					case in.Protocol == 1 && in.Src == a && in.ICMPType == 3:
						icmp++
					case in.EtherType == 0x0806:
						arp++
					default:
						other++
					}
				}
				return
			}
			fs := c.waitFor(t, 5*time.Second, "expected traffic", func(fs []got) bool {
				udp, icmp, _, _ := summarise(fs)
				return len(udp) >= len(tc.wantUDP) && (!tc.wantICMP || icmp > 0)
			})
			time.Sleep(200 * time.Millisecond) // let anything the filter should have rejected show up
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			fs = c.snapshot()
			udp, icmp, arp, _ := summarise(fs)
			for _, port := range tc.wantUDP {
				if udp[port] != 1 {
					t.Errorf("udp to %d seen %d times, want 1", port, udp[port])
				}
			}
			if len(udp) != len(tc.wantUDP) {
				t.Errorf("udp ports seen %v, want %v", udp, tc.wantUDP)
			}
			if (icmp > 0) != tc.wantICMP {
				t.Errorf("icmp port unreachable seen %d times, want seen=%v", icmp, tc.wantICMP)
			}
			if tc.forbidARP && arp > 0 {
				t.Errorf("filter %q let %d ARP frames through", tc.filter, arp)
			}
			for _, f := range fs {
				if f.info.InterfaceIndex == 0 || f.info.Timestamp.IsZero() || f.batchSource != "veth" {
					t.Errorf("frame info %+v source %q", f.info, f.batchSource)
				}
				if strings.Contains(string(f.payload), "to-7777") && f.decodeErr != nil {
					t.Errorf("decode: %v", f.decodeErr)
				}
			}
			st := src.Stats().Snapshot()
			if st.Received != uint64(len(fs)) || st.Emitted != uint64(len(fs)) || st.DroppedTotal() != 0 {
				t.Errorf("stats %+v for %d frames", st, len(fs))
			}
		})
	}
}

// TestAFPacketPerPacketTimeAndOrder: 500 datagrams from one sender in
// namespace b, captured on a's veth by two readers in a fanout hash group,
// are emitted in sending order (one flow stays on one ring), each with the
// ring's own, strictly increasing time.
func TestAFPacketPerPacketTimeAndOrder(t *testing.T) {
	const n = 500
	nsA, nsB := vethPair(t)
	f, err := ParseFilter("udp and port 7777")
	if err != nil {
		t.Fatal(err)
	}
	var src *AFPacket
	nsA.do(t, func() {
		src, err = NewAFPacket(AFPacketConfig{Common: Common{Name: "veth", EventSource: "wirebridge.afpacket"},
			Interface: "va", Filter: f, Readers: 2, Fanout: "hash", RingSize: 1 << 20, BlockSize: 1 << 16, BlockTimeout: 5 * time.Millisecond})
	})
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	stop := running(t, src, c.emit)
	nsB.do(t, func() {
		// Unconnected: a's port unreachables do not fail later writes.
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 77, 0, 2)})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		to := &net.UDPAddr{IP: net.IPv4(10, 77, 0, 1), Port: 7777}
		for i := range n {
			if _, err := conn.WriteToUDP(fmt.Appendf(nil, "seq %04d", i), to); err != nil {
				t.Fatal(err)
			}
			if i%100 == 99 {
				time.Sleep(time.Millisecond) // the ring keeps up: nothing is dropped
			}
		}
	})
	fs := c.waitFor(t, 10*time.Second, "500 datagrams", func(fs []got) bool { return len(fs) >= n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := src.Stats().Dropped(DropKernel); d != 0 {
		t.Fatalf("the kernel dropped %d frames", d)
	}
	for i, f := range fs {
		if want := fmt.Sprintf("seq %04d", i); string(f.payload) != want {
			t.Fatalf("frame %d: payload %q, want %q", i, f.payload, want)
		}
		if i > 0 && !f.info.Timestamp.After(fs[i-1].info.Timestamp) {
			t.Errorf("frame %d: capture time %v not after %v", i, f.info.Timestamp, fs[i-1].info.Timestamp)
		}
	}
}

// TestAFPacketLoopbackOnce: on lo the kernel passes every packet to the
// taps twice (going out, coming back in); the capture takes it once, with
// one reader and with a fanout group.
func TestAFPacketLoopbackOnce(t *testing.T) {
	for _, readers := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d readers", readers), func(t *testing.T) {
			ns := newNetns(t)
			f, err := ParseFilter("udp and port 7779")
			if err != nil {
				t.Fatal(err)
			}
			var src *AFPacket
			ns.do(t, func() {
				src, err = NewAFPacket(AFPacketConfig{Common: Common{Name: "lo", EventSource: "wirebridge.afpacket"},
					Interface: "lo", Filter: f, Readers: readers, RingSize: 1 << 20, BlockSize: 1 << 16, BlockTimeout: 5 * time.Millisecond})
			})
			if err != nil {
				t.Fatal(err)
			}
			c := newCollector()
			stop := running(t, src, c.emit)
			const n = 20
			ns.do(t, func() {
				dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7779}
				sink, err := net.ListenUDP("udp", dst) // takes them: no port unreachable
				if err != nil {
					t.Fatal(err)
				}
				defer sink.Close()
				conn, err := net.DialUDP("udp", nil, dst)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				for i := range n {
					if _, err := fmt.Fprintf(conn, "datagram-%02d", i); err != nil {
						t.Fatal(err)
					}
				}
			})
			c.waitFor(t, 5*time.Second, "the datagrams", func(fs []got) bool { return len(fs) >= n })
			time.Sleep(200 * time.Millisecond) // let a second copy show up, if there is one
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, f := range c.snapshot() {
				seen[string(f.payload)]++
			}
			for i := range n {
				if k := fmt.Sprintf("datagram-%02d", i); seen[k] != 1 {
					t.Errorf("%s captured %d times, want once", k, seen[k])
				}
			}
		})
	}
}
