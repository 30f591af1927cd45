// Package replay is the replay target: the last stage of the data path for
// mirrored TCP traffic. It reassembles the TCP streams carried by matched
// packets and forwards them to a shadow service.
//
//	vxlan source ──► packet (Tunnel + inner TCP) ──► rule (VNI, port) ──► deliver (direct) ──► replay ──► shadow
//
// Send decodes each delivery's frame (Delivery.Frame, Delivery.Capture) with
// packet.Decode and feeds the innermost TCP segment to a
// tcpreasm.Reassembler (internal/tcpreasm: flows keyed by the tunnel's VNI
// and the inner 5-tuple, retransmissions and overlaps trimmed, out-of-order
// segments held within per-flow and total bounds, the gap policy applied to
// holes, flows ended by SYN, FIN, RST, idle timeouts and the flow limit,
// evictions counted). Each flow's reassembled bytes go to a consumer of the
// configured protocol; HTTP messages are parsed by internal/httpstream.
//
// Two protocols:
//
//   - tcp: the client-to-server byte stream of each flow is written, in
//     order and once, to a new TCP connection to Address. net.Conn.Write
//     writes everything or fails; after a failure the flow's connection is
//     dropped, never re-opened (re-sending would duplicate bytes). A flow
//     holds at most QueueBytes not yet written; beyond that Send waits for
//     the writer (backpressure) up to Timeout, then aborts that flow. A skipped
//     gap is counted; the bytes after it follow the bytes before it, so use
//     tcpreasm.GapAbort when the shadow must never see a stream with a hole.
//   - http: HTTP/1.0 and 1.1 requests are parsed from the client stream
//     (keep-alive, pipelining, Content-Length and chunked bodies, Expect:
//     100-continue) and sent, one at a time per flow and in order, over a
//     bounded pool of keep-alive connections to URL. The request line keeps
//     its method, target and version (an absolute-form target becomes
//     origin-form, URL's path is prepended); headers and body are sent as
//     received, except Host (rewritten to URL's host unless KeepHost) and the
//     SetHeaders. Filters (method, path regex, header regexes), percentage
//     sampling and a rate limit (excess requests are dropped, counted) choose
//     what is sent. A request hit by a gap is dropped (counted) and parsing
//     resumes at the next request line. After a parse error the connection's
//     parsing stops (the rest is counted as dropped) unless
//     ResyncOnParseError. Every request not replayed is counted in the
//     dropped counter under one reason. With Compare, the mirrored original
//     responses are parsed from the server stream and each replayed
//     response's status and body SHA-256 are compared with the original's;
//     differences are reported to OnDiff as Diff values (ReplayDiff events).
//
// # Delivery contract
//
// Ordering per flow matters, and a packet must reach the reassembler once:
// configure replay targets with delivery mode direct (in-process, in order;
// the config's default for replay). Send never asks deliver to retry: a
// packet is consumed once it reached the reassembler, and shadow failures are
// counted in the metrics (target errors), not returned. A delivery without a
// frame fails permanently (*handoff.BatchError).
//
// Metrics (Target is a prometheus.Collector): flows open, flows ended by
// reason, bytes and requests forwarded, requests dropped by reason, gaps and
// gap bytes, evictions, retransmitted bytes, target errors by kind,
// responses by status code, replay latency, diffs.
package replay

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/httpstream"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/target"
	"github.com/wirebridge/wirebridge/internal/tcpreasm"
)

// Protocols.
const (
	ProtocolTCP  = "tcp"
	ProtocolHTTP = "http"
)

