// Package config is the typed configuration of `wirebridge serve`: the YAML file that names the
// sources (the start of the data path), the rules that match their events, the targets matched
// events are delivered to, and the NATS bus, HTTP listener and logging around them.
//
// It sits before the data path: internal/app reads a *Config (from Load, Parse or Default) and
// builds every component from it. Parsing rejects unknown keys, applies defaults, resolves
// secrets and validates the whole file, reporting every error with file:line:column and the YAML
// path of the offending value. Nothing here opens a socket or starts a goroutine.
package config

import (
	"net/netip"
	"time"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// The value types of the configuration live in internal/spec, shared with the component kinds.
type (
	ByteSize    = spec.ByteSize
	Secret      = spec.Secret
	TimePattern = spec.TimePattern
	Speed       = spec.Speed
	SpeedMode   = spec.SpeedMode
	PortRange   = spec.PortRange
	TLS         = spec.TLS
	Rotate      = spec.Rotate
	RateLimit   = spec.RateLimit
	TokenBucket = spec.TokenBucket
	Filter      = spec.Filter
)

// Byte size units and speed modes (internal/spec).
const (
	KiB = spec.KiB
	MiB = spec.MiB
	GiB = spec.GiB
	TiB = spec.TiB

	SpeedRecorded = spec.SpeedRecorded
	SpeedScaled   = spec.SpeedScaled
	SpeedMax      = spec.SpeedMax
)

// ParseByteSize parses "64MiB", "1.5GB", "4096" and the like (spec.ParseByteSize).
func ParseByteSize(s string) (ByteSize, error) { return spec.ParseByteSize(s) }

// ParseSecret resolves a secret reference (spec.ParseSecret).
func ParseSecret(ref string) (Secret, error) { return spec.ParseSecret(ref) }

// LiteralSecret returns a secret holding v (spec.LiteralSecret).
func LiteralSecret(v string) Secret { return spec.LiteralSecret(v) }

// Config is a whole wirebridge configuration file.
type Config struct {
	// DataDir holds the embedded NATS store and relative file/pcap target paths.
	DataDir string   `yaml:"data_dir"`
	NATS    NATS     `yaml:"nats"`
	HTTP    HTTP     `yaml:"http"`
	Live    Live     `yaml:"live"`
	Sources []Source `yaml:"sources"`
	Rules   []Rule   `yaml:"rules"`
	Targets []Target `yaml:"targets"`
	// Appliance is the inline Geneve appliance (nil: none).
	Appliance *Appliance `yaml:"appliance,omitempty"`
	// Mirror lists the mirror controllers: each keeps traffic mirroring set up for the
	// endpoints its provider selects.
	Mirror []Mirror `yaml:"mirror,omitempty"`
	// ShutdownTimeout bounds the graceful shutdown (stop sources, drain, flush targets).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	Log             Log           `yaml:"log"`
	// Dissect configures the application-layer dissectors: Decode-As port
	// rules, protocols turned off, detail.PayloadText's length.
	Dissect Dissect `yaml:"dissect"`

	// File is the name the configuration was parsed under (used in error messages).
	File string `yaml:"-"`

	pos      map[string]Pos        // YAML path -> position of its value
	patterns map[string]*patternAt // rule path -> pattern source, for error positions
	rawPaths map[string]string     // target path key -> the output path as written, before data_dir was joined
	kinds    *component.Registry   // the kinds target types name
}

// Kinds returns the registry of component kinds the configuration was parsed with.
func (c *Config) Kinds() *component.Registry { return c.kinds }

// NATS configures the message bus used for durable delivery, live channels and KV state.
type NATS struct {
	// Embedded runs nats-server in-process with JetStream under data_dir/nats.
	// Default true, or false when URLs is set.
	Embedded bool `yaml:"embedded"`
	// URLs of an external NATS cluster (nats://, tls://, ws://, wss://). Exclusive with Embedded.
	URLs []string `yaml:"urls"`
	// Credentials is the content of a NATS .creds file (JWT + NKey seed); external only.
	Credentials Secret `yaml:"credentials"`
	// Token authenticates to an external server, or secures the embedded server's listener.
	Token Secret `yaml:"token"`
	// TLS for connections to an external cluster.
	TLS *TLS `yaml:"tls"`
	// Listen, when set, opens a client listener on the embedded server (host:port).
	// Empty (default): the embedded server has no network listener.
	Listen string `yaml:"listen"`
	// MaxMemory and MaxStorage limit the embedded JetStream store.
	MaxMemory  ByteSize `yaml:"max_memory"`
	MaxStorage ByteSize `yaml:"max_storage"`
	// Replicas of the wirebridge streams on an external cluster (1..5).
	Replicas int `yaml:"replicas"`
}

// HTTP configures the single HTTP listener (/metrics, /healthz, /readyz, /api, /ws, UI).
type HTTP struct {
	Listen string `yaml:"listen"`
	// PProf serves Go's runtime profiles under /debug/pprof/ on the same listener
	// (heap, goroutines, CPU). Off by default: profiles reveal internals.
	PProf bool `yaml:"pprof"`
}

// Live configures live channels: POST /api/events, GET /api/channels, the /ws WebSocket, the
// UI, API keys and share links.
type Live struct {
	// APIKeys grant scopes to whoever presents the key (Authorization: Bearer KEY or X-Api-Key).
	APIKeys []APIKey `yaml:"api_keys"`
	// ShareKey signs share links (HMAC-SHA256); changing it revokes every link signed before.
	// Unset: a random key generated once and kept in data_dir/live/share.key.
	ShareKey Secret `yaml:"share_key"`
	// ShareTTL is how long a share link is valid when no other lifetime is asked for (0: the
	// default, 1h).
	ShareTTL time.Duration `yaml:"share_ttl"`
	// ShareMaxTTL is the longest lifetime a share link may be given (wirebridge share --ttl,
	// POST /api/share); longer is refused. 0 (only in a Config built in Go): MaxShareTTL().
	ShareMaxTTL time.Duration `yaml:"share_max_ttl"`
	// Replay is how many recent events per channel a new subscriber receives first (0: none).
	Replay int `yaml:"replay"`
	// SubscriberQueue bounds the events waiting for one subscriber: when it is full the oldest
	// are dropped, counted and reported to that subscriber; the publisher never waits.
	SubscriberQueue int `yaml:"subscriber_queue"`
}

// MaxShareTTL is ShareMaxTTL, or its default when it is not set.
func (l *Live) MaxShareTTL() time.Duration {
	if l.ShareMaxTTL <= 0 {
		return DefaultShareMaxTTL
	}
	return l.ShareMaxTTL
}

// APIKey is one API key and what it may do.
type APIKey struct {
	Name   string   `yaml:"name"`
	Key    Secret   `yaml:"key"`
	Scopes []string `yaml:"scopes"` // publish | subscribe | admin
}

// Log configures log/slog output.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // auto (text on a TTY, JSON otherwise) | text | json
}

