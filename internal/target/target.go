// Package target holds what every delivery target shares: the Target
// contract, the errors a target returns to say how a failure should be
// handled, and the NDJSON/JSON encoding of delivery bodies. Targets sit at
// the very end of the wirebridge data path:
//
//	source ──► packet ──► event ──► rule match ──► deliver ──► target
//
// Each target lives in its own subpackage (http, file, pcap, stdout, nats,
// eventbridge, live, replay) with a typed Config and a New(cfg) constructor,
// and passes the conformance suite in targettest.
//
// # Failure contract
//
// Targets never retry: internal/deliver owns retries, backoff and the
// dead-letter queue. A target tells deliver what kind of failure it saw:
//
//   - a permanent failure (retrying cannot help: bad request, payload too
//     large) is an error implementing handoff.PermanentError — see Permanent;
//   - a transient failure (timeout, refused connection, 5xx) is any other
//     error; when the peer asked for a delay (HTTP Retry-After, throttling)
//     the error also implements handoff.RetryAfterError — see RetryAfter;
//   - when only some deliveries of a batch failed, Send returns an
//     *handoff.BatchError mapping each failed index to its own error (which is
//     itself permanent or transient); the indices not listed were delivered;
//   - a cancelled or expired context makes Send return promptly with an error
//     wrapping ctx.Err(); deliveries of that batch may or may not have arrived
//     (at-least-once: deliver tries them again);
//   - Send after Close returns an error wrapping ErrClosed (transient: the
//     events are not lost, deliver keeps them for the next run).
package target

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
)

// Target is implemented by every delivery target.
//
// Send delivers a batch, in order. It is safe to call from several
// goroutines at once (each target documents whether it serialises calls).
// Close releases the target's resources, flushing what it buffered; it is
// idempotent, and Send after Close fails with ErrClosed.
type Target interface {
	Send(ctx context.Context, batch []handoff.Delivery) error
	Close() error
}

// ErrClosed is wrapped by the error Send returns after Close.
var ErrClosed = errors.New("target closed")

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() error   { return e.err }
func (e *permanentError) Permanent() bool { return true }

// Permanent wraps err so that it implements handoff.PermanentError. It returns
// nil for a nil err.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// Permanentf is Permanent(fmt.Errorf(format, args...)).
func Permanentf(format string, args ...any) error {
	return &permanentError{err: fmt.Errorf(format, args...)}
}

// IsPermanent reports whether err, or any error it wraps, is permanent.
// An *handoff.BatchError is permanent only if every failure in it is.
func IsPermanent(err error) bool {
	var be *handoff.BatchError
	if errors.As(err, &be) {
		if len(be.Failed) == 0 {
			return false
		}
		for _, e := range be.Failed {
			if !IsPermanent(e) {
				return false
			}
		}
		return true
	}
	var pe handoff.PermanentError
	return errors.As(err, &pe) && pe.Permanent()
}

// retryAfterError is a transient error carrying the peer's requested delay.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.err, e.after)
}
func (e *retryAfterError) Unwrap() error             { return e.err }
func (e *retryAfterError) RetryAfter() time.Duration { return e.after }

// RetryAfter wraps err so that it implements handoff.RetryAfterError with the
// delay d (negative delays become 0). It returns nil for a nil err.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	if d < 0 {
		d = 0
	}
	return &retryAfterError{err: err, after: d}
}

// RetryAfterOf returns the delay requested by err (or an error it wraps) and
// whether there was one.
func RetryAfterOf(err error) (time.Duration, bool) {
	var re handoff.RetryAfterError
	if errors.As(err, &re) {
		return re.RetryAfter(), true
	}
	return 0, false
}

// Closed returns the error Send returns after Close, naming the target kind.
func Closed(kind string) error {
	return fmt.Errorf("%s target: send: %w", kind, ErrClosed)
}

// Canceled returns the error Send returns when ctx is done, wrapping ctx.Err().
func Canceled(kind string, ctx context.Context) error {
	return fmt.Errorf("%s target: send: %w", kind, ctx.Err())
}
