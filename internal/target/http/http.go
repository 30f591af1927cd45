// Package http is the HTTP webhook delivery target: it POSTs deliveries to a
// URL, one per request or a batch per request. It sits at the end of the data
// path (deliver ──► target/http ──► a web service).
//
// # Formats
//
//   - "single" (default): one request per delivery; the body is the
//     delivery's Body verbatim, Content-Type is ContentType (default
//     application/json), and the header X-Wirebridge-Event-Id carries the
//     event id (a receiver's idempotency key: delivery is at-least-once).
//     The deliveries of a batch are posted one after the other; when some
//     fail, Send returns an *handoff.BatchError. After a transient failure the
//     rest of the batch is not attempted (the peer is in trouble) and is
//     reported failed with the same error.
//   - "json-array": one request per batch, a JSON array (application/json).
//   - "ndjson": one request per batch, one JSON value per line
//     (application/x-ndjson).
//
// In the batch formats each Body becomes one JSON value as described in
// target.AppendValue (JSON as is, text as a string, binary as
// {"base64":...}). A batch request succeeds or fails as a whole.
//
// # Responses
//
// 2xx: delivered. 408, 425, 429 and 5xx: transient; a Retry-After header
// (delay-seconds or HTTP-date) makes the error implement
// handoff.RetryAfterError. Other 4xx (413 Payload Too Large included) and 3xx
// (redirects are not followed): permanent. Connection errors and timeouts:
// transient.
//
// # Signatures
//
// With a signing secret, every request carries two headers (names
// configurable):
//
//	X-Wirebridge-Timestamp: 1795293615
//	X-Wirebridge-Signature: v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//
// The timestamp is Unix seconds when the request was signed; the signature is
// "v1=" and the lower-case hex HMAC-SHA256, keyed with the secret, of the
// timestamp, a '.', and the exact request body bytes (the scheme Stripe and
// Slack use). A receiver recomputes it over the raw body, compares in
// constant time, and rejects timestamps older than a few minutes to stop
// replays; Verify does exactly that. Each retry is signed afresh.
package http

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/target"
)

// Formats.
const (
	FormatSingle    = "single"
	FormatJSONArray = "json-array"
	FormatNDJSON    = "ndjson"
)

// Default header names.
const (
	DefaultSignatureHeader = "X-Wirebridge-Signature"
	DefaultTimestampHeader = "X-Wirebridge-Timestamp"
	EventIDHeader          = "X-Wirebridge-Event-Id"
)

// Config configures an HTTP target.
type Config struct {
	URL    string // http:// or https:// (required)
	Method string // default POST
	Format string // single (default), json-array, ndjson
	// ContentType for the single format (default application/json).
	ContentType string
	Headers     map[string]string // extra request headers
	BearerToken string            // sent as "Authorization: Bearer <token>" when set
	// SigningSecret enables the HMAC-SHA256 signature (see the package comment).
	SigningSecret   []byte
	SignatureHeader string // default X-Wirebridge-Signature
	TimestampHeader string // default X-Wirebridge-Timestamp
	// Timeout bounds one request, connection and body included (default 10s).
	Timeout time.Duration
	TLS     TLSConfig
	// Now is the clock used for signature timestamps (default time.Now).
	Now func() time.Time
}

// TLSConfig holds the TLS options of an https URL.
type TLSConfig struct {
	CAFile             string // PEM roots to trust instead of the system's
	CertFile, KeyFile  string // client certificate (both or neither)
	ServerName         string // overrides the name checked in the server certificate
	InsecureSkipVerify bool   // do not verify the server certificate (testing only)
}

// Target posts deliveries to an HTTP endpoint. Send is safe for concurrent
// use; concurrent Sends run concurrent requests.
type Target struct {
	cfg       Config
	url       string
	client    *http.Client
	transport *http.Transport

	mu     sync.RWMutex
	closed bool
}

// New validates cfg and returns a target.
func New(cfg Config) (*Target, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("http target: url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("http target: url %q: want http:// or https:// with a host", cfg.URL)
	}
	if cfg.Method == "" {
		cfg.Method = http.MethodPost
	}
	switch cfg.Format {
	case "":
		cfg.Format = FormatSingle
	case FormatSingle, FormatJSONArray, FormatNDJSON:
	default:
		return nil, fmt.Errorf("http target: format %q: want single, json-array or ndjson", cfg.Format)
	}
	if cfg.ContentType == "" {
		cfg.ContentType = "application/json"
	}
	if cfg.SignatureHeader == "" {
		cfg.SignatureHeader = DefaultSignatureHeader
	}
	if cfg.TimestampHeader == "" {
		cfg.TimestampHeader = DefaultTimestampHeader
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	tlsConf, err := cfg.TLS.build()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	tr.MaxIdleConnsPerHost = 32
	tr.ResponseHeaderTimeout = cfg.Timeout
	return &Target{
		cfg:       cfg,
		url:       u.String(),
		transport: tr,
		client: &http.Client{
			Transport: tr,
			Timeout:   cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // a 3xx is reported, not followed
			},
		},
	}, nil
}

