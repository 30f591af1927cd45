package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/wirebridge/wirebridge/pattern"
)

// Limits of the HTTP API.
const (
	MaxPublishBody   = 1 << 20 // bytes of one POST /api/events
	MaxPublishEvents = 1000    // events in one POST /api/events
	maxWSMessage     = 64 << 10
	maxBatch         = 256     // events in one data message
	maxDataBytes     = 1 << 20 // bytes of one data message, about
	writeTimeout     = 10 * time.Second
)

// ServerConfig configures the HTTP side of live channels.
type ServerConfig struct {
	Hub  *Hub
	Auth *Auth
	// UI is the web UI's files (index.html at the root); nil serves no UI.
	UI fs.FS
	// ShareTTL is the lifetime of a share link when none is asked for.
	ShareTTL time.Duration
	// MaxShareTTL bounds the lifetime one may ask for: a longer ttl is refused
	// (400). 0: 30 days; wirebridge serve passes live.share_max_ttl.
	MaxShareTTL time.Duration
}

// Server serves the live API, the WebSocket and the UI.
type Server struct {
	cfg ServerConfig
}

// NewServer returns the live HTTP server.
func NewServer(cfg ServerConfig) *Server {
	if cfg.ShareTTL <= 0 {
		cfg.ShareTTL = time.Hour
	}
	if cfg.MaxShareTTL <= 0 {
		cfg.MaxShareTTL = 30 * 24 * time.Hour
	}
	return &Server{cfg: cfg}
}

// Mux is what Mount mounts on (an *http.ServeMux or httpapi.Server).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Mount mounts the endpoints on m: POST /api/events, GET /api/channels,
// POST /api/share, GET /api/subscribers, GET /ws and the UI on GET /.
func (s *Server) Mount(m Mux) {
	m.Handle("POST /api/events", http.HandlerFunc(s.publish))
	m.Handle("GET /api/channels", http.HandlerFunc(s.channels))
	m.Handle("POST /api/share", http.HandlerFunc(s.share))
	m.Handle("GET /api/subscribers", http.HandlerFunc(s.subscribers))
	m.Handle("GET /ws", http.HandlerFunc(s.ws))
	if s.cfg.UI != nil {
		files := http.FileServerFS(s.cfg.UI)
		m.Handle("GET /", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Cache-Control", "no-cache")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
			files.ServeHTTP(w, r)
		}))
	}
}

// Handler returns a mux with everything Mount mounts.
func (s *Server) Handler() http.Handler {
	m := http.NewServeMux()
	s.Mount(m)
	return m
}

// credential is the token of a request: Authorization: Bearer, X-Api-Key,
// or the token query parameter (browsers cannot set headers on a WebSocket).
func credential(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if t, ok := strings.CutPrefix(a, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
		return ""
	}
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return k
	}
	return r.URL.Query().Get("token")
}

// authorize returns the request's principal when it has want; otherwise it
// answers 401 or 403 with nothing else and returns nil.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, want Scope) *Principal {
	p, err := s.cfg.Auth.Authenticate(credential(r))
	if err != nil {
		deny(w, http.StatusUnauthorized)
		return nil
	}
	if !p.Scopes.Has(want) {
		deny(w, http.StatusForbidden)
		return nil
	}
	return p
}

func deny(w http.ResponseWriter, code int) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if code == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="wirebridge"`)
	}
	w.WriteHeader(code)
	io.WriteString(w, strings.ToLower(http.StatusText(code))+"\n")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func badRequest(w http.ResponseWriter, format string, args ...any) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// publish: POST /api/events {"channel": "/a/b", "events": [event, ...]}; each
// event is a JSON value, or a string holding JSON (as AppSync Events sends).
func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	if s.authorize(w, r, ScopePublish) == nil {
		return
	}
	var req struct {
		Channel string            `json:"channel"`
		Events  []json.RawMessage `json:"events"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPublishBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body larger than 1MiB"})
		return
	}
	if err := json.Unmarshal(body, &req); err != nil {
		badRequest(w, "invalid JSON: %v", err)
		return
	}
	if err := CheckChannel(req.Channel); err != nil {
		badRequest(w, "%v", err)
		return
	}
	if len(req.Events) == 0 || len(req.Events) > MaxPublishEvents {
		badRequest(w, "events: want 1 to %d events", MaxPublishEvents)
		return
	}
	items := make([]Item, len(req.Events))
	for i, e := range req.Events {
		ev, err := CompactEvent(e)
		if err != nil {
			badRequest(w, "events[%d]: %v", i, err)
			return
		}
		items[i] = Item{Event: ev}
	}
	if err := s.cfg.Hub.Publish(req.Channel, items); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"channel": req.Channel, "published": len(items)})
}

