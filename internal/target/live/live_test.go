package live

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/wirebridge/wirebridge/internal/handoff"
	wlive "github.com/wirebridge/wirebridge/internal/live"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/target"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

func hub(t *testing.T) *wlive.Hub {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, MaxPayload: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(s.Shutdown)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	h, err := wlive.NewHub(wlive.HubConfig{Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// drain collects a subscriber's items in the background.
type drain struct {
	mu    sync.Mutex
	lines [][]byte
	n     int
}

func subscribe(t *testing.T, h *wlive.Hub, ch string) (*drain, *wlive.Subscriber) {
	s, err := h.NewSubscriberQueue("test", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Subscribe(&wlive.Subscription{ID: "t", Channel: ch}); err != nil {
		t.Fatal(err)
	}
	d := &drain{}
	go func() {
		for {
			es, _, err := s.Next(context.Background(), nil, 1000)
			if err != nil {
				return
			}
			d.mu.Lock()
			for _, e := range es {
				d.lines = append(d.lines, e.Line)
			}
			d.mu.Unlock()
		}
	}()
	t.Cleanup(s.Close)
	return d, s
}

func TestConformance(t *testing.T) {
	targettest.Run(t, func(t *testing.T) targettest.Instance {
		h := hub(t)
		d, _ := subscribe(t, h, "/conf/*")
		tg, err := New(Config{Hub: h, Channel: "/conf/x", Frames: true})
		if err != nil {
			t.Fatal(err)
		}
		var sent sync.Mutex
		count := 0
		return targettest.Instance{
			Target: countingTarget{tg, &sent, &count},
			Delivered: func() ([][]byte, error) {
				// the hub delivers asynchronously: wait until the count arrived
				deadline := time.Now().Add(10 * time.Second)
				for {
					d.mu.Lock()
					sent.Lock()
					done := len(d.lines) >= count
					sent.Unlock()
					if done || time.Now().After(deadline) {
						break
					}
					d.mu.Unlock()
					time.Sleep(10 * time.Millisecond)
				}
				defer d.mu.Unlock()
				var out [][]byte
				for _, l := range d.lines {
					b, err := target.DecodeValue(wlive.EventOf(l))
					if err != nil {
						return nil, err
					}
					out = append(out, b)
				}
				return out, nil
			},
			Expect: func(dl handoff.Delivery) []byte {
				b, _ := target.DecodeValue(target.AppendValue(nil, dl.Body))
				return b
			},
		}
	})
}

// countingTarget counts deliveries accepted so that Delivered knows how many to wait for.
type countingTarget struct {
	*Target
	mu *sync.Mutex
	n  *int
}

func (c countingTarget) Send(ctx context.Context, b []handoff.Delivery) error {
	err := c.Target.Send(ctx, b)
	if err == nil {
		c.mu.Lock()
		*c.n += len(b)
		c.mu.Unlock()
	}
	return err
}

func TestFrames(t *testing.T) {
	tests := []struct {
		name   string
		frames bool
	}{{"with frames", true}, {"without frames", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hub(t)
			d, _ := subscribe(t, h, "/packets/all")
			tg, err := New(Config{Hub: h, Channel: "/packets/all", Frames: tt.frames})
			if err != nil {
				t.Fatal(err)
			}
			ts := time.Date(2026, 11, 21, 20, 40, 15, 123456000, time.UTC)
			frame := []byte{1, 2, 3, 4, 5, 6, 7, 8}
			err = tg.Send(context.Background(), []handoff.Delivery{{
				ID: "1", Body: []byte(`{"version":"0"}`), Frame: frame,
				Capture: packet.CaptureInfo{Timestamp: ts, CaptureLength: 8, Length: 100, LinkType: 1},
			}})
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				d.mu.Lock()
				n := len(d.lines)
				d.mu.Unlock()
				if n > 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			if len(d.lines) != 1 {
				t.Fatalf("got %d items", len(d.lines))
			}
			it, err := wlive.DecodeItem(d.lines[0])
			if err != nil {
				t.Fatal(err)
			}
			if string(it.Event) != `{"version":"0"}` {
				t.Errorf("event %s", it.Event)
			}
			if tt.frames && (string(it.Frame) != string(frame) || it.LinkType != 1 || it.OrigLen != 100 || !it.Time.Equal(ts)) {
				t.Errorf("item = %+v", it)
			}
			if !tt.frames && it.Frame != nil {
				t.Errorf("frame sent without frames: %+v", it)
			}
		})
	}
	if _, err := New(Config{Hub: hub(t), Channel: "no-slash"}); err == nil {
		t.Error("New accepted an invalid channel")
	}
}
