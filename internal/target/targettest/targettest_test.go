package targettest

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/wirebridge/wirebridge/internal/packet"
)

func TestEventBodyIsJSON(t *testing.T) {
	for _, b := range [][]byte{EventBody(1, AllBytes(), AllRunes()), body(7, 1024), EventBody(0, nil, "")} {
		if !json.Valid(b) {
			t.Fatalf("not JSON: %q", b)
		}
		var ev struct {
			Detail struct{ Text string } `json:"detail"`
		}
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
	}
	var ev struct {
		Detail struct {
			Text    string
			Payload []byte
		} `json:"detail"`
	}
	if err := json.Unmarshal(EventBody(1, AllBytes(), AllRunes()), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Detail.Text != AllRunes() || string(ev.Detail.Payload) != string(AllBytes()) {
		t.Fatal("text or payload did not round-trip")
	}
}

// TestStreamSender: with Stream, a sender's deliveries are the consecutive
// segments of one TCP connection (the first a SYN carrying data), each
// carrying Stream's payload cut to MaxSegment; without, they are Make's.
func TestStreamSender(t *testing.T) {
	stream := func(seq int, body []byte) []byte { return append([]byte(strconv.Itoa(seq)+":"), body...) }
	tests := []struct {
		name   string
		k      int
		bodies [][]byte
	}{
		{"one", 0, [][]byte{[]byte("a")}},
		{"several", 3, [][]byte{[]byte("first"), AllBytes(), {0}, []byte("last")}},
		{"wrapping sequence numbers", 1, [][]byte{make([]byte, 3000), make([]byte, 3000), []byte("after the wrap")}},
		{"cut to MaxSegment", 2, [][]byte{make([]byte, MaxSegment+10), []byte("next")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Instance{Stream: stream}.sender(tc.k)
			var next uint32
			for i, b := range tc.bodies {
				d := s.make(i, b)
				if string(d.Body) != string(b) {
					t.Fatalf("delivery %d: Body changed", i)
				}
				var p packet.Packet
				if err := packet.Decode(&p, d.Frame, d.Capture); err != nil {
					t.Fatalf("delivery %d: decode: %v", i, err)
				}
				f := p.Inner()
				if !f.Layers.Has(packet.LayerTCP) || p.Truncated() {
					t.Fatalf("delivery %d: not a complete TCP segment", i)
				}
				want := stream(i, b)
				if len(want) > MaxSegment {
					want = want[:MaxSegment]
				}
				if got := p.Payload(); string(got) != string(want) {
					t.Fatalf("delivery %d: payload of %d bytes, want %d", i, len(got), len(want))
				}
				if f.SrcPort != uint16(40000+tc.k) || f.DstPort != 80 {
					t.Fatalf("delivery %d: ports %d > %d", i, f.SrcPort, f.DstPort)
				}
				syn := f.TCPFlags&packet.TCPSyn != 0
				if syn != (i == 0) {
					t.Fatalf("delivery %d: SYN %v", i, syn)
				}
				start := f.TCPSeq
				if syn {
					start++ // the data follows the SYN's sequence number
				} else if start != next {
					t.Fatalf("delivery %d: sequence %d, want %d (where the one before ended)", i, start, next)
				}
				next = start + uint32(len(want))
			}
			if plain := (Instance{}).sender(tc.k).make(7, tc.bodies[0]); string(plain.Frame) != string(Make(7, tc.bodies[0]).Frame) {
				t.Fatal("without Stream, a sender's delivery is not Make's")
			}
		})
	}
}
