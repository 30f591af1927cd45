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
	"github.com/wirebridge/wirebridge/internal/handoff"
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
	// HeaderNotBefore (RFC 3339) marks a message stored again for a retry
	// of some of its deliveries: it is not sent before that time, and
	// Wirebridge-Attempts counts the attempts made before it was stored.
	HeaderNotBefore = "Wirebridge-Not-Before"
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

	store  storeQueue // Enqueue -> [bounded buffer] -> publisher -> JetStream (publish.go)
	perMsg perMsgEstimate
	exact  bool // the queue-depth gauge is counted exactly (depth.go)
	depth  depthCount
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
	w.initDepth()
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
	if !w.exact {
		go w.trackDepth(ctx)
	}

	held := make([]jetstream.Msg, 0, w.cfg.MaxEvents)
	var runErr error
	for ctx.Err() == nil {
		if errors.Is(w.b.StoreErr(), bus.ErrStoreWriteFailed) {
			// The stream cannot remove what is acked (the message would
			// stay stored, never delivered again): deliver once the bus
			// has reopened the store.
			sleep(ctx, storeWait)
			continue
		}
		w.maybeCount(ctx)
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
		// A batch: whole messages, up to MaxEvents deliveries and MaxBytes
		// (a stored message never holds more than that, except a single
		// larger delivery).
		n, size, count := 1, storedSize(held[0].Data()), storedCount(held[0].Data())
		for n < len(held) && size+storedSize(held[n].Data()) <= w.cfg.MaxBytes &&
			count+storedCount(held[n].Data()) <= w.cfg.MaxEvents {
			size += storedSize(held[n].Data())
			count += storedCount(held[n].Data())
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
	if err := w.flushAtStop(flush); err != nil {
		w.store.abandon(w.m)
	}
	return runErr
}

// storeWait is how often Run looks whether a failed store was reopened.
const storeWait = 250 * time.Millisecond

// idleWait bounds one pull request while nothing is stored for the target;
// the worker then asks again.
const idleWait = 5 * time.Second

// fill tops held up to MaxEvents messages: what is stored already, or, when
// held is empty and nothing is, the first message to arrive (until ctx
// ends); then, if the batch is not full, whatever arrives within Linger.
func (w *durableWorker) fill(ctx context.Context, held []jetstream.Msg) ([]jetstream.Msg, error) {
	if len(held) == 0 {
		b, err := w.cons.FetchNoWait(w.perMsg.messages(w.cfg.MaxEvents))
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
	if want := w.cfg.MaxEvents - countDeliveries(held); want > 0 {
		// Capped: what arrives is not kept alive before the batch is sent.
		b, err := w.cons.Fetch(w.perMsg.messages(want), jetstream.FetchMaxWait(min(w.cfg.Linger, w.cfg.AckWait/4)))
		return collect(held, b, err)
	}
	return held, nil
}

// countDeliveries is how many deliveries msgs hold.
func countDeliveries(msgs []jetstream.Msg) int {
	n := 0
	for _, m := range msgs {
		n += storedCount(m.Data())
	}
	return n
}

// perMsgEstimate follows the mean number of deliveries in the messages this
// worker stored and fetched lately (a moving average over about the last 64).
type perMsgEstimate struct {
	mu   sync.Mutex
	mean float64 // 0: nothing seen yet
}

func (e *perMsgEstimate) observe(n int) {
	e.mu.Lock()
	if e.mean == 0 {
		e.mean = float64(n)
	} else {
		e.mean += (float64(n) - e.mean) / 64
	}
	e.mu.Unlock()
}

func (e *perMsgEstimate) get() float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return max(e.mean, 1)
}

// deliveries estimates how many deliveries msgs stored messages hold.
func (e *perMsgEstimate) deliveries(msgs uint64) int64 {
	return int64(float64(msgs)*e.get() + 0.5)
}

// messages is how many messages to fetch for about n deliveries (at least 1).
func (e *perMsgEstimate) messages(n int) int {
	return max(int(float64(n)/e.get()), 1)
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

// trackDepth keeps the queue-depth gauge, on an external cluster (see
// depth.go), at the number of stored deliveries not yet delivered: pending
// in the consumer plus fetched and unacked (including those waiting for a
// retry). The server counts messages; a message may hold several
// deliveries, so the gauge is messages times the recent mean deliveries
// per message (exact while they all hold the same).
func (w *durableWorker) trackDepth(ctx context.Context) {
	t := time.NewTicker(depthInterval)
	defer t.Stop()
	for {
		ictx, cancel := context.WithTimeout(ctx, depthInterval)
		info, err := w.cons.Info(ictx)
		cancel()
		if err == nil {
			w.m.setDepth(w.perMsg.deliveries(info.NumPending + uint64(info.NumAckPending)))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pendingItem is one delivery of a fetched message, on its way through process.
type pendingItem struct {
	msg   int    // index of its message in process's msgs
	idx   int    // index among that message's deliveries
	raw   []byte // its stored envelope
	d     handoff.Delivery
	bad   error // the envelope did not decode: dead-lettered as it is
	delay time.Duration
	state itemState
}

type itemState uint8

const (
	itemSent  itemState = iota // delivered, or not yet settled
	itemDead                   // dead-lettered
	itemRetry                  // to be sent again after delay
)

// process sends one fetched batch and settles every message in it. next
// holds messages fetched for the following batch; both are kept alive
// until process returns.
//
// A stored message may hold several deliveries (a batch). It is acked once
// each of them is delivered or dead-lettered. When only some are to be
// retried, those are stored again as a new message (headers
// Wirebridge-Attempts and Wirebridge-Not-Before) and the original is acked;
// when all are, the original is nacked with the retry delay.
func (w *durableWorker) process(ctx context.Context, msgs, next []jetstream.Msg) {
	k := startKeepAlive(w.every, msgs, next)
	defer k.stop()
	now := time.Now()
	items := make([]pendingItem, 0, len(msgs))
	attempts := make([]int, len(msgs)) // attempt number of each message's deliveries
	seqs := make([]uint64, len(msgs))  // each message's stream sequence (0: unknown)
	var pending uint64
	for i, m := range msgs {
		delivered := 1
		if meta, err := m.Metadata(); err == nil {
			delivered, pending, seqs[i] = int(meta.NumDelivered), meta.NumPending, meta.Sequence.Stream
		}
		made, notBefore := retryHeaders(m.Headers())
		if !notBefore.IsZero() {
			// A stored-again retry: its first delivery only waits out the delay.
			if delivered == 1 {
				k.settle(i, func(m jetstream.Msg) error { return m.NakWithDelay(max(notBefore.Sub(now), 0)) })
				continue
			}
			delivered--
		}
		attempts[i] = made + delivered
		raws, err := storedItems(m.Data())
		if err != nil {
			w.m.addFailed(1)
			dlqErr := w.deadLetter(ctx, m, seqs[i], -1, m.Data(), handoff.Delivery{}, ReasonDecode,
				fmt.Errorf("decode stored delivery: %w", err), attempts[i])
			w.settleDead(k, i, dlqErr)
			continue
		}
		w.perMsg.observe(len(raws))
		for x, raw := range raws {
			it := pendingItem{msg: i, idx: x, raw: raw}
			if it.d, it.bad = decodeEnvelope(raw); it.bad == nil {
				it.d.Target = w.cfg.Target
				it.d.Attempt = attempts[i]
			}
			items = append(items, it)
		}
	}
	if !w.exact {
		w.m.setDepth(max(w.m.depth.Load(), w.perMsg.deliveries(pending)+int64(len(items))+int64(countDeliveries(next))))
	}

	ds := make([]handoff.Delivery, 0, len(items))
	for _, it := range items {
		if it.bad == nil {
			ds = append(ds, it.d)
		}
	}
	out := make([]outcome, len(ds))
	if len(ds) > 0 {
		sctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
		err := w.t.Send(sctx, ds)
		cancel()
		classify(err, out)
	}
	now = time.Now()
	delivered, failed, retried := 0, 0, 0
	j := 0
	for x := range items {
		it := &items[x]
		if it.bad != nil {
			failed++
			if w.deadLetter(ctx, msgs[it.msg], seqs[it.msg], it.idx, it.raw, handoff.Delivery{}, ReasonDecode,
				fmt.Errorf("decode stored delivery: %w", it.bad), attempts[it.msg]) != nil {
				it.state, it.delay = itemRetry, w.cfg.BackoffMax
			} else {
				it.state = itemDead
			}
			continue
		}
		o := out[j]
		j++
		if o.err == nil {
			delivered++
			w.m.observeLatency(it.d.Accepted, now)
			continue
		}
		failed++
		attempt := attempts[it.msg]
		delay := w.cfg.retryDelay(o, attempt)
		if reason, stop := w.cfg.giveUp(o, attempt, it.d.Accepted, delay, now); stop {
			if w.deadLetter(ctx, msgs[it.msg], seqs[it.msg], it.idx, it.raw, it.d, reason, o.err, attempt) == nil {
				it.state = itemDead
				continue
			}
			delay = w.cfg.BackoffMax // the dead-letter stream refused it: try again later
		}
		it.state, it.delay = itemRetry, delay
	}
	for i := 0; i < len(items); {
		e := i + 1
		for e < len(items) && items[e].msg == items[i].msg {
			e++
		}
		retried += w.settleItems(ctx, k, items[i].msg, items[i:e], attempts[items[i].msg], now)
		i = e
	}
	w.m.addDelivered(delivered)
	w.m.addFailed(failed)
	w.m.addRetried(retried)
}

// settleItems settles message i, whose deliveries are items, and returns how
// many of them are to be retried.
func (w *durableWorker) settleItems(ctx context.Context, k *keepAlive, i int, items []pendingItem, attempt int, now time.Time) int {
	var delay time.Duration
	var again [][]byte
	dead := 0
	for _, it := range items {
		switch it.state {
		case itemRetry:
			again = append(again, it.raw)
			delay = max(delay, it.delay)
		case itemDead:
			dead++
		}
	}
	switch {
	case len(again) == 0:
		k.settle(i, w.ackCounted)
	case len(again) == len(items):
		k.settle(i, func(m jetstream.Msg) error { return m.NakWithDelay(delay) })
	default:
		// Some were delivered or dead-lettered: store the others again, then
		// ack. If that fails, the whole message comes back (duplicates of
		// the delivered ones, never a loss).
		if err := w.storeAgain(ctx, k.msgs[i], again, attempt, now.Add(delay)); err != nil {
			k.settle(i, func(m jetstream.Msg) error { return m.NakWithDelay(delay) })
			return len(items) - dead
		}
		k.settle(i, w.ackCounted)
	}
	return len(again)
}

// storeAgain stores the envelopes in again as a new message to be sent after
// at, recording the attempts made so far.
func (w *durableWorker) storeAgain(ctx context.Context, orig jetstream.Msg, again [][]byte, made int, at time.Time) error {
	msg := nats.NewMsg(w.subject)
	if len(again) == 1 {
		msg.Data = again[0]
	} else {
		msg.Data = compressBatch(appendBatch(nil, again))
	}
	msg.Header.Set(HeaderAttempts, strconv.Itoa(made))
	msg.Header.Set(HeaderNotBefore, at.UTC().Format(time.RFC3339Nano))
	var opts []jetstream.PublishOpt
	if meta, err := orig.Metadata(); err == nil {
		// Idempotent if this settles twice (an ack lost, the message back).
		opts = append(opts, jetstream.WithMsgID(fmt.Sprintf("retry/%s/%d/%d", w.cfg.Target, meta.Sequence.Stream, meta.NumDelivered)))
	}
	if err := w.b.StoreErr(); err != nil {
		return fmt.Errorf("store again: %w", err)
	}
	// ctx is Run's flush context: it ends ShutdownTimeout after Run's.
	pctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	defer cancel()
	ack, err := w.js.PublishMsg(pctx, msg, opts...)
	if err != nil {
		return fmt.Errorf("store again: %w", err)
	}
	if !ack.Duplicate {
		w.storedDepth(ack.Sequence, len(again))
	}
	return nil
}

// retryHeaders reads a stored-again message's attempts made and the time
// before which it is not sent (zero for a message stored by Enqueue).
func retryHeaders(h nats.Header) (made int, notBefore time.Time) {
	if h == nil {
		return 0, time.Time{}
	}
	if v := h.Get(HeaderNotBefore); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			notBefore = t
		}
	}
	if v, err := strconv.Atoi(h.Get(HeaderAttempts)); err == nil && v > 0 && !notBefore.IsZero() {
		made = v
	}
	return made, notBefore
}

// settleDead acks message i after it was dead-lettered whole, or, when the
// dead-letter stream refused it, leaves it for later: nothing accepted is
// discarded.
func (w *durableWorker) settleDead(k *keepAlive, i int, dlqErr error) {
	if dlqErr != nil {
		k.settle(i, func(m jetstream.Msg) error { return m.NakWithDelay(w.cfg.BackoffMax) })
		w.m.addRetried(1)
		return
	}
	k.settle(i, w.ackCounted)
}

// deadLetter stores data (message m's whole data, or its item-th delivery's
// envelope) in the dead-letter stream with the reason and last error. seq is
// m's stream sequence (0 when its metadata did not parse: no dedupe id).
func (w *durableWorker) deadLetter(ctx context.Context, m jetstream.Msg, seq uint64, item int, data []byte, d handoff.Delivery, reason string, lastErr error, attempts int) error {
	dm := nats.NewMsg(bus.DLQSubject(w.cfg.Target))
	dm.Data = data
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
	if seq != 0 {
		// Idempotent if the ack that follows is lost and the message comes back.
		id := "dlq/" + w.cfg.Target + "/" + strconv.FormatUint(seq, 10)
		if item >= 0 {
			id += "/" + strconv.Itoa(item)
		}
		opts = append(opts, jetstream.WithMsgID(id))
	}
	if err := w.b.StoreErr(); err != nil {
		return fmt.Errorf("dead-letter: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	defer cancel()
	if _, err := w.js.PublishMsg(pctx, dm, opts...); err != nil {
		return fmt.Errorf("dead-letter: %w", err)
	}
	w.m.addDeadLettered(1)
	return nil
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