// channels: GET /api/channels, the channels the caller may read.
func (s *Server) channels(w http.ResponseWriter, r *http.Request) {
	p := s.authorize(w, r, ScopeSubscribe)
	if p == nil {
		return
	}
	// ?channel= asks whether the caller may read that channel (the UI checks
	// before it opens the WebSocket, whose handshake errors it cannot see).
	if ch := r.URL.Query().Get("channel"); ch != "" && (CheckSubscription(ch) != nil || !p.Allows(ch)) {
		deny(w, http.StatusForbidden)
		return
	}
	out := []ChannelInfo{}
	for _, c := range s.cfg.Hub.Channels() {
		if p.Allows(c.Channel) {
			out = append(out, c)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": out})
}

// subscribers: GET /api/subscribers (admin): the hub's counters and every
// subscriber's, with its drops.
func (s *Server) subscribers(w http.ResponseWriter, r *http.Request) {
	if s.authorize(w, r, ScopeAdmin) == nil {
		return
	}
	writeJSON(w, http.StatusOK, s.cfg.Hub.Stats())
}

// ShareRequest is the body of POST /api/share.
type ShareRequest struct {
	Channel string          `json:"channel"`
	Filter  json.RawMessage `json:"filter,omitempty"` // an event pattern
	TTL     string          `json:"ttl,omitempty"`    // Go duration, such as 1h
}

// ShareResponse is the answer of POST /api/share.
type ShareResponse struct {
	Token   string    `json:"token"`
	URL     string    `json:"url"`
	Channel string    `json:"channel"`
	Filter  string    `json:"filter,omitempty"`
	Expires time.Time `json:"expires"`
}

// share: POST /api/share creates a share link. Any reader may share what it
// can read: a share token holder only its own channel with its own filter,
// and no longer than its own link lives.
func (s *Server) share(w http.ResponseWriter, r *http.Request) {
	p := s.authorize(w, r, ScopeSubscribe)
	if p == nil {
		return
	}
	var req ShareRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		badRequest(w, "invalid JSON: %v", err)
		return
	}
	filter := ""
	if f := strings.TrimSpace(string(req.Filter)); f != "" && f != "null" && f != `""` {
		if f[0] == '"' {
			json.Unmarshal(req.Filter, &f)
		}
		filter = f
	}
	ttl := s.cfg.ShareTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 {
			badRequest(w, "ttl: want a positive duration such as 1h")
			return
		}
		ttl = d
	}
	if ttl > s.cfg.MaxShareTTL {
		badRequest(w, "ttl: %s is longer than the maximum %s (live.share_max_ttl)", ttl, s.cfg.MaxShareTTL)
		return
	}
	if req.Channel == "" && p.Share != nil {
		req.Channel = p.Share.Channel
	}
	if err := CheckSubscription(req.Channel); err != nil {
		badRequest(w, "%v", err)
		return
	}
	if !p.Allows(req.Channel) {
		deny(w, http.StatusForbidden)
		return
	}
	if p.Share != nil {
		if p.Share.Filter != "" {
			if filter != "" && filter != p.Share.Filter {
				deny(w, http.StatusForbidden)
				return
			}
			filter = p.Share.Filter
		}
		if left := time.Until(p.Share.Expires); left < ttl {
			ttl = left
		}
	}
	tok, c, err := s.cfg.Auth.Sign(req.Channel, filter, ttl)
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, ShareResponse{Token: tok, URL: ShareURL(baseURL(r), tok), Channel: c.Channel, Filter: c.Filter, Expires: c.Expires})
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/"
}

