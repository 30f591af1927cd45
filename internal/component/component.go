// Package component is the component model: what a kind of source, target, inline appliance or
// mirror provider is (its spec, its capabilities, its description and its constructor), in one
// descriptor per kind.
//
// It sits beside the data path. internal/config decodes each source's and target's YAML into the
// spec its kind allocates and calls the spec's SetDefaults and Validate; internal/app builds
// every source and target from its kind and wires the data path from the kind's Caps, never from
// a type name. Each kind lives in one file next to its implementation
// (internal/target/file/kind.go, internal/source/kind_udp.go, ...) and is listed once, by its type
// name, in internal/kinds.
package component

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// Frame is how a target uses the captured frame.
type Frame int

// Frame needs.
const (
	FrameNone     Frame = iota // never
	FrameWanted                // when the event has one; events without a frame are sent without
	FrameRequired              // nothing to send without one (pcap archives frames, replay reassembles them)
)

// Caps is what a target needs from the data path and how it is delivered to by default.
type Caps struct {
	Body  bool  // sends Delivery.Body (the event JSON or the rule's transformed input)
	Frame Frame // the captured frame
	// Ordered: needs packets in arrival order per flow (replay reassembles TCP streams). The
	// pipeline keeps that order for every target through any number of workers, so today it
	// asks for nothing more; it says why the target depends on it.
	Ordered  bool
	Produces bool // publishes events into the pipeline's event ingress (replay: ReplayDiff); stops before the ingress
	// DurableByDefault: delivery.mode defaults to durable (direct otherwise).
	DurableByDefault bool
	// BestEffort: durable delivery is refused (live channels drop what a subscriber misses).
	BestEffort bool
	// Stdout: the target writes to standard output, so the start-up banner goes to standard error.
	Stdout bool
}

// TakesEventsWithoutFrame reports whether the target can send an event that did not come from a
// packet (a ReplayDiff event).
func (c Caps) TakesEventsWithoutFrame() bool { return c.Body && c.Frame != FrameRequired }

// TargetSpec is a target kind's configuration: a struct with yaml tags whose keys sit beside
// name, type and delivery in the target's YAML mapping.
type TargetSpec interface {
	// SetDefaults fills the defaults; it is called before the YAML is decoded into the spec.
	SetDefaults()
	// Validate reports every problem with paths relative to the target (such as "url").
	Validate(c *spec.Checker)
}

// Optional interfaces a TargetSpec may implement.
type (
	// Wherer says where the target delivers, for the start-up banner ("POST https://...").
	Wherer interface{ Where() string }
	// Finisher completes defaults that depend on the target's name, after decoding.
	Finisher interface{ Finish(name string) }
	// Output is a target writing files under a path pattern: the configuration places a
	// relative path under data_dir and checks the file system where it will write.
	Output interface {
		OutputPath() *spec.TimePattern
		// LooksLikeArchive reports whether an existing file starting with head is one this
		// target writes (so that it may sit outside data_dir without being refused).
		LooksLikeArchive(head []byte) bool
	}
	// Batcher maps the target's own batch settings onto delivery batching.
	Batcher interface {
		DeliveryBatch() (maxEvents, maxBytes int, ok bool)
	}
	// BusUser needs the wirebridge bus whatever its delivery mode.
	BusUser interface{ NeedsBus() bool }
	// QueueDefaulter replaces the delivery queue defaults (delivery.queue_size and
	// delivery.queue_bytes, when the file does not set them).
	QueueDefaulter interface {
		QueueDefaults() (events int, bytes spec.ByteSize)
	}
	// LiveChannel is a target publishing to a live channel (the banner offers a share link to it).
	LiveChannel interface{ LiveChannel() string }
)

// Target is what a target constructor builds: internal/deliver's workers call it.
type Target interface {
	Send(ctx context.Context, batch []handoff.Delivery) error
	Close() error
}

// LivePublisher is the live hub as a live target sees it.
type LivePublisher interface {
	PublishEncoded(channel string, body []byte, n int) error
}

// Env is what the process offers constructors besides their own spec. A field is nil (or zero)
// when the process does not have it (a tool such as wirebridge read has no bus or hub).
type Env struct {
	Stdout io.Writer
	// Bus is the connection to the wirebridge bus.
	Bus *nats.Conn
	// Live is the hub of live channels.
	Live LivePublisher
	// Producer registers the target named target as a producer of events with the given
	// "source" and returns the function that hands each such event to the rules (the pipeline's
	// ingress for events produced inside the process).
	Producer func(target, eventSource string) func(event.Event)
	// Logger is the process's logger (nil: discard).
	Logger *slog.Logger
	// Handle registers h for pattern (a net/http ServeMux pattern under /api/) on the process's
	// HTTP listener; nil when the process has none. The handler does its own authentication.
	Handle func(pattern string, h http.Handler)
}

