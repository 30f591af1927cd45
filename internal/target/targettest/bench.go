package targettest

import (
	"context"
	"testing"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/target"
)

// BenchBatch is the batch the targets' Send benchmarks write: 100 events of
// 1 KiB (event JSON around a 576-byte payload), marked Delivery.BodyJSON as
// the pipeline marks the event JSON it encoded when bodyJSON is set, and
// their bytes.
func BenchBatch(bodyJSON bool) ([]handoff.Delivery, int) {
	batch := make([]handoff.Delivery, 100)
	size := 0
	for i := range batch {
		p := make([]byte, 576) // base64 plus the envelope: 1024 bytes of JSON
		for j := range p {
			p[j] = byte(i * j)
		}
		batch[i] = Make(i, EventBody(i, p, "bench"))
		batch[i].BodyJSON = bodyJSON
		size += len(batch[i].Body)
	}
	return batch, size
}

// BenchSend sends batch to tg b.N times (bytes: the batch's size for MB/s),
// closes tg and reports events/s.
func BenchSend(b *testing.B, tg target.Target, batch []handoff.Delivery, bytes int) {
	b.Helper()
	b.ReportAllocs()
	b.SetBytes(int64(bytes))
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
}
