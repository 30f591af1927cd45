package pipeline

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/rule"
	"github.com/wirebridge/wirebridge/internal/source"
)

// Benchmarks of the pipeline: emit (copy into the queue) + decode + match
// against 100 rules on the packet view + JSON encoding of matched events +
// Enqueue to a deliverer that only counts.
//
//	go test -run '^$' -bench . -benchtime 2s ./internal/pipeline/
//
// The packets are the 98 frames of the two syslog captures, cycled; 75 of
// them match the seed rule (the other 99 rules match none of them, or a
// few), so about 77% of packets are encoded. events/s is packets through
// the pipeline per wall-clock second; cpu-ns/op is process CPU time per
// packet (getrusage), which includes the feeding goroutine (it sleeps while
// the queue holds more than 128 batches).

// benchRules returns the seed rule plus n-1 rules of the kinds a deployment
// has (ports, CIDRs, port ranges, listener prefixes, detail-type).
func benchRules(n int, seed string) []rule.Spec {
	rules := []rule.Spec{cfgRule("seed", seed, "sink")}
	for i := 1; i < n; i++ {
		var src string
		switch i % 5 {
		case 0:
			src = fmt.Sprintf(`{"source":["udp.raw"],"detail":{"Destination":{"Port":[%d]}}}`, 1000+i)
		case 1:
			src = fmt.Sprintf(`{"detail":{"Source":{"IP":[{"cidr":"172.%d.%d.0/24"}]},"Protocol":["udp"]}}`, 16+(i/256)%16, i%256)
		case 2:
			src = fmt.Sprintf(`{"detail":{"Protocol":["tcp"],"Destination":{"Port":[{"numeric":[">=",%d,"<",%d]}]}}}`, 2000+i, 2010+i)
		case 3:
			src = fmt.Sprintf(`{"detail":{"Listener":[{"prefix":"listener-%d"}]}}`, i)
		case 4:
			src = fmt.Sprintf(`{"detail-type":["UdpPacket"],"detail":{"Source":{"Port":[%d]}}}`, 60000+i)
		}
		rules = append(rules, cfgRule(fmt.Sprintf("rule-%03d", i), src, "sink"))
	}
	return rules
}

// counter is a Deliverer that counts and keeps nothing.
type counter struct{ n atomic.Uint64 }

func (c *counter) Enqueue(_ context.Context, ds []handoff.Delivery) (int, error) {
	c.n.Add(uint64(len(ds)))
	return len(ds), nil
}

func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchFrames(b *testing.B) []source.Frame {
	return append(loadFrames(b, "tcpdump_syslog_udp.pcap"), loadFrames(b, "ndpi_syslog.pcap")...)
}

// benchPipeline pushes b.N packets through a running pipeline with the
// given number of workers, in batches of 64, holding back (not dropping)
// when the queue is half full.
func benchPipeline(b *testing.B, workers int, seed string) {
	frames := benchFrames(b)
	tab := table(b, benchRules(100, seed)...)
	sink := &counter{}
	p, err := New(Config{
		Rules:        tab,
		Targets:      []Target{{Name: "sink", Deliverer: sink, NeedsBody: true}},
		Workers:      workers,
		QueueBatches: 256,
	})
	if err != nil {
		b.Fatal(err)
	}
	emit, err := p.Emitter(SourceInfo{Name: "raw", Type: "raw", EventSource: "udp.raw", QueueSize: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	const batchSize = 64
	batch := make([]source.Frame, batchSize)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	t0 := time.Now()
	go func() { done <- p.Run(ctx) }()
	for sent := 0; sent < b.N; {
		n := min(batchSize, b.N-sent)
		for i := range n {
			batch[i] = frames[(sent+i)%len(frames)]
		}
		for p.queuedPkts.Load() > 128*batchSize {
			time.Sleep(50 * time.Microsecond) // about 1/10 of the queued work
		}
		emit(source.Batch{Source: "raw", EventSource: "udp.raw", Frames: batch[:n]})
		sent += n
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	st := p.Stats().Sources["raw"]
	if st.Processed != uint64(b.N) || st.DroppedTotal() != 0 {
		b.Fatalf("processed %d of %d, dropped %v", st.Processed, b.N, st.Dropped)
	}
	b.ReportMetric(float64(st.Matched)/float64(b.N), "matched/op")
}

func BenchmarkPipeline100Rules(b *testing.B) {
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) { benchPipeline(b, w, seedPattern) })
		b.Run(fmt.Sprintf("workers=%d/nomatch", w), func(b *testing.B) {
			benchPipeline(b, w, `{"source":["udp.other"],"detail":{"Destination":{"Port":[514]}}}`)
		})
	}
}

// BenchmarkWorker is one worker processing batches on the calling goroutine
// (no queue hand-off): the per-packet cost of emit copy + decode + match +
// encode + Enqueue, and its allocations (the event id string per matched
// packet and nothing else in steady state).
func BenchmarkWorker(b *testing.B) {
	frames := benchFrames(b)
	tab := table(b, benchRules(100, seedPattern)...)
	p, err := New(Config{Rules: tab, Targets: []Target{{Name: "sink", Deliverer: &counter{}, NeedsBody: true}}, QueueBatches: 1})
	if err != nil {
		b.Fatal(err)
	}
	emit, err := p.Emitter(SourceInfo{Name: "raw", Type: "raw", EventSource: "udp.raw"})
	if err != nil {
		b.Fatal(err)
	}
	w := newWorker(p)
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		emit(source.Batch{Source: "raw", EventSource: "udp.raw", Frames: frames})
		w.process(ctx, <-p.q)
	}
	n := float64(b.N * len(frames))
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/n, "cpu-ns/packet")
	st := p.Stats().Sources["raw"]
	b.ReportMetric(float64(st.Matched)/float64(st.Processed), "matched/packet")
}
