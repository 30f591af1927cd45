package source

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// got is one emitted frame, copied and decoded.
type got struct {
	batchSource, eventSource string
	data                     []byte
	info                     packet.CaptureInfo
	src, dst                 netip.AddrPort
	ttl                      uint8
	ipVersion                uint8
	payload                  []byte
	truncated                bool
	ipSum, udpSum            packet.ChecksumStatus // IPv4 header and UDP checksums as verified
	decodeErr                error
}

// collector copies every emitted frame.
type collector struct {
	mu     sync.Mutex
	frames []got
	notify chan struct{}
}

func newCollector() *collector { return &collector{notify: make(chan struct{}, 1)} }

func (c *collector) emit(b Batch) {
	c.mu.Lock()
	for _, f := range b.Frames {
		g := got{batchSource: b.Source, eventSource: b.EventSource, data: append([]byte(nil), f.Data...), info: f.Info}
		var p packet.Packet
		g.decodeErr = packet.Decode(&p, g.data, f.Info)
		in := p.Inner()
		g.src = netip.AddrPortFrom(in.Src, in.SrcPort)
		g.dst = netip.AddrPortFrom(in.Dst, in.DstPort)
		g.ttl, g.ipVersion = in.TTL, in.IPVersion
		g.payload = append([]byte(nil), p.Payload()...)
		g.truncated = p.Truncated()
		g.ipSum, g.udpSum = p.VerifyIPv4Checksum(p.NumFrames-1), p.VerifyTransportChecksum(p.NumFrames-1)
		c.frames = append(c.frames, g)
	}
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *collector) snapshot() []got {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]got(nil), c.frames...)
}

// waitFor waits until pred holds over the frames seen so far, or fails the test after d.
func (c *collector) waitFor(t *testing.T, d time.Duration, what string, pred func([]got) bool) []got {
	t.Helper()
	deadline := time.After(d)
	for {
		fs := c.snapshot()
		if pred(fs) {
			return fs
		}
		select {
		case <-c.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %d frames", what, len(fs))
		}
	}
}

// running runs s until the test ends (or stop is called) and returns stop,
// which cancels Run and returns its error.
func running(t testing.TB, s Source, emit Emit) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, emit) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("source %s did not stop", s.Name())
			}
		})
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return stop
}

func countPayload(fs []got, payload string) int {
	n := 0
	for _, f := range fs {
		if string(f.payload) == payload {
			n++
		}
	}
	return n
}
