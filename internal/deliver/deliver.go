// Package deliver moves matched events to their targets. It sits between rule
// matching and the targets in the data path:
//
//	rule match ──► deliver.Worker.Enqueue ──► [queue or JetStream] ──► Worker.Run ──► Target.Send
//
// There is one Worker per target, in one of two modes:
//
//   - direct: an in-process bounded queue (QueueSize deliveries and
//     QueueBytes of their bodies and frames), which takes each Enqueue
//     call's deliveries as one chunk; Run batches across chunks, waiting up
//     to Linger for a batch to fill. Enqueue never blocks: what does not fit
//     is dropped and counted. Failed sends are
//     retried in memory with backoff up to MaxAttempts/MaxAge, then dropped
//     and counted. Nothing survives a restart. For local sinks (file, pcap,
//     stdout, live).
//   - durable: Enqueue copies each delivery into a bounded in-memory buffer
//     (QueueSize; when full, dropped and counted queue_full) and returns
//     without waiting; a publisher stores the buffered deliveries in the
//     WIREBRIDGE_DELIVERY stream (subject wirebridge.deliver.<target>) with
//     at most MaxInFlight publishes unacknowledged. The server's
//     acknowledgement is what "accepted" means (Stats.Enqueued, Flush): an
//     accepted delivery survives a kill -9. Deliveries taken but not yet
//     acknowledged (Stats.StorePending, normally milliseconds' worth) live
//     in process memory only and a kill -9 loses them, as it loses datagrams
//     waiting in a socket buffer; a publish the server refuses (stream full,
//     timeout) is counted dropped (refused). A durable pull consumer per target
//     feeds Run, which batches, sends, acks successes, and naks transient
//     failures with a delay (exponential backoff with jitter, or the target's
//     Retry-After). Permanent failures, and deliveries out of attempts or
//     past MaxAge, go to WIREBRIDGE_DLQ (wirebridge.dlq.<target>) with the
//     last error. Delivery is at least once: a crash between a successful
//     Send and its ack delivers again (same Delivery.ID). The worker pulls
//     a batch only when it is ready to send it, and reports the messages it
//     holds in progress every AckWait/4 until they are settled, so a Send
//     slower than AckWait is not redelivered elsewhere, while what a
//     crashed process held comes back after AckWait (default 10s).
//
// A full store (embedded server): while bus.StoreErr reports that the store
// takes no writes, publishes, dead letters and stores-again fail at once
// (new deliveries are counted dropped, refused). After a failed write
// (bus.ErrStoreWriteFailed) publishes the server left unanswered are
// settled as refused (CleanupPublisher), and Run pauses: the stream could
// not remove acked messages. Once the bus has reopened the store, Run
// purges what the consumer acked meanwhile, counts the queue depth again,
// and goes on.
//
// Order: deliveries go to the target in acceptance order, batch by batch, but
// a delivery that failed is retried after its delay while later ones go on,
// so a retried delivery arrives after them. In durable mode,
// Delivery.Attempt is the server's delivery count, which also counts a
// fetch released unsent at shutdown.
//
// Targets do not retry; they classify their errors with handoff.PermanentError,
// handoff.RetryAfterError and, for partly failed batches, *handoff.BatchError.
// Any other error is transient.
//
// # Stored message format (durable mode)
//
// Deliveries are stored as JetStream messages on wirebridge.deliver.<target>.
// A message holds one delivery, as a compact binary envelope, or a batch of
// them (deliveries that waited together to be stored). Its Nats-Msg-Id is
// "<event id>/<target>", or "<first event id>+<count>/<target>" for a
// batch (the stream drops duplicates within its duplicate window).
//
// The envelope:
//
//	"WB" 0x01                      magic and version
//	uvarint len, bytes             event id
//	uvarint len, bytes             rule name
//	varint                         Accepted, Unix nanoseconds (0: unset)
//	varint                         Capture.Timestamp, Unix nanoseconds (0: unset)
//	varint ×4                      Capture.CaptureLength, Length, InterfaceIndex, LinkType
//	uvarint len, bytes             original frame (may be empty)
//	rest                           body, as the target sends it
//
// A batch:
//
//	"WB" 0x02                      magic and version
//	uvarint                        count (at least 1)
//	count × (uvarint len, bytes)   envelopes
//
// or, when that makes it smaller, the same S2-compressed:
//
//	"WB" 0x03                      magic and version
//	uvarint                        count, in the clear
//	rest                           S2 block of the count × (len, envelope) above
//
// A message stored again to retry some deliveries of a batch carries headers
// Wirebridge-Attempts (attempts made) and Wirebridge-Not-Before (RFC 3339):
// its first delivery by the server only waits until then.
//
// Dead letters carry one delivery's envelope (or, for a message that could
// not be split, its data as stored) plus headers Wirebridge-Error (the
// last error), Wirebridge-Reason (permanent, max_attempts, max_age, decode),
// Wirebridge-Attempts, Wirebridge-Subject (the original subject),
// Wirebridge-Failed-At (RFC 3339), Wirebridge-Event-Id and Wirebridge-Rule.
package deliver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/names"
)