// TargetKind describes one kind of target.
type TargetKind struct {
	// Description is one line for --help and the documentation.
	Description string
	// NewSpec allocates an empty spec of this kind.
	NewSpec func() TargetSpec
	// Caps says what a target with this spec needs.
	Caps func(TargetSpec) Caps
	// New builds the target named name.
	New func(env Env, name string, s TargetSpec) (Target, error)
}

// TargetEntry is one line of a registry: a type name and its kind.
type TargetEntry struct {
	Type string
	Kind *TargetKind
}

// Registry lists the kinds a binary knows, in documentation order.
type Registry struct {
	Sources []SourceEntry
	Targets []TargetEntry
	// Appliance is the kind of the top-level appliance: section (nil: the binary has none).
	Appliance *ApplianceKind
	// Mirrors are the mirror providers an entry of the top-level mirror: list may name.
	Mirrors []MirrorEntry
}

// Mirror returns the kind of mirror provider named provider. A nil Registry has none.
func (r *Registry) Mirror(provider string) (*MirrorKind, bool) {
	if r == nil {
		return nil, false
	}
	i := slices.IndexFunc(r.Mirrors, func(e MirrorEntry) bool { return e.Provider == provider })
	if i < 0 {
		return nil, false
	}
	return r.Mirrors[i].Kind, true
}

// MirrorProviders lists the mirror provider names in order.
func (r *Registry) MirrorProviders() []string {
	if r == nil {
		return nil
	}
	out := make([]string, len(r.Mirrors))
	for i, e := range r.Mirrors {
		out[i] = e.Provider
	}
	return out
}

// MirrorProvider names the kind of spec s (the provider it was registered under), or "".
func (r *Registry) MirrorProvider(s MirrorSpec) string {
	if r == nil {
		return ""
	}
	for _, e := range r.Mirrors {
		if sameType(e.Kind.NewSpec(), s) {
			return e.Provider
		}
	}
	return ""
}

// Source returns the kind of source named typ. A nil Registry has no kinds.
func (r *Registry) Source(typ string) (*SourceKind, bool) {
	if r == nil {
		return nil, false
	}
	i := slices.IndexFunc(r.Sources, func(e SourceEntry) bool { return e.Type == typ })
	if i < 0 {
		return nil, false
	}
	return r.Sources[i].Kind, true
}

// SourceTypes lists the source type names in order.
func (r *Registry) SourceTypes() []string {
	out := make([]string, len(r.Sources))
	for i, e := range r.Sources {
		out[i] = e.Type
	}
	return out
}

// SourceType names the kind of spec s (the type it was registered under), or "".
func (r *Registry) SourceType(s SourceSpec) string {
	for _, e := range r.Sources {
		if sameType(e.Kind.NewSpec(), s) {
			return e.Type
		}
	}
	return ""
}

// Target returns the kind of target named typ. A nil Registry has no kinds.
func (r *Registry) Target(typ string) (*TargetKind, bool) {
	if r == nil {
		return nil, false
	}
	i := slices.IndexFunc(r.Targets, func(e TargetEntry) bool { return e.Type == typ })
	if i < 0 {
		return nil, false
	}
	return r.Targets[i].Kind, true
}

// TargetTypes lists the target type names in order.
func (r *Registry) TargetTypes() []string {
	out := make([]string, len(r.Targets))
	for i, e := range r.Targets {
		out[i] = e.Type
	}
	return out
}

// TargetType names the kind of spec s (the type it was registered under), or "".
func (r *Registry) TargetType(s TargetSpec) string {
	for _, e := range r.Targets {
		if sameType(e.Kind.NewSpec(), s) {
			return e.Type
		}
	}
	return ""
}

func sameType(a, b any) bool {
	return a != nil && b != nil && reflect.TypeOf(a) == reflect.TypeOf(b)
}

// SourceSpec is a source kind's configuration: a struct with yaml tags whose keys sit beside
// the common keys (name, type, event_source, allow, rate_limit, max_datagram, queue_size) in the
// source's YAML mapping.
type SourceSpec interface {
	// SetDefaults fills the defaults; it is called before the YAML is decoded into the spec.
	SetDefaults()
	// Validate reports every problem with paths relative to the source (such as "listen").
	Validate(c *spec.Checker)
}

// Optional interfaces a SourceSpec may implement.
type (
	// UDPListener binds UDP listen addresses (at "listen"): the configuration checks that no two
	// sources' addresses overlap. ok is false when the spec listens on none (another mode).
	UDPListener interface {
		UDPListen() (addrs []string, ok bool)
	}
	// DatagramChecker checks the spec against the source's max_datagram.
	DatagramChecker interface {
		CheckMaxDatagram(c *spec.Checker, maxDatagram spec.ByteSize)
	}
	// SourceWherer says where the source reads, for the start-up banner; built is the source
	// its kind built from the spec (for the addresses it bound).
	SourceWherer interface{ Where(built Source) string }
	// TryCommand is a shell command that sends the built source an event, for the banner; ""
	// when there is none.
	TryCommand interface{ TryCommand(built Source) string }
)

