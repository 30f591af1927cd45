package app

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet/capfile"
)

// TestReadStreamsFromAPipe: `wirebridge read -` on a pipe that stays open
// (tcpdump -U -w - | wirebridge read -) writes each packet's output as the
// packet arrives, in every format, to a pipe; not when the input ends.
func TestReadStreamsFromAPipe(t *testing.T) {
	datas, infos := frames(t, demoCapture)
	// Bounded waits for an outcome; the test passes or fails on whether the
	// output arrives while the input is still open, not on how fast.
	const bound = 10 * time.Second
	for _, tc := range []struct {
		format string
		// complete reports whether out holds the output of n packets.
		complete func(out []byte, n int) bool
	}{
		{"ndjson", func(out []byte, n int) bool { return countLines(out) == n }},
		{"cloudevents", func(out []byte, n int) bool { return countLines(out) == n }},
		{"text", func(out []byte, n int) bool { return countLines(out) == n }},
		{"pcap", func(out []byte, n int) bool {
			want := 24
			for i := range n {
				want += 16 + len(datas[i])
			}
			return len(out) == want
		}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			inR, inW, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			outR, outW, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan int, 1)
			go func() {
				done <- Main(context.Background(), []string{"read", "-q", "--format", tc.format, "-"},
					Stdio{In: inR, Out: outW, Err: io.Discard})
				outW.Close()
			}()
			got := make(chan []byte, 64)
			go func() {
				buf := make([]byte, 1<<16)
				for {
					n, err := outR.Read(buf)
					if n > 0 {
						got <- append([]byte(nil), buf[:n]...)
					}
					if err != nil {
						close(got)
						return
					}
				}
			}()
			w, err := capfile.NewWriter(inW, infos[0].LinkType, 262144, true)
			if err != nil {
				t.Fatal(err)
			}
			var out []byte
			for i := range 3 {
				if err := w.WritePacket(infos[i], datas[i]); err != nil {
					t.Fatal(err)
				}
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				deadline := time.After(bound)
				for !tc.complete(out, i+1) {
					select {
					case b, ok := <-got:
						if !ok {
							t.Fatalf("output ended after %d bytes", len(out))
						}
						out = append(out, b...)
					case <-deadline:
						t.Fatalf("packet %d: its output had not arrived %v after it entered the pipe (the pipe is still open); output so far %d bytes", i+1, bound, len(out))
					}
				}
				t.Logf("packet %d: output after %v", i+1, time.Since(start).Round(time.Microsecond))
			}
			inW.Close()
			if code := <-done; code != 0 {
				t.Fatalf("exit %d", code)
			}
			inR.Close()
			outR.Close()
		})
	}
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