// ShareURL is the UI link for a token: the token is in the fragment, which
// browsers do not send to servers (nor put in Referer headers).
func ShareURL(base, token string) string {
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base + "#token=" + url.QueryEscape(token)
}

// ---- WebSocket ----

// Client messages on /ws:
//
//	{"type":"subscribe","id":"1","channel":"/packets/*","filter":{...pattern...}}
//	{"type":"unsubscribe","id":"1"}
//	{"type":"stats"}
//
// Server messages:
//
//	{"type":"connection_ack","principal":"share","scopes":["subscribe"],"share":{"channel":..,"filter":..,"expires":..}}
//	{"type":"subscribe_success","id":"1"}
//	{"type":"subscribe_error","id":"1","status":403,"error":"forbidden"}
//	{"type":"unsubscribe_success","id":"1"}
//	{"type":"data","id":"1","channel":"/packets/all","dropped":0,"items":[item, ...]}
//	{"type":"stats", ...SubscriberStats}
//
// "dropped" is how many events this connection has lost so far because it
// read too slowly. An item is {"ts":..,"link":..,"len":..,"frame":..,"event":{..}}.
type clientMsg struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Channel string          `json:"channel"`
	Filter  json.RawMessage `json:"filter"`
}

type shareInfo struct {
	Channel string    `json:"channel"`
	Filter  string    `json:"filter,omitempty"`
	Expires time.Time `json:"expires"`
}

func (s *Server) ws(w http.ResponseWriter, r *http.Request) {
	p := s.authorize(w, r, ScopeSubscribe)
	if p == nil {
		return
	}
	if ch := r.URL.Query().Get("channel"); ch != "" && (CheckSubscription(ch) != nil || !p.Allows(ch)) {
		deny(w, http.StatusForbidden)
		return
	}
	var bound *pattern.Pattern
	if p.Share != nil && p.Share.Filter != "" {
		var err error
		if bound, err = pattern.Compile([]byte(p.Share.Filter)); err != nil {
			deny(w, http.StatusForbidden)
			return
		}
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept answered
	}
	c.SetReadLimit(maxWSMessage)
	sub, err := s.cfg.Hub.NewSubscriber(p.Name + " " + r.RemoteAddr)
	if err != nil {
		c.Close(websocket.StatusGoingAway, "shutting down")
		return
	}
	defer sub.Close()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	conn := &wsConn{c: c}

	ack := map[string]any{"type": "connection_ack", "principal": p.Name, "scopes": p.Scopes.Names()}
	if p.Share != nil {
		ack["share"] = shareInfo{Channel: p.Share.Channel, Filter: p.Share.Filter, Expires: p.Share.Expires}
		expire := time.AfterFunc(time.Until(p.Share.Expires), func() {
			c.Close(websocket.StatusPolicyViolation, "share link expired")
		})
		defer expire.Stop()
	}
	if err := conn.writeJSON(ctx, ack); err != nil {
		return
	}
	go func() {
		defer cancel()
		s.readLoop(ctx, conn, p, sub, bound)
	}()
	s.writeLoop(ctx, conn, sub)
	c.Close(websocket.StatusNormalClosure, "")
}

type wsConn struct {
	mu sync.Mutex
	c  *websocket.Conn
	// gate orders a subscription's data after its subscribe_success: the
	// read loop holds it from registering the subscription (which queues the
	// replay buffer) until the answer is written; the write loop takes it
	// before writing data.
	gate sync.Mutex
}

func (w *wsConn) write(ctx context.Context, b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return w.c.Write(ctx, websocket.MessageText, b)
}

func (w *wsConn) writeJSON(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.write(ctx, b)
}