// SourceCommon is the configuration every source shares.
type SourceCommon struct {
	Name        string
	EventSource string
	Allow       []netip.Prefix
	RateLimit   spec.RateLimit
	MaxDatagram spec.ByteSize
	QueueSize   int
}

// Source is what a source constructor builds, as far as the component model sees it:
// internal/app runs it as an internal/source.Source.
type Source interface {
	Name() string
	Close() error
}

// SourceKind describes one kind of source.
type SourceKind struct {
	// Description is one line for --help and the documentation.
	Description string
	// MaxDatagram is the largest max_datagram a source of this kind accepts (64KiB when 0).
	MaxDatagram spec.ByteSize
	// NewSpec allocates an empty spec of this kind.
	NewSpec func() SourceSpec
	// New builds the source.
	New func(env Env, common SourceCommon, s SourceSpec) (Source, error)
}

// SourceEntry is one line of a registry: a type name and its kind.
type SourceEntry struct {
	Type string
	Kind *SourceKind
}

// ApplianceSpec is the inline appliance kind's configuration: a struct with yaml tags whose keys
// are those of the top-level appliance: section.
type ApplianceSpec interface {
	// SetDefaults fills the defaults; it is called before the YAML is decoded into the spec.
	SetDefaults()
	// Validate reports every problem with paths relative to the section (such as "listen").
	Validate(c *spec.Checker)
	// TeeTargets lists the targets the appliance's rules tee packets to, each with the path
	// (relative to the section) that names it, in order.
	TeeTargets() []TeeTarget
	// HealthListen is the TCP address of the health check, for the configuration's check
	// that no two listeners collide.
	HealthListen() string
}

// TeeTarget is a target named by an appliance rule's tee, and where.
type TeeTarget struct {
	Path, Target string
}

// Appliance is what the appliance constructor builds: internal/app runs it in the lifecycle (and
// registers its metrics when it is a prometheus.Collector).
type Appliance interface {
	// Run forwards until ctx ends or Drain finishes.
	Run(ctx context.Context) error
	// Drain turns the health check unhealthy, keeps forwarding for the drain time, then
	// stops Run.
	Drain(ctx context.Context) error
	// Close releases what a built appliance holds when it never runs.
	Close() error
	// DrainTime is how long Drain keeps forwarding before it stops Run.
	DrainTime() time.Duration
	// Where says what listens where, for the start-up banner.
	Where() string
}

// ApplianceKind describes the inline appliance.
type ApplianceKind struct {
	// Description is one line for --help and the documentation.
	Description string
	// Name is the appliance's name: the producer of its events, resources[0] of them.
	Name string
	// EventSource is the "source" of the events it publishes (teed packets).
	EventSource string
	// TeeRule returns the pattern (JSON) of the rule that routes the events teed to target.
	TeeRule func(target string) []byte
	// NewSpec allocates an empty spec.
	NewSpec func() ApplianceSpec
	// New builds the appliance (it opens its sockets; Run starts it).
	New func(env Env, s ApplianceSpec) (Appliance, error)
}

// MirrorSpec is a mirror provider kind's configuration: a struct with yaml tags whose keys sit
// beside the common keys (name, provider, scan_interval, max_attempts, backoff, remove_on_exit)
// in an entry of the top-level mirror: list.
type MirrorSpec interface {
	// SetDefaults fills the defaults; it is called before the YAML is decoded into the spec.
	SetDefaults()
	// Validate reports every problem with paths relative to the entry (such as "interfaces[0]").
	Validate(c *spec.Checker)
}

// MirrorWherer is a MirrorSpec that says what it mirrors where, for the start-up banner
// ("interfaces eth*, veth* -> vxlan 10.0.0.9:4789 vni 42").
type MirrorWherer interface{ Where() string }

// MirrorCommon is the configuration every mirror entry shares.
type MirrorCommon struct {
	// Name names the entry: the controller's key prefix in the wirebridge_mirror KV bucket and
	// resources[0] of its events.
	Name string
	// ScanInterval is the period of the full reconcile that backs up the provider's triggers.
	ScanInterval time.Duration
}

// MirrorProvider is what a mirror provider constructor builds. It is an
// internal/mirror.Provider (Desired, Actual, Create, Delete, Watch, Close), which this leaf
// package cannot name: internal/app asserts it and hands it to the mirror controller.
type MirrorProvider interface {
	Close() error
}

// MirrorKind describes one kind of mirror provider.
type MirrorKind struct {
	// Description is one line for --help and the documentation.
	Description string
	// NewSpec allocates an empty spec of this kind.
	NewSpec func() MirrorSpec
	// New builds the provider for the entry (it may open sockets or clients; it creates no
	// session: the controller does, through the provider).
	New func(env Env, common MirrorCommon, s MirrorSpec) (MirrorProvider, error)
}

// MirrorEntry is one line of a registry: a provider name and its kind.
type MirrorEntry struct {
	Provider string
	Kind     *MirrorKind
}
