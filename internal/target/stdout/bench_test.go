package stdout

import (
	"context"
	"io"
	"testing"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

// BenchmarkSend writes batches of 100 events of about 1 KiB (event JSON
// around a 576-byte payload) to io.Discard: "checked" as a transformer's
// output (each checked and encoded as a JSON value), "event-json" marked
// Delivery.BodyJSON as the pipeline marks the event JSON (copied as is).
func BenchmarkSend(b *testing.B) {
	for _, c := range []struct {
		name     string
		bodyJSON bool
	}{{"checked", false}, {"event-json", true}} {
		b.Run(c.name, func(b *testing.B) {
			batch := make([]event.Delivery, 100)
			size := 0
			for i := range batch {
				p := make([]byte, 576)
				for j := range p {
					p[j] = byte(i * j)
				}
				batch[i] = targettest.Make(i, targettest.EventBody(i, p, "bench"))
				batch[i].BodyJSON = c.bodyJSON
				size += len(batch[i].Body)
			}
			tg, err := New(Config{Writer: io.Discard})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := tg.Send(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
		})
	}
}
