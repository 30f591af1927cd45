package http

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// Kind is the http target kind: webhooks.
var Kind = &component.TargetKind{
	Description: "POST events to a webhook, one per request or batched",
	NewSpec:     func() component.TargetSpec { return new(Spec) },
	Caps: func(component.TargetSpec) component.Caps {
		return component.Caps{Body: true, DurableByDefault: true}
	},
	New: func(_ component.Env, _ string, s component.TargetSpec) (component.Target, error) {
		return New(s.(*Spec).config())
	},
}

// Spec is the configuration of an http target.
type Spec struct {
	URL     string            `yaml:"url"`
	Method  string            `yaml:"method"` // POST | PUT | PATCH
	Headers map[string]string `yaml:"headers"`
	// SecretHeaders are headers whose values are secrets (API keys).
	SecretHeaders map[string]spec.Secret `yaml:"secret_headers"`
	BearerToken   spec.Secret            `yaml:"bearer_token"`
	HMAC          *HMAC                  `yaml:"hmac"`
	Timeout       time.Duration          `yaml:"timeout"`
	TLS           *spec.TLS              `yaml:"tls"`
	// Batch, when set, sends several events per request; nil sends one event per request.
	Batch *Batch `yaml:"batch"`
}

// HMAC signs each request: Header carries hex(HMAC-SHA256(secret, timestamp + "." + body)) and
// TimestampHeader the Unix timestamp in seconds used in it.
type HMAC struct {
	Secret          spec.Secret `yaml:"secret"`
	Header          string      `yaml:"header"`
	TimestampHeader string      `yaml:"timestamp_header"`
}

// SetDefaults fills the default header names.
func (h *HMAC) SetDefaults() {
	*h = HMAC{Header: "X-Wirebridge-Signature", TimestampHeader: "X-Wirebridge-Timestamp"}
}

// Batch shapes batched request bodies.
type Batch struct {
	MaxEvents int           `yaml:"max_events"`
	MaxBytes  spec.ByteSize `yaml:"max_bytes"`
	Format    string        `yaml:"format"` // json-array | ndjson
}

// SetDefaults fills the default batch shape.
func (b *Batch) SetDefaults() {
	*b = Batch{MaxEvents: 100, MaxBytes: 1 * spec.MiB, Format: "json-array"}
}

// SetDefaults implements component.TargetSpec.
func (t *Spec) SetDefaults() { *t = Spec{Method: "POST", Timeout: 10 * time.Second} }

var headerToken = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// Validate implements component.TargetSpec.
func (t *Spec) Validate(c *spec.Checker) {
	if t.URL == "" {
		c.Errorf("url", "required for an http target: the URL to POST events to")
	} else if err := spec.CheckHTTPURL(t.URL); err != nil {
		c.Errorf("url", "%v", err)
	} else if t.TLS != nil && strings.HasPrefix(t.URL, "http:") {
		c.Errorf("tls", "tls is set but the url is http://, not https://")
	}
	c.OneOf("method", t.Method, "POST", "PUT", "PATCH")
	seen := map[string]string{}
	checkHeader := func(hp, name, value string) {
		canon := strings.ToLower(name)
		switch {
		case !headerToken.MatchString(name):
			c.Errorf(hp, "invalid header name %q", name)
		case strings.ContainsAny(value, "\r\n\x00"):
			c.Errorf(hp, "header value contains a line break or NUL")
		case seen[canon] != "":
			c.Errorf(hp, "header %q is also set by %s", name, seen[canon])
		case canon == "content-length" || canon == "host" || canon == "transfer-encoding":
			c.Errorf(hp, "header %q is set by the HTTP client", name)
		case canon == "authorization" && t.BearerToken.IsSet():
			c.Errorf(hp, "Authorization header and bearer_token are exclusive")
		case t.HMAC != nil && (canon == strings.ToLower(t.HMAC.Header) || canon == strings.ToLower(t.HMAC.TimestampHeader)):
			c.Errorf(hp, "header %q is set by hmac", name)
		default:
			seen[canon] = hp
		}
	}
	for _, k := range slices.Sorted(maps.Keys(t.Headers)) {
		checkHeader(spec.JoinKey("headers", k), k, t.Headers[k])
	}
	for _, k := range slices.Sorted(maps.Keys(t.SecretHeaders)) {
		checkHeader(spec.JoinKey("secret_headers", k), k, t.SecretHeaders[k].Value())
	}
	if t.HMAC != nil {
		if !t.HMAC.Secret.IsSet() {
			c.Errorf("hmac.secret", "required: the HMAC key, as env:NAME or file:PATH")
		}
		if !headerToken.MatchString(t.HMAC.Header) {
			c.Errorf("hmac.header", "invalid header name %q", t.HMAC.Header)
		}
		if !headerToken.MatchString(t.HMAC.TimestampHeader) {
			c.Errorf("hmac.timestamp_header", "invalid header name %q", t.HMAC.TimestampHeader)
		}
	}
	c.Positive("timeout", t.Timeout)
	if t.TLS != nil {
		t.TLS.Check(c, "tls")
	}
	if b := t.Batch; b != nil {
		c.IntRange("batch.max_events", b.MaxEvents, 1, 10000)
		if b.MaxBytes < spec.KiB {
			c.Errorf("batch.max_bytes", "%s is less than 1KiB", b.MaxBytes)
		}
		c.OneOf("batch.format", b.Format, "json-array", "ndjson")
	}
}

// Where implements component.Wherer.
func (t *Spec) Where() string { return t.Method + " " + t.URL }

// DeliveryBatch implements component.Batcher: batch.max_events and batch.max_bytes bound each
// delivery batch (and so each request) instead of delivery.batch_size.
func (t *Spec) DeliveryBatch() (maxEvents, maxBytes int, ok bool) {
	if t.Batch == nil {
		return 0, 0, false
	}
	return t.Batch.MaxEvents, int(t.Batch.MaxBytes), true
}

func (t *Spec) config() Config {
	c := Config{
		URL:     t.URL,
		Method:  t.Method,
		Headers: map[string]string{},
		Timeout: t.Timeout,
		Format:  FormatSingle,
	}
	for k, v := range t.Headers {
		c.Headers[k] = v
	}
	for k, v := range t.SecretHeaders {
		c.Headers[k] = v.Value()
	}
	if t.BearerToken.IsSet() {
		c.BearerToken = t.BearerToken.Value()
	}
	if t.HMAC != nil {
		c.SigningSecret = []byte(t.HMAC.Secret.Value())
		c.SignatureHeader = t.HMAC.Header
		c.TimestampHeader = t.HMAC.TimestampHeader
	}
	if t.TLS != nil {
		c.TLS = TLSConfig{
			CAFile: t.TLS.CAFile, CertFile: t.TLS.CertFile, KeyFile: t.TLS.KeyFile,
			ServerName: t.TLS.ServerName, InsecureSkipVerify: t.TLS.InsecureSkipVerify,
		}
	}
	if t.Batch != nil {
		c.Format = t.Batch.Format
	}
	return c
}
