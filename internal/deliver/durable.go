package deliver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/event"
)

// Dead-letter headers.
const (
	HeaderError    = "Wirebridge-Error"
	HeaderReason   = "Wirebridge-Reason"
	HeaderAttempts = "Wirebridge-Attempts"
	HeaderSubject  = "Wirebridge-Subject"
	HeaderFailedAt = "Wirebridge-Failed-At"
	HeaderEventID  = "Wirebridge-Event-Id"
	HeaderRule     = "Wirebridge-Rule"
)

// ConsumerName is the durable consumer that delivers target's events.
func ConsumerName(target string) string { return "wirebridge-deliver-" + target }

type durableWorker struct {
	cfg     Config
	t       Target
	m       *meter
	b       *bus.Bus
	js      jetstream.JetStream // own context: its async-publish window is this target's
	cons    jetstream.Consumer
	subject string

	mu     sync.RWMutex // Enqueue holds it shared; stopIntake exclusively
	closed bool
}

func newDurable(ctx context.Context, cfg Config, t Target, b *bus.Bus, m *meter) (*durableWorker, error) {
	js, err := jetstream.New(b.Conn(), jetstream.WithPublishAsyncMaxPending(cfg.MaxInFlight),
		jetstream.WithPublishAsyncTimeout(cfg.SendTimeout))
	if err != nil {
		return nil, fmt.Errorf("deliver: target %s: jetstream: %w", cfg.Target, err)
	}
	subject := bus.DeliverySubject(cfg.Target)
	cons, err := js.CreateOrUpdateConsumer(ctx, bus.DeliveryStream, jetstream.ConsumerConfig{
		Durable:       ConsumerName(cfg.Target),
		Description:   "wirebridge: deliveries to target " + cfg.Target,
		FilterSubject: subject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1, // deliver counts attempts itself and dead-letters
		MaxAckPending: cfg.MaxAckPending,
	})
	if err != nil {
		return nil, fmt.Errorf("deliver: target %s: consumer: %w", cfg.Target, err)
	}
	return &durableWorker{cfg: cfg, t: t, m: m, b: b, js: js, cons: cons, subject: subject}, nil
}

func (w *durableWorker) Target() string { return w.cfg.Target }
func (w *durableWorker) Mode() Mode     { return Durable }
func (w *durableWorker) Stats() Stats   { return w.m.stats() }

// Enqueue publishes every delivery asynchronously (at most MaxInFlight
// unacknowledged at a time) and waits for the server's acknowledgements.
// Deliveries whose publish failed are counted as dropped (refused).
func (w *durableWorker) Enqueue(ctx context.Context, ds []event.Delivery) (int, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.m.addDropped(ReasonShutdown, len(ds))
		return 0, ErrClosed
	}
	now := time.Now()
	futures := make([]jetstream.PubAckFuture, 0, len(ds))
	var firstErr error
	for i := range ds {
		d := ds[i]
		if d.Accepted.IsZero() {
			d.Accepted = now
		}
		msg := &nats.Msg{Subject: w.subject, Data: appendEnvelope(make([]byte, 0, envelopeSize(&d)), &d)}
		f, err := w.js.PublishMsgAsync(msg, jetstream.WithMsgID(d.ID+"/"+w.cfg.Target),
			jetstream.WithStallWait(w.cfg.SendTimeout))
		if err != nil {
			firstErr = fmt.Errorf("deliver: target %s: publish: %w", w.cfg.Target, err)
			w.m.addDropped(ReasonRefused, len(ds)-i)
			break
		}
		futures = append(futures, f)
	}
	accepted := 0
	for i, f := range futures {
		select {
		case <-f.Ok():
			accepted++
		case err := <-f.Err():
			w.m.addDropped(ReasonRefused, 1)
			if firstErr == nil {
				firstErr = fmt.Errorf("deliver: target %s: publish: %w", w.cfg.Target, err)
			}
		case <-ctx.Done():
			// Not known to be stored: not accepted, though it may yet be delivered.
			w.m.addDropped(ReasonCanceled, len(futures)-i)
			w.m.addEnqueued(accepted)
			return accepted, fmt.Errorf("deliver: target %s: enqueue: %w", w.cfg.Target, ctx.Err())
		}
	}
	w.m.addEnqueued(accepted)
	return accepted, firstErr
}

func (w *durableWorker) stopIntake() {
	w.mu.Lock() // waits for Enqueue calls in progress
	w.closed = true
	w.mu.Unlock()
}

// Run consumes the target's stored deliveries until ctx ends. The batch in
// progress then finishes (bounded by ShutdownTimeout); messages fetched but
// not yet sent are released at once for the next run.
func (w *durableWorker) Run(ctx context.Context) error {
	defer w.t.Close()
	defer w.stopIntake() // also done by the AfterFunc below, which may not have run yet
	flush, cancelFlush := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelFlush()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(w.cfg.ShutdownTimeout, cancelFlush)
		context.AfterFunc(flush, func() { t.Stop() })
		w.stopIntake()
	})
	defer stop()

	it, err := w.cons.Messages(jetstream.PullMaxMessages(max(w.cfg.MaxEvents, 2)))
	if err != nil {
		return fmt.Errorf("deliver: target %s: consume: %w", w.cfg.Target, err)
	}
	defer it.Stop()
	go w.trackDepth(ctx)

	msgs := make([]jetstream.Msg, 0, w.cfg.MaxEvents)
	var carry jetstream.Msg
	var runErr error
	for ctx.Err() == nil {
		var first jetstream.Msg
		if carry != nil {
			first, carry = carry, nil
		} else {
			first, err = it.Next(jetstream.NextContext(ctx))
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					runErr = fmt.Errorf("deliver: target %s: consume: %w", w.cfg.Target, err)
					break
				}
				// A status hiccup (missed heartbeat, leader change): the
				// iterator recovers; do not spin while it does.
				sleep(ctx, 100*time.Millisecond)
				continue
			}
		}
		msgs = append(msgs[:0], first)
		size := len(first.Data())
		for len(msgs) < w.cfg.MaxEvents {
			m, err := it.Next(jetstream.NextMaxWait(w.cfg.Linger))
			if err != nil {
				break
			}
			if size+len(m.Data()) > w.cfg.MaxBytes {
				carry = m
				break
			}
			msgs = append(msgs, m)
			size += len(m.Data())
		}
		w.process(flush, msgs)
	}
	// Release what was fetched but not sent so that the next run (or another
	// replica) gets it without waiting for AckWait.
	if carry != nil {
		_ = carry.Nak()
	}
	it.Drain()
	for {
		m, err := it.Next(jetstream.NextMaxWait(50 * time.Millisecond))
		if err != nil {
			break
		}
		_ = m.Nak()
	}
	return runErr
}

