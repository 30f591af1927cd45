package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/event"
)

// The events of the mirror controller, and its dead letters.
const (
	// EventSource is the "source" of the controller's events.
	EventSource = "wirebridge.mirror"
	// DetailType is the detail-type of a state change event.
	DetailType = "MirrorStateChange"
	// DLQPrefix starts the dead-letter subjects of the mirror entries:
	// wirebridge.dlq.mirror.<name> in the WIREBRIDGE_DLQ stream (a target's
	// dead letters are wirebridge.dlq.<target>, one token: they never meet).
	DLQPrefix = bus.DLQPrefix + "mirror."
)

// DLQSubject is the subject of the dead letters of the mirror entry name.
func DLQSubject(name string) string { return DLQPrefix + name }

// StateChange is the detail of a MirrorStateChange event (docs/events.md).
type StateChange struct {
	// Mirror is the entry's name, Provider its provider (linux, aws).
	Mirror   string `json:"Mirror"`
	Provider string `json:"Provider"`
	// Endpoint is the endpoint's id: the interface name or the ENI id.
	Endpoint string `json:"Endpoint"`
	// State is the new state, PreviousState the one before ("" when the
	// endpoint had no record).
	State         State  `json:"State"`
	PreviousState State  `json:"PreviousState"`
	Since         string `json:"Since"`
	// Session is the provider's session id ("" when there is none yet).
	Session string            `json:"Session"`
	Attrs   map[string]string `json:"Attrs"`
	// Error is the last error of the operation ("" when none), Attempts its tries.
	Error    string `json:"Error"`
	Attempts int    `json:"Attempts"`
	// Reason is what made the controller look: a provider trigger
	// (link-added, filter-deleted, sqs, ...), scan, start, ensure or remove.
	Reason string `json:"Reason"`
	// Controller is the controller that made the change.
	Controller string `json:"Controller"`
}

// changed publishes the event of a change from prev to next (nothing when
// the state is the same).
func (c *Controller) changed(prev, next *Record, reason string) {
	var from State
	if prev != nil {
		from = prev.State
	}
	if from == next.State {
		return
	}
	c.cfg.Metrics.transition(c.cfg.Name, next.State)
	c.log.Debug("mirror: state change", "endpoint", next.Endpoint, "from", from, "to", next.State, "reason", reason)
	if c.cfg.Publish == nil {
		return
	}
	attrs := next.Attrs
	if attrs == nil {
		attrs = map[string]string{}
	}
	d := &StateChange{
		Mirror: c.cfg.Name, Provider: c.cfg.ProviderName, Endpoint: next.Endpoint,
		State: next.State, PreviousState: from, Since: next.Since.UTC().Format(time.RFC3339Nano),
		Session: next.Session, Attrs: attrs, Error: next.LastError, Attempts: next.Attempts,
		Reason: reason, Controller: c.cfg.Owner,
	}
	c.cfg.Publish(event.NewEvent(EventSource, DetailType, []string{c.cfg.Name}, d))
}

// DeadLetter is the body of a mirror dead letter.
type DeadLetter struct {
	Mirror    string    `json:"mirror"`
	Provider  string    `json:"provider"`
	Operation string    `json:"operation"` // create | delete
	Endpoint  string    `json:"endpoint"`
	Session   string    `json:"session,omitempty"`
	Attempts  int       `json:"attempts"`
	Error     string    `json:"error"`
	Permanent bool      `json:"permanent"`
	FailedAt  time.Time `json:"failed_at"`
	// Controller is the controller that gave up.
	Controller string `json:"controller"`
}

// Headers of a mirror dead letter (those of internal/deliver's).
const (
	headerError    = "Wirebridge-Error"
	headerReason   = "Wirebridge-Reason"
	headerAttempts = "Wirebridge-Attempts"
	headerFailedAt = "Wirebridge-Failed-At"
)

// deadLetter stores an operation given up in the dead-letter stream.
func (c *Controller) deadLetter(ctx context.Context, o op, rec *Record, err error) {
	c.cfg.Metrics.deadLettered(c.cfg.Name)
	if c.cfg.DLQ == nil {
		return
	}
	dl := DeadLetter{
		Mirror: c.cfg.Name, Provider: c.cfg.ProviderName, Operation: o.String(), Endpoint: rec.Endpoint,
		Session: rec.Session, Attempts: rec.Attempts, Error: err.Error(), Permanent: errors.Is(err, ErrPermanent),
		FailedAt: c.now().UTC(), Controller: c.cfg.Owner,
	}
	body, _ := json.Marshal(dl)
	m := nats.NewMsg(DLQSubject(c.cfg.Name))
	m.Data = body
	reason := "max_attempts"
	if dl.Permanent {
		reason = "permanent"
	}
	m.Header.Set(headerError, strings.Join(strings.Fields(dl.Error), " "))
	m.Header.Set(headerReason, reason)
	m.Header.Set(headerAttempts, strconv.Itoa(dl.Attempts))
	m.Header.Set(headerFailedAt, dl.FailedAt.Format(time.RFC3339Nano))
	if _, perr := c.cfg.DLQ.PublishMsg(ctx, m); perr != nil {
		c.log.Warn("mirror: storing the dead letter failed", "endpoint", rec.Endpoint, "err", perr)
	}
}
