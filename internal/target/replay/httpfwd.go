package replay

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/httpstream"
	"github.com/wirebridge/wirebridge/internal/tcpreasm"
)

// Diff is a replayed response that differs from the mirrored original: the
// detail of a ReplayDiff event.
type Diff struct {
	Target      string
	Flow        tcpreasm.FlowKey
	Index       int // the request's position in its connection (0-based)
	Method, URI string
	// Request is the reassembled request's head in the fields of a packet
	// event's detail.HTTP (Method, Path, Version, Host, UserAgent,
	// ContentType, ContentLength), so the rules written for packets match
	// the per-message view too.
	Request            RequestHead
	OriginalStatus     int
	ReplayStatus       int
	OriginalBodySHA256 string
	ReplayBodySHA256   string
	OriginalBodyLength int64
	ReplayBodyLength   int64
	Time               time.Time
}

// RequestHead is what a ReplayDiff event's detail.HTTP holds of the request.
type RequestHead struct {
	Method, Path, Version, Host, UserAgent, ContentType string
	ContentLength                                       int64 // -1: no Content-Length header
}

func requestHead(m *httpstream.Message) RequestHead {
	h := RequestHead{Method: m.Method, Path: m.URI, Version: m.Proto, ContentLength: -1}
	h.Host, _ = m.Get("Host")
	h.UserAgent, _ = m.Get("User-Agent")
	h.ContentType, _ = m.Get("Content-Type")
	if v, ok := m.Get("Content-Length"); ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 {
			h.ContentLength = n
		}
	}
	return h
}

// block is detail.HTTP: the request's fields and the original response's Status.
func (h RequestHead) block(status int) map[string]any {
	b := map[string]any{"Method": h.Method, "Path": h.Path}
	for k, v := range map[string]string{"Version": h.Version, "Host": h.Host, "UserAgent": h.UserAgent, "ContentType": h.ContentType} {
		if v != "" {
			b[k] = v
		}
	}
	if h.ContentLength >= 0 {
		b["ContentLength"] = h.ContentLength
	}
	if status > 0 {
		b["Status"] = status
	}
	return b
}

// DiffDetailType is the detail-type of ReplayDiff events.
const DiffDetailType = "ReplayDiff"

// Event returns the diff as an EventBridge-shaped event from source.
func (d Diff) Event(source string) event.Event {
	detail := map[string]any{
		"Target": d.Target, "Index": d.Index, "Method": d.Method, "URI": d.URI,
		"HTTP":   d.Request.block(d.OriginalStatus),
		"Client": d.Flow.Client.String(), "Server": d.Flow.Server.String(),
		"Original": map[string]any{"Status": d.OriginalStatus, "BodySHA256": d.OriginalBodySHA256, "BodyLength": d.OriginalBodyLength},
		"Replay":   map[string]any{"Status": d.ReplayStatus, "BodySHA256": d.ReplayBodySHA256, "BodyLength": d.ReplayBodyLength},
	}
	if d.Flow.Tunnel {
		detail["VNI"] = d.Flow.VNI
	}
	return event.Event{Version: "0", ID: event.NewID().String(), Source: source, DetailType: DiffDetailType,
		Time: d.Time.UTC(), Resources: []string{d.Target}, Detail: detail}
}

type outcome struct {
	status int
	sum    [32]byte
	n      int64
	ok     bool
}

type httpWork struct {
	idx    int
	method string
	uri    string
	raw    []byte
}

// httpConn parses one flow's requests (and, with Compare, its original
// responses) and forwards the requests in order.
type httpConn struct {
	t    *Target
	key  tcpreasm.FlowKey
	req  *httpstream.Parser
	resp *httpstream.Parser

	nReq, nResp int
	cmpBroken   bool

	mu      sync.Mutex
	q       []*httpWork
	qBytes  int
	done    bool
	running bool // the forwarding goroutine is started with the first request
	work    chan struct{}
	space   chan struct{}

	cmu  sync.Mutex
	orig map[int]outcome
	repl map[int]outcome
	reqs map[int]RequestHead
}

