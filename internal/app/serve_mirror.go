package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/live"
	"github.com/wirebridge/wirebridge/internal/mirror"
)

// The mirror controllers (the mirror: list) run inside serve, one per
// entry, each with the provider its kind builds:
//
//	provider (netlink, EC2) ──triggers──► controller ──create/delete──► provider
//	                                          ├── state ──► KV wirebridge_mirror (compare-and-set)
//	                                          ├── given up ──► WIREBRIDGE_DLQ (wirebridge.dlq.mirror.<name>)
//	                                          └── MirrorStateChange ──► event ingress ──► rules ──► targets
//
// A controller is a producer of events, so the lifecycle stops it with the
// sources, before the event ingress drains; remove_on_exit removes its
// sessions then.

// mirrorSet is the running controllers of a serve.
type mirrorSet struct {
	ctls      []*mirror.Controller
	providers []mirror.Provider
	cfgs      []*config.Mirror
	kv        jetstream.KeyValue
	hasKeys   bool       // the configuration has live.api_keys: the API asks for one
	auth      *live.Auth // checks them
}

// newMirrors builds the controller of every mirror entry (nil when there
// are none); errors are placed at the entry.
//
// held says the process holds data_dir's lock: then its controllers claim
// endpoints under a name of the host and data_dir, the same after a
// restart, so that a controller restarted after a crash takes its own
// claims over at once (no other process can hold that name meanwhile);
// otherwise under a name of this process alone.
func (r *registry) newMirrors(ctx context.Context, env *buildEnv, metrics *mirror.Metrics, handle func(string, http.Handler), held bool) (*mirrorSet, error) {
	cfg := env.cfg
	if len(cfg.Mirror) == 0 {
		return nil, nil
	}
	if env.bus == nil {
		return nil, cfg.ErrorAt("mirror", errors.New("the mirror controller needs the NATS bus"))
	}
	kv, err := env.bus.Mirror(ctx)
	if err != nil {
		return nil, cfg.ErrorAt("mirror", err)
	}
	set := &mirrorSet{kv: kv, hasKeys: len(cfg.Live.APIKeys) > 0}
	owner := ""
	if held {
		owner = controllerOwner(cfg)
	}
	if env.live != nil {
		set.auth = env.live.auth
	}
	for i := range cfg.Mirror {
		m := &cfg.Mirror[i]
		path := fmt.Sprintf("mirror[%d]", i)
		p, err := r.newProvider(env, m, handle)
		if err != nil {
			set.close()
			return nil, cfg.ErrorAt(path, err)
		}
		set.providers = append(set.providers, p)
		cc := mirrorConfig(m, p, kv, env.bus, env.logger)
		cc.Metrics, cc.Owner = metrics, owner
		if env.events != nil {
			cc.Publish = env.events.producer("mirror:"+m.Name, mirror.EventSource)
		}
		ctl, err := mirror.New(cc)
		if err != nil {
			set.close()
			return nil, cfg.ErrorAt(path, err)
		}
		metrics.Init(m.Name)
		set.ctls = append(set.ctls, ctl)
		set.cfgs = append(set.cfgs, m)
	}
	return set, nil
}

// controllerOwner names the controllers of the process holding cfg's
// data_dir: host:hash of the data_dir's absolute path.
func controllerOwner(cfg *config.Config) string {
	host, _ := os.Hostname()
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		abs = cfg.DataDir
	}
	h := fnv.New32a()
	h.Write([]byte(abs))
	return fmt.Sprintf("%s:%08x", host, h.Sum32())
}

// newProvider builds the provider of one entry from its kind.
func (r *registry) newProvider(env *buildEnv, m *config.Mirror, handle func(string, http.Handler)) (mirror.Provider, error) {
	kind := env.cfg.MirrorKind(m)
	if kind == nil {
		return nil, fmt.Errorf("provider %q: this build has no such mirror provider", m.Provider)
	}
	ce := env.component()
	ce.Logger = env.logger
	ce.Handle = handle
	built, err := kind.New(ce, m.Common(), m.Spec)
	if err != nil {
		return nil, err
	}
	p, ok := built.(mirror.Provider)
	if !ok {
		built.Close()
		return nil, fmt.Errorf("provider %s built a %T, which is not a mirror provider", m.Provider, built)
	}
	return p, nil
}

// mirrorConfig maps an entry onto its controller's configuration.
func mirrorConfig(m *config.Mirror, p mirror.Provider, kv jetstream.KeyValue, b *bus.Bus, logger *slog.Logger) mirror.Config {
	cc := mirror.Config{
		Name: m.Name, ProviderName: m.Provider, Provider: p, KV: kv, DLQ: b.JetStream(), Logger: logger,
		ScanInterval: m.ScanInterval, MaxAttempts: m.MaxAttempts, RemoveOnExit: m.RemoveOnExit,
		Backoff: mirror.Backoff{Initial: m.Backoff.Initial, Max: m.Backoff.Max, Multiplier: m.Backoff.Multiplier, Jitter: m.Backoff.Jitter},
	}
	return cc
}

func (ms *mirrorSet) close() {
	if ms == nil {
		return
	}
	for _, p := range ms.providers {
		p.Close()
	}
}

