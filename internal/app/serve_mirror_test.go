package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/live"
	"github.com/wirebridge/wirebridge/internal/mirror"
)

// apiProvider is a small in-test mirror provider for the API's tests: it
// selects the endpoints it is given; Create fails for those named bad*.
type apiProvider struct {
	mu       sync.Mutex
	desired  []string
	sessions map[string]bool
}

func (p *apiProvider) Desired(context.Context) ([]mirror.Endpoint, error) {
	var out []mirror.Endpoint
	for _, id := range p.desired {
		out = append(out, mirror.Endpoint{ID: id})
	}
	return out, nil
}

func (p *apiProvider) Actual(context.Context) ([]mirror.Session, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []mirror.Session
	for id := range p.sessions {
		out = append(out, mirror.Session{EndpointID: id, ID: "s-" + id, Complete: true})
	}
	return out, nil
}

func (p *apiProvider) Create(_ context.Context, e mirror.Endpoint) (mirror.Session, bool, error) {
	if strings.HasPrefix(e.ID, "bad") {
		return mirror.Session{}, false, fmt.Errorf("create %s: %w: no route to the collector", e.ID, mirror.ErrPermanent)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sessions[e.ID] = true
	return mirror.Session{EndpointID: e.ID, ID: "s-" + e.ID, Complete: true}, true, nil
}

func (p *apiProvider) Delete(_ context.Context, s mirror.Session) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.sessions, s.EndpointID)
	return nil
}

func (p *apiProvider) Watch(ctx context.Context, _ chan<- mirror.Trigger) error {
	<-ctx.Done()
	return nil
}

func (p *apiProvider) Close() error { return nil }

// TestMirrorAPI: the ensure and list endpoints answer with the state, wait
// for it, say why an endpoint is not mirrored, and let in only loopback
// clients (no API keys configured) or admin keys.
func TestMirrorAPI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir(), MaxStorage: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	kv, err := b.Mirror(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := &apiProvider{desired: []string{"eth0", "bad0"}, sessions: map[string]bool{}}
	ctl, err := mirror.New(mirror.Config{Name: "host", ProviderName: "test", Provider: p, KV: kv, ScanInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); ctl.Run(ctx) }()
	defer func() { cancel(); <-done }()

	keys := live.NewAuth([]live.APIKey{
		{Name: "ops", Key: "admin-key-0123456789", Scopes: live.ScopeAdmin},
		{Name: "pub", Key: "publish-key-0123456789", Scopes: live.ScopePublish},
	}, nil, nil)
	open := &mirrorSet{ctls: []*mirror.Controller{ctl}, kv: kv}
	locked := &mirrorSet{ctls: []*mirror.Controller{ctl}, kv: kv, hasKeys: true, auth: keys}

	tests := []struct {
		name   string
		set    *mirrorSet
		method string
		target string
		remote string // RemoteAddr; "" is loopback
		key    string
		code   int
		want   string // in the body
	}{
		{"ensure and wait", open, "POST", "/api/mirror/host/ensure/eth0?wait=1&timeout=20s", "", "", 200, `"active":true`},
		{"list", open, "GET", "/api/mirror", "", "", 200, `"endpoint":"eth0"`},
		{"list by name", open, "GET", "/api/mirror?name=host", "", "", 200, `"state":"active"`},
		{"ensure without wait", open, "POST", "/api/mirror/host/ensure/eth0", "", "", 202, `"state":"active"`},
		{"not selected", open, "POST", "/api/mirror/host/ensure/nope?wait=1", "", "", 404, "not selected by mirror host"},
		{"failed, with the reason", open, "POST", "/api/mirror/host/ensure/bad0?wait=1", "", "", 422, "no route to the collector"},
		{"unknown entry", open, "POST", "/api/mirror/other/ensure/eth0", "", "", 404, `no mirror entry "other"`},
		{"bad timeout", open, "POST", "/api/mirror/host/ensure/eth0?timeout=soon", "", "", 400, "timeout"},
		{"not loopback without keys", open, "GET", "/api/mirror", "192.0.2.7:4000", "", 403, "loopback clients only"},
		{"keys: none given", locked, "GET", "/api/mirror", "192.0.2.7:4000", "", 401, "unauthorized"},
		{"keys: a wrong one", locked, "GET", "/api/mirror", "", "nope-nope-nope-nope", 401, "unauthorized"},
		{"keys: publish scope", locked, "POST", "/api/mirror/host/ensure/eth0", "192.0.2.7:4000", "publish-key-0123456789", 403, "admin scope"},
		{"keys: admin", locked, "POST", "/api/mirror/host/ensure/eth0?wait=1", "192.0.2.7:4000", "admin-key-0123456789", 200, `"active":true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, nil)
			req.RemoteAddr = "127.0.0.1:5555"
			if tt.remote != "" {
				req.RemoteAddr = tt.remote
			}
			if tt.key != "" {
				req.Header.Set("Authorization", "Bearer "+tt.key)
			}
			rec := httptest.NewRecorder()
			tt.set.handler().ServeHTTP(rec, req)
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("%s %s: %d %s, want %d with %q", tt.method, tt.target, rec.Code, rec.Body, tt.code, tt.want)
			}
			if rec.Code == http.StatusOK && strings.Contains(tt.target, "ensure") {
				var ans ensureAnswer
				if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || ans.Record == nil || ans.Record.Session != "s-eth0" {
					t.Errorf("answer %s: %v", rec.Body, err)
				}
			}
		})
	}
}