// Config configures a replay target.
type Config struct {
	Name     string
	Protocol string // tcp | http (default)
	// Address is the shadow's host:port (tcp; for http an alternative to URL: http://Address).
	Address string
	// URL (http): scheme, host and port replace the original's; a path is prepended.
	URL      string
	KeepHost bool          // http: send the original Host header instead of URL's host
	Timeout  time.Duration // dial, write and response timeout; default 10s

	Limits tcpreasm.Limits // reassembly

	MaxHeader  int // http: largest request/response head; default 64 KiB
	MaxBody    int // http: largest request body forwarded; default 64 MiB (larger: dropped, counted)
	Pool       int // http: keep-alive connections to the shadow; default 64
	QueueBytes int // bytes (tcp) or request bytes (http) waiting per flow; default 8 MiB

	// Filters (http): a request is sent when every given filter matches.
	Methods []string                  // any of these methods (case-insensitive)
	Path    *regexp.Regexp            // the request target matches
	Headers map[string]*regexp.Regexp // each named header is present and matches
	Sample  float64                   // percent of requests sent (0 or 100: all)
	Rate    float64                   // requests per second; 0: unlimited
	Burst   int                       // rate limit burst; default max(1, Rate)

	SetHeaders []httpstream.Header // set or replace these headers

	// ResyncOnParseError (http): after a parse error in a request stream,
	// look for the next request line and go on replaying from it. A request
	// line inside a body the parser could not frame (conflicting
	// Content-Length and Transfer-Encoding, a bad chunk) is then replayed as a
	// request: a smuggled request reaches the shadow. Default (false): the
	// connection's parsing stops at the error; the request in error and every
	// request line found after it are counted as dropped (parse_error).
	ResyncOnParseError bool

	Compare bool       // compare replayed responses with the mirrored originals
	OnDiff  func(Diff) // called (from a worker goroutine) for each difference

	Now  func() time.Time // default time.Now
	Tick time.Duration    // how often the time limits are checked; default 100ms
}

// Target is a replay target.
type Target struct {
	cfg      Config
	kind     string
	url      *url.URL
	dialAddr string
	hostHdr  string
	prefix   string

	mu    sync.Mutex
	reasm *tcpreasm.Reassembler
	// reasmSnap is a copy of the reassembler's counters, published under mu
	// after each batch (and every publishEvery segments within one), each
	// Tick and at Close, so that Stats (/metrics) never waits for the data
	// path (a Send held up by backpressure, a long batch).
	snapMu    sync.Mutex
	reasmSnap tcpreasm.Stats
	pkt       packet.Packet
	closed    bool
	sendCx    context.Context // the ctx of the Send in progress (backpressure waits)

	life    context.Context
	cancel  context.CancelFunc
	workers sync.WaitGroup
	ticker  chan struct{}
	tickWG  sync.WaitGroup

	pool    *pool
	limiter *bucket

	st      counters
	latency prometheus.Histogram
}

// New validates cfg and returns a target. No connection is opened before a
// flow needs one.
func New(cfg Config) (*Target, error) {
	t := &Target{cfg: cfg, kind: "replay"}
	if cfg.Name != "" {
		t.kind = "replay " + cfg.Name
	}
	if t.cfg.Protocol == "" {
		t.cfg.Protocol = ProtocolHTTP
	}
	if t.cfg.Timeout <= 0 {
		t.cfg.Timeout = 10 * time.Second
	}
	if t.cfg.MaxHeader <= 0 {
		t.cfg.MaxHeader = 64 << 10
	}
	if t.cfg.MaxBody <= 0 {
		t.cfg.MaxBody = 64 << 20
	}
	if t.cfg.Pool <= 0 {
		t.cfg.Pool = 64
	}
	if t.cfg.QueueBytes <= 0 {
		t.cfg.QueueBytes = 8 << 20
	}
	if t.cfg.Now == nil {
		t.cfg.Now = time.Now
	}
	if t.cfg.Tick <= 0 {
		t.cfg.Tick = 100 * time.Millisecond
	}
	if t.cfg.Sample < 0 || t.cfg.Sample > 100 {
		return nil, fmt.Errorf("replay target: sample %v%% out of range 0..100", t.cfg.Sample)
	}
	switch t.cfg.Protocol {
	case ProtocolTCP:
		if cfg.Address == "" {
			return nil, errors.New("replay target: tcp needs an address")
		}
		if _, _, err := net.SplitHostPort(cfg.Address); err != nil {
			return nil, fmt.Errorf("replay target: address: %w", err)
		}
		t.dialAddr = cfg.Address
	case ProtocolHTTP:
		raw := cfg.URL
		if raw == "" {
			if cfg.Address == "" {
				return nil, errors.New("replay target: http needs a url or an address")
			}
			raw = "http://" + cfg.Address
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("replay target: url: %w", err)
		}
		if u.Scheme != "http" {
			return nil, fmt.Errorf("replay target: url %q: only http is supported", raw)
		}
		if u.Host == "" {
			return nil, fmt.Errorf("replay target: url %q has no host", raw)
		}
		t.url, t.hostHdr = u, u.Host
		t.dialAddr = u.Host
		if u.Port() == "" {
			t.dialAddr = net.JoinHostPort(u.Hostname(), "80")
		}
		t.prefix = strings.TrimSuffix(u.EscapedPath(), "/")
		t.pool = newPool(t.dialAddr, t.cfg.Pool, t.cfg.Timeout)
	default:
		return nil, fmt.Errorf("replay target: protocol %q: want tcp or http", t.cfg.Protocol)
	}
	if t.cfg.Rate > 0 {
		burst := float64(t.cfg.Burst)
		if burst <= 0 {
			burst = max(1, t.cfg.Rate)
		}
		t.limiter = &bucket{rate: t.cfg.Rate, burst: burst, tokens: burst, last: t.cfg.Now()}
	}
	t.st.init()
	t.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "wirebridge_replay_latency_seconds", Help: "Time from sending a replayed request (or the first bytes of a tcp flow's connection) to its complete response.",
		ConstLabels: prometheus.Labels{"target": cfg.Name},
		Buckets:     prometheus.ExponentialBuckets(0.0005, 2, 16),
	})
	t.life, t.cancel = context.WithCancel(context.Background())
	t.reasm = tcpreasm.New(t.cfg.Limits, t.openFlow)
	t.reasmSnap = t.reasm.Stats()
	t.ticker = make(chan struct{})
	t.tickWG.Go(t.tickLoop)
	return t, nil
}

