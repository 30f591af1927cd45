package replay

import (
	"context"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/tcpreasm"
)

// oooFlood builds the mirrored segments of flows connections that each open
// (SYN) and then send segs tiny segments, every one ahead of a hole (the
// first byte of each flow's stream never comes): the worst case for the
// out-of-order buffers.
func oooFlood(flows, segs, size int) []handoff.Delivery {
	out := make([]handoff.Delivery, 0, flows*(segs+1))
	srv := netip.MustParseAddr("10.9.9.9")
	payload := make([]byte, size)
	for i := range flows {
		c := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		sp := uint16(1024 + i)
		add := func(seq uint32, flags uint16, p []byte) {
			inner := packet.Build(packet.Eth{}, packet.IPv4{Src: c, Dst: srv},
				packet.TCP{Src: sp, Dst: 80, Seq: seq, Flags: flags, Window: 65535}, packet.Payload(p))
			out = append(out, handoff.Delivery{Frame: encapsulate(inner, 42, sp), Capture: packet.CaptureInfo{LinkType: packet.LinkEthernet}})
		}
		add(1000, packet.TCPSyn, nil)
		for j := range segs {
			add(uint32(1001+1+j*2*size), packet.TCPAck|packet.TCPPsh, payload) // every other slot: holes everywhere
		}
	}
	return out
}

func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func rssKiB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// TestOutOfOrderFloodStaysInBound: a flood of flows that hold only
// out-of-order segments never makes the reassembler hold more than
// max_buffer (as accounted, bytes plus per-segment overhead), and the memory
// the process holds for them stays within that bound too (measured on the Go
// heap; RSS logged). The excess is resolved early and counted.
func TestOutOfOrderFloodStaysInBound(t *testing.T) {
	tests := []struct {
		name             string
		flows, segs, len int
		maxBuffer        int
	}{
		{"tiny segments", 1000, 400, 1, 4 << 20},
		{"small segments", 1000, 100, 100, 4 << 20},
		{"full segments", 200, 40, 1400, 4 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flood := oooFlood(tc.flows, tc.segs, tc.len)
			sh := newShadow(t)
			tg, err := New(Config{Name: "flood", URL: sh.URL, Tick: time.Hour,
				Limits: tcpreasm.Limits{MaxFlows: tc.flows, TotalBuffer: tc.maxBuffer, GapWait: time.Hour}})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			// The flows' own state (parsers, queues) is not out-of-order
			// memory: open them all first, then measure what the segments add.
			opened := make([]handoff.Delivery, 0, tc.flows)
			for i := 0; i < len(flood); i += tc.segs + 1 {
				opened = append(opened, flood[i])
			}
			sendAll(t, tg, opened)
			rss0, heap0 := rssKiB(), heapInuse()
			for i := 0; i < len(flood); i += 256 {
				sendAll(t, tg, flood[i:min(i+256, len(flood))])
			}
			heap1, rss1 := heapInuse(), rssKiB()
			runtime.KeepAlive(flood)
			st := tg.Stats()
			grown := int64(heap1) - int64(heap0)
			t.Logf("buffered max %d of %d; heap +%d KiB; RSS %d -> %d KiB; evictions %v gaps %d", st.Reasm.BufferedMax, tc.maxBuffer,
				grown>>10, rss0, rss1, st.Reasm.Evictions, st.Reasm.Gaps)
			if st.Reasm.BufferedMax > tc.maxBuffer || st.Reasm.Buffered > tc.maxBuffer {
				t.Errorf("buffered %d (max %d) > max_buffer %d", st.Reasm.Buffered, st.Reasm.BufferedMax, tc.maxBuffer)
			}
			// The heap also holds the sorted slices' spare capacity and the
			// allocator's rounding: what the overhead accounts for. Allow 50%
			// for what the runtime holds besides (uncounted, the tiny-segment
			// flood held 6 times the bound).
			if limit := int64(tc.maxBuffer) * 3 / 2; grown > limit {
				t.Errorf("heap grew by %d bytes holding out-of-order segments, bound %d", grown, limit)
			}
			if st.Reasm.Evictions["memory"] == 0 || st.Reasm.Gaps == 0 {
				t.Errorf("the flood fits the bound: evictions %v gaps %d", st.Reasm.Evictions, st.Reasm.Gaps)
			}
		})
	}
}

// TestStatsAnswerWhileSendWaits: the counters (what /metrics reads) answer
// while Send waits for the shadow (backpressure) instead of queueing
// behind it.
func TestStatsAnswerWhileSendWaits(t *testing.T) {
	// A shadow that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	tg, err := New(Config{Name: "slow", Address: ln.Addr().String(), Timeout: time.Hour, QueueBytes: 1, Pool: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	defer func() { // before Close: its workers wait for the shadow's answer
		ln.Close()
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	}()
	c := newMirrorConn(40000)
	batch := c.open()
	for i := range 4 {
		batch = append(batch, c.req(get("/"+strconv.Itoa(i))))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // before Close (deferred earlier): Close waits for the Send in progress
	sent := make(chan error, 1)
	go func() { sent <- tg.Send(ctx, batch) }()
	// Send is now waiting for the shadow (the first request is in flight, the
	// queue of one byte is full): Stats must still answer.
	stats := func() (Stats, bool) {
		ch := make(chan Stats, 1)
		go func() { ch <- tg.Stats() }()
		select {
		case s := <-ch:
			return s, true
		case <-time.After(10 * time.Second):
			return Stats{}, false
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s, ok := stats()
		if !ok {
			t.Fatal("Stats did not answer within 10s while Send waits for the shadow")
		}
		if s.RequestsParsed >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("requests parsed %d after 10s, want 2", s.RequestsParsed)
		}
	}
	select {
	case err := <-sent:
		t.Fatalf("Send returned (%v) before it was cancelled: no backpressure to test", err)
	default:
	}
	cancel()
	<-sent
}
