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
)

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
	// ShutdownTimeout bounds the graceful shutdown (stop sources, drain, flush targets).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	Log             Log           `yaml:"log"`

	// File is the name the configuration was parsed under (used in error messages).
	File string `yaml:"-"`

	pos      map[string]Pos        // YAML path -> position of its value
	patterns map[string]*patternAt // rule path -> pattern source, for error positions
	rawPaths map[string]string     // target path key -> the output path as written, before data_dir was joined
}

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

// SourceType names a kind of source.
type SourceType string

// Source types.
const (
	SourceUDP      SourceType = "udp"
	SourceRaw      SourceType = "raw"
	SourceAFPacket SourceType = "afpacket"
	SourcePCAP     SourceType = "pcap"
	SourceVXLAN    SourceType = "vxlan"
)

// SourceTypes lists every source type in documentation order.
var SourceTypes = []SourceType{SourceUDP, SourceRaw, SourceAFPacket, SourcePCAP, SourceVXLAN}

// Source is one packet source. Exactly one of the type-specific pointers (the one named by
// Type) is non-nil after a successful parse; its keys sit flat beside the common keys in YAML.
type Source struct {
	Name string     `yaml:"name"`
	Type SourceType `yaml:"type"`
	// EventSource is the event's "source" field. Default "wirebridge.<type>".
	EventSource string `yaml:"event_source"`
	// Allow lists the sender networks accepted; empty accepts all. Others are dropped and counted.
	Allow     []netip.Prefix `yaml:"allow"`
	RateLimit RateLimit      `yaml:"rate_limit"`
	// MaxDatagram is the largest packet read whole; longer ones are truncated and flagged.
	MaxDatagram ByteSize `yaml:"max_datagram"`
	// QueueSize bounds the packets waiting between this source and the pipeline.
	QueueSize int `yaml:"queue_size"`

	UDP      *UDPSource      `yaml:"-" variant:"udp"`
	Raw      *RawSource      `yaml:"-" variant:"raw"`
	AFPacket *AFPacketSource `yaml:"-" variant:"afpacket"`
	PCAP     *PCAPSource     `yaml:"-" variant:"pcap"`
	VXLAN    *VXLANSource    `yaml:"-" variant:"vxlan"`
}

// RateLimit holds the token buckets applied before decoding. A zero PPS means unlimited.
type RateLimit struct {
	PerSource TokenBucket `yaml:"per_source"` // one bucket per sender IP
	Global    TokenBucket `yaml:"global"`     // one bucket for the whole source
}

// TokenBucket is a rate in packets per second with a burst size.
type TokenBucket struct {
	PPS   float64 `yaml:"pps"`
	Burst int     `yaml:"burst"` // default: PPS rounded up
}

// UDPSource listens on UDP sockets (one exclusive socket per address, readers taking turns on it, recvmmsg, IP_PKTINFO, SO_TIMESTAMPNS).
type UDPSource struct {
	Listen     []string `yaml:"listen"`      // host:port, IPv4 or IPv6
	Readers    int      `yaml:"readers"`     // reader goroutines on each address's one socket
	RecvBuffer ByteSize `yaml:"recv_buffer"` // SO_RCVBUF
	Batch      int      `yaml:"batch"`       // datagrams per recvmmsg
}

// RawSource reads every UDP datagram arriving at the host (SOCK_RAW, IPPROTO_UDP).
type RawSource struct {
	IPv4       bool     `yaml:"ipv4"`
	IPv6       bool     `yaml:"ipv6"`
	RecvBuffer ByteSize `yaml:"recv_buffer"`
	Batch      int      `yaml:"batch"`
}

// AFPacketSource captures frames on an interface with a TPACKET_V3 ring.
type AFPacketSource struct {
	Interface string `yaml:"interface"`
	// Filter is compiled to a classic BPF program; empty accepts everything.
	Filter Filter `yaml:"filter"`
	// Readers > 1 joins a PACKET_FANOUT group with that many sockets.
	Readers      int           `yaml:"readers"`
	Fanout       string        `yaml:"fanout"` // hash | lb | cpu
	RingSize     ByteSize      `yaml:"ring_size"`
	BlockSize    ByteSize      `yaml:"block_size"`
	BlockTimeout time.Duration `yaml:"block_timeout"`
	Promiscuous  bool          `yaml:"promiscuous"`
}

// Filter is the small capture filter language of afpacket sources: a packet passes when its IP
// protocol is one of Protocols (if any are given), for UDP and TCP its source or destination
// port is in one of Ports (if any are given), and its source or destination address is in one of
// Hosts (if any are given). Non-IP frames pass only when all lists are empty.
type Filter struct {
	Protocols []string       `yaml:"protocols"` // udp | tcp | icmp | icmpv6
	Ports     []PortRange    `yaml:"ports"`     // 514 or "5000-5100"
	Hosts     []netip.Prefix `yaml:"hosts"`     // 10.0.0.0/8, 2001:db8::1
}

