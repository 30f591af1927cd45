package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

// keep is how much of a conformance delivery's body its segment carries:
// with the HTTP head or the length prefix it fits targettest.MaxSegment.
const keep = 60000

func kept(body []byte) []byte { return body[:min(len(body), keep)] }

// httpPayload is a conformance delivery as the client side of an HTTP
// connection: one POST whose body is the delivery's (kept) body.
func httpPayload(seq int, body []byte) []byte {
	b := kept(body)
	head := "POST /conformance/" + strconv.Itoa(seq) + " HTTP/1.1\r\nHost: conformance\r\nContent-Length: " +
		strconv.Itoa(len(b)) + "\r\n\r\n"
	return append([]byte(head), b...)
}

// tcpPayload is a conformance delivery as bytes of a raw TCP stream: its
// (kept) body after a 4-byte big-endian length, so the shadow can cut the
// stream back into entries.
func tcpPayload(_ int, body []byte) []byte {
	b := kept(body)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// entrySink collects what a shadow received, in arrival order.
type entrySink struct {
	mu      sync.Mutex
	entries [][]byte
	err     error
}

func (s *entrySink) add(e ...[]byte) {
	s.mu.Lock()
	s.entries = append(s.entries, e...)
	s.mu.Unlock()
}

func (s *entrySink) fail(err error) {
	s.mu.Lock()
	s.err = errors.Join(s.err, err)
	s.mu.Unlock()
}

func (s *entrySink) delivered() ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.entries...), s.err
}

// newHTTPEntryShadow is an HTTP shadow on 127.0.0.1 recording each request's
// body as an entry before it answers (the target's Close waits for the
// answers, so every entry is recorded when Close returns).
func newHTTPEntryShadow(t *testing.T) (*entrySink, string) {
	s := &entrySink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			s.fail(fmt.Errorf("reading the body of %s: %w", r.RequestURI, err))
		}
		s.add(b)
	}))
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// newTCPEntryShadow is a TCP shadow on 127.0.0.1 reading each connection to
// its end, cutting it into length-prefixed entries, then closing it (the
// target's Close waits for that close, so every entry is recorded when Close
// returns).
func newTCPEntryShadow(t *testing.T) (*entrySink, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &entrySink{}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				stream, err := io.ReadAll(c)
				if err != nil {
					s.fail(fmt.Errorf("reading a connection: %w", err))
					return
				}
				var es [][]byte
				for len(stream) > 0 {
					if len(stream) < 4 || len(stream)-4 < int(binary.BigEndian.Uint32(stream)) {
						s.fail(fmt.Errorf("a connection ends inside an entry: %d bytes left", len(stream)))
						return
					}
					n := int(binary.BigEndian.Uint32(stream))
					es = append(es, stream[4:4+n])
					stream = stream[4+n:]
				}
				s.add(es...)
			})
		}
	})
	return s, ln.Addr().String()
}

// TestConformance: the replay target passes the conformance suite every
// target passes, in both protocols. The suite carries each delivery as one
// segment of a TCP connection per sender (targettest.Instance.Stream); the
// shadow is a real server on 127.0.0.1 and an entry is what it received for
// one delivery: the body of one replayed request (http), or one
// length-prefixed record of the forwarded byte stream (tcp). A stalled
// shadow never fails Send (shadow failures are counted, not returned: Send
// does not ask deliver to retry), so Stall stays nil.
func TestConformance(t *testing.T) {
	tests := []struct {
		name    string
		payload func(seq int, body []byte) []byte
		start   func(t *testing.T) (sink *entrySink, cfg Config)
	}{
		{"http", httpPayload, func(t *testing.T) (*entrySink, Config) {
			s, url := newHTTPEntryShadow(t)
			return s, Config{Name: "conformance", Protocol: ProtocolHTTP, URL: url}
		}},
		{"tcp", tcpPayload, func(t *testing.T) (*entrySink, Config) {
			s, addr := newTCPEntryShadow(t)
			return s, Config{Name: "conformance", Protocol: ProtocolTCP, Address: addr}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			targettest.Run(t, func(t *testing.T) targettest.Instance {
				sink, cfg := tc.start(t)
				// Close waits up to Timeout for the shadow's answers: only a
				// hang is meant to hit it, not a busy machine.
				cfg.Timeout = targettest.Long
				tg, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { tg.Close() })
				return targettest.Instance{
					Target:    tg,
					Delivered: sink.delivered,
					Expect:    func(d handoff.Delivery) []byte { return kept(d.Body) },
					Stream:    tc.payload,
				}
			})
		})
	}
}
