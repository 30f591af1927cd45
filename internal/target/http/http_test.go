package http

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/target"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

// request is what the recording sink saw.
type request struct {
	method string
	header http.Header
	body   []byte
}

// sink is an httptest handler that records requests and answers with a
// configurable status; stall makes it hang until released or the client
// goes away.
type sink struct {
	mu       sync.Mutex
	reqs     []request
	status   int
	header   http.Header
	respBody string
	stall    chan struct{}
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(400)
		return
	}
	s.mu.Lock()
	stall := s.stall
	s.mu.Unlock()
	if stall != nil {
		select {
		case <-stall:
		case <-r.Context().Done():
			return
		}
	}
	s.mu.Lock()
	status := s.status
	for k, v := range s.header {
		w.Header()[k] = v
	}
	if status == 0 || status/100 == 2 {
		s.reqs = append(s.reqs, request{r.Method, r.Header.Clone(), body})
	}
	s.mu.Unlock()
	if status == 0 {
		status = 200
	}
	w.WriteHeader(status)
	io.WriteString(w, s.respBody)
}

func (s *sink) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.reqs...)
}

// split turns recorded requests back into bodies, per format.
func split(format string, reqs []request) ([][]byte, error) {
	var out [][]byte
	for _, r := range reqs {
		switch format {
		case FormatSingle:
			out = append(out, r.body)
		case FormatJSONArray:
			var elems []json.RawMessage
			if err := json.Unmarshal(r.body, &elems); err != nil {
				return nil, err
			}
			for _, e := range elems {
				b, err := target.DecodeValue(e)
				if err != nil {
					return nil, err
				}
				out = append(out, b)
			}
		case FormatNDJSON:
			sc := bufio.NewScanner(bytes.NewReader(r.body))
			sc.Buffer(nil, 16<<20)
			for sc.Scan() {
				b, err := target.DecodeValue(sc.Bytes())
				if err != nil {
					return nil, err
				}
				out = append(out, b)
			}
		}
	}
	return out, nil
}