// PCAPSource replays a pcap or pcapng file.
type PCAPSource struct {
	File  string `yaml:"file"`
	Speed Speed  `yaml:"speed"`
	Loop  bool   `yaml:"loop"`
}

// VXLANSource decapsulates VXLAN mirror traffic (AWS VPC Traffic Mirroring, tc mirred).
type VXLANSource struct {
	Listen []string `yaml:"listen"` // host:port, usually :4789 (listener mode)
	// Interface reads the VXLAN packets with AF_PACKET on an interface instead of a listener.
	Interface  string   `yaml:"interface"`
	Port       uint16   `yaml:"port"`     // interface mode: the VXLAN UDP port (4789)
	VNI        []uint32 `yaml:"vni"`      // accepted VNIs; empty accepts all
	DenyVNI    []uint32 `yaml:"deny_vni"` // refused VNIs
	Readers    int      `yaml:"readers"`
	RecvBuffer ByteSize `yaml:"recv_buffer"`
	Batch      int      `yaml:"batch"`
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

// TargetType names a kind of target.
type TargetType string

// Target types.
const (
	TargetHTTP        TargetType = "http"
	TargetFile        TargetType = "file"
	TargetPCAP        TargetType = "pcap"
	TargetStdout      TargetType = "stdout"
	TargetNATS        TargetType = "nats"
	TargetEventBridge TargetType = "eventbridge"
	TargetLive        TargetType = "live"
	TargetReplay      TargetType = "replay"
)

// TargetTypes lists every target type in documentation order.
var TargetTypes = []TargetType{TargetHTTP, TargetFile, TargetPCAP, TargetStdout, TargetNATS, TargetEventBridge, TargetLive, TargetReplay}

// Target is one delivery destination. Exactly one type-specific pointer (named by Type) is
// non-nil after a successful parse; its keys sit flat beside name, type and delivery in YAML.
type Target struct {
	Name     string     `yaml:"name"`
	Type     TargetType `yaml:"type"`
	Delivery Delivery   `yaml:"delivery"`

	HTTP        *HTTPTarget        `yaml:"-" variant:"http"`
	File        *FileTarget        `yaml:"-" variant:"file"`
	PCAP        *PCAPTarget        `yaml:"-" variant:"pcap"`
	Stdout      *StdoutTarget      `yaml:"-" variant:"stdout"`
	NATS        *NATSTarget        `yaml:"-" variant:"nats"`
	EventBridge *EventBridgeTarget `yaml:"-" variant:"eventbridge"`
	Live        *LiveTarget        `yaml:"-" variant:"live"`
	Replay      *ReplayTarget      `yaml:"-" variant:"replay"`
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
	// Mode defaults to durable for http, eventbridge, nats and replay with protocol http,
	// and to direct for file, pcap, stdout, live and replay with protocol tcp.
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

// HTTPTarget POSTs events to a webhook.
type HTTPTarget struct {
	URL     string            `yaml:"url"`
	Method  string            `yaml:"method"` // POST | PUT | PATCH
	Headers map[string]string `yaml:"headers"`
	// SecretHeaders are headers whose values are secrets (API keys).
	SecretHeaders map[string]Secret `yaml:"secret_headers"`
	BearerToken   Secret            `yaml:"bearer_token"`
	HMAC          *HMAC             `yaml:"hmac"`
	Timeout       time.Duration     `yaml:"timeout"`
	TLS           *TLS              `yaml:"tls"`
	// Batch, when set, sends several events per request; nil sends one event per request.
	Batch *HTTPBatch `yaml:"batch"`
}

// HMAC signs each request: Header carries hex(HMAC-SHA256(secret, timestamp + "." + body)) and
// TimestampHeader the Unix timestamp in seconds used in it.
type HMAC struct {
	Secret          Secret `yaml:"secret"`
	Header          string `yaml:"header"`
	TimestampHeader string `yaml:"timestamp_header"`
}

// TLS holds client TLS options.
type TLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// HTTPBatch shapes batched request bodies.
type HTTPBatch struct {
	MaxEvents int      `yaml:"max_events"`
	MaxBytes  ByteSize `yaml:"max_bytes"`
	Format    string   `yaml:"format"` // json-array | ndjson
}

// Rotate closes the current file and starts a new one when it reaches Size or has been open for
// Interval (whichever comes first). Zero disables that trigger.
type Rotate struct {
	Size     ByteSize      `yaml:"size"`
	Interval time.Duration `yaml:"interval"`
}

// FileTarget appends events as NDJSON.
type FileTarget struct {
	// Path is a time pattern; relative paths are placed under data_dir.
	Path          TimePattern   `yaml:"path"`
	Rotate        Rotate        `yaml:"rotate"`
	Compress      string        `yaml:"compress"` // none | gzip | zstd
	Fsync         string        `yaml:"fsync"`    // never | rotate | always | interval
	FsyncInterval time.Duration `yaml:"fsync_interval"`
}

// PCAPTarget archives the matched packets' original frames in rotating pcap files.
type PCAPTarget struct {
	Path    TimePattern `yaml:"path"`
	Rotate  Rotate      `yaml:"rotate"`
	Snaplen int         `yaml:"snaplen"`
}

// StdoutTarget writes events to standard output as NDJSON.
type StdoutTarget struct {
	Pretty bool `yaml:"pretty"` // indented JSON instead of one line per event
}

// NATSTarget publishes each event to a subject on the bus, or on an external NATS.
type NATSTarget struct {
	Subject     string   `yaml:"subject"`
	URLs        []string `yaml:"urls"` // empty: the wirebridge bus
	Credentials Secret   `yaml:"credentials"`
	Token       Secret   `yaml:"token"`
}

// EventBridgeTarget calls PutEvents on Amazon EventBridge.
type EventBridgeTarget struct {
	Region       string `yaml:"region"`   // empty: the AWS SDK's default chain
	Endpoint     string `yaml:"endpoint"` // override, e.g. a local emulator
	EventBusName string `yaml:"event_bus_name"`
	DetailType   string `yaml:"detail_type"` // empty: the event's detail-type
	Source       string `yaml:"source"`      // empty: the event's source
}

// LiveTarget fans events out to browsers watching a live channel.
type LiveTarget struct {
	// Channel is a path such as /packets/all (default: "/" and the target's name).
	Channel string `yaml:"channel"`
	// Frames adds each packet's captured frame (base64) to what subscribers receive, so that the
	// UI can show a hex dump and export pcap. It is not part of the event.
	Frames bool `yaml:"frames"`
}

// ReplayTarget reassembles mirrored TCP streams and forwards them to a shadow service.
type ReplayTarget struct {
	Address  string        `yaml:"address"`  // host:port of the shadow service
	URL      string        `yaml:"url"`      // http: http://host:port[/prefix], instead of address
	Protocol string        `yaml:"protocol"` // http | tcp
	Timeout  time.Duration `yaml:"timeout"`
	// Host is what the replayed Host header says: rewrite (the url's host) or keep (the original).
	Host string `yaml:"host"`
	// ServerPorts name the server side of flows joined mid-stream (no SYN seen).
	ServerPorts []uint16      `yaml:"server_ports"`
	Gap         ReplayGap     `yaml:"gap"`
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	MaxFlows    int           `yaml:"max_flows"`
	FlowBuffer  ByteSize      `yaml:"flow_buffer"` // out-of-order bytes per flow and direction
	MaxBuffer   ByteSize      `yaml:"max_buffer"`  // out-of-order bytes in all
	QueueBytes  ByteSize      `yaml:"queue_bytes"` // bytes waiting per flow for the shadow
	MaxBody     ByteSize      `yaml:"max_body"`    // http: largest request body replayed
	Pool        int           `yaml:"pool"`        // http: keep-alive connections to the shadow
	Filter      ReplayFilter  `yaml:"filter"`
	Sample      float64       `yaml:"sample"` // http: percent of requests replayed
	Rate        float64       `yaml:"rate"`   // http: requests per second; 0 unlimited
	Burst       int           `yaml:"burst"`
	// SetHeaders are set on (or replace in) every replayed request.
	SetHeaders map[string]string `yaml:"set_headers"`
	// Compare compares replayed responses with the mirrored originals (ReplayDiff).
	Compare bool `yaml:"compare"`
	// OnParseError (http): stop (the connection's parsing ends at a parse error, the rest is
	// counted as dropped) or resync (look for the next request line: replays smuggled requests).
	OnParseError string `yaml:"on_parse_error"`
}

// ReplayGap is what a replay target does with a hole in a stream.
type ReplayGap struct {
	Policy string        `yaml:"policy"` // skip | abort
	Wait   time.Duration `yaml:"wait"`   // how long a hole may block its stream
	Bytes  ByteSize      `yaml:"bytes"`  // how many bytes may wait behind a hole
}

// ReplayFilter selects the HTTP requests a replay target sends (all given conditions hold).
type ReplayFilter struct {
	Methods []string          `yaml:"methods"`
	Path    string            `yaml:"path"`    // regular expression on the request target
	Headers map[string]string `yaml:"headers"` // header name -> regular expression on its value
}

// Pos is a position in the configuration file (1-based).
type Pos struct {
	Line, Column int
}
