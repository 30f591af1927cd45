package pcap

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

// BenchmarkSend writes batches of 100 frames of 142 bytes (Ethernet, IPv4,
// UDP and a 100-byte payload: a syslog line as the udp source builds it) to
// a pcap file rotating at 256 MiB; events/s is the figure to report.
func BenchmarkSend(b *testing.B) {
	batch := make([]handoff.Delivery, 100)
	for i := range batch {
		f := targettest.Frame(make([]byte, 100))
		batch[i] = handoff.Delivery{ID: targettest.ID(i), Frame: f, Capture: packet.CaptureInfo{
			Timestamp: time.Date(2026, 12, 7, 8, 0, 0, i, time.UTC), LinkType: packet.LinkEthernet, Length: len(f), CaptureLength: len(f)}}
	}
	tg, err := New(Config{Path: filepath.Join(b.TempDir(), "bench.pcap"), MaxSize: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	targettest.BenchSend(b, tg, batch, 100*len(batch[0].Frame))
}