// Dissect configures which application dissector decodes which port, like
// Wireshark's "Decode As" (see docs/config.md#dissect).
type Dissect struct {
	// DecodeAs maps a transport port to a protocol, over the well-known
	// defaults; protocol "none" turns a port's dissector off.
	DecodeAs []DecodeAs `yaml:"decode_as"`
	// Disable turns protocols off everywhere (dns, http, syslog, tls, dhcp, ntp, arp).
	Disable []string `yaml:"disable"`
	// PayloadTextMax is the most payload bytes detail.PayloadText holds;
	// 0 turns PayloadText off. Default 256.
	PayloadTextMax int `yaml:"payload_text_max"`
}

// DecodeAs is one Decode-As rule.
type DecodeAs struct {
	Transport string `yaml:"transport"` // udp | tcp
	Port      int    `yaml:"port"`
	Protocol  string `yaml:"protocol"` // dns, http, syslog, tls, dhcp, ntp, or none
}

// Source is one packet source. Its type names a kind of source in the registry the
// configuration was parsed with; Spec is that kind's settings (its keys sit flat beside the
// common keys in YAML).
type Source struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// EventSource is the event's "source" field. Default "wirebridge.<type>".
	EventSource string `yaml:"event_source"`
	// Allow lists the sender networks accepted; empty accepts all. Others are dropped and counted.
	Allow     []netip.Prefix `yaml:"allow"`
	RateLimit RateLimit      `yaml:"rate_limit"`
	// MaxDatagram is the largest packet read whole; longer ones are truncated and flagged.
	MaxDatagram ByteSize `yaml:"max_datagram"`
	// QueueSize bounds the packets waiting between this source and the pipeline.
	QueueSize int `yaml:"queue_size"`

	Spec component.SourceSpec `yaml:"-" kind:"source"`
}