func (t *Target) tickLoop() {
	tk := time.NewTicker(t.cfg.Tick)
	defer tk.Stop()
	for {
		select {
		case <-t.ticker:
			return
		case <-tk.C:
			t.mu.Lock()
			if !t.closed {
				t.sendCx = t.life
				t.reasm.Tick(t.cfg.Now())
				t.publish()
			}
			t.mu.Unlock()
		}
	}
}

// Send feeds the deliveries' frames to the reassembler, in order.
func (t *Target) Send(ctx context.Context, batch []handoff.Delivery) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return target.Closed("replay")
	}
	if err := ctx.Err(); err != nil {
		return target.Canceled("replay", ctx)
	}
	t.sendCx = ctx
	var failed map[int]error
	now := t.cfg.Now()
	for i := range batch {
		d := &batch[i]
		if d.Frame == nil {
			if failed == nil {
				failed = map[int]error{}
			}
			failed[i] = target.Permanentf("replay target: delivery %s has no frame", d.ID)
			continue
		}
		t.st.packets.Add(1)
		_ = packet.Decode(&t.pkt, d.Frame, d.Capture)
		s, ok := tcpreasm.SegmentFromPacket(&t.pkt)
		if !ok {
			t.st.notTCP.Add(1)
			continue
		}
		if t.pkt.Truncated() {
			t.st.truncated.Add(1)
		}
		s.Time = now
		t.reasm.Add(s)
		if i%publishEvery == publishEvery-1 {
			t.publish()
		}
	}
	t.publish()
	t.sendCx = t.life
	if failed != nil {
		return &handoff.BatchError{Failed: failed}
	}
	return nil
}

// Close ends every flow, lets the workers finish what they hold (within
// Timeout) and closes the shadow connections. It is idempotent.
func (t *Target) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.sendCx = t.life
	close(t.ticker)
	t.reasm.CloseAll(tcpreasm.EndClosed)
	t.publish()
	t.mu.Unlock()
	t.tickWG.Wait()
	done := make(chan struct{})
	go func() { t.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(t.cfg.Timeout):
		t.cancel()
		<-done
	}
	t.cancel()
	if t.pool != nil {
		t.pool.close()
	}
	return nil
}

// Flush applies the time limits now (tests and shutdown use it): holes older
// than GapWait are resolved, idle flows end.
func (t *Target) Flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.reasm.Tick(t.cfg.Now())
		t.publish()
	}
}

// publishEvery is how many segments a long batch feeds between two
// publications of the reassembler's counters.
const publishEvery = 1024

// publish copies the reassembler's counters for Stats; t.mu is held.
func (t *Target) publish() {
	s := t.reasm.Stats()
	t.snapMu.Lock()
	t.reasmSnap = s
	t.snapMu.Unlock()
}

// Wait blocks until every flow that has ended has finished forwarding, or ctx ends.
func (t *Target) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { t.workers.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *Target) openFlow(k tcpreasm.FlowKey, midstream bool) tcpreasm.Conn {
	t.st.flows.Add(1)
	if t.cfg.Protocol == ProtocolTCP {
		return t.newTCPConn(k)
	}
	return t.newHTTPConn(k, midstream)
}

// waitCtx is the context a consumer's backpressure wait honours.
func (t *Target) waitCtx() context.Context {
	if t.sendCx != nil {
		return t.sendCx
	}
	return t.life
}