func TestConformance(t *testing.T) {
	for _, format := range []string{FormatSingle, FormatJSONArray, FormatNDJSON} {
		t.Run(format, func(t *testing.T) {
			targettest.Run(t, func(t *testing.T) targettest.Instance {
				s := &sink{}
				srv := httptest.NewServer(s)
				t.Cleanup(srv.Close)
				tg, err := New(Config{URL: srv.URL, Format: format, Timeout: 5 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				return targettest.Instance{
					Target:    tg,
					Delivered: func() ([][]byte, error) { return split(format, s.requests()) },
					Stall: func() func() {
						ch := make(chan struct{})
						s.mu.Lock()
						s.stall = ch
						s.mu.Unlock()
						return func() {
							s.mu.Lock()
							s.stall = nil
							s.mu.Unlock()
							close(ch)
						}
					},
				}
			})
		})
	}
}

func deliveries(bodies ...string) []handoff.Delivery {
	var b []handoff.Delivery
	for i, s := range bodies {
		b = append(b, handoff.Delivery{ID: targettest.ID(i + 1), Body: []byte(s)})
	}
	return b
}

func TestRequestShape(t *testing.T) {
	now := time.Unix(1795293615, 0)
	secret := []byte("whsec_test")
	tests := []struct {
		name       string
		cfg        Config
		bodies     []string
		wantReqs   int
		wantBodies []string
		wantHeader map[string]string
	}{
		{
			name:       "single posts each body verbatim with its id",
			cfg:        Config{},
			bodies:     []string{`{"a":1}`, "not json"},
			wantReqs:   2,
			wantBodies: []string{`{"a":1}`, "not json"},
			wantHeader: map[string]string{"Content-Type": "application/json", EventIDHeader: targettest.ID(2)},
		},
		{
			name:       "json array",
			cfg:        Config{Format: FormatJSONArray},
			bodies:     []string{`{"a":1}`, "text", "{\n\"b\": 2}"},
			wantReqs:   1,
			wantBodies: []string{`[{"a":1},"text",{"b":2}]`},
			wantHeader: map[string]string{"Content-Type": "application/json"},
		},
		{
			name:       "ndjson",
			cfg:        Config{Format: FormatNDJSON},
			bodies:     []string{`{"a":1}`, `[1,2]`},
			wantReqs:   1,
			wantBodies: []string{"{\"a\":1}\n[1,2]\n"},
			wantHeader: map[string]string{"Content-Type": "application/x-ndjson"},
		},
		{
			name:       "custom headers, method, content type and bearer token",
			cfg:        Config{Method: "PUT", ContentType: "text/plain", Headers: map[string]string{"X-Env": "test"}, BearerToken: "tok123"},
			bodies:     []string{"hello"},
			wantReqs:   1,
			wantBodies: []string{"hello"},
			wantHeader: map[string]string{"Authorization": "Bearer tok123", "X-Env": "test", "Content-Type": "text/plain"},
		},
		{
			name:       "signature over timestamp.body",
			cfg:        Config{SigningSecret: secret},
			bodies:     []string{`{"a":1}`},
			wantReqs:   1,
			wantBodies: []string{`{"a":1}`},
			// Computed independently: printf '%s' '1795293615.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
			wantHeader: map[string]string{
				DefaultTimestampHeader: "1795293615",
				DefaultSignatureHeader: "v1=235c2d987660dd747ec9edaad28d9d36e4719aec1ed9aa06ef96614d277e9388",
			},
		},
		{
			name:       "renamed signature headers",
			cfg:        Config{SigningSecret: secret, SignatureHeader: "X-Sig", TimestampHeader: "X-Ts"},
			bodies:     []string{`x`},
			wantReqs:   1,
			wantBodies: []string{`x`},
			wantHeader: map[string]string{"X-Ts": "1795293615", "X-Sig": Sign(secret, "1795293615", []byte("x"))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sink{}
			srv := httptest.NewServer(s)
			defer srv.Close()
			cfg := tt.cfg
			cfg.URL = srv.URL
			cfg.Now = func() time.Time { return now }
			tg, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			if err := tg.Send(context.Background(), deliveries(tt.bodies...)); err != nil {
				t.Fatal(err)
			}
			reqs := s.requests()
			if len(reqs) != tt.wantReqs {
				t.Fatalf("%d requests, want %d", len(reqs), tt.wantReqs)
			}
			for i, want := range tt.wantBodies {
				if string(reqs[i].body) != want {
					t.Errorf("request %d body %q, want %q", i, reqs[i].body, want)
				}
			}
			last := reqs[len(reqs)-1]
			wantMethod := cfg.Method
			if wantMethod == "" {
				wantMethod = "POST"
			}
			if last.method != wantMethod {
				t.Errorf("method %s, want %s", last.method, wantMethod)
			}
			for k, v := range tt.wantHeader {
				if got := last.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if len(cfg.SigningSecret) > 0 {
				if err := Verify(cfg.SigningSecret, last.header.Get(tg.cfg.TimestampHeader), last.header.Get(tg.cfg.SignatureHeader), last.body, now.Add(time.Minute), 5*time.Minute); err != nil {
					t.Errorf("Verify: %v", err)
				}
			}
		})
	}
}

func TestVerify(t *testing.T) {
	secret := []byte("k")
	now := time.Unix(1000000, 0)
	body := []byte(`{"x":1}`)
	good := Sign(secret, "1000000", body)
	tests := []struct {
		name    string
		ts, sig string
		body    []byte
		ok      bool
	}{
		{"valid", "1000000", good, body, true},
		{"tampered body", "1000000", good, []byte(`{"x":2}`), false},
		{"wrong timestamp", "1000001", good, body, false},
		{"stale", "999000", Sign(secret, "999000", body), body, false},
		{"future", "1001000", Sign(secret, "1001000", body), body, false},
		{"garbage timestamp", "abc", good, body, false},
		{"wrong secret", "1000000", Sign([]byte("j"), "1000000", body), body, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(secret, tt.ts, tt.sig, tt.body, now, 5*time.Minute)
			if (err == nil) != tt.ok {
				t.Fatalf("Verify = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestStatusClassification(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name       string
		status     int
		header     http.Header
		permanent  bool
		retryAfter time.Duration // -1: none
	}{
		{"200 ok", 200, nil, false, -1},
		{"204 no content", 204, nil, false, -1},
		{"400 bad request", 400, nil, true, -1},
		{"401 unauthorized", 401, nil, true, -1},
		{"404 not found", 404, nil, true, -1},
		{"413 payload too large", 413, nil, true, -1},
		{"408 request timeout", 408, nil, false, -1},
		{"429 with seconds", 429, http.Header{"Retry-After": {"7"}}, false, 7 * time.Second},
		{"429 without retry-after", 429, nil, false, -1},
		{"503 with http-date", 503, http.Header{"Retry-After": {now.Add(90 * time.Second).UTC().Format(http.TimeFormat)}}, false, 90 * time.Second},
		{"500", 500, nil, false, -1},
		{"502", 502, nil, false, -1},
		{"302 redirect is not followed", 302, http.Header{"Location": {"/elsewhere"}}, true, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sink{status: tt.status, header: tt.header, respBody: "reason here"}
			srv := httptest.NewServer(s)
			defer srv.Close()
			tg, err := New(Config{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			err = tg.Send(context.Background(), deliveries(`{}`))
			if tt.status/100 == 2 {
				if err != nil {
					t.Fatalf("status %d: %v", tt.status, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("status %d: Send succeeded", tt.status)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tt.status || se.Body != "reason here" {
				t.Fatalf("error %v is not a StatusError for %d with the body", err, tt.status)
			}
			if got := target.IsPermanent(err); got != tt.permanent {
				t.Fatalf("permanent = %v, want %v (%v)", got, tt.permanent, err)
			}
			d, ok := target.RetryAfterOf(err)
			if tt.retryAfter < 0 {
				if ok {
					t.Fatalf("unexpected retry-after %s", d)
				}
				return
			}
			// HTTP-dates have one-second resolution.
			if !ok || d < tt.retryAfter-2*time.Second || d > tt.retryAfter {
				t.Fatalf("retry-after = %s (%v), want about %s", d, ok, tt.retryAfter)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"-1", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{"Thu, 01 Jan 2026 00:01:00 GMT", time.Minute, true},
		{"Wed, 31 Dec 2025 23:00:00 GMT", 0, true},
		{"Thursday, 01-Jan-26 00:00:30 GMT", 30 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("ParseRetryAfter(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestSinglePartialFailure(t *testing.T) {
	// The sink rejects bodies containing "bad" (permanent) and answers 503
	// from the body containing "down" on.
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch {
		case bytes.Contains(b, []byte("bad")):
			w.WriteHeader(422)
		case bytes.Contains(b, []byte("down")):
			w.WriteHeader(503)
		default:
			mu.Lock()
			got = append(got, string(b))
			mu.Unlock()
		}
	}))
	defer srv.Close()
	tg, err := New(Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	err = tg.Send(context.Background(), deliveries(`"ok0"`, `"bad1"`, `"ok2"`, `"down3"`, `"ok4"`))
	var be *handoff.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("want *handoff.BatchError, got %v", err)
	}
	if len(be.Failed) != 3 || !target.IsPermanent(be.Failed[1]) || target.IsPermanent(be.Failed[3]) || target.IsPermanent(be.Failed[4]) {
		t.Fatalf("failed = %v", be.Failed)
	}
	if strings.Join(got, ",") != `"ok0","ok2"` {
		t.Fatalf("delivered %v", got)
	}
	if target.IsPermanent(err) {
		t.Fatal("batch with transient failures reported permanent")
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	tg, err := New(Config{URL: srv.URL, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	err = tg.Send(context.Background(), deliveries(`{}`))
	if err == nil || target.IsPermanent(err) {
		t.Fatalf("timeout: got %v, want a transient error", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("timeout: %v is not a timeout error", err)
	}
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tg, err := New(Config{URL: "http://" + addr + "/hook"})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	err = tg.Send(context.Background(), deliveries(`{}`))
	if err == nil || target.IsPermanent(err) {
		t.Fatalf("refused: got %v, want transient", err)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "x.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no url", Config{}, "want http:// or https://"},
		{"ftp url", Config{URL: "ftp://x"}, "want http:// or https://"},
		{"bad format", Config{URL: "http://x", Format: "xml"}, `format "xml"`},
		{"missing ca", Config{URL: "https://x", TLS: TLSConfig{CAFile: filepath.Join(dir, "none")}}, "tls ca file"},
		{"ca not pem", Config{URL: "https://x", TLS: TLSConfig{CAFile: notPEM}}, "no PEM certificates"},
		{"cert without key", Config{URL: "https://x", TLS: TLSConfig{CertFile: notPEM}}, "go together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want %q", err, tt.want)
			}
		})
	}
}

// pki is a generated CA with a server and a client certificate.
type pki struct {
	caFile, certFile, keyFile string
	server                    tls.Certificate
	pool                      *x509.CertPool
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wirebridge test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(cn string, usage x509.ExtKeyUsage, serial int64) ([]byte, *ecdsa.PrivateKey) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	pemFile := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srvDER, srvKey := issue("localhost", x509.ExtKeyUsageServerAuth, 2)
	cliDER, cliKey := issue("wirebridge client", x509.ExtKeyUsageClientAuth, 3)
	cliKeyDER, _ := x509.MarshalECPrivateKey(cliKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pki{
		caFile:   pemFile("ca.pem", "CERTIFICATE", caDER),
		certFile: pemFile("client.pem", "CERTIFICATE", cliDER),
		keyFile:  pemFile("client-key.pem", "EC PRIVATE KEY", cliKeyDER),
		server:   tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey},
		pool:     pool,
	}
}

func TestTLS(t *testing.T) {
	p := newPKI(t)
	tests := []struct {
		name       string
		clientAuth bool
		tls        TLSConfig
		ok         bool
	}{
		{"trusted CA", false, TLSConfig{CAFile: p.caFile}, true},
		{"unknown CA fails", false, TLSConfig{}, false},
		{"insecure skip verify", false, TLSConfig{InsecureSkipVerify: true}, true},
		{"wrong server name fails", false, TLSConfig{CAFile: p.caFile, ServerName: "other.example"}, false},
		{"mutual TLS with client cert", true, TLSConfig{CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile}, true},
		{"mutual TLS without client cert fails", true, TLSConfig{CAFile: p.caFile}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sink{}
			srv := httptest.NewUnstartedServer(s)
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}}
			if tt.clientAuth {
				srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
				srv.TLS.ClientCAs = p.pool
			}
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // expected handshake failures
			srv.StartTLS()
			defer srv.Close()
			tg, err := New(Config{URL: srv.URL, TLS: tt.tls, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			err = tg.Send(context.Background(), deliveries(`{"tls":true}`))
			if tt.ok {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				if r := s.requests(); len(r) != 1 || string(r[0].body) != `{"tls":true}` {
					t.Fatalf("sink got %v", r)
				}
				return
			}
			if err == nil {
				t.Fatal("Send succeeded; want a TLS failure")
			}
			if len(s.requests()) != 0 {
				t.Fatal("request reached the handler despite the TLS failure")
			}
		})
	}
}