func (t *Target) newHTTPConn(k tcpreasm.FlowKey, midstream bool) *httpConn {
	c := &httpConn{t: t, key: k, work: make(chan struct{}, 1), space: make(chan struct{}, 1)}
	c.req = httpstream.NewParser(false, t.cfg.MaxHeader, t.cfg.MaxBody, true, c.onRequest, func(r string) {
		switch r {
		case httpstream.ReasonGap:
			t.st.parseErr(r)
			t.st.drop(dropGap)
		case httpstream.ReasonMidstream:
			t.st.drop(dropMidstream) // not a parse error
		default:
			t.st.parseErr(r)
			t.st.drop(dropParseError) // the request the error is in
		}
	})
	if !t.cfg.ResyncOnParseError {
		c.req.StopOnError(func() { t.st.drop(dropParseError) }) // a request after the error
	}
	if t.cfg.Compare {
		c.orig, c.repl, c.reqs = map[int]outcome{}, map[int]outcome{}, map[int]RequestHead{}
		c.resp = httpstream.NewParser(true, t.cfg.MaxHeader, 0, false, c.onResponse, func(r string) {
			t.st.parseErr("response_" + r)
			c.cmpBroken = true
		})
	}
	if midstream {
		c.req.Resync()
		if c.resp != nil {
			c.resp.Resync()
			c.cmpBroken = true // which response answers which request is unknown
		}
	}
	return c
}

func (c *httpConn) Data(side tcpreasm.Side, b []byte) {
	if side == tcpreasm.Client {
		c.req.Feed(b)
	} else if c.resp != nil {
		c.resp.Feed(b)
	}
}

func (c *httpConn) Gap(side tcpreasm.Side, _ uint32) {
	if side == tcpreasm.Client {
		c.req.Gap()
		c.cmpBroken = true
	} else if c.resp != nil {
		c.resp.Gap()
		c.cmpBroken = true
	}
}

func (c *httpConn) Fin(side tcpreasm.Side) {
	if side == tcpreasm.Server && c.resp != nil {
		c.resp.Close()
	}
}

func (c *httpConn) End(reason tcpreasm.EndReason) {
	if c.req.Pending() {
		c.t.st.drop(reason.String()) // a request cut by the flow's end (reset, fin, idle, ...)
	}
	if c.resp != nil {
		c.resp.Close()
	}
	c.mu.Lock()
	c.done = true
	c.mu.Unlock()
	signal(c.work)
}

// onRequest is called by the request parser for each complete request.
func (c *httpConn) onRequest(m *httpstream.Message) {
	t := c.t
	idx := c.nReq
	c.nReq++
	t.st.requestsParsed.Add(1)
	if c.resp != nil {
		c.resp.ExpectResponseTo(m.Method)
	}
	if m.Upgrade {
		t.st.drop(dropUpgrade) // the bytes after it are not HTTP; the request itself is sent
	}
	switch {
	case m.Oversize:
		t.st.drop(dropTooLarge)
		return
	case !t.matches(m):
		t.st.drop(dropFiltered)
		return
	case !t.sampled():
		t.st.drop(dropSampled)
		return
	case t.limiter != nil && !t.limiter.allow(t.cfg.Now()):
		t.st.drop(dropRateLimited)
		return
	}
	w := &httpWork{idx: idx, method: m.Method, uri: m.URI, raw: t.buildRequest(m)}
	if c.resp != nil {
		c.cmu.Lock()
		c.reqs[idx] = requestHead(m)
		c.cmu.Unlock()
	}
	c.enqueue(w)
}

func (c *httpConn) enqueue(w *httpWork) {
	var deadline <-chan time.Time
	for {
		c.mu.Lock()
		if c.qBytes == 0 || c.qBytes+len(w.raw) <= c.t.cfg.QueueBytes {
			c.q = append(c.q, w)
			c.qBytes += len(w.raw)
			if !c.running { // a flow that never completes a request costs no goroutine
				c.running = true
				c.t.workers.Go(c.run)
			}
			c.mu.Unlock()
			signal(c.work)
			return
		}
		c.mu.Unlock()
		if deadline == nil {
			tm := time.NewTimer(c.t.cfg.Timeout)
			defer tm.Stop()
			deadline = tm.C
		}
		select {
		case <-c.space:
		case <-deadline:
			c.t.st.drop(dropBackpressure)
			return
		case <-c.t.waitCtx().Done():
			c.t.st.drop(dropBackpressure)
			return
		}
	}
}