// Common returns the settings every source shares, as its kind's constructor takes them.
func (s *Source) Common() component.SourceCommon {
	return component.SourceCommon{
		Name: s.Name, EventSource: s.EventSource, Allow: s.Allow, RateLimit: s.RateLimit,
		MaxDatagram: s.MaxDatagram, QueueSize: s.QueueSize,
	}
}

// Rule routes events matching Pattern to Targets.
type Rule struct {
	Name string `yaml:"name"`
	// Pattern is the EventBridge event pattern as compact JSON (always a JSON object).
	Pattern Pattern  `yaml:"pattern"`
	Targets []string `yaml:"targets"`
	// InputPath delivers only the part of the event it selects (EventBridge InputPath).
	InputPath string `yaml:"input_path"`
	// InputPaths and InputTemplate form an EventBridge input transformer: each <var> in the
	// template is replaced by the value InputPaths[var] selects.
	InputPaths    map[string]string `yaml:"input_paths"`
	InputTemplate string            `yaml:"input_template"`
	Enabled       bool              `yaml:"enabled"`
}

// Target is one delivery destination. Its type names a kind of target in the registry the
// configuration was parsed with; Spec is that kind's settings (its keys sit flat beside name,
// type and delivery in YAML).
type Target struct {
	Name     string   `yaml:"name"`
	Type     string   `yaml:"type"`
	Delivery Delivery `yaml:"delivery"`

	Spec component.TargetSpec `yaml:"-" kind:"target"`
}

// DeliveryMode is how matched events reach a target.
type DeliveryMode string

// Delivery modes.
const (
	// Durable stores events in JetStream before acknowledging them into the target.
	Durable DeliveryMode = "durable"
	// Direct writes in-process; events in flight are lost on a crash.
	Direct DeliveryMode = "direct"
)

// Delivery holds the settings internal/deliver applies to one target.
type Delivery struct {
	// Mode defaults to durable or direct as the target's kind says
	// (component.Caps.DurableByDefault).
	Mode        DeliveryMode  `yaml:"mode"`
	MaxAttempts int           `yaml:"max_attempts"` // then dead-lettered (durable) or dropped (direct)
	MaxAge      time.Duration `yaml:"max_age"`      // 0: no age limit
	Backoff     Backoff       `yaml:"backoff"`
	BatchSize   int           `yaml:"batch_size"` // most deliveries handed to one Send
	// QueueSize bounds the events held in memory for the target before new ones are dropped
	// and counted (queue_full): direct mode: waiting for the target; durable mode: waiting to
	// be stored in JetStream (not yet accepted: a kill -9 loses them).
	QueueSize int `yaml:"queue_size"`
	// QueueBytes (direct mode) also bounds the events queued for the target, by the bytes of
	// their bodies and frames.
	QueueBytes ByteSize `yaml:"queue_bytes"`
	// AckWait (durable mode) is how long the bus waits for a fetched event's acknowledgement
	// before delivering it again; a running worker keeps the events it holds alive, so this is
	// how soon the events a crashed process held are delivered again.
	AckWait time.Duration `yaml:"ack_wait"`
}

// Backoff is exponential retry backoff: Initial * Multiplier^n, capped at Max, each delay
// randomised by ±Jitter (a fraction, 0..1). A Retry-After from the target takes precedence.
type Backoff struct {
	Initial    time.Duration `yaml:"initial"`
	Max        time.Duration `yaml:"max"`
	Multiplier float64       `yaml:"multiplier"`
	Jitter     float64       `yaml:"jitter"`
}

// Pos is a position in the configuration file (1-based).
type Pos struct {
	Line, Column int
}
