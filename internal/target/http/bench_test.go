package http

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

// BenchmarkSend posts batches of 1 KiB events to a local sink that reads
// and discards the body; events/s is the figure to report.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	for _, c := range []struct {
		format string
		batch  int
	}{{FormatSingle, 1}, {FormatSingle, 100}, {FormatNDJSON, 100}, {FormatJSONArray, 100}, {FormatNDJSON, 1000}} {
		b.Run(c.format+"/batch="+strconv.Itoa(c.batch), func(b *testing.B) {
			batch := make([]handoff.Delivery, c.batch)
			for i := range batch {
				batch[i] = targettest.Make(i, targettest.EventBody(i, make([]byte, 576), "bench")) // 1024 bytes of JSON
			}
			tg, err := New(Config{URL: srv.URL, Format: c.format, SigningSecret: []byte("s")})
			if err != nil {
				b.Fatal(err)
			}
			defer tg.Close()
			b.ReportAllocs()
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
