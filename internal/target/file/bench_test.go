package file

import (
	"path/filepath"
	"testing"

	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

// BenchmarkSend writes batches of 100 events with 1 KiB bodies (event JSON
// around a 576-byte payload: 1024 bytes each); events/s is the figure to
// report. "checked": bodies as a transformer's output (each checked and
// encoded as a JSON value); "event-json": marked Delivery.BodyJSON, as the
// pipeline marks the event JSON it encoded (copied as they are).
func BenchmarkSend(b *testing.B) {
	for _, comp := range []string{CompressNone, CompressGzip, CompressZstd} {
		for _, bodyJSON := range []bool{false, true} {
			name := comp + "/checked"
			if bodyJSON {
				name = comp + "/event-json"
			}
			b.Run(name, func(b *testing.B) {
				batch, size := targettest.BenchBatch(bodyJSON)
				tg, err := New(Config{Path: filepath.Join(b.TempDir(), "bench.ndjson"), Compression: comp, MaxSize: 256 << 20})
				if err != nil {
					b.Fatal(err)
				}
				targettest.BenchSend(b, tg, batch, size)
			})
		}
	}
}
