// Package handoff is the contract between internal/deliver and the targets
// at the end of the data path:
//
//	source ──► packet ──► event ──► rule match ──► deliver ──► target
//	                                                     handoff.Delivery
//
// A Delivery is one matched event on its way to one target; the error types
// say how a target's failure is handled (permanent: dead-lettered at once;
// transient, possibly with the peer's Retry-After; a batch that failed in
// part). It is its own small package because deliver, the targets and the
// pipeline all consume it and none of them may import another.
package handoff

import (
	"strconv"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// Delivery is one matched event on its way to one target. It is the unit
// that internal/deliver stores, retries and dead-letters, and that targets
// receive in Send.
type Delivery struct {
	ID     string // the event id: stable across retries and restarts, the de-duplication key
	Rule   string // the rule that matched
	Target string // the target's name
	// Body is what the target sends: the event JSON, or the rule's input
	// transformer output (which need not be JSON).
	Body []byte
	// BodyJSON says that Body is one JSON value with no line break in it,
	// such as the event JSON wirebridge encoded itself: a target writing
	// JSON lines may copy it as it is, without checking it. False says
	// nothing (a transformer's output, or a delivery read back from storage).
	BodyJSON bool
	// Frame is the original captured frame and Capture its metadata, for
	// targets that archive packets (pcap). Nil when the event did not come from a packet.
	Frame   []byte
	Capture packet.CaptureInfo
	// Attempt counts deliveries tried so far (1 on the first Send).
	Attempt int
	// Accepted is when wirebridge accepted the event for delivery.
	Accepted time.Time
}

// PermanentError is implemented by target errors that retrying cannot fix
// (bad request, payload too large). internal/deliver sends such deliveries to
// the dead-letter queue at once.
type PermanentError interface {
	error
	Permanent() bool
}

// RetryAfterError is implemented by transient target errors that carry the
// peer's requested delay (HTTP 429/503 Retry-After, throttling).
type RetryAfterError interface {
	error
	RetryAfter() time.Duration
}

// BatchError reports a partially failed batch: Failed maps the index of each
// failed Delivery in the batch to its error. Deliveries not listed succeeded.
type BatchError struct {
	Failed map[int]error
}

func (e *BatchError) Error() string {
	for _, err := range e.Failed {
		return "batch: " + strconv.Itoa(len(e.Failed)) + " deliveries failed, e.g.: " + err.Error()
	}
	return "batch: deliveries failed"
}
