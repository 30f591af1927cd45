package replay

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"time"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/httpstream"
	"github.com/wirebridge/wirebridge/internal/spec"
	"github.com/wirebridge/wirebridge/internal/tcpreasm"
)

// EventSource is the "source" of the ReplayDiff events a replay target publishes.
const EventSource = "wirebridge.replay"

// Kind is the replay target kind: mirrored TCP streams reassembled and forwarded to a shadow
// service.
var Kind = &component.TargetKind{
	Description: "reassemble mirrored TCP streams and replay them to a shadow service",
	NewSpec:     func() component.TargetSpec { return new(Spec) },
	Caps: func(component.TargetSpec) component.Caps {
		// Direct by default: ordering per flow matters and a packet must reach the
		// reassembler once.
		return component.Caps{Frame: component.FrameRequired, Ordered: true, Produces: true}
	},
	New: func(env component.Env, name string, s component.TargetSpec) (component.Target, error) {
		c, err := s.(*Spec).config(name)
		if err != nil {
			return nil, err
		}
		if env.Producer != nil {
			publish := env.Producer(name, EventSource)
			c.OnDiff = func(d Diff) { publish(d.Event(EventSource)) }
		}
		return New(c)
	},
}

// Spec is the configuration of a replay target.
type Spec struct {
	Address  string        `yaml:"address"`  // host:port of the shadow service
	URL      string        `yaml:"url"`      // http: http://host:port[/prefix], instead of address
	Protocol string        `yaml:"protocol"` // http | tcp
	Timeout  time.Duration `yaml:"timeout"`
	// Host is what the replayed Host header says: rewrite (the url's host) or keep (the original).
	Host string `yaml:"host"`
	// ServerPorts name the server side of flows joined mid-stream (no SYN seen).
	ServerPorts []uint16      `yaml:"server_ports"`
	Gap         Gap           `yaml:"gap"`
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	MaxFlows    int           `yaml:"max_flows"`
	FlowBuffer  spec.ByteSize `yaml:"flow_buffer"` // out-of-order bytes per flow and direction
	MaxBuffer   spec.ByteSize `yaml:"max_buffer"`  // out-of-order bytes in all
	QueueBytes  spec.ByteSize `yaml:"queue_bytes"` // bytes waiting per flow for the shadow
	MaxBody     spec.ByteSize `yaml:"max_body"`    // http: largest request body replayed
	Pool        int           `yaml:"pool"`        // http: keep-alive connections to the shadow
	Filter      Filter        `yaml:"filter"`
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

// Gap is what a replay target does with a hole in a stream.
type Gap struct {
	Policy string        `yaml:"policy"` // skip | abort
	Wait   time.Duration `yaml:"wait"`   // how long a hole may block its stream
	Bytes  spec.ByteSize `yaml:"bytes"`  // how many bytes may wait behind a hole
}

// Filter selects the HTTP requests a replay target sends (all given conditions hold).
type Filter struct {
	Methods []string          `yaml:"methods"`
	Path    string            `yaml:"path"`    // regular expression on the request target
	Headers map[string]string `yaml:"headers"` // header name -> regular expression on its value
}

// SetDefaults implements component.TargetSpec.
func (r *Spec) SetDefaults() {
	*r = Spec{Protocol: "http", Timeout: 10 * time.Second, Host: "rewrite",
		Gap:         Gap{Policy: "skip", Wait: 2 * time.Second, Bytes: 1 * spec.MiB},
		IdleTimeout: 2 * time.Minute, MaxFlows: 10000, FlowBuffer: 1 * spec.MiB, MaxBuffer: 64 * spec.MiB,
		QueueBytes: 8 * spec.MiB, MaxBody: 64 * spec.MiB, Pool: 64, OnParseError: "stop"}
}

// Delivery queue defaults of a replay target: mirror traffic is bursty and the reassembler
// takes each packet once, so room for 16,384 packets (about 25 MB of frames).
const (
	defaultQueue      = 16384
	defaultQueueBytes = 32 * spec.MiB
)

// QueueDefaults implements component.QueueDefaulter.
func (r *Spec) QueueDefaults() (int, spec.ByteSize) { return defaultQueue, defaultQueueBytes }

// Validate implements component.TargetSpec.
func (r *Spec) Validate(c *spec.Checker) {
	switch {
	case r.Address == "" && r.URL == "":
		c.Errorf("address", "required for a replay target: host:port of the shadow service (or url for http)")
	case r.Address != "" && r.URL != "":
		c.Errorf("url", "address and url are exclusive")
	case r.Address != "":
		if err := spec.CheckDial(r.Address); err != nil {
			c.Errorf("address", "%v", err)
		}
	default:
		if u, err := url.Parse(r.URL); err != nil || u.Scheme != "http" || u.Host == "" {
			c.Errorf("url", "invalid url %q: want http://host[:port][/prefix]", r.URL)
		} else if r.Protocol == "tcp" {
			c.Errorf("url", "only for protocol http; tcp uses address")
		}
	}
	c.OneOf("protocol", r.Protocol, "http", "tcp")
	c.Positive("timeout", r.Timeout)
	c.OneOf("host", r.Host, "rewrite", "keep")
	c.OneOf("gap.policy", r.Gap.Policy, "skip", "abort")
	c.OneOf("on_parse_error", r.OnParseError, "stop", "resync")
	c.Positive("gap.wait", r.Gap.Wait)
	c.Positive("idle_timeout", r.IdleTimeout)
	for _, b := range []struct {
		k string
		n spec.ByteSize
	}{{"gap.bytes", r.Gap.Bytes}, {"flow_buffer", r.FlowBuffer}, {"max_buffer", r.MaxBuffer}, {"queue_bytes", r.QueueBytes}, {"max_body", r.MaxBody}} {
		if b.n <= 0 {
			c.Errorf(b.k, "must be positive")
		}
	}
	if r.Gap.Bytes > r.FlowBuffer {
		c.Errorf("gap.bytes", "must not exceed flow_buffer (%d)", r.FlowBuffer)
	}
	c.IntRange("max_flows", r.MaxFlows, 1, 10_000_000)
	c.IntRange("pool", r.Pool, 1, 65536)
	if r.Sample < 0 || r.Sample > 100 {
		c.Errorf("sample", "a percentage from 0 to 100 (0: every request)")
	}
	if r.Rate < 0 {
		c.Errorf("rate", "must not be negative")
	}
	if r.Burst < 0 {
		c.Errorf("burst", "must not be negative")
	}
	if _, err := regexp.Compile(r.Filter.Path); err != nil {
		c.Errorf("filter.path", "invalid regular expression: %v", err)
	}
	for name, re := range r.Filter.Headers {
		if _, err := regexp.Compile(re); err != nil {
			c.Errorf("filter.headers."+name, "invalid regular expression: %v", err)
		}
	}
}

// Where implements component.Wherer.
func (r *Spec) Where() string {
	if r.URL != "" {
		return r.Protocol + " " + r.URL
	}
	return r.Protocol + " " + r.Address
}

// config maps the spec onto the target's Config. OnDiff is left for the kind's constructor.
func (r *Spec) config(name string) (Config, error) {
	c := Config{
		Name: name, Protocol: r.Protocol, Address: r.Address, URL: r.URL, KeepHost: r.Host == "keep",
		Timeout: r.Timeout,
		Limits: tcpreasm.Limits{
			MaxFlows: r.MaxFlows, FlowBuffer: int(r.FlowBuffer), TotalBuffer: int(r.MaxBuffer),
			GapWait: r.Gap.Wait, GapBytes: int(r.Gap.Bytes), IdleTimeout: r.IdleTimeout, ServerPorts: r.ServerPorts,
		},
		MaxBody: int(r.MaxBody), Pool: r.Pool, QueueBytes: int(r.QueueBytes),
		Methods: r.Filter.Methods, Sample: r.Sample, Rate: r.Rate, Burst: r.Burst, Compare: r.Compare,
		ResyncOnParseError: r.OnParseError == "resync",
	}
	if r.Gap.Policy == "abort" {
		c.Limits.Policy = tcpreasm.GapAbort
	}
	if r.Filter.Path != "" {
		re, err := regexp.Compile(r.Filter.Path)
		if err != nil {
			return c, fmt.Errorf("replay target %q: filter path: %w", name, err)
		}
		c.Path = re
	}
	for header, expr := range r.Filter.Headers {
		re, err := regexp.Compile(expr)
		if err != nil {
			return c, fmt.Errorf("replay target %q: filter header %s: %w", name, header, err)
		}
		if c.Headers == nil {
			c.Headers = map[string]*regexp.Regexp{}
		}
		c.Headers[header] = re
	}
	names := make([]string, 0, len(r.SetHeaders))
	for n := range r.SetHeaders {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c.SetHeaders = append(c.SetHeaders, httpstream.Header{Name: n, Value: r.SetHeaders[n]})
	}
	return c, nil
}