// Target is what deliver needs of a target (internal/target implements it).
// Send delivers a batch or reports why not; it must not retry. Close is
// called once, when the worker's Run returns.
type Target interface {
	Send(ctx context.Context, batch []handoff.Delivery) error
	Close() error
}

// Mode selects how a target's deliveries are queued.
type Mode string

// Delivery modes.
const (
	Direct  Mode = "direct"
	Durable Mode = "durable"
)

// ErrClosed is returned by Enqueue once the worker has stopped taking deliveries.
var ErrClosed = errors.New("deliver: worker closed")

// Config configures one target's worker. Zero fields take the defaults noted;
// where zero means "none" (MaxAge, BackoffJitter) it means what it means in
// the configuration file, so that internal/app passes values through as they
// are.
type Config struct {
	Target string // the target's name (names.Name: letters, digits, '_' and '-', at most 64)
	Mode   Mode   // default durable

	MaxEvents int           // events per Send (default 100)
	MaxBytes  int           // bytes of Body per Send, at least one event (default 1 MiB)
	Linger    time.Duration // how long to wait for more events to fill a batch (default 5ms)

	MaxAttempts int           // Send attempts per delivery (default 10)
	MaxAge      time.Duration // stop retrying this long after acceptance (0: no age limit; config's default is 24h)
	SendTimeout time.Duration // per Send call (default 30s)

	// Retry delays: the n-th retry (n from 1) waits BackoffMin *
	// BackoffMultiplier^(n-1), capped at BackoffMax, then randomised by
	// ±BackoffJitter of itself. A target's Retry-After replaces the backoff.
	BackoffMin        time.Duration // first retry delay (default 500ms)
	BackoffMax        time.Duration // retry delay cap before jitter (default 5m)
	BackoffMultiplier float64       // growth per retry, 1 to 100 (default 2)
	BackoffJitter     float64       // fraction, 0 to 1 (0: no jitter; config's default is 0.2)

	// QueueSize bounds the deliveries Enqueue holds in memory (default
	// 10000): direct: queued for the target; durable: waiting to be stored
	// in JetStream. When it is full, Enqueue drops and counts (queue_full).
	QueueSize int
	// QueueBytes (direct mode) bounds the Body and Frame bytes of the
	// deliveries queued (default 16 MiB); a delivery larger than that is
	// taken when the queue is empty.
	QueueBytes int

	MaxInFlight   int // durable: unacknowledged publishes to JetStream in flight (default 1024)
	MaxAckPending int // durable: delivered but unacked messages per target (default 4*MaxEvents, at least 1000)
	// AckWait (durable) is how long the server waits for a fetched message's
	// ack before it delivers it again (default 10s). While a batch is held —
	// sent, settled, or waiting for the next Send — the worker tells the
	// server it is in progress every AckWait/4, so a Send longer than AckWait
	// is not redelivered; after a crash, what the dead process held comes back
	// within AckWait.
	AckWait time.Duration

	ShutdownTimeout time.Duration // how long Run may flush after its context ends (default 10s)
}

func (c *Config) defaults() error {
	if err := ValidName(c.Target); err != nil {
		return err
	}
	if c.Mode == "" {
		c.Mode = Durable
	}
	if c.Mode != Direct && c.Mode != Durable {
		return fmt.Errorf("deliver: target %s: unknown mode %q (want direct or durable)", c.Target, c.Mode)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxEvents, 100)
	def(&c.MaxBytes, 1<<20)
	defd(&c.Linger, 5*time.Millisecond)
	def(&c.MaxAttempts, 10)
	if c.MaxAge < 0 {
		return fmt.Errorf("deliver: target %s: max age %s must not be negative (0: no age limit)", c.Target, c.MaxAge)
	}
	defd(&c.BackoffMin, 500*time.Millisecond)
	defd(&c.BackoffMax, 5*time.Minute)
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = c.BackoffMin
	}
	switch {
	case c.BackoffMultiplier == 0:
		c.BackoffMultiplier = 2
	case !(c.BackoffMultiplier >= 1 && c.BackoffMultiplier <= 100): // also NaN
		return fmt.Errorf("deliver: target %s: backoff multiplier %g out of range (want 1 to 100)", c.Target, c.BackoffMultiplier)
	}
	if !(c.BackoffJitter >= 0 && c.BackoffJitter <= 1) { // also NaN
		return fmt.Errorf("deliver: target %s: backoff jitter %g out of range (want a fraction from 0 to 1)", c.Target, c.BackoffJitter)
	}
	defd(&c.SendTimeout, 30*time.Second)
	def(&c.QueueSize, 10000)
	def(&c.QueueBytes, 16<<20)
	def(&c.MaxInFlight, 64)
	def(&c.MaxAckPending, max(4*c.MaxEvents, 1000))
	defd(&c.AckWait, 10*time.Second)
	defd(&c.ShutdownTimeout, 10*time.Second)
	return nil
}

// ValidName reports whether name can be a target name (names.Name, the rule
// internal/config checks too): it becomes a NATS subject token and consumer
// name, so letters, digits, '_' and '-' only.
func ValidName(name string) error {
	if err := names.Name(name); err != nil {
		return fmt.Errorf("deliver: target name: %w", err)
	}
	return nil
}

