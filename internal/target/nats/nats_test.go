package nats

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/names/namestest"
	"github.com/wirebridge/wirebridge/internal/target"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

// runServer starts a real nats-server in-process on a random loopback port.
func runServer(t *testing.T, maxPayload int32) *server.Server {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, MaxPayload: maxPayload}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// collector subscribes to a subject and returns what arrived once a marker
// message, published after the target closed, comes through: the server
// delivers a subscription's messages in the order it processed them.
type collector struct {
	nc   *nats.Conn
	mu   sync.Mutex
	msgs []*nats.Msg
	done chan struct{}
}

func collect(t *testing.T, url, subject string) *collector {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c := &collector{nc: nc, done: make(chan struct{})}
	_, err = nc.Subscribe(subject, func(m *nats.Msg) {
		if m.Header.Get("Marker") != "" {
			close(c.done)
			return
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		c.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *collector) wait(subject string) ([]*nats.Msg, error) {
	m := nats.NewMsg(subject)
	m.Header.Set("Marker", "1")
	if err := c.nc.PublishMsg(m); err != nil {
		return nil, err
	}
	select {
	case <-c.done:
	case <-time.After(targettest.Long):
		return nil, errors.New("marker message did not arrive")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.msgs, nil
}

func TestConformance(t *testing.T) {
	for _, mode := range []string{"own connection", "shared connection"} {
		t.Run(mode, func(t *testing.T) {
			targettest.Run(t, func(t *testing.T) targettest.Instance {
				s := runServer(t, 0)
				c := collect(t, s.ClientURL(), "wirebridge.out.test")
				cfg := Config{Subject: "wirebridge.out.test"}
				if mode == "own connection" {
					cfg.URL = s.ClientURL()
				} else {
					nc, err := nats.Connect(s.ClientURL())
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(nc.Close)
					cfg.Conn = nc
				}
				tg, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				return targettest.Instance{
					Target: tg,
					Delivered: func() ([][]byte, error) {
						msgs, err := c.wait("wirebridge.out.test")
						var got [][]byte
						for _, m := range msgs {
							got = append(got, m.Data)
						}
						return got, err
					},
				}
			})
		})
	}
}

func TestHeadersAndSharedConnStaysOpen(t *testing.T) {
	s := runServer(t, 0)
	c := collect(t, s.ClientURL(), "events")
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	tg, err := New(Config{Conn: nc, Subject: "events"})
	if err != nil {
		t.Fatal(err)
	}
	d := handoff.Delivery{ID: "id-1", Rule: "syslog", Target: "bus", Body: []byte(`{"a":1}`)}
	if err := tg.Send(context.Background(), []handoff.Delivery{d}); err != nil {
		t.Fatal(err)
	}
	tg.Close()
	if nc.IsClosed() {
		t.Fatal("Close closed a connection the target did not open")
	}
	msgs, err := c.wait("events")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	for k, want := range map[string]string{"Nats-Msg-Id": "id-1", "Wirebridge-Rule": "syslog", "Wirebridge-Target": "bus"} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if !bytes.Equal(m.Data, d.Body) {
		t.Errorf("data %q", m.Data)
	}
}

func TestOversizedMessageIsPermanent(t *testing.T) {
	s := runServer(t, 1024)
	c := collect(t, s.ClientURL(), "events")
	tg, err := New(Config{URL: s.ClientURL(), Subject: "events"})
	if err != nil {
		t.Fatal(err)
	}
	b := []handoff.Delivery{
		{ID: "small", Body: []byte("a")},
		{ID: "big", Body: bytes.Repeat([]byte("x"), 4096)},
		{ID: "small2", Body: []byte("b")},
	}
	err = tg.Send(context.Background(), b)
	var be *handoff.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || !target.IsPermanent(be.Failed[1]) {
		t.Fatalf("got %v, want a BatchError with index 1 permanent", err)
	}
	tg.Close()
	msgs, err := c.wait("events")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || string(msgs[0].Data) != "a" || string(msgs[1].Data) != "b" {
		t.Fatalf("delivered %d messages", len(msgs))
	}
}

func TestServerGoneIsTransient(t *testing.T) {
	s := runServer(t, 0)
	tg, err := New(Config{URL: s.ClientURL(), Subject: "events", Options: []nats.Option{nats.NoReconnect()}})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	s.Shutdown()
	s.WaitForShutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = tg.Send(ctx, []handoff.Delivery{{ID: "1", Body: []byte("x")}})
	if err == nil || target.IsPermanent(err) {
		t.Fatalf("got %v, want a transient error", err)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"neither conn nor url", Config{Subject: "a"}, "exactly one"},
		{"unreachable url", Config{Subject: "a", URL: "nats://127.0.0.1:1"}, "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want %q", err, tt.want)
			}
		})
	}
}

// TestSubjects runs the table internal/config runs for a nats target's
// subject (internal/names/namestest): New accepts what a configuration
// accepts, and what it accepts can be published to on a real server; the
// rest is refused with the same reason.
func TestSubjects(t *testing.T) {
	s := runServer(t, 0)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, c := range namestest.Subjects {
		t.Run(c.Name, func(t *testing.T) {
			tg, err := New(Config{Conn: nc, Subject: c.In})
			if c.Err != "" {
				if want := "nats target: " + c.Err; err == nil || err.Error() != want {
					t.Fatalf("%q:\n got %v\nwant %s", c.In, err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("%q: %v", c.In, err)
			}
			defer tg.Close()
			sub, err := nc.SubscribeSync(c.In)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			if err := tg.Send(context.Background(), []handoff.Delivery{{ID: "1", Body: []byte("x")}}); err != nil {
				t.Fatal(err)
			}
			if _, err := sub.NextMsg(10 * time.Second); err != nil {
				t.Fatalf("nothing arrived on %q: %v", c.In, err)
			}
		})
	}
}
