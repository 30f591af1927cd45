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
	every   time.Duration // how often held messages are reported in progress (AckWait/4)

	mu     sync.RWMutex // Enqueue holds it shared; stopIntake exclusively
	closed bool

	store storeQueue // Enqueue -> [bounded buffer] -> publisher -> JetStream (publish.go)
}

// newDurable builds a durable worker that talks to the server over nc (the
// bus's connection, except in tests that simulate a crash of one process).
func newDurable(ctx context.Context, cfg Config, t Target, b *bus.Bus, nc *nats.Conn, m *meter) (*durableWorker, error) {
	w := &durableWorker{cfg: cfg, t: t, m: m, b: b, every: cfg.AckWait / 4}
	w.store.init(cfg.QueueSize)
	// The async-publish window (MaxInFlight) and the ack and error handlers
	// are this worker's alone: each target has its own JetStream context.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(cfg.MaxInFlight),
		jetstream.WithPublishAsyncTimeout(cfg.SendTimeout),
		jetstream.WithPublishAsyncAckHandler(w.stored),
		jetstream.WithPublishAsyncErrHandler(w.refused))
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
	w.js, w.cons, w.subject = js, cons, subject
	return w, nil
}

func (w *durableWorker) Target() string { return w.cfg.Target }
func (w *durableWorker) Mode() Mode     { return Durable }
func (w *durableWorker) Stats() Stats   { return w.m.stats() }

func (w *durableWorker) stopIntake() {
	w.mu.Lock() // waits for Enqueue calls in progress
	w.closed = true
	w.mu.Unlock()
}

// Run consumes the target's stored deliveries until ctx ends. The batch in
// progress then finishes (bounded by ShutdownTimeout); messages fetched but
// not yet sent are released at once for the next run.
//
// Messages are pulled only when a batch is to be sent (no prefetch), so that
// every message the worker holds is one it keeps alive (see keepAlive): a
// slow Send is not redelivered behind its back, and nothing sits unreported
// in a client buffer.
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
	go w.trackDepth(ctx)

	held := make([]jetstream.Msg, 0, w.cfg.MaxEvents)
	var runErr error
	for ctx.Err() == nil {
		var err error
		held, err = w.fill(ctx, held)
		if err != nil && len(held) == 0 {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, nats.ErrConnectionClosed) {
				runErr = fmt.Errorf("deliver: target %s: consume: %w", w.cfg.Target, err)
				break
			}
			// A status hiccup (missed heartbeat, leader change, no
			// responders while the server restarts): retry, without spinning.
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		if len(held) == 0 {
			continue
		}
		n, size := 1, len(held[0].Data())
		for n < len(held) && size+len(held[n].Data()) <= w.cfg.MaxBytes {
			size += len(held[n].Data())
			n++
		}
		w.process(flush, held[:n], held[n:])
		held = held[:copy(held, held[n:])] // the rest leads the next batch
	}
	// Release what was fetched but not sent so that the next run (or another
	// replica) gets it without waiting for AckWait.
	for _, m := range held {
		_ = m.Nak()
	}
	// Intake is stopped: store what Enqueue took (bounded by ShutdownTimeout)
	// before the caller closes the bus. What is not stored by then is counted
	// dropped (shutdown) when its publish fails or times out.
	w.stopIntake()
	if err := w.Flush(flush); err != nil && flush.Err() != nil {
		w.store.abandon(w.m)
	}
	return runErr
}

// idleWait bounds one pull request while nothing is stored for the target;
// the worker then asks again.
const idleWait = 5 * time.Second

// fill tops held up to MaxEvents messages: what is stored already, or, when
// held is empty and nothing is, the first message to arrive (until ctx
// ends); then, if the batch is not full, whatever arrives within Linger.
func (w *durableWorker) fill(ctx context.Context, held []jetstream.Msg) ([]jetstream.Msg, error) {
	if len(held) == 0 {
		b, err := w.cons.FetchNoWait(w.cfg.MaxEvents)
		if held, err = collect(held, b, err); err != nil {
			return held, err
		}
		for len(held) == 0 {
			if ctx.Err() != nil {
				return held, nil
			}
			ictx, cancel := context.WithTimeout(ctx, idleWait)
			b, err = w.cons.Fetch(1, jetstream.FetchContext(ictx))
			held, err = collect(held, b, err)
			cancel()
			if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
				return held, err
			}
		}
	}
	if want := w.cfg.MaxEvents - len(held); want > 0 {
		// Capped: what arrives is not kept alive before the batch is sent.
		b, err := w.cons.Fetch(want, jetstream.FetchMaxWait(min(w.cfg.Linger, w.cfg.AckWait/4)))
		return collect(held, b, err)
	}
	return held, nil
}

