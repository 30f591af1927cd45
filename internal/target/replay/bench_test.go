package replay

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"net/http"
	"net/http/httptest"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/tcpreasm"
)

// mirrorTraffic builds the VXLAN-mirrored packets of conns keep-alive
// connections with perConn requests each (client segments, server ACKs and
// responses), interleaved across connections as a mirror would see them.
func mirrorTraffic(conns, perConn int) []handoff.Delivery {
	type cs struct{ cseq, sseq uint32 }
	st := make([]cs, conns)
	var out []handoff.Delivery
	add := func(i int, fromClient bool, flags uint16, payload []byte) {
		c := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		s := netip.MustParseAddr("10.9.9.9")
		sp, dp := uint16(40000+i%20000), uint16(80)
		seq, ack := st[i].cseq, st[i].sseq
		if !fromClient {
			c, s, sp, dp, seq, ack = s, c, dp, sp, st[i].sseq, st[i].cseq
		}
		inner := packet.Build(packet.Eth{}, packet.IPv4{Src: c, Dst: s}, packet.TCP{Src: sp, Dst: dp, Seq: seq, Ack: ack, Flags: flags, Window: 65535}, packet.Payload(payload))
		n := uint32(len(payload))
		if flags&(packet.TCPSyn|packet.TCPFin) != 0 {
			n++
		}
		if fromClient {
			st[i].cseq += n
		} else {
			st[i].sseq += n
		}
		frame := encapsulate(inner, 42, uint16(i))
		out = append(out, handoff.Delivery{Frame: frame, Capture: packet.CaptureInfo{LinkType: packet.LinkEthernet}})
	}
	for i := range conns {
		st[i] = cs{cseq: uint32(i) * 7919, sseq: uint32(i)*104729 + 0xFFFFF000}
		add(i, true, packet.TCPSyn, nil)
		add(i, false, packet.TCPSyn|packet.TCPAck, nil)
	}
	for r := range perConn {
		for i := range conns {
			req := fmt.Appendf(nil, "GET /item/%d/%d HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n", i, r)
			add(i, true, packet.TCPAck|packet.TCPPsh, req)
			add(i, false, packet.TCPAck|packet.TCPPsh, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		}
	}
	for i := range conns {
		add(i, true, packet.TCPFin|packet.TCPAck, nil)
		add(i, false, packet.TCPFin|packet.TCPAck, nil)
	}
	return out
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReplayHTTP replays 50 keep-alive connections x 40 requests from
// VXLAN frames to a loopback shadow and waits until the shadow has every
// request (full fidelity: the count is checked). Reports requests/s and CPU
// (whole process, shadow included) per 1,000 requests.
func BenchmarkReplayHTTP(b *testing.B) {
	const conns, perConn = 50, 40
	traffic := mirrorTraffic(conns, perConn)
	var got atomic.Int64
	sh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.Write([]byte("ok"))
	}))
	defer sh.Close()
	b.ReportAllocs()
	var reqs int64
	var cpu, wall time.Duration
	for b.Loop() {
		tg, err := New(Config{Name: "bench", URL: sh.URL, Pool: 64})
		if err != nil {
			b.Fatal(err)
		}
		got.Store(0)
		c0, t0 := cpuTime(), time.Now()
		for i := 0; i < len(traffic); i += 64 {
			if err := tg.Send(context.Background(), traffic[i:min(i+64, len(traffic))]); err != nil {
				b.Fatal(err)
			}
		}
		tg.Close()
		cpu += cpuTime() - c0
		wall += time.Since(t0)
		if n := got.Load(); n != conns*perConn {
			b.Fatalf("shadow got %d requests, want %d", n, conns*perConn)
		}
		reqs += conns * perConn
	}
	b.ReportMetric(float64(reqs)/wall.Seconds(), "req/s")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(reqs)*1000, "cpu-ms/1000req")
}

// BenchmarkReassemble measures reassembly alone (in-order keep-alive traffic, no forwarding).
func BenchmarkReassemble(b *testing.B) {
	traffic := mirrorTraffic(50, 40)
	segs := make([]tcpreasm.Segment, 0, len(traffic))
	var p packet.Packet
	var bytes int64
	for _, d := range traffic {
		packet.Decode(&p, d.Frame, d.Capture)
		s, _ := tcpreasm.SegmentFromPacket(&p)
		s.Payload = append([]byte(nil), s.Payload...)
		bytes += int64(len(s.Payload))
		segs = append(segs, s)
	}
	b.ReportAllocs()
	b.SetBytes(bytes)
	for b.Loop() {
		r := tcpreasm.New(tcpreasm.Limits{}, func(tcpreasm.FlowKey, bool) tcpreasm.Conn { return nopConn{} })
		for _, s := range segs {
			r.Add(s)
		}
	}
}

type nopConn struct{}

func (nopConn) Data(tcpreasm.Side, []byte) {}
func (nopConn) Gap(tcpreasm.Side, uint32)  {}
func (nopConn) Fin(tcpreasm.Side)          {}
func (nopConn) End(tcpreasm.EndReason)     {}

// BenchmarkOutOfOrderFlood floods a replay target at its default limits
// (max_buffer 64 MiB, 10,000 flows) with flows that hold only out-of-order
// segments of 100 bytes and reports the heap the flood added (the flows' own
// state included) and the most the reassembler counted as buffered.
func BenchmarkOutOfOrderFlood(b *testing.B) {
	flood := oooFlood(10000, 100, 100)
	sh := newShadow(b)
	for b.Loop() {
		tg, err := New(Config{Name: "flood", URL: sh.URL, Tick: time.Hour, Limits: tcpreasm.Limits{GapWait: time.Hour}})
		if err != nil {
			b.Fatal(err)
		}
		h0 := heapInuse()
		for i := 0; i < len(flood); i += 256 {
			sendAll(b, tg, flood[i:min(i+256, len(flood))])
		}
		h1 := heapInuse()
		st := tg.Stats()
		tg.Close()
		b.ReportMetric(float64(int64(h1)-int64(h0))/(1<<20), "heap-MiB")
		b.ReportMetric(float64(st.Reasm.BufferedMax)/(1<<20), "buffered-max-MiB")
	}
}