func (s *Server) readLoop(ctx context.Context, conn *wsConn, p *Principal, sub *Subscriber, bound *pattern.Pattern) {
	for {
		_, b, err := conn.c.Read(ctx)
		if err != nil {
			return
		}
		var m clientMsg
		if err := json.Unmarshal(b, &m); err != nil {
			conn.writeJSON(ctx, map[string]any{"type": "error", "error": "invalid JSON"})
			continue
		}
		switch m.Type {
		case "subscribe":
			conn.gate.Lock()
			status, msg := s.subscribe(sub, p, bound, &m)
			if status != 0 {
				conn.writeJSON(ctx, map[string]any{"type": "subscribe_error", "id": m.ID, "status": status, "error": msg})
				conn.gate.Unlock()
				continue
			}
			conn.writeJSON(ctx, map[string]any{"type": "subscribe_success", "id": m.ID, "channel": m.Channel})
			conn.gate.Unlock()
		case "unsubscribe":
			if sub.Unsubscribe(m.ID) {
				conn.writeJSON(ctx, map[string]any{"type": "unsubscribe_success", "id": m.ID})
			} else {
				conn.writeJSON(ctx, map[string]any{"type": "unsubscribe_error", "id": m.ID, "error": "no such subscription"})
			}
		case "stats":
			st := sub.Stats()
			conn.writeJSON(ctx, map[string]any{"type": "stats", "id": st.ID, "sent": st.Sent, "filtered": st.Filtered,
				"dropped": st.Dropped, "queued": st.Queued, "subscriptions": st.Subscriptions})
		default:
			conn.writeJSON(ctx, map[string]any{"type": "error", "error": fmt.Sprintf("unknown message type %q", m.Type)})
		}
	}
}

// subscribe returns 0 or an HTTP-like status and a reason.
func (s *Server) subscribe(sub *Subscriber, p *Principal, bound *pattern.Pattern, m *clientMsg) (int, string) {
	if m.ID == "" || len(m.ID) > 64 {
		return http.StatusBadRequest, "id: required, at most 64 characters"
	}
	if err := CheckSubscription(m.Channel); err != nil {
		return http.StatusBadRequest, err.Error()
	}
	if !p.Allows(m.Channel) {
		return http.StatusForbidden, "forbidden"
	}
	var filter *pattern.Pattern
	if f := strings.TrimSpace(string(m.Filter)); f != "" && f != "null" && f != "{}" && f != `""` {
		src := []byte(f)
		if f[0] == '"' {
			var str string
			json.Unmarshal(m.Filter, &str)
			src = []byte(str)
		}
		var err error
		if filter, err = pattern.Compile(src); err != nil {
			return http.StatusBadRequest, "filter: " + err.Error()
		}
	}
	if err := sub.Subscribe(&Subscription{ID: m.ID, Channel: m.Channel, Filter: filter, Bound: bound}); err != nil {
		return http.StatusBadRequest, err.Error()
	}
	return 0, ""
}

func (s *Server) writeLoop(ctx context.Context, conn *wsConn, sub *Subscriber) {
	var (
		batch []Entry
		buf   []byte
	)
	for {
		var (
			dropped uint64
			err     error
		)
		batch, dropped, err = sub.Next(ctx, batch[:0], maxBatch)
		if err != nil {
			return
		}
		for i := 0; i < len(batch); {
			j := i + 1
			size := len(batch[i].Line)
			for j < len(batch) && batch[j].Sub == batch[i].Sub && batch[j].Channel == batch[i].Channel && size < maxDataBytes {
				size += len(batch[j].Line)
				j++
			}
			buf = appendData(buf[:0], batch[i].Sub.ID, batch[i].Channel, dropped, batch[i:j])
			conn.gate.Lock()
			err := conn.write(ctx, buf)
			conn.gate.Unlock()
			if err != nil {
				return
			}
			i = j
		}
		clear(batch)
	}
}

func appendData(dst []byte, id, ch string, dropped uint64, es []Entry) []byte {
	idj, _ := json.Marshal(id)
	dst = append(dst, `{"type":"data","id":`...)
	dst = append(dst, idj...)
	dst = append(dst, `,"channel":"`...)
	dst = append(dst, ch...) // channels are [A-Za-z0-9_/-]
	dst = append(dst, `","dropped":`...)
	dst = fmt.Appendf(dst, "%d", dropped)
	dst = append(dst, `,"items":[`...)
	for i, e := range es {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e.Line...)
	}
	return append(dst, "]}"...)
}

// IsAuthError reports whether err is an authentication or authorisation failure.
func IsAuthError(err error) bool {
	return errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden)
}