// collect appends a fetch's messages to held as they arrive.
func collect(held []jetstream.Msg, b jetstream.MessageBatch, err error) ([]jetstream.Msg, error) {
	if err != nil {
		return held, err
	}
	for m := range b.Messages() {
		held = append(held, m)
	}
	return held, b.Error()
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

// process sends one fetched batch and settles every message in it. next
// holds messages fetched for the following batch; both are kept alive
// until process returns.
func (w *durableWorker) process(ctx context.Context, msgs, next []jetstream.Msg) {
	k := startKeepAlive(w.every, msgs, next)
	defer k.stop()
	ds := make([]event.Delivery, 0, len(msgs))
	keep := make([]int, 0, len(msgs)) // index in msgs of ds[i]
	attempts := make([]int, 0, len(msgs))
	var pending uint64
	for i, m := range msgs {
		meta, err := m.Metadata()
		attempt := 1
		if err == nil {
			attempt = int(meta.NumDelivered)
			pending = meta.NumPending
		}
		d, err := decodeEnvelope(m.Data())
		if err != nil {
			w.m.addFailed(1)
			w.deadLetter(ctx, k, i, event.Delivery{}, ReasonDecode, fmt.Errorf("decode stored delivery: %w", err), attempt)
			continue
		}
		d.Target = w.cfg.Target
		d.Attempt = attempt
		ds = append(ds, d)
		keep = append(keep, i)
		attempts = append(attempts, attempt)
	}
	w.m.setDepth(max(w.m.depth.Load(), int64(pending)+int64(len(msgs)+len(next))))
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
	for i, mi := range keep {
		o := out[i]
		if o.err == nil {
			k.settle(mi, jetstream.Msg.Ack)
			delivered++
			w.m.observeLatency(ds[i].Accepted, now)
			continue
		}
		failed++
		delay := w.cfg.retryDelay(o, attempts[i])
		if reason, stop := w.cfg.giveUp(o, attempts[i], ds[i].Accepted, delay, now); stop {
			w.deadLetter(ctx, k, mi, ds[i], reason, o.err, attempts[i])
			continue
		}
		k.settle(mi, func(m jetstream.Msg) error { return m.NakWithDelay(delay) })
		retried++
	}
	w.m.addDelivered(delivered)
	w.m.addFailed(failed)
	w.m.addRetried(retried)
}

// deadLetter stores k's message i in the dead-letter stream with the reason
// and last error, then acks it. If the dead-letter stream refuses it, the
// message is retried later instead: nothing accepted is discarded.
func (w *durableWorker) deadLetter(ctx context.Context, k *keepAlive, i int, d event.Delivery, reason string, lastErr error, attempts int) {
	m := k.msgs[i]
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
		k.settle(i, func(m jetstream.Msg) error { return m.NakWithDelay(w.cfg.BackoffMax) })
		w.m.addRetried(1)
		return
	}
	k.settle(i, jetstream.Msg.Ack)
	w.m.addDeadLettered(1)
}

// keepAlive reports held messages in progress to the server every interval
// (resetting their AckWait) until each is settled or stop is called. A
// message is settled under the same lock, so no progress report can follow
// its ack or nak on the wire (a late one would turn a NakWithDelay's delay
// into a full AckWait).
type keepAlive struct {
	mu    sync.Mutex
	msgs  []jetstream.Msg
	done  []bool // settled
	quit  chan struct{}
	ended chan struct{}
}

func startKeepAlive(every time.Duration, groups ...[]jetstream.Msg) *keepAlive {
	k := &keepAlive{quit: make(chan struct{}), ended: make(chan struct{})}
	for _, g := range groups {
		k.msgs = append(k.msgs, g...)
	}
	k.done = make([]bool, len(k.msgs))
	go k.run(max(every, time.Millisecond))
	return k
}

func (k *keepAlive) run(every time.Duration) {
	defer close(k.ended)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-k.quit:
			return
		case <-t.C:
			k.mu.Lock()
			for i, m := range k.msgs {
				if !k.done[i] {
					_ = m.InProgress()
				}
			}
			k.mu.Unlock()
		}
	}
}

// settle acks or naks message i with op; it is no longer kept alive.
func (k *keepAlive) settle(i int, op func(jetstream.Msg) error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.done[i] = true
	_ = op(k.msgs[i])
}

// stop ends the reports and waits until none is being sent.
func (k *keepAlive) stop() {
	close(k.quit)
	<-k.ended
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
