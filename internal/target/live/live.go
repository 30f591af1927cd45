// Package live is the live target: the last stage of the data path for
// events watched as they happen. It publishes each matched event — with the
// captured frame beside it when asked, for hex dumps and pcap export in the
// browser — to a live channel; internal/live fans the channel out over NATS
// to every wirebridge's WebSocket subscribers.
//
//	deliver ──Send(batch)──► target live ──► live.Hub ──► NATS wirebridge.live.<channel> ──► /ws subscribers
//
// Delivery is best effort (direct): publishing never waits for a subscriber.
package live

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/wirebridge/wirebridge/internal/handoff"
	wlive "github.com/wirebridge/wirebridge/internal/live"
	"github.com/wirebridge/wirebridge/internal/target"
)

// Publisher is where items go (*live.Hub).
type Publisher interface {
	PublishEncoded(channel string, body []byte, n int) error
}

// MaxMessage bounds one published message; a batch is split to stay under
// it, and a single item larger than it is a permanent failure.
const MaxMessage = 4 << 20

// Config configures the target.
type Config struct {
	Hub     Publisher
	Channel string // a channel path such as /packets/all
	// Frames adds each delivery's captured frame to the published item.
	Frames bool
}

// Target publishes deliveries to a live channel.
type Target struct {
	cfg    Config
	mu     sync.RWMutex
	closed bool
}

// New checks the configuration and returns the target.
func New(cfg Config) (*Target, error) {
	if cfg.Hub == nil {
		return nil, errors.New("live target: no hub")
	}
	if err := wlive.CheckChannel(cfg.Channel); err != nil {
		return nil, fmt.Errorf("live target: %w", err)
	}
	return &Target{cfg: cfg}, nil
}

// Send publishes the batch, in order.
func (t *Target) Send(ctx context.Context, batch []handoff.Delivery) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return target.Closed("live")
	}
	if err := ctx.Err(); err != nil {
		return target.Canceled("live", ctx)
	}
	var (
		body   []byte
		n      int
		failed map[int]error
		line   []byte
		ev     []byte
	)
	flush := func() error {
		if n == 0 {
			return nil
		}
		err := t.cfg.Hub.PublishEncoded(t.cfg.Channel, body, n)
		body, n = body[:0], 0
		return err
	}
	for i := range batch {
		d := &batch[i]
		ev = target.AppendDeliveryValue(ev[:0], d)
		it := wlive.Item{Event: ev}
		if t.cfg.Frames && d.Frame != nil {
			it.Frame = d.Frame
			it.LinkType = int(d.Capture.LinkType)
			it.OrigLen = d.Capture.Length
			it.Time = d.Capture.Timestamp
		}
		line = wlive.AppendItem(line[:0], &it)
		if len(line) > MaxMessage {
			if failed == nil {
				failed = map[int]error{}
			}
			failed[i] = target.Permanentf("live target: event of %d bytes is larger than %d", len(line), MaxMessage)
			continue
		}
		if len(body)+1+len(line) > MaxMessage {
			if err := flush(); err != nil {
				return fmt.Errorf("live target: %w", err)
			}
		}
		if n > 0 {
			body = append(body, '\n')
		}
		body = append(body, line...)
		n++
	}
	if err := flush(); err != nil {
		return fmt.Errorf("live target: %w", err)
	}
	if failed != nil {
		return &handoff.BatchError{Failed: failed}
	}
	return nil
}

// Close stops the target; the hub is the caller's to close.
func (t *Target) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	return nil
}