// depthInterval is how often the queue-depth gauge is refreshed from the server.
const depthInterval = 2 * time.Second

// trackDepth keeps the queue-depth gauge at the number of stored deliveries
// not yet delivered: pending in the consumer plus fetched and unacked
// (including those waiting for a retry).
func (w *durableWorker) trackDepth(ctx context.Context) {
	t := time.NewTicker(depthInterval)
	defer t.Stop()
	for {
		ictx, cancel := context.WithTimeout(ctx, depthInterval)
		info, err := w.cons.Info(ictx)
		cancel()
		if err == nil {
			w.m.setDepth(int64(info.NumPending) + int64(info.NumAckPending))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// process sends one fetched batch and settles every message in it.
func (w *durableWorker) process(ctx context.Context, msgs []jetstream.Msg) {
	ds := make([]event.Delivery, 0, len(msgs))
	keep := make([]jetstream.Msg, 0, len(msgs))
	attempts := make([]int, 0, len(msgs))
	var pending uint64
	for _, m := range msgs {
		meta, err := m.Metadata()
		attempt := 1
		if err == nil {
			attempt = int(meta.NumDelivered)
			pending = meta.NumPending
		}
		d, err := decodeEnvelope(m.Data())
		if err != nil {
			w.m.addFailed(1)
			w.deadLetter(ctx, m, event.Delivery{}, ReasonDecode, fmt.Errorf("decode stored delivery: %w", err), attempt)
			continue
		}
		d.Target = w.cfg.Target
		d.Attempt = attempt
		ds = append(ds, d)
		keep = append(keep, m)
		attempts = append(attempts, attempt)
	}
	w.m.setDepth(max(w.m.depth.Load(), int64(pending)+int64(len(msgs))))
	if len(ds) == 0 {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	err := w.t.Send(sctx, ds)
	cancel()
	out := make([]outcome, len(ds))
	classify(err, out)
	now := time.Now()
	delivered, failed, retried := 0, 0, 0
	for i, m := range keep {
		o := out[i]
		if o.err == nil {
			_ = m.Ack()
			delivered++
			w.m.observeLatency(ds[i].Accepted, now)
			continue
		}
		failed++
		delay := w.cfg.retryDelay(o, attempts[i])
		if reason, stop := w.cfg.giveUp(o, attempts[i], ds[i].Accepted, delay, now); stop {
			w.deadLetter(ctx, m, ds[i], reason, o.err, attempts[i])
			continue
		}
		_ = m.NakWithDelay(delay)
		retried++
	}
	w.m.addDelivered(delivered)
	w.m.addFailed(failed)
	w.m.addRetried(retried)
}

// deadLetter stores m in the dead-letter stream with the reason and last
// error, then acks it. If the dead-letter stream refuses it, m is retried
// later instead: nothing accepted is discarded.
func (w *durableWorker) deadLetter(ctx context.Context, m jetstream.Msg, d event.Delivery, reason string, lastErr error, attempts int) {
	dm := nats.NewMsg(bus.DLQSubject(w.cfg.Target))
	dm.Data = m.Data()
	dm.Header.Set(HeaderError, headerValue(lastErr.Error()))
	dm.Header.Set(HeaderReason, reason)
	dm.Header.Set(HeaderAttempts, strconv.Itoa(attempts))
	dm.Header.Set(HeaderSubject, m.Subject())
	dm.Header.Set(HeaderFailedAt, time.Now().UTC().Format(time.RFC3339Nano))
	if d.ID != "" {
		dm.Header.Set(HeaderEventID, headerValue(d.ID))
	}
	if d.Rule != "" {
		dm.Header.Set(HeaderRule, headerValue(d.Rule))
	}
	var opts []jetstream.PublishOpt
	if meta, err := m.Metadata(); err == nil {
		// Idempotent if the ack below is lost and the message comes back.
		opts = append(opts, jetstream.WithMsgID("dlq/"+w.cfg.Target+"/"+strconv.FormatUint(meta.Sequence.Stream, 10)))
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.SendTimeout)
	defer cancel()
	if _, err := w.js.PublishMsg(pctx, dm, opts...); err != nil {
		_ = m.NakWithDelay(w.cfg.BackoffMax)
		w.m.addRetried(1)
		return
	}
	_ = m.Ack()
	w.m.addDeadLettered(1)
}

// headerValue makes s safe as a NATS header value: one line, at most 1 KiB.
func headerValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 1024 {
		s = s[:1024]
	}
	return s
}