// bucket is a token bucket.
type bucket struct {
	mu                  sync.Mutex
	rate, burst, tokens float64
	last                time.Time
}

func (b *bucket) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// sampled reports whether a request is kept by percentage sampling.
func (t *Target) sampled() bool {
	s := t.cfg.Sample
	return s == 0 || s >= 100 || rand.Float64()*100 < s
}

// Reasons of requests_dropped_total: every request not replayed is counted
// under one of these (docs/replay.md lists them). A flow's end reason
// (reset, fin, idle, evicted, memory, gap, error, closed) is the reason of
// the request it cut.
const (
	dropGap          = "gap"          // a hole in the client stream hit a request
	dropParseError   = "parse_error"  // a request the parser could not read, or found after a parse error
	dropUpgrade      = "upgrade"      // bytes after an Upgrade/CONNECT (the request itself is sent)
	dropTooLarge     = "too_large"    // body larger than max_body
	dropFiltered     = "filtered"     // the filters did not match
	dropSampled      = "sampled"      // left out by sampling
	dropRateLimited  = "rate_limited" // over the rate limit
	dropBackpressure = "backpressure" // the flow's queue to the shadow stayed full for timeout
	dropTargetError  = "target_error" // the shadow failed (dial, write, timeout, bad response)
	dropShutdown     = "shutdown"     // still queued when Close stopped waiting
	dropMidstream    = "midstream"    // a flow joined mid-stream began inside this request
)

// counters are the target's own counters (the reassembler's are read under t.mu).
type counters struct {
	packets, notTCP, truncated atomic.Uint64
	flows                      atomic.Uint64
	bytesForwarded             atomic.Uint64
	requestsParsed             atomic.Uint64
	requestsForwarded          atomic.Uint64
	diffs                      atomic.Uint64

	mu        sync.Mutex
	dropped   map[string]uint64 // requests (or tcp flows) dropped, by reason
	errors    map[string]uint64 // target errors, by kind
	responses map[int]uint64    // replayed responses by status
	parseErrs map[string]uint64
}

func (c *counters) init() {
	c.dropped, c.errors, c.responses, c.parseErrs = map[string]uint64{}, map[string]uint64{}, map[int]uint64{}, map[string]uint64{}
}

func (c *counters) add(m map[string]uint64, k string) {
	c.mu.Lock()
	m[k]++
	c.mu.Unlock()
}

func (c *counters) drop(reason string)   { c.add(c.dropped, reason) }
func (c *counters) err(kind string)      { c.add(c.errors, kind) }
func (c *counters) parseErr(kind string) { c.add(c.parseErrs, kind) }
func (c *counters) response(code int) {
	c.mu.Lock()
	c.responses[code]++
	c.mu.Unlock()
}

// Stats is a snapshot of a replay target's counters.
type Stats struct {
	Reasm             tcpreasm.Stats
	Packets, NotTCP   uint64
	Truncated         uint64
	BytesForwarded    uint64 // bytes written to the shadow (tcp: stream bytes; http: request bytes)
	RequestsParsed    uint64
	RequestsForwarded uint64 // requests that got a response
	Diffs             uint64
	Dropped           map[string]uint64
	Errors            map[string]uint64
	Responses         map[int]uint64
	ParseErrors       map[string]uint64
}

// Stats returns a snapshot of the counters. It never waits for Send: the
// reassembler's counters are as of the last batch (or Tick, or every
// publishEvery segments of a long batch).
func (t *Target) Stats() Stats {
	t.snapMu.Lock()
	rs := t.reasmSnap
	t.snapMu.Unlock()
	s := Stats{Reasm: rs, Packets: t.st.packets.Load(), NotTCP: t.st.notTCP.Load(), Truncated: t.st.truncated.Load(),
		BytesForwarded: t.st.bytesForwarded.Load(), RequestsParsed: t.st.requestsParsed.Load(),
		RequestsForwarded: t.st.requestsForwarded.Load(), Diffs: t.st.diffs.Load(),
		Dropped: map[string]uint64{}, Errors: map[string]uint64{}, Responses: map[int]uint64{}, ParseErrors: map[string]uint64{}}
	t.st.mu.Lock()
	for k, v := range t.st.dropped {
		s.Dropped[k] = v
	}
	for k, v := range t.st.errors {
		s.Errors[k] = v
	}
	for k, v := range t.st.responses {
		s.Responses[k] = v
	}
	for k, v := range t.st.parseErrs {
		s.ParseErrors[k] = v
	}
	t.st.mu.Unlock()
	return s
}