// Worker delivers one target's events.
type Worker interface {
	// Target is the target's name.
	Target() string
	// Mode is the worker's delivery mode.
	Mode() Mode
	// Enqueue takes deliveries for the target, copying what it keeps, and
	// returns how many it took; the others were dropped and counted
	// (queue_full). It never blocks. Direct mode queues them for Run (they
	// are accepted). Durable mode buffers them for a publisher that stores
	// them in JetStream (they are accepted once the server acknowledged
	// them: see Flush and Stats.Enqueued). After Run's context ends, Enqueue
	// returns ErrClosed.
	Enqueue(ctx context.Context, ds []handoff.Delivery) (int, error)
	// Flush waits until every delivery Enqueue took before the call is
	// accepted or counted dropped (durable: stored in JetStream or refused;
	// direct: at once), or until ctx ends. It returns an error if ctx ended
	// or if publishes were refused meanwhile.
	Flush(ctx context.Context) error
	// Run delivers until ctx ends, then stops intake, finishes (direct:
	// flushes the queue) within ShutdownTimeout, closes the target and
	// returns. In durable mode, deliveries not sent stay stored for the next
	// start.
	Run(ctx context.Context) error
	// Stats is a snapshot of the worker's counters.
	Stats() Stats
}

// New builds the worker for cfg.Target. b is required in durable mode (it
// creates the target's durable consumer) and unused in direct mode. m may be
// nil (counters still work; nothing is registered).
func New(ctx context.Context, cfg Config, t Target, b *bus.Bus, m *Metrics) (Worker, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("deliver: target %s: nil target", cfg.Target)
	}
	mt := m.forTarget(cfg.Target)
	switch cfg.Mode {
	case Direct:
		return newDirect(cfg, t, mt), nil
	default:
		if b == nil {
			return nil, fmt.Errorf("deliver: target %s: durable mode needs the bus", cfg.Target)
		}
		return newDurable(ctx, cfg, t, b, b.Conn(), mt)
	}
}

// outcome is what happened to one delivery in a Send.
type outcome struct {
	err       error
	permanent bool
	after     time.Duration // requested retry delay, 0 if none
}

// classify splits Send's error into per-delivery outcomes; out must have
// len(batch) entries and is zeroed first.
func classify(err error, out []outcome) {
	clear(out)
	if err == nil {
		return
	}
	var be *handoff.BatchError
	if errors.As(err, &be) {
		for i, e := range be.Failed {
			if i >= 0 && i < len(out) && e != nil {
				out[i] = classifyOne(e)
			}
		}
		return
	}
	o := classifyOne(err)
	for i := range out {
		out[i] = o
	}
}

func classifyOne(err error) outcome {
	o := outcome{err: err}
	var p handoff.PermanentError
	if errors.As(err, &p) && p.Permanent() {
		o.permanent = true
	}
	var ra handoff.RetryAfterError
	if errors.As(err, &ra) {
		o.after = max(ra.RetryAfter(), 0)
	}
	return o
}

// backoff is the delay before attempt+1 after a failed attempt (1-based):
// lo * mult^(attempt-1), capped at hi, then moved by a uniformly random
// amount within ±jitter of itself so that the retries of one burst spread
// out.
func backoff(attempt int, lo, hi time.Duration, mult, jitter float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := hi
	if e := float64(lo) * math.Pow(mult, float64(attempt-1)); e < float64(hi) { // false for +Inf and NaN
		d = time.Duration(e)
	}
	if jitter <= 0 || d <= 0 {
		return d
	}
	return d + time.Duration(float64(d)*jitter*(2*rand.Float64()-1))
}

// retryDelay is the delay for a failed delivery: the target's Retry-After
// when it gave one, the backoff otherwise.
func (c *Config) retryDelay(o outcome, attempt int) time.Duration {
	if o.after > 0 {
		return o.after
	}
	return backoff(attempt, c.BackoffMin, c.BackoffMax, c.BackoffMultiplier, c.BackoffJitter)
}

// giveUp says whether a failed delivery is not retried, and why.
func (c *Config) giveUp(o outcome, attempt int, accepted time.Time, delay time.Duration, now time.Time) (string, bool) {
	switch {
	case o.permanent:
		return ReasonPermanent, true
	case attempt >= c.MaxAttempts:
		return ReasonMaxAttempts, true
	case c.MaxAge > 0 && !accepted.IsZero() && now.Add(delay).Sub(accepted) > c.MaxAge:
		return ReasonMaxAge, true
	}
	return "", false
}

// Reasons a delivery is given up or dropped (metric label values and the
// Wirebridge-Reason dead-letter header).
const (
	ReasonPermanent   = "permanent"
	ReasonMaxAttempts = "max_attempts"
	ReasonMaxAge      = "max_age"
	ReasonDecode      = "decode"
	ReasonQueueFull   = "queue_full"
	ReasonShutdown    = "shutdown"
	ReasonRefused     = "refused"
	ReasonCanceled    = "canceled"
)

func batchBytes(d *handoff.Delivery) int { return len(d.Body) }
