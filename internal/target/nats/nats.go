// Package nats is the NATS delivery target: it publishes each delivery's
// Body as one message on a subject, on a connection it is given (wirebridge's
// bus, embedded or external) or one it opens itself. It sits at the end of
// the data path (deliver ──► target/nats ──► NATS subject).
//
// Messages carry headers Nats-Msg-Id (the event id: JetStream streams that
// capture the subject de-duplicate retries with it), Wirebridge-Rule and
// Wirebridge-Target. Send publishes the batch, then flushes and waits for the
// server's answer (a PING/PONG round trip), so a nil error means the server
// has processed every message of the batch; it does not mean a subscriber
// received them (core NATS is at-most-once to subscribers).
//
// Errors: a message over the server's max_payload fails permanently (an
// *handoff.BatchError naming its index); a closed or broken connection and
// a flush timeout are transient. Send is safe for concurrent use.
package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/names"
	"github.com/wirebridge/wirebridge/internal/target"
)

// Config configures a NATS target. Exactly one of Conn and URL is set.
type Config struct {
	Subject string     // subject to publish on (required, no wildcards)
	Conn    *nats.Conn // an existing connection; Close leaves it open
	URL     string     // or a server URL (comma-separated list) to connect to
	Name    string     // client name for a connection opened from URL
	// Timeout bounds the flush round trip when ctx has no deadline (default 5s).
	Timeout time.Duration
	// Options are extra options for a connection opened from URL
	// (credentials, TLS).
	Options []nats.Option
}

// Target publishes to a NATS subject.
type Target struct {
	cfg  Config
	nc   *nats.Conn
	owns bool

	mu     sync.RWMutex
	closed bool
}

// New validates cfg, connecting when URL is given.
func New(cfg Config) (*Target, error) {
	if err := names.Subject(cfg.Subject); err != nil { // the rule internal/config checks too
		return nil, fmt.Errorf("nats target: %w", err)
	}
	if (cfg.Conn == nil) == (cfg.URL == "") {
		return nil, errors.New("nats target: set exactly one of conn and url")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	t := &Target{cfg: cfg, nc: cfg.Conn}
	if cfg.URL != "" {
		name := cfg.Name
		if name == "" {
			name = "wirebridge-target"
		}
		opts := append([]nats.Option{nats.Name(name), nats.MaxReconnects(-1)}, cfg.Options...)
		nc, err := nats.Connect(cfg.URL, opts...)
		if err != nil {
			return nil, fmt.Errorf("nats target: connect %s: %w", cfg.URL, err)
		}
		t.nc, t.owns = nc, true
	}
	return t, nil
}

// Send publishes the batch and waits until the server has processed it.
func (t *Target) Send(ctx context.Context, batch []handoff.Delivery) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return target.Closed("nats")
	}
	if ctx.Err() != nil {
		return target.Canceled("nats", ctx)
	}
	if len(batch) == 0 {
		return nil
	}
	var failed map[int]error
	sent := 0
	for i := range batch {
		d := &batch[i]
		m := &nats.Msg{Subject: t.cfg.Subject, Data: d.Body, Header: nats.Header{}}
		if d.ID != "" {
			m.Header.Set(nats.MsgIdHdr, d.ID)
		}
		if d.Rule != "" {
			m.Header.Set("Wirebridge-Rule", d.Rule)
		}
		if d.Target != "" {
			m.Header.Set("Wirebridge-Target", d.Target)
		}
		err := t.nc.PublishMsg(m)
		if err == nil {
			sent++
			continue
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			if failed == nil {
				failed = map[int]error{}
			}
			failed[i] = target.Permanent(fmt.Errorf("nats target: publish %s: %w", d.ID, err))
			continue
		}
		return fmt.Errorf("nats target: publish: %w", err) // connection trouble: transient, whole batch
	}
	if sent > 0 {
		fctx := ctx
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			fctx, cancel = context.WithTimeout(ctx, t.cfg.Timeout)
			defer cancel()
		}
		if err := t.nc.FlushWithContext(fctx); err != nil {
			if ctx.Err() != nil {
				return target.Canceled("nats", ctx)
			}
			return fmt.Errorf("nats target: flush: %w", err)
		}
	}
	if failed != nil {
		return &handoff.BatchError{Failed: failed}
	}
	return nil
}

// Close stops the target; a connection it opened is drained and closed.
// It is idempotent.
func (t *Target) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.owns {
		t.nc.Close() // Send has flushed what it published
	}
	return nil
}
