package pipeline

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/source"
)

// TestArrivalOrderKept emits 20,000 packets of one flow, in small batches,
// into a pipeline with several workers, and checks that every target
// receives them in emit order with their capture times: the workers decode
// and match in parallel but hand deliveries over in the order batches were
// queued.
func TestArrivalOrderKept(t *testing.T) {
	for _, workers := range []int{1, 2, 4, 8} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			const n = 20000
			src, dst := netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("10.0.0.2")
			base := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
			frames := make([]source.Frame, n)
			for i := range frames {
				var seq [8]byte
				binary.BigEndian.PutUint64(seq[:], uint64(i))
				data := packet.Build(packet.IPv4{Src: src, Dst: dst}, packet.UDP{Src: 40000, Dst: 514}, packet.Payload(seq[:]))
				frames[i] = source.Frame{Data: data, Info: packet.CaptureInfo{
					Timestamp: base.Add(time.Duration(i) * time.Microsecond), CaptureLength: len(data), Length: len(data), LinkType: packet.LinkRaw,
				}}
			}
			body, frame := &recorder{}, &recorder{}
			p, err := New(Config{
				Rules:        table(t, cfgRule("all", `{"source":["wirebridge.udp"]}`, "body", "frame")),
				Targets:      []Target{{Name: "body", Deliverer: body, NeedsBody: true}, {Name: "frame", Deliverer: frame, NeedsFrame: true}},
				Workers:      workers,
				QueueBatches: n,
			})
			if err != nil {
				t.Fatal(err)
			}
			emit, err := p.Emitter(SourceInfo{Name: "udp", Type: "udp", QueueSize: n})
			if err != nil {
				t.Fatal(err)
			}
			stop := start(t, p)
			emitAll(emit, "udp", "", frames, 3)
			res := stop()
			if res.err != nil {
				t.Fatal(res.err)
			}
			for _, r := range []*recorder{body, frame} {
				got := r.deliveries()
				if len(got) != n {
					t.Fatalf("%d deliveries, want %d", len(got), n)
				}
				for i, d := range got {
					var seq uint64
					if d.Frame != nil {
						var pk packet.Packet
						if err := packet.Decode(&pk, d.Frame, d.Capture); err != nil {
							t.Fatal(err)
						}
						seq = binary.BigEndian.Uint64(pk.Payload())
						if want := frames[seq].Info.Timestamp; !d.Capture.Timestamp.Equal(want) {
							t.Fatalf("delivery %d: capture time %v, want %v", i, d.Capture.Timestamp, want)
						}
					} else {
						var ev packetEvent
						if err := json.Unmarshal(d.Body, &ev); err != nil {
							t.Fatal(err)
						}
						seq = binary.BigEndian.Uint64(ev.Detail.Payload)
					}
					if seq != uint64(i) {
						t.Fatalf("target %s: delivery %d carries packet %d: out of order", d.Target, i, seq)
					}
				}
			}
		})
	}
}
