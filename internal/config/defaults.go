package config

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"
)

// Defaults. docs/config.md lists the same values; a test keeps the two in step.
const (
	DefaultDataDir         = "./wirebridge-data"
	DefaultHTTPListen      = "127.0.0.1:8080"
	DefaultShutdownTimeout = 30 * time.Second
	DefaultMaxDatagram     = 9216
	MinMaxDatagram         = 9216
	DefaultSourceQueue     = 4096
	DefaultLiveReplay      = 100
	DefaultLiveQueue       = 1024
	DefaultShareTTL        = time.Hour
	DefaultShareMaxTTL     = 24 * time.Hour
	// DefaultDirectQueue is delivery.queue_size for a target in direct mode
	// (and any replay target) when the file does not set one: a local sink
	// such as the file target writes whole batches, but its goroutine may
	// wait a scheduler time slice or two on a busy machine (at 400,000
	// events/s a 4 ms wait is 1,600 events; with 1,024 the archive
	// benchmark lost events at 200,000/s, with 8,192 none). Durable
	// targets keep DefaultDurableQueue: their buffer only waits for the
	// store, which takes batches.
	DefaultDirectQueue  = 16384
	DefaultDurableQueue = 1024
	// DefaultReplayQueue is the same for a replay target: mirror traffic is
	// bursty and the reassembler takes each packet once, so room for 16,384
	// packets (about 25 MB of frames: its queue_bytes default is 32 MiB).
	DefaultReplayQueue = DefaultDirectQueue
	// DefaultQueueBytes bounds the bytes (bodies and frames) queued for a
	// direct target (DefaultReplayQueueBytes for replay): with large
	// datagrams the count alone would allow hundreds of megabytes.
	DefaultQueueBytes       = 16 * MiB
	DefaultReplayQueueBytes = 32 * MiB
)

func (c *Config) setDefaults() {
	c.DataDir = DefaultDataDir
	c.HTTP.Listen = DefaultHTTPListen
	c.ShutdownTimeout = DefaultShutdownTimeout
	c.Log = Log{Level: "info", Format: "auto"}
	c.NATS = NATS{Embedded: true, MaxMemory: 64 * MiB, MaxStorage: 4 * GiB, Replicas: 1}
	c.Live = Live{Replay: DefaultLiveReplay, SubscriberQueue: DefaultLiveQueue, ShareTTL: DefaultShareTTL, ShareMaxTTL: DefaultShareMaxTTL}
}

func (t *LiveTarget) setDefaults() {
	*t = LiveTarget{Frames: true}
}

func (s *Source) setDefaults() {
	s.MaxDatagram = DefaultMaxDatagram
	s.QueueSize = DefaultSourceQueue
}

func (s *UDPSource) setDefaults() {
	*s = UDPSource{Readers: 2, RecvBuffer: 4 * MiB, Batch: 64}
}

func (s *RawSource) setDefaults() {
	*s = RawSource{IPv4: true, IPv6: true, RecvBuffer: 4 * MiB, Batch: 64}
}

func (s *AFPacketSource) setDefaults() {
	*s = AFPacketSource{Readers: 1, Fanout: "hash", RingSize: 16 * MiB, BlockSize: 1 * MiB, BlockTimeout: 10 * time.Millisecond}
}

func (s *PCAPSource) setDefaults() {
	*s = PCAPSource{Speed: Speed{Mode: SpeedRecorded, Factor: 1}}
}

func (s *VXLANSource) setDefaults() {
	*s = VXLANSource{Readers: 2, RecvBuffer: 4 * MiB, Batch: 64}
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

func (t *HTTPTarget) setDefaults() {
	*t = HTTPTarget{Method: "POST", Timeout: 10 * time.Second}
}

func (h *HMAC) setDefaults() {
	*h = HMAC{Header: "X-Wirebridge-Signature", TimestampHeader: "X-Wirebridge-Timestamp"}
}

func (b *HTTPBatch) setDefaults() {
	*b = HTTPBatch{MaxEvents: 100, MaxBytes: 1 * MiB, Format: "json-array"}
}

func (t *FileTarget) setDefaults() {
	*t = FileTarget{Rotate: Rotate{Size: 128 * MiB, Interval: time.Hour}, Compress: "none", Fsync: "rotate", FsyncInterval: time.Second}
}

func (t *PCAPTarget) setDefaults() {
	*t = PCAPTarget{Rotate: Rotate{Size: 128 * MiB, Interval: time.Hour}, Snaplen: 65535}
}

func (t *EventBridgeTarget) setDefaults() {
	*t = EventBridgeTarget{EventBusName: "default"}
}

func (t *ReplayTarget) setDefaults() {
	*t = ReplayTarget{Protocol: "http", Timeout: 10 * time.Second, Host: "rewrite",
		Gap:         ReplayGap{Policy: "skip", Wait: 2 * time.Second, Bytes: 1 * MiB},
		IdleTimeout: 2 * time.Minute, MaxFlows: 10000, FlowBuffer: 1 * MiB, MaxBuffer: 64 * MiB,
		QueueBytes: 8 * MiB, MaxBody: 64 * MiB, Pool: 64, OnParseError: "stop"}
}

// DefaultMode is the delivery mode a target of this type gets when none is configured.
func (t *Target) DefaultMode() DeliveryMode {
	switch t.Type {
	case TargetHTTP, TargetEventBridge, TargetNATS:
		return Durable
	}
	// replay: ordering per flow matters and a packet must reach the reassembler once.
	return Direct
}

// finish fills the defaults that depend on other values, after decoding.
func (c *Config) finish() {
	if c.Live.ShareTTL == 0 {
		c.Live.ShareTTL = DefaultShareTTL // documented: 0 is the default
	}
	if _, set := c.pos["nats.embedded"]; !set && len(c.NATS.URLs) > 0 {
		c.NATS.Embedded = false
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.EventSource == "" && s.Type != "" {
			s.EventSource = "wirebridge." + string(s.Type)
		}
		for _, b := range []*TokenBucket{&s.RateLimit.PerSource, &s.RateLimit.Global} {
			if b.PPS > 0 && b.Burst == 0 && b.PPS < math.MaxInt32 {
				b.Burst = int(math.Ceil(b.PPS))
			}
		}
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.Delivery.Mode == "" {
			t.Delivery.Mode = t.DefaultMode()
		}
		if _, set := c.pos[fmt.Sprintf("targets[%d].delivery.queue_size", i)]; !set && (t.Type == TargetReplay || t.Delivery.Mode == Direct) {
			t.Delivery.QueueSize = DefaultDirectQueue
		}
		if _, set := c.pos[fmt.Sprintf("targets[%d].delivery.queue_bytes", i)]; !set && t.Type == TargetReplay {
			t.Delivery.QueueBytes = DefaultReplayQueueBytes
		}
		if c.rawPaths == nil {
			c.rawPaths = map[string]string{}
		}
		if t.File != nil {
			c.rawPaths[fmt.Sprintf("targets[%d].path", i)] = string(t.File.Path)
			t.File.Path = c.OutputPath(t.File.Path)
		}
		if t.PCAP != nil {
			c.rawPaths[fmt.Sprintf("targets[%d].path", i)] = string(t.PCAP.Path)
			t.PCAP.Path = c.OutputPath(t.PCAP.Path)
		}
		if t.Live != nil && t.Live.Channel == "" {
			t.Live.Channel = "/" + t.Name
		} else if t.Live != nil && !strings.HasPrefix(t.Live.Channel, "/") {
			t.Live.Channel = "/" + t.Live.Channel
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
