package file

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

// BenchmarkSend writes batches of 100 events with 1 KiB bodies (event JSON
// around a 576-byte payload: 1024 bytes each); events/s is the figure to
// report. "checked": bodies as a transformer's output (each checked and
// encoded as a JSON value); "event-json": marked Delivery.BodyJSON, as the
// pipeline marks the event JSON it encoded (copied as they are).
func BenchmarkSend(b *testing.B) {
	for _, c := range []struct {
		comp     string
		bodyJSON bool
	}{{CompressNone, false}, {CompressNone, true}, {CompressGzip, false}, {CompressGzip, true}, {CompressZstd, false}, {CompressZstd, true}} {
		comp, name := c.comp, c.comp+"/checked"
		if c.bodyJSON {
			name = c.comp + "/event-json"
		}
		b.Run(name, func(b *testing.B) {
			batch := make([]event.Delivery, 100)
			for i := range batch {
				p := make([]byte, 576) // base64 plus the envelope: 1024 bytes of JSON
				for j := range p {
					p[j] = byte(i * j)
				}
				batch[i] = targettest.Make(i, targettest.EventBody(i, p, "bench"))
				batch[i].BodyJSON = c.bodyJSON
			}
			size := 0
			for _, d := range batch {
				size += len(d.Body)
			}
			tg, err := New(Config{Path: filepath.Join(b.TempDir(), "bench.ndjson"), Compression: comp, MaxSize: 256 << 20})
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
			if err := tg.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
		})
	}
}