func (c *httpConn) onResponse(m *httpstream.Message) {
	if m.Status < 200 && m.Status != 101 {
		return // interim (100 Continue)
	}
	idx := c.nResp
	c.nResp++
	if c.cmpBroken {
		return
	}
	c.record(idx, outcome{status: m.Status, sum: m.BodySHA256, n: m.BodyLen, ok: true}, true)
}

// record stores one side of the comparison for request idx and compares
// when both are known.
func (c *httpConn) record(idx int, o outcome, original bool) {
	c.cmu.Lock()
	var other outcome
	var have bool
	if original {
		c.orig[idx] = o
		other, have = c.repl[idx]
	} else {
		c.repl[idx] = o
		other, have = c.orig[idx]
	}
	if !have {
		c.cmu.Unlock()
		return
	}
	delete(c.orig, idx)
	delete(c.repl, idx)
	rq := c.reqs[idx]
	delete(c.reqs, idx)
	broken := c.cmpBroken
	c.cmu.Unlock()
	orig, repl := o, other
	if !original {
		orig, repl = other, o
	}
	if broken || !repl.ok || (orig.status == repl.status && orig.sum == repl.sum) {
		return
	}
	c.t.st.diffs.Add(1)
	if c.t.cfg.OnDiff != nil {
		c.t.cfg.OnDiff(Diff{Target: c.t.cfg.Name, Flow: c.key, Index: idx, Method: rq.Method, URI: rq.Path, Request: rq,
			OriginalStatus: orig.status, ReplayStatus: repl.status,
			OriginalBodySHA256: hex.EncodeToString(orig.sum[:]), ReplayBodySHA256: hex.EncodeToString(repl.sum[:]),
			OriginalBodyLength: orig.n, ReplayBodyLength: repl.n, Time: c.t.cfg.Now()})
	}
}

func (c *httpConn) run() {
	for {
		c.mu.Lock()
		var w *httpWork
		if len(c.q) > 0 {
			w = c.q[0]
			c.q[0] = nil
			c.q = c.q[1:]
			c.qBytes -= len(w.raw)
		}
		done := c.done
		c.mu.Unlock()
		if w == nil {
			if done {
				return
			}
			select {
			case <-c.work:
			case <-c.t.life.Done():
				c.abandon()
				return
			}
			continue
		}
		signal(c.space)
		if c.t.life.Err() != nil { // Close gave up waiting
			c.t.st.drop(dropShutdown)
			c.abandon()
			return
		}
		o := c.t.roundTrip(w)
		if c.resp != nil {
			c.record(w.idx, o, false)
		}
	}
}

// abandon counts the requests still queued when the target stops waiting for them.
func (c *httpConn) abandon() {
	c.mu.Lock()
	n := len(c.q)
	c.q, c.qBytes = nil, 0
	c.mu.Unlock()
	for range n {
		c.t.st.drop(dropShutdown)
	}
}

// matches applies the filters.
func (t *Target) matches(m *httpstream.Message) bool {
	if len(t.cfg.Methods) > 0 {
		ok := false
		for _, x := range t.cfg.Methods {
			ok = ok || strings.EqualFold(x, m.Method)
		}
		if !ok {
			return false
		}
	}
	if t.cfg.Path != nil && !t.cfg.Path.MatchString(m.URI) {
		return false
	}
	for name, re := range t.cfg.Headers {
		v, ok := m.Get(name)
		if !ok || !re.MatchString(v) {
			return false
		}
	}
	return true
}