// controller returns the running controller of the entry called name.
func (ms *mirrorSet) controller(name string) *mirror.Controller {
	if ms == nil {
		return nil
	}
	for _, c := range ms.ctls {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// units are the controllers as the lifecycle runs them: producers of
// events; each closes its provider when it stops.
func (ms *mirrorSet) units(s *server) []unit {
	if ms == nil {
		return nil
	}
	var out []unit
	for i, c := range ms.ctls {
		p := ms.providers[i]
		u := unit{name: "mirror " + c.Name(), produces: []string{streamEvents}}
		u.start, u.stop = runner(func(ctx context.Context) {
			if err := c.Run(ctx); err != nil {
				s.log.Error("mirror controller stopped with an error", "mirror", c.Name(), "error", err)
			}
			if err := p.Close(); err != nil {
				s.log.Warn("closing the mirror provider", "mirror", c.Name(), "error", err)
			}
		})
		out = append(out, u)
	}
	return out
}

// where lists what each entry mirrors where, for the banner.
func (ms *mirrorSet) where() []string {
	if ms == nil {
		return nil
	}
	var out []string
	for _, m := range ms.cfgs {
		w := "provider " + m.Provider
		if mw, ok := m.Spec.(component.MirrorWherer); ok {
			w += ": " + mw.Where()
		}
		out = append(out, fmt.Sprintf("%s (%s), scan every %s", m.Name, w, m.ScanInterval))
	}
	return out
}

// ensureAnswer is what POST /api/mirror/{name}/ensure/{endpoint} returns.
type ensureAnswer struct {
	Mirror   string         `json:"mirror"`
	Endpoint string         `json:"endpoint"`
	Active   bool           `json:"active"`
	Error    string         `json:"error,omitempty"`
	Record   *mirror.Record `json:"record,omitempty"`
}

// DefaultEnsureTimeout bounds an ensure with wait when the request names no timeout.
const defaultEnsureTimeout = 30 * time.Second

// handler serves the mirror API of a running serve:
//
//	GET  /api/mirror[?name=N]                          every endpoint's record
//	POST /api/mirror/{name}/ensure/{endpoint}[?wait=1&timeout=30s]
//
// When the configuration has live.api_keys, a request needs one with the
// admin scope (Authorization: Bearer KEY or X-Api-Key); without keys only
// loopback clients are answered.
func (ms *mirrorSet) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/mirror", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		var out []mirror.Record
		for _, c := range ms.ctls {
			if name != "" && c.Name() != name {
				continue
			}
			rs, err := mirror.List(r.Context(), ms.kv, c.Name())
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			out = append(out, rs...)
		}
		if name != "" && ms.controller(name) == nil {
			http.Error(w, fmt.Sprintf("no mirror entry %q", name), http.StatusNotFound)
			return
		}
		if out == nil {
			out = []mirror.Record{}
		}
		writeMirrorJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /api/mirror/{name}/ensure/{endpoint}", func(w http.ResponseWriter, r *http.Request) {
		name, id := r.PathValue("name"), r.PathValue("endpoint")
		c := ms.controller(name)
		if c == nil {
			http.Error(w, fmt.Sprintf("no mirror entry %q", name), http.StatusNotFound)
			return
		}
		timeout := defaultEnsureTimeout
		if t := r.URL.Query().Get("timeout"); t != "" {
			d, err := time.ParseDuration(t)
			if err != nil || d <= 0 || d > time.Hour {
				http.Error(w, "timeout: want a duration such as 30s (at most 1h)", http.StatusBadRequest)
				return
			}
			timeout = d
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		ans := ensureAnswer{Mirror: name, Endpoint: id}
		selected, err := c.Ensure(ctx, id)
		switch {
		case err != nil:
			ans.Error = err.Error()
			writeMirrorJSON(w, http.StatusServiceUnavailable, ans)
			return
		case !selected:
			ans.Error = fmt.Sprintf("%s is not selected by mirror %s: it does not exist, or no selector of the entry matches it", id, name)
			writeMirrorJSON(w, http.StatusNotFound, ans)
			return
		}
		if v := r.URL.Query().Get("wait"); v == "" || v == "0" || v == "false" {
			ans.Record, _ = mirror.Get(ctx, ms.kv, name, id)
			ans.Active = ans.Record != nil && ans.Record.State == mirror.Active
			writeMirrorJSON(w, http.StatusAccepted, ans)
			return
		}
		rec, err := mirror.Wait(ctx, ms.kv, name, id)
		ans.Record = rec
		switch {
		case err == nil:
			ans.Active = true
			writeMirrorJSON(w, http.StatusOK, ans)
		case errors.Is(err, mirror.ErrNotActive):
			ans.Error = err.Error()
			writeMirrorJSON(w, http.StatusUnprocessableEntity, ans)
		default:
			ans.Error = err.Error()
			writeMirrorJSON(w, http.StatusGatewayTimeout, ans)
		}
	})
	return ms.guard(mux)
}

// guard lets a request through when it carries an API key with the admin
// scope, or, when the configuration has no API keys, comes from loopback.
func (ms *mirrorSet) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ms.hasKeys {
			ap, err := netip.ParseAddrPort(r.RemoteAddr)
			if err != nil || !ap.Addr().Unmap().IsLoopback() {
				http.Error(w, "the mirror API answers loopback clients only (configure live.api_keys to open it to others)", http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		p, err := ms.auth.Authenticate(apiKey(r))
		switch {
		case err != nil || p.Share != nil:
			w.Header().Set("WWW-Authenticate", `Bearer realm="wirebridge"`)
			http.Error(w, "unauthorized: an API key with the admin scope is required", http.StatusUnauthorized)
		case !p.Scopes.Has(live.ScopeAdmin):
			http.Error(w, "forbidden: the mirror API needs the admin scope", http.StatusForbidden)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// apiKey is the key a request carries (Authorization: Bearer KEY, or X-Api-Key).
func apiKey(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		t, _ := strings.CutPrefix(a, "Bearer ")
		return strings.TrimSpace(t)
	}
	return r.Header.Get("X-Api-Key")
}

func writeMirrorJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
