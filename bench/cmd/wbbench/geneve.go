package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// ---- geneve: a load balancer's side of a Geneve appliance ----
//
// wbbench geneve plays GWLB for bench/appliance.sh: it sends Geneve
// datagrams (the three AWS options, an inner IPv4/UDP packet carrying a
// sequence number and the send time) from -flows local ports to the
// appliance at each rate of -rates for -duration, and receives what comes
// back on its own address at the appliance's port (as GWLB does: the
// appliance keeps the UDP ports and swaps the addresses). For each rate it
// prints how many were returned and the round-trip latency percentiles of
// the returned ones: from just before the sendmmsg that sent it to the
// kernel's receive timestamp of the reply (SO_TIMESTAMPNS).
//
// -pace says how the sender keeps the rate. spin (the default) busy-waits on
// the clock on a thread of its own and sends each datagram in its own slot
// (1/rate apart; only a sender that fell behind catches up in batches), as a
// load balancer spreading a steady rate does: the appliance sees evenly
// spaced datagrams, and the sender's CPU is never idle. sleep sends what is
// due every ~200 µs in one sendmmsg and sleeps in between (bursts of
// rate/5000 datagrams, the sender's CPU idle in between): cheaper, but each
// burst wakes an idle appliance and the burst's last datagram waits behind
// the others, so its latencies are the rig's, not the appliance's.

func cmdGeneve(args []string) error {
	fs := flag.NewFlagSet("geneve", flag.ExitOnError)
	to := fs.String("to", "127.0.0.2:6081", "the appliance's Geneve address")
	from := fs.String("from", "127.0.0.1", "the load balancer's address (replies come back to it at the appliance's port)")
	rates := fs.String("rates", "10000,50000,100000,200000", "packets per second to try, comma-separated, in order")
	duration := fs.Duration("duration", 2*time.Second, "how long each rate is sent")
	flows := fs.Int("flows", 64, "flows (local UDP ports)")
	size := fs.Int("size", 64, "inner UDP payload bytes (at least 20)")
	label := fs.String("label", "", "the name printed on each line")
	settle := fs.Duration("settle", 500*time.Millisecond, "how long to wait for late replies after each rate")
	pace := fs.String("pace", "spin", "how the rate is kept: spin (busy-wait, one datagram per slot) or sleep (bursts every ~200 µs)")
	_ = fs.Parse(args)

	dst, err := netip.ParseAddrPort(*to)
	if err != nil {
		return fmt.Errorf("-to: %w", err)
	}
	src, err := netip.ParseAddr(*from)
	if err != nil {
		return fmt.Errorf("-from: %w", err)
	}
	if *pace != "spin" && *pace != "sleep" {
		return fmt.Errorf("-pace: %q (spin or sleep)", *pace)
	}
	spin := *pace == "spin"
	if spin {
		// A thread spinning under a real-time policy (chrt) takes its CPU
		// from every other process of the machine, and from the Go
		// runtime's own threads on it (the process may then never end).
		if at, err := unix.SchedGetAttr(0, 0); err == nil && (at.Policy == unix.SCHED_FIFO || at.Policy == unix.SCHED_RR) {
			return errors.New("-pace spin under a real-time scheduling policy would starve the CPU it runs on: run it under SCHED_OTHER (nice for priority) or use -pace sleep")
		}
		// The spinning sender keeps a thread (and a P) busy: the receiver
		// needs a P of its own even when the process is pinned to one CPU.
		runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0)))
	}
	if *size < 20 || *flows < 1 {
		return errors.New("-size must be at least 20 and -flows at least 1")
	}
	var list []float64
	for _, r := range strings.Split(*rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("-rates: %q", r)
		}
		list = append(list, v)
	}

	back, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, dst.Port())))
	if err != nil {
		return fmt.Errorf("listen for replies: %w", err)
	}
	defer back.Close()
	_ = back.SetReadBuffer(32 << 20)
	conns := make([]*ipv4.PacketConn, *flows)
	for i := range conns {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
		if err != nil {
			return fmt.Errorf("flow socket: %w", err)
		}
		defer c.Close()
		_ = c.SetWriteBuffer(8 << 20)
		conns[i] = ipv4.NewPacketConn(c)
	}

	start := time.Now()
	var epoch atomic.Uint32 // which rate the replies belong to
	var mu sync.Mutex
	var lat []int64
	var got atomic.Uint64
	template := packet.Build(packet.Geneve{Options: packet.GWLBOptions(1, 2, 0)},
		packet.IPv4{Src: netip.MustParseAddr("10.0.1.2"), Dst: netip.MustParseAddr("10.0.2.2"), TTL: 64},
		packet.UDP{Src: 40000, Dst: 3000, NoChecksum: true}, packet.Payload(make([]byte, *size)))
	const innerOff = 8 + 32 // Geneve header + the AWS options
	payloadOff := len(template) - *size
	go receive(back, payloadOff, start, &epoch, &mu, &lat, &got)

	for ri, rate := range list {
		epoch.Store(uint32(ri + 1))
		mu.Lock()
		lat = lat[:0]
		mu.Unlock()
		got.Store(0)
		sent := sendGeneve(conns, dst, template, innerOff, payloadOff, rate, *duration, start, uint32(ri+1), spin)
		time.Sleep(*settle)
		mu.Lock()
		l := slices.Clone(lat)
		mu.Unlock()
		slices.Sort(l)
		n := got.Load()
		fmt.Printf("%s rate=%.0f reached=%.0f/s sent=%d returned=%d (%.2f%%) p50=%s p99=%s\n", *label, rate,
			float64(sent)/duration.Seconds(), sent, n, 100*float64(n)/float64(max(sent, 1)), pct(l, 0.50), pct(l, 0.99))
	}
	return nil
}

