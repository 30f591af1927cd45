package stdout

import (
	"io"
	"testing"

	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

// BenchmarkSend writes batches of 100 events of about 1 KiB to io.Discard:
// "checked" as a transformer's output (each checked and encoded as a JSON
// value), "event-json" marked Delivery.BodyJSON as the pipeline marks the
// event JSON (copied as is).
func BenchmarkSend(b *testing.B) {
	for _, bodyJSON := range []bool{false, true} {
		name := "checked"
		if bodyJSON {
			name = "event-json"
		}
		b.Run(name, func(b *testing.B) {
			batch, size := targettest.BenchBatch(bodyJSON)
			tg, err := New(Config{Writer: io.Discard})
			if err != nil {
				b.Fatal(err)
			}
			targettest.BenchSend(b, tg, batch, size)
		})
	}
}