func (c TLSConfig) build() (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // an explicit, documented option
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("http target: tls ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("http target: tls ca file %s: no PEM certificates", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("http target: tls: cert file and key file go together")
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("http target: tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Send delivers the batch; see the package comment for formats and errors.
func (t *Target) Send(ctx context.Context, batch []handoff.Delivery) error {
	t.mu.RLock()
	closed := t.closed
	t.mu.RUnlock()
	if closed {
		return target.Closed("http")
	}
	if ctx.Err() != nil {
		return target.Canceled("http", ctx)
	}
	if len(batch) == 0 {
		return nil
	}
	if t.cfg.Format != FormatSingle {
		// A fresh buffer per request: the transport may read a request
		// body after Do returned, so it is not pooled.
		size := 2
		for i := range batch {
			size += len(batch[i].Body) + 1
		}
		body := make([]byte, 0, size+size/8)
		if t.cfg.Format == FormatJSONArray {
			body = append(body, '[')
			for i := range batch {
				if i > 0 {
					body = append(body, ',')
				}
				body = target.AppendDeliveryValue(body, &batch[i])
			}
			body = append(body, ']')
		} else {
			for i := range batch {
				body = target.AppendDeliveryLine(body, &batch[i])
			}
		}
		ct := "application/json"
		if t.cfg.Format == FormatNDJSON {
			ct = "application/x-ndjson"
		}
		return t.post(ctx, body, ct, "")
	}
	if len(batch) == 1 {
		return t.post(ctx, batch[0].Body, t.cfg.ContentType, batch[0].ID)
	}
	var failed map[int]error
	for i := range batch {
		err := t.post(ctx, batch[i].Body, t.cfg.ContentType, batch[i].ID)
		if err == nil {
			continue
		}
		if failed == nil {
			failed = map[int]error{}
		}
		failed[i] = err
		if !target.IsPermanent(err) { // transient: the rest would fail too
			for j := i + 1; j < len(batch); j++ {
				failed[j] = err
			}
			break
		}
	}
	if failed != nil {
		return &handoff.BatchError{Failed: failed}
	}
	return nil
}

// Sign returns the signature header value for body signed at timestamp ts
// (Unix seconds, as sent in the timestamp header): "v1=" + hex HMAC-SHA256.
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a request signed by this target: sig is the signature header
// value, ts the timestamp header value, body the raw request body. It fails
// when the signature does not match or the timestamp is more than tolerance
// away from now.
func Verify(secret []byte, ts, sig string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("verify signature: bad timestamp %q", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("verify signature: timestamp %s is outside the %s tolerance", ts, tolerance)
	}
	if !hmac.Equal([]byte(sig), []byte(Sign(secret, ts, body))) {
		return errors.New("verify signature: signature mismatch")
	}
	return nil
}

func (t *Target) post(ctx context.Context, body []byte, contentType, id string) error {
	req, err := http.NewRequestWithContext(ctx, t.cfg.Method, t.url, bytes.NewReader(body))
	if err != nil {
		return target.Permanent(fmt.Errorf("http target: request: %w", err))
	}
	h := req.Header
	h.Set("Content-Type", contentType)
	h.Set("User-Agent", "wirebridge")
	for k, v := range t.cfg.Headers {
		h.Set(k, v)
	}
	if id != "" {
		h.Set(EventIDHeader, id)
	}
	if t.cfg.BearerToken != "" {
		h.Set("Authorization", "Bearer "+t.cfg.BearerToken)
	}
	if len(t.cfg.SigningSecret) > 0 {
		ts := strconv.FormatInt(t.cfg.Now().Unix(), 10)
		h.Set(t.cfg.TimestampHeader, ts)
		h.Set(t.cfg.SignatureHeader, Sign(t.cfg.SigningSecret, ts, body))
	}
	resp, err := t.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("http target: post %s: %w", t.url, ctx.Err())
		}
		return fmt.Errorf("http target: post %s: %w", t.url, err) // transient: network, timeout, TLS
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection reusable
		return nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return classify(resp.StatusCode, resp.Header.Get("Retry-After"), snippet, t.cfg.Now())
}

// classify turns a non-2xx response into a permanent or transient error.
func classify(status int, retryAfter string, body []byte, now time.Time) error {
	msg := strings.TrimSpace(strings.ToValidUTF8(string(body), "?"))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	err := &StatusError{Code: status, Body: msg}
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly,
		status == http.StatusTooManyRequests, status >= 500:
		if d, ok := ParseRetryAfter(retryAfter, now); ok {
			return target.RetryAfter(err, d)
		}
		return err
	default:
		return target.Permanent(err)
	}
}

// StatusError is a non-2xx response.
type StatusError struct {
	Code int
	Body string // the start of the response body, for the dead-letter record
}

func (e *StatusError) Error() string {
	s := "http target: status " + strconv.Itoa(e.Code) + " " + http.StatusText(e.Code)
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// ParseRetryAfter parses a Retry-After value: delay-seconds or an HTTP-date
// (relative to now; a date in the past gives 0).
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > 1<<31 {
			n = 1 << 31
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// Close stops the target and drops idle connections. It is idempotent.
// Requests in flight finish (bounded by Timeout).
func (t *Target) Close() error {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.transport.CloseIdleConnections()
	return nil
}
