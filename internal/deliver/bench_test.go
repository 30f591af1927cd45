package deliver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
)

// counter is the cheapest possible target: it counts deliveries.
type counter struct{ n atomic.Int64 }

func (c *counter) Send(_ context.Context, batch []handoff.Delivery) error {
	c.n.Add(int64(len(batch)))
	return nil
}
func (c *counter) Close() error { return nil }

// copyingCounter is a counter that declares, as the file target does, that
// Send keeps nothing of the batch: its direct worker reuses chunk buffers.
type copyingCounter struct{ *counter }

func (copyingCounter) CopiesBatch() {}

// benchThroughput enqueues b.N 1 KiB deliveries in batches of 100 and waits
// until the target has received all of them: enqueue -> delivered.
func benchThroughput(b *testing.B, mode Mode) {
	benchThroughputOf(b, mode, deliveries("bench", 100, 1024-20), false)
}

// BenchmarkDurableThroughputEvents is BenchmarkDurableThroughput with the
// deliveries a flood makes: the event JSON and frame of Ethernet/IPv4/UDP
// datagrams with random 64-byte payloads from random ports (the part of a
// batch that does not compress).
func BenchmarkDurableThroughputEvents(b *testing.B) {
	benchThroughputOf(b, Durable, eventDeliveries(100), false)
}

// eventDeliveries returns n deliveries of real events, as the pipeline
// makes them, for UDP datagrams with random payloads and source ports.
func eventDeliveries(n int) []handoff.Delivery {
	rng := rand.New(rand.NewPCG(7, 11))
	enc := &event.Encoder{}
	var p packet.Packet
	ds := make([]handoff.Delivery, n)
	for i := range ds {
		payload := make([]byte, 64)
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		frame := packet.Build(
			packet.Eth{},
			packet.IPv4{Src: netip.AddrFrom4([4]byte{10, 0, byte(rng.Uint32()), byte(rng.Uint32())}), Dst: netip.MustParseAddr("10.0.0.2")},
			packet.UDP{Src: uint16(1024 + rng.IntN(60000)), Dst: 514},
			packet.Payload(payload),
		)
		info := packet.CaptureInfo{Timestamp: time.Now(), CaptureLength: len(frame), Length: len(frame), LinkType: packet.LinkEthernet}
		if err := packet.Decode(&p, frame, info); err != nil {
			panic(err)
		}
		ds[i] = handoff.Delivery{ID: fmt.Sprintf("bench-%05d", i), Rule: "all", Frame: frame, Capture: info,
			Body: enc.AppendJSON(nil, &p, event.Meta{Listener: "flood", SourceType: "udp"})}
	}
	return ds
}

// benchThroughputOf is benchThroughput with deliveries ds, to a target
// whose worker reuses chunk buffers when copies is set.
func benchThroughputOf(b *testing.B, mode Mode, ds []handoff.Delivery, copies bool) {
	var w Worker
	tg := &counter{}
	var target Target = tg
	if copies {
		target = copyingCounter{tg}
	}
	cfg := Config{Target: "bench", Mode: mode, MaxEvents: 100, QueueSize: 1 << 16, QueueBytes: 1 << 27, MaxInFlight: 4096}
	if mode == Durable {
		bs := openBus(b, b.TempDir())
		defer bs.Close()
		w = newWorker(b, cfg, target, bs)
	} else {
		w = newWorker(b, cfg, target, nil)
	}
	batch := len(ds)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	b.SetBytes(int64(len(ds[0].Body)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		n := min(batch, b.N-sent)
		for i := range n {
			ds[i].ID = ds[i].ID[:len("bench-00000")] + "-" + itoa(sent+i) // unique: the stream de-duplicates ids
			ds[i].Accepted = time.Time{}
		}
		for {
			acc, err := w.Enqueue(ctx, ds[:n])
			if err != nil {
				b.Fatal(err)
			}
			if acc == n {
				break
			}
			// direct: queue full; let the worker catch up and offer the rest
			sent += acc
			n -= acc
			copy(ds, ds[acc:acc+n])
			time.Sleep(50 * time.Microsecond)
		}
		sent += n
	}
	for tg.n.Load() < int64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

func itoa(n int) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(buf[i:])
		}
	}
}

func BenchmarkDurableThroughput(b *testing.B) { benchThroughput(b, Durable) }

// BenchmarkDurableThroughput4 is BenchmarkDurableThroughput with four
// goroutines enqueueing at once (as several pipeline workers would).
func BenchmarkDurableThroughput4(b *testing.B) {
	bs := openBus(b, b.TempDir())
	defer bs.Close()
	tg := &counter{}
	w := newWorker(b, Config{Target: "bench", MaxEvents: 100, MaxInFlight: 4096}, tg, bs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	const producers, batch = 4, 100
	b.SetBytes(1024)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	errs := make(chan error, producers)
	for p := range producers {
		go func() {
			ds := deliveries("p"+itoa(p), batch, 1024-20)
			for {
				first := int(next.Add(batch)) - batch
				if first >= b.N {
					errs <- nil
					return
				}
				n := min(batch, b.N-first)
				for i := range n {
					ds[i].ID = "bench-" + itoa(first+i)
				}
				if err := offer(ctx, w, ds[:n]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range producers {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	for tg.n.Load() < int64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
func BenchmarkDirectThroughput(b *testing.B) { benchThroughput(b, Direct) }

// BenchmarkDirectThroughputCopier is BenchmarkDirectThroughput to a target
// that keeps nothing of a batch after Send (as the file target): the
// worker's chunk buffers are reused.
func BenchmarkDirectThroughputCopier(b *testing.B) {
	benchThroughputOf(b, Direct, deliveries("bench", 100, 1024-20), true)
}

// offer enqueues ds, offering again what a full buffer did not take once
// the worker has caught up (Flush).
func offer(ctx context.Context, w Worker, ds []handoff.Delivery) error {
	for len(ds) > 0 {
		acc, err := w.Enqueue(ctx, ds)
		if err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		if ds = ds[acc:]; len(ds) > 0 {
			if err := w.Flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// BenchmarkDurableEnqueue measures acceptance alone: store in the embedded
// JetStream until the server acknowledged every publish, 100 1 KiB
// deliveries per Enqueue.
func BenchmarkDurableEnqueue(b *testing.B) {
	bs := openBus(b, b.TempDir())
	defer bs.Close()
	w := newWorker(b, Config{Target: "bench", MaxInFlight: 4096}, &counter{}, bs)
	ds := deliveries("bench", 100, 1024-20)
	b.SetBytes(int64(len(ds[0].Body)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for sent := 0; sent < b.N; sent += len(ds) {
		n := min(len(ds), b.N-sent)
		for i := range n {
			ds[i].ID = "bench-" + itoa(sent+i)
		}
		if err := offer(context.Background(), w, ds[:n]); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	if s := w.Stats(); s.Enqueued != uint64(b.N) {
		b.Fatalf("accepted %d of %d; dropped %v", s.Enqueued, b.N, s.Dropped)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