// sendGeneve sends at rate for d and returns how many it sent: spinning,
// datagram k at k/rate after the beginning; otherwise what is due every
// ~200 µs. Each datagram's inner payload holds the epoch (4 bytes), a
// sequence number (8) and the send time (8) (nanoseconds since start); the
// flow cookie and inner source port follow the flow.
func sendGeneve(conns []*ipv4.PacketConn, dst netip.AddrPort, template []byte, innerOff, payloadOff int, rate float64, d time.Duration, start time.Time, epoch uint32, spin bool) uint64 {
	to := net.UDPAddrFromAddrPort(dst)
	const batch = 64
	bufs := make([][]byte, len(conns)*batch)
	for i := range bufs {
		bufs[i] = slices.Clone(template)
		f := i / batch
		binary.BigEndian.PutUint32(bufs[i][innerOff-4:innerOff], uint32(f+1))         // flow cookie
		binary.BigEndian.PutUint16(bufs[i][innerOff+20:innerOff+22], uint16(40000+f)) // inner source port
	}
	msgs := make([]ipv4.Message, batch)
	if spin {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	var sent uint64
	begin := time.Now()
	seq := uint64(0)
	flow := 0
	for {
		el := time.Since(begin)
		if el >= d {
			return sent
		}
		due := uint64(rate * el.Seconds())
		if spin {
			due++ // datagram 0 is due at once
		}
		for sent < due {
			n := int(min(due-sent, batch))
			for i := range n {
				b := bufs[flow*batch+i]
				binary.BigEndian.PutUint32(b[payloadOff:], epoch)
				binary.BigEndian.PutUint64(b[payloadOff+4:], seq)
				binary.BigEndian.PutUint64(b[payloadOff+12:], uint64(time.Since(start)))
				seq++
				msgs[i] = ipv4.Message{Buffers: [][]byte{b}, Addr: to}
			}
			// A datagram the local kernel refuses counts as sent and lost.
			_, _ = conns[flow].WriteBatch(msgs[:n], 0)
			sent += uint64(n)
			flow = (flow + 1) % len(conns)
		}
		if !spin {
			time.Sleep(200 * time.Microsecond)
		}
	}
}

// receive reads replies and records the latency of those of the current epoch.
func receive(c *net.UDPConn, off int, start time.Time, epoch *atomic.Uint32, mu *sync.Mutex, lat *[]int64, got *atomic.Uint64) {
	// The kernel's receive timestamp (SO_TIMESTAMPNS) ends the round trip,
	// so that when this goroutine gets to run does not count.
	kernelTime := false
	if rc, err := c.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			kernelTime = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) == nil
		})
	}
	pc := ipv4.NewPacketConn(c)
	msgs := make([]ipv4.Message, 64)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 9100)}
		msgs[i].OOB = make([]byte, 64)
	}
	local := make([]int64, 0, 64)
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			fmt.Fprintln(os.Stderr, "wbbench geneve: receive:", err)
			return
		}
		now := int64(time.Since(start))
		ep := epoch.Load()
		local = local[:0]
		for _, m := range msgs[:n] {
			b := m.Buffers[0][:m.N]
			if len(b) < off+20 || binary.BigEndian.Uint32(b[off:]) != ep {
				continue // not ours, or a late reply of an earlier rate
			}
			at := now
			if kernelTime {
				if ts, ok := rxTime(m.OOB[:m.NN]); ok {
					at = int64(ts.Sub(start))
				}
			}
			local = append(local, at-int64(binary.BigEndian.Uint64(b[off+12:])))
		}
		got.Add(uint64(len(local)))
		mu.Lock()
		*lat = append(*lat, local...)
		mu.Unlock()
	}
}

// rxTime returns the SCM_TIMESTAMPNS time in a control message.
func rxTime(oob []byte) (time.Time, bool) {
	cms, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, cm := range cms {
		if cm.Header.Level == unix.SOL_SOCKET && cm.Header.Type == unix.SCM_TIMESTAMPNS && len(cm.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(cm.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(cm.Data[8:16]))
			return time.Unix(sec, nsec), true
		}
	}
	return time.Time{}, false
}

func pct(sorted []int64, q float64) string {
	if len(sorted) == 0 {
		return "-"
	}
	v := time.Duration(sorted[min(len(sorted)-1, int(q*float64(len(sorted))))])
	return v.Round(time.Microsecond).String()
}
