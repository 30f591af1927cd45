// Package mirror is the mirror controller, beside the event path of
// wirebridge: it keeps traffic mirroring set up for every interface that
// should have it. Desired state comes from selectors in the configuration,
// actual state from a Provider (linux: tc + vxlan through netlink; aws: EC2
// Traffic Mirroring); a reconcile loop diffs the two into idempotent create
// and delete operations, on every trigger the provider reports and on a
// periodic scan. Per-endpoint state lives in a JetStream KV bucket written
// with compare-and-set; each state change is also an event (source
// wirebridge.mirror) that enters the pipeline through its event ingress.
package mirror

import (
	"context"
	"errors"
	"time"
)

// Endpoint is one thing that should be mirrored: a Linux network interface
// or an AWS elastic network interface.
type Endpoint struct {
	// ID names the endpoint uniquely within its provider: the interface name
	// (linux) or the ENI id (aws).
	ID string
	// Attrs are provider facts shown in `mirror list` and in events
	// (ifindex, VPC, subnet, instance id, ...). May be nil.
	Attrs map[string]string
}

// Session is what a provider has set up for one endpoint, and owns.
type Session struct {
	// EndpointID is the Endpoint.ID the session mirrors.
	EndpointID string
	// ID names the session within the provider (linux: the managed vxlan
	// device and filter handles; aws: the traffic mirror session id).
	ID string
	// Complete is false when part of the session is missing (a hand-deleted
	// qdisc or filter): the reconciler calls Create again to repair it.
	Complete bool
	// Attrs are provider facts, as Endpoint.Attrs. May be nil.
	Attrs map[string]string
}

// Trigger is a hint from a provider that something changed. The reconciler
// reconciles the named endpoint (or everything when EndpointID is empty); a
// trigger never carries state itself, so a lost, repeated or reordered
// trigger is harmless: the next one, or the periodic scan, settles it.
type Trigger struct {
	EndpointID string
	// Reason is a short word for logs and metrics: "link-added",
	// "link-removed", "filter-deleted", "sqs", "api", ...
	Reason string
	// Seen is when the provider first saw the change (for the setup latency
	// histogram: seen → mirroring active). Zero means now.
	Seen time.Time
}

// Provider is one mirroring back end. Every method is safe to call from one
// goroutine at a time (the reconciler serialises them), and every operation
// is idempotent.
type Provider interface {
	// Desired lists the endpoints the provider's selectors select now.
	Desired(ctx context.Context) ([]Endpoint, error)
	// Actual lists the sessions this provider created (and marked as its
	// own), complete or not. Sessions of other tools are never listed.
	Actual(ctx context.Context) ([]Session, error)
	// Create sets up (or completes) mirroring for e. created is false when
	// everything was already present. Safe to call for a session that exists.
	Create(ctx context.Context, e Endpoint) (s Session, created bool, err error)
	// Delete removes a session this provider owns. Deleting what is already
	// gone is not an error.
	Delete(ctx context.Context, s Session) error
	// Watch reports triggers until ctx ends; it returns nil when ctx ends and
	// an error only when it can no longer watch. A provider without events
	// returns when ctx ends.
	Watch(ctx context.Context, triggers chan<- Trigger) error
	// Close releases what the provider holds (sockets, clients). It does not
	// remove sessions.
	Close() error
}

// ErrPermanent marks an operation error that retrying will not fix (a
// missing collector route, a permission error, an invalid id): the
// reconciler gives up on it at once into the dead-letter stream. Wrap it:
// fmt.Errorf("create session for %s: %w: %v", id, ErrPermanent, err).
var ErrPermanent = errors.New("permanent")
