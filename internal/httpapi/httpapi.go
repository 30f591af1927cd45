// Package httpapi is wirebridge's single HTTP listener. It sits beside the data
// path, not in it: it exposes what the running components report —
// Prometheus metrics, liveness and readiness — and gives the REST API, the
// WebSocket live channels and the UI a mux to mount on.
//
//	GET /metrics   Prometheus text exposition of the registry passed in
//	GET /healthz   200 while the process serves HTTP (liveness)
//	GET /readyz    200 when every registered readiness check passes, else 503
//	               with the failing checks (the bus connected, the sources
//	               started, the targets' deliverers running ...)
//
// Nothing here logs: errors are returned, and the HTTP server's own error log
// is whatever Config.ErrorLog says.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultListen is the address used when Config.Listen is empty.
const DefaultListen = "127.0.0.1:8080"

// Config configures the server.
type Config struct {
	// Listen is host:port (DefaultListen when empty; port 0 picks a free port).
	Listen string
	// Gatherer is what /metrics exposes; nil exposes an empty registry.
	Gatherer prometheus.Gatherer
	// ShutdownTimeout bounds the graceful shutdown when Run's context ends
	// (default 5s); connections still open then are closed.
	ShutdownTimeout time.Duration
	// ErrorLog receives the HTTP server's own errors (nil: discarded).
	ErrorLog *log.Logger
}

// Check reports whether one component is ready: nil when it is, otherwise
// why not.
type Check func() error

// Server is the HTTP listener. Mount handlers with Handle before or after
// Run starts; register readiness checks with SetCheck at any time.
type Server struct {
	cfg Config
	mux *http.ServeMux

	mu     sync.Mutex
	checks map[string]Check
	ln     net.Listener
	srv    *http.Server
}

// New returns a server; it does not listen yet (see Listen and Run).
func New(cfg Config) *Server {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry()
	}
	if cfg.ErrorLog == nil {
		cfg.ErrorLog = log.New(discard{}, "", 0)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), checks: map[string]Check{}}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	}))
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	return s
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Handle mounts h on the server's mux (http.ServeMux patterns, such as
// "/api/" or "GET /ws"). It panics, like ServeMux, on a conflicting pattern.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler is the server's root handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.mux }

// SetCheck registers (or replaces) the readiness check called name. A nil
// check removes it.
func (s *Server) SetCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c == nil {
		delete(s.checks, name)
		return
	}
	s.checks[name] = c
}

// Ready runs every check and returns the failures by name (empty: ready).
func (s *Server) Ready() map[string]error {
	s.mu.Lock()
	checks := make(map[string]Check, len(s.checks))
	for n, c := range s.checks {
		checks[n] = c
	}
	s.mu.Unlock()
	failed := map[string]error{}
	for n, c := range checks {
		if err := c(); err != nil {
			failed[n] = err
		}
	}
	return failed
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, "ok")
}

// readyz answers 200 "ok" or 503 with one "name: reason" line per failing
// check; ?verbose lists the passing checks too.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	s.mu.Unlock()
	slices.Sort(names)
	failed := s.Ready()
	_, verbose := r.URL.Query()["verbose"]
	var b strings.Builder
	for _, n := range names {
		if err, bad := failed[n]; bad {
			fmt.Fprintf(&b, "%s: %s\n", n, oneLine(err.Error()))
		} else if verbose {
			fmt.Fprintf(&b, "%s: ok\n", n)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if len(failed) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready\n%s", b.String())
		return
	}
	fmt.Fprintf(w, "ok\n%s", b.String())
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// Listen binds the listening socket, so that an address in use is reported
// before anything else starts. Run calls it when it has not been called.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	return nil
}

// Addr is the bound address, nil before Listen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Run serves until ctx ends, then shuts down gracefully within
// ShutdownTimeout. It returns nil after a shutdown caused by ctx, or the
// error that stopped the server.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.srv != nil {
		s.mu.Unlock()
		return errors.New("http server: already running")
	}
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          s.cfg.ErrorLog,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	s.srv = srv
	ln := s.ln
	s.mu.Unlock()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	if err != nil {
		srv.Close()
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}
