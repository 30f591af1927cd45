package deliver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/handoff"
)

// DLQ reads and replays the dead-letter stream (`wirebridge dlq list|replay TARGET`).
type DLQ struct{ b *bus.Bus }

// NewDLQ returns the dead-letter tools on b.
func NewDLQ(b *bus.Bus) *DLQ { return &DLQ{b: b} }

// Entry is one dead letter.
type Entry struct {
	Seq      uint64           // sequence in WIREBRIDGE_DLQ
	Delivery handoff.Delivery // as stored (zero with only Target set when it could not be decoded)
	Error    string           // the last error
	Reason   string           // permanent, max_attempts, max_age or decode
	Attempts int              // Send attempts made
	Subject  string           // the delivery subject it came from
	FailedAt time.Time        // when it was dead-lettered
	Stored   time.Time        // when the DLQ stored it
}

// List returns up to limit (<= 0: all) dead letters of target, oldest first.
func (q *DLQ) List(ctx context.Context, target string, limit int) ([]Entry, error) {
	if err := ValidName(target); err != nil {
		return nil, err
	}
	var out []Entry
	err := q.each(ctx, target, 0, func(m *jetstream.RawStreamMsg) bool {
		out = append(out, entryOf(target, m))
		return limit <= 0 || len(out) < limit
	})
	return out, err
}

// each calls fn for target's dead letters in sequence order, up to seq last
// (0: no bound), until fn returns false.
func (q *DLQ) each(ctx context.Context, target string, last uint64, fn func(*jetstream.RawStreamMsg) bool) error {
	subj := bus.DLQSubject(target)
	for seq := uint64(1); last == 0 || seq <= last; {
		m, err := q.b.DLQ().GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("deliver: dlq %s: read after seq %d: %w", target, seq, err)
		}
		if last != 0 && m.Sequence > last {
			return nil
		}
		if !fn(m) {
			return nil
		}
		seq = m.Sequence + 1
	}
	return nil
}

func entryOf(target string, m *jetstream.RawStreamMsg) Entry {
	e := Entry{Seq: m.Sequence, Stored: m.Time}
	if d, err := decodeEnvelope(m.Data); err == nil {
		e.Delivery = d
	}
	e.Delivery.Target = target
	e.Error = m.Header.Get(HeaderError)
	e.Reason = m.Header.Get(HeaderReason)
	e.Attempts, _ = strconv.Atoi(m.Header.Get(HeaderAttempts))
	e.Delivery.Attempt = e.Attempts
	e.Subject = m.Header.Get(HeaderSubject)
	e.FailedAt, _ = time.Parse(time.RFC3339Nano, m.Header.Get(HeaderFailedAt))
	return e
}

// Replay moves target's dead letters (those present when it starts) back
// into the delivery stream, where the target's worker picks them up with a
// fresh attempt count and acceptance time. Each entry is published, then
// deleted from the dead-letter stream; a crash in between replays it twice
// at worst. It returns how many entries were moved.
func (q *DLQ) Replay(ctx context.Context, target string) (int, error) {
	if err := ValidName(target); err != nil {
		return 0, err
	}
	info, err := q.b.DLQ().Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("deliver: dlq %s: %w", target, err)
	}
	last := info.State.LastSeq
	if last == 0 {
		return 0, nil
	}
	js := q.b.JetStream()
	moved := 0
	var opErr error
	err = q.each(ctx, target, last, func(m *jetstream.RawStreamMsg) bool {
		data := m.Data
		if d, err := decodeEnvelope(m.Data); err == nil {
			d.Accepted = time.Now()
			data = appendEnvelope(make([]byte, 0, envelopeSize(&d)), &d)
		}
		msg := &nats.Msg{Subject: bus.DeliverySubject(target), Data: data}
		ack, err := js.PublishMsg(ctx, msg,
			jetstream.WithMsgID("replay/"+target+"/"+strconv.FormatUint(m.Sequence, 10)))
		if err == nil && !ack.Duplicate {
			// The target's worker counts it in its queue depth.
			replayedDepth(q.b, target, ack.Sequence, storedCount(data))
		}
		if err != nil {
			opErr = fmt.Errorf("deliver: dlq %s: replay seq %d: %w", target, m.Sequence, err)
			return false
		}
		if err := q.b.DLQ().DeleteMsg(ctx, m.Sequence); err != nil {
			opErr = fmt.Errorf("deliver: dlq %s: delete seq %d after replay: %w", target, m.Sequence, err)
			return false
		}
		moved++
		return true
	})
	if err == nil {
		err = opErr
	}
	return moved, err
}