// buildRequest writes the request as it is sent to the shadow.
func (t *Target) buildRequest(m *httpstream.Message) []byte {
	uri := m.URI
	if strings.Contains(uri, "://") { // absolute-form (proxy request)
		if u, err := url.Parse(uri); err == nil {
			uri = u.RequestURI()
		}
	}
	if uri != "*" && t.prefix != "" {
		uri = t.prefix + uri
	}
	n := len(m.Method) + len(uri) + len(m.Proto) + 4 + len(m.Body) + 2
	for _, h := range m.Headers {
		n += len(h.Name) + len(h.Value) + 4
	}
	b := make([]byte, 0, n+64)
	b = append(b, m.Method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, ' ')
	b = append(b, m.Proto...)
	b = append(b, "\r\n"...)
	set := make([]bool, len(t.cfg.SetHeaders))
	for _, h := range m.Headers {
		v := h.Value
		skip := false
		if !t.cfg.KeepHost && strings.EqualFold(h.Name, "Host") {
			v = t.hostHdr
		}
		for i, s := range t.cfg.SetHeaders {
			if strings.EqualFold(s.Name, h.Name) {
				if set[i] {
					skip = true // a repeated header that was replaced once
				}
				v, set[i] = s.Value, true
			}
		}
		if skip {
			continue
		}
		b = append(b, h.Name...)
		b = append(b, ": "...)
		b = append(b, v...)
		b = append(b, "\r\n"...)
	}
	for i, s := range t.cfg.SetHeaders {
		if !set[i] {
			b = append(b, s.Name...)
			b = append(b, ": "...)
			b = append(b, s.Value...)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "\r\n"...)
	return append(b, m.Body...)
}

func idempotent(method string) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// roundTrip sends one request on a pooled connection and reads its response.
// A request that failed on a reused keep-alive connection before any response
// byte (the shadow closed it while idle) is tried once more on a new
// connection when its method is idempotent, as net/http does.
func (t *Target) roundTrip(w *httpWork) outcome {
	for attempt := 0; ; attempt++ {
		pc, reused, err := t.pool.get(t.life)
		if err != nil {
			t.st.err("dial")
			t.st.drop(dropTargetError)
			return outcome{}
		}
		start := time.Now()
		_ = pc.c.SetDeadline(start.Add(t.cfg.Timeout))
		n, err := pc.c.Write(w.raw)
		t.st.bytesForwarded.Add(uint64(n))
		var o outcome
		var keep bool
		if err == nil {
			o, keep, err = t.readResponse(pc, w.method)
		}
		if err != nil {
			t.pool.put(pc, false)
			if reused && attempt == 0 && idempotent(w.method) && staleConn(err) && !pc.gotBytes {
				continue
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.st.err("timeout")
			} else {
				t.st.err("exchange")
			}
			t.st.drop(dropTargetError)
			return outcome{}
		}
		t.pool.put(pc, keep)
		t.latency.Observe(time.Since(start).Seconds())
		t.st.requestsForwarded.Add(1)
		t.st.response(o.status)
		return o
	}
}

func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (t *Target) readResponse(pc *pconn, method string) (outcome, bool, error) {
	for {
		resp, err := http.ReadResponse(pc.br, &http.Request{Method: method})
		if err != nil {
			return outcome{}, false, err
		}
		pc.gotBytes = true
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != 101 {
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil {
			return outcome{}, false, err
		}
		var o outcome
		o.status, o.n, o.ok = resp.StatusCode, n, true
		copy(o.sum[:], h.Sum(nil))
		return o, !resp.Close && resp.StatusCode != 101, nil
	}
}

// pool is a bounded set of keep-alive connections to the shadow.
type pool struct {
	addr    string
	timeout time.Duration
	slots   chan struct{} // one token per live connection
	idle    chan *pconn
}

type pconn struct {
	c        net.Conn
	br       *bufio.Reader
	gotBytes bool
}

func newPool(addr string, size int, timeout time.Duration) *pool {
	return &pool{addr: addr, timeout: timeout, slots: make(chan struct{}, size), idle: make(chan *pconn, size)}
}

func (p *pool) get(ctx context.Context) (*pconn, bool, error) {
	select {
	case pc := <-p.idle:
		pc.gotBytes = false
		return pc, true, nil
	default:
	}
	select {
	case pc := <-p.idle:
		pc.gotBytes = false
		return pc, true, nil
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	d := net.Dialer{Timeout: p.timeout}
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		<-p.slots
		return nil, false, err
	}
	return &pconn{c: c, br: bufio.NewReaderSize(c, 32<<10)}, false, nil
}

func (p *pool) put(pc *pconn, keep bool) {
	if keep {
		_ = pc.c.SetDeadline(time.Time{})
		select {
		case p.idle <- pc:
			return
		default:
		}
	}
	pc.c.Close()
	<-p.slots
}

func (p *pool) close() {
	for {
		select {
		case pc := <-p.idle:
			pc.c.Close()
			<-p.slots
		default:
			return
		}
	}
}
