package source

import (
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// BenchmarkUDPIngest sends b.N 64-byte datagrams over loopback with sendmmsg
// (batches of 64) from one goroutine, at WB_BENCH_RATE datagrams/s if set
// (0 or unset: as fast as the sender can), into a udp source with
// WB_BENCH_READERS readers (default 1; the configuration's default is 2) on
// its socket and an emit that only counts. It reports datagrams/s received and the share
// dropped by the kernel (socket buffer full); nothing is dropped inside the
// source, and the process's CPU time per datagram sent (sender included).
// Compare with a C recvmmsg loop at the same send rate.
//
//	go test -run XXX -bench UDPIngest -benchtime 2000000x ./internal/source/
//	WB_BENCH_RATE=300000 go test -run XXX -bench UDPIngest -benchtime 1000000x ./internal/source/
//	WB_BENCH_READERS=2 go test -run XXX -bench UDPIngest -benchtime 1000000x ./internal/source/
func BenchmarkUDPIngest(b *testing.B) {
	rate, _ := strconv.Atoi(os.Getenv("WB_BENCH_RATE"))
	readers, _ := strconv.Atoi(os.Getenv("WB_BENCH_READERS"))
	u, err := NewUDP(UDPConfig{Common: Common{Name: "bench"}, Listen: []string{"127.0.0.1:0"}, Readers: max(readers, 1), RecvBuffer: 8 << 20, Batch: 64})
	if err != nil {
		b.Fatal(err)
	}
	stop := running(b, u, func(Batch) {})
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(u.Addrs()[0]))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	pc := ipv4.NewPacketConn(c)
	msgs := make([]ipv4.Message, 64)
	payload := make([]byte, 64)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{payload}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	start := time.Now()
	sent := 0
	for sent < b.N {
		n := min(len(msgs), b.N-sent)
		k, err := pc.WriteBatch(msgs[:n], 0)
		if err != nil {
			continue // ENOBUFS/EAGAIN under load: retry
		}
		sent += k
		if rate > 0 {
			if ahead := time.Duration(float64(sent)/float64(rate)*1e9) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
	}
	st := u.Stats()
	for last := uint64(0); ; {
		time.Sleep(50 * time.Millisecond)
		r := st.Received.Load()
		if r+st.Dropped(DropKernel) >= uint64(b.N) || r == last {
			break
		}
		last = r
	}
	elapsed := time.Since(start)
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	if err := stop(); err != nil { // polls the kernel drop counter a last time
		b.Fatal(err)
	}
	recv := st.Received.Load()
	b.ReportMetric(float64(recv)/elapsed.Seconds(), "recv/s")
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "sent/s")
	b.ReportMetric(100*float64(uint64(sent)-recv)/float64(sent), "%lost")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(sent), "cpu-ns/op")
}

// cpuTime is the process's CPU time (user and system): sender and source.
// The sender's share is the same for every version of the source, so a
// change in cpu-ns/op at one rate is the source's.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
