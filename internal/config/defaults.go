package config

import (
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/dissect"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// Defaults. docs/config.md lists the same values; a test keeps the two in step.
const (
	DefaultDataDir         = "./wirebridge-data"
	DefaultHTTPListen      = "127.0.0.1:8080"
	DefaultShutdownTimeout = 30 * time.Second
	DefaultMaxDatagram     = spec.DefaultMaxDatagram
	MinMaxDatagram         = spec.DefaultMaxDatagram
	DefaultSourceQueue     = 4096
	DefaultLiveReplay      = 100
	DefaultLiveQueue       = 1024
	DefaultShareTTL        = time.Hour
	DefaultShareMaxTTL     = 24 * time.Hour
	// DefaultDirectQueue is delivery.queue_size for a target in direct mode
	// when the file does not set one (and its kind has no default of its
	// own, component.QueueDefaulter): a local sink
	// such as the file target writes whole batches, but its goroutine may
	// wait a scheduler time slice or two on a busy machine (at 400,000
	// events/s a 4 ms wait is 1,600 events; with 1,024 the archive
	// benchmark lost events at 200,000/s, with 8,192 none). Durable
	// targets keep DefaultDurableQueue: their buffer only waits for the
	// store, which takes batches.
	DefaultDirectQueue  = 16384
	DefaultDurableQueue = 1024
	// DefaultQueueBytes bounds the bytes (bodies and frames) queued for a
	// direct target: with large datagrams the count alone would allow
	// hundreds of megabytes. A kind may set its own queue defaults
	// (component.QueueDefaulter: replay holds 16,384 packets, 32 MiB).
	DefaultQueueBytes = 16 * MiB
)

func (c *Config) setDefaults() {
	c.DataDir = DefaultDataDir
	c.HTTP.Listen = DefaultHTTPListen
	c.ShutdownTimeout = DefaultShutdownTimeout
	c.Log = Log{Level: "info", Format: "auto"}
	c.Dissect = Dissect{PayloadTextMax: dissect.DefaultPayloadTextMax}
	c.NATS = NATS{Embedded: true, MaxMemory: 64 * MiB, MaxStorage: 4 * GiB, Replicas: 1}
	c.Live = Live{Replay: DefaultLiveReplay, SubscriberQueue: DefaultLiveQueue, ShareTTL: DefaultShareTTL, ShareMaxTTL: DefaultShareMaxTTL}
}

func (s *Source) setDefaults() {
	s.MaxDatagram = DefaultMaxDatagram
	s.QueueSize = DefaultSourceQueue
}

func (r *Rule) setDefaults() {
	r.Enabled = true
}

func (t *Target) setDefaults() {
	t.Delivery = Delivery{
		MaxAttempts: 10,
		MaxAge:      24 * time.Hour,
		Backoff:     Backoff{Initial: time.Second, Max: 5 * time.Minute, Multiplier: 2, Jitter: 0.2},
		BatchSize:   100,
		QueueSize:   DefaultDurableQueue,
		QueueBytes:  DefaultQueueBytes,
		AckWait:     10 * time.Second,
	}
}

// DefaultMode is the delivery mode a target of this kind gets when none is configured.
func DefaultMode(caps component.Caps) DeliveryMode {
	if caps.DurableByDefault {
		return Durable
	}
	return Direct
}

// finish fills the defaults that depend on other values, after decoding.
func (c *Config) finish() {
	c.finishAppliance()
	if c.Live.ShareTTL == 0 {
		c.Live.ShareTTL = DefaultShareTTL // documented: 0 is the default
	}
	if _, set := c.pos["nats.embedded"]; !set && len(c.NATS.URLs) > 0 {
		c.NATS.Embedded = false
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.EventSource == "" && s.Type != "" {
			s.EventSource = "wirebridge." + s.Type
		}
		for _, b := range []*TokenBucket{&s.RateLimit.PerSource, &s.RateLimit.Global} {
			if b.PPS > 0 && b.Burst == 0 && b.PPS < math.MaxInt32 {
				b.Burst = int(math.Ceil(b.PPS))
			}
		}
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		if f, ok := t.Spec.(component.Finisher); ok {
			f.Finish(t.Name)
		}
		if t.Delivery.Mode == "" {
			t.Delivery.Mode = Direct
			if kind := c.targetKind(t); kind != nil {
				t.Delivery.Mode = DefaultMode(kind.Caps(t.Spec))
			}
		}
		qd, custom := t.Spec.(component.QueueDefaulter)
		if _, set := c.pos[fmt.Sprintf("targets[%d].delivery.queue_size", i)]; !set && (custom || t.Delivery.Mode == Direct) {
			t.Delivery.QueueSize = DefaultDirectQueue
			if custom {
				t.Delivery.QueueSize, _ = qd.QueueDefaults()
			}
		}
		if _, set := c.pos[fmt.Sprintf("targets[%d].delivery.queue_bytes", i)]; !set && custom {
			_, b := qd.QueueDefaults()
			t.Delivery.QueueBytes = b
		}
		if c.rawPaths == nil {
			c.rawPaths = map[string]string{}
		}
		if o, ok := t.Spec.(component.Output); ok {
			p := o.OutputPath()
			c.rawPaths[fmt.Sprintf("targets[%d].path", i)] = string(*p)
			*p = c.OutputPath(*p)
		}
	}
}

// OutputPath places a relative target path under the data directory. Percent signs in the data
// directory are escaped so that they are not taken for time verbs.
func (c *Config) OutputPath(p TimePattern) TimePattern {
	if p == "" || filepath.IsAbs(string(p)) {
		return p
	}
	dir := strings.ReplaceAll(c.DataDir, "%", "%%")
	return TimePattern(filepath.Join(dir, string(p)))
}

// targetKind returns the kind of a target whose spec is set and of its type, or nil.
func (c *Config) targetKind(t *Target) *component.TargetKind {
	if t.Spec == nil || c.kinds == nil {
		return nil
	}
	k, ok := c.kinds.Target(t.Type)
	if !ok || reflect.TypeOf(k.NewSpec()) != reflect.TypeOf(t.Spec) {
		return nil
	}
	return k
}

// sourceKind returns the kind of a source whose spec is set and of its type, or nil.
func (c *Config) sourceKind(s *Source) *component.SourceKind {
	if s.Spec == nil || c.kinds == nil {
		return nil
	}
	k, ok := c.kinds.Source(s.Type)
	if !ok || reflect.TypeOf(k.NewSpec()) != reflect.TypeOf(s.Spec) {
		return nil
	}
	return k
}
