package httpapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// start runs a server on a free loopback port and returns its base URL.
func start(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	s := New(cfg)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s, "http://" + s.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wirebridge_test_total", Help: "x"}, []string{"k"})
	reg.MustRegister(c)
	c.WithLabelValues("a").Add(3)
	s, base := start(t, Config{Gatherer: reg})

	var busUp atomic.Bool
	s.SetCheck("bus", func() error {
		if !busUp.Load() {
			return errors.New("not connected\nyet")
		}
		return nil
	})
	s.SetCheck("sources", func() error { return nil })
	s.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "api "+r.URL.Path)
	}))

	tests := []struct {
		name     string
		before   func()
		path     string
		wantCode int
		want     []string
		notWant  []string
	}{
		{name: "healthz", path: "/healthz", wantCode: 200, want: []string{"ok"}},
		{name: "metrics", path: "/metrics", wantCode: 200, want: []string{`wirebridge_test_total{k="a"} 3`}},
		{name: "readyz failing", path: "/readyz", wantCode: 503,
			want: []string{"not ready", "bus: not connected yet"}, notWant: []string{"sources"}},
		{name: "readyz verbose failing", path: "/readyz?verbose", wantCode: 503,
			want: []string{"bus: not connected yet", "sources: ok"}},
		{name: "readyz ok", before: func() { busUp.Store(true) }, path: "/readyz", wantCode: 200,
			want: []string{"ok"}, notWant: []string{"bus"}},
		{name: "readyz ok verbose", path: "/readyz?verbose", wantCode: 200, want: []string{"bus: ok", "sources: ok"}},
		{name: "mounted", path: "/api/x", wantCode: 200, want: []string{"api /api/x"}},
		{name: "unknown", path: "/nope", wantCode: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			code, body := get(t, base+tc.path)
			if code != tc.wantCode {
				t.Fatalf("status %d, want %d; body %q", code, tc.wantCode, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("body %q lacks %q", body, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(body, w) {
					t.Errorf("body %q contains %q", body, w)
				}
			}
		})
	}
}

func TestRemoveCheck(t *testing.T) {
	s, base := start(t, Config{})
	s.SetCheck("x", func() error { return errors.New("down") })
	if code, _ := get(t, base+"/readyz"); code != 503 {
		t.Fatalf("status %d, want 503", code)
	}
	s.SetCheck("x", nil)
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("status %d after removing the check, want 200", code)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	_, base := start(t, Config{})
	resp, err := http.Post(base+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /healthz: %d, want 405", resp.StatusCode)
	}
}

func TestListenInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := New(Config{Listen: ln.Addr().String()})
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("Run on a used address: %v, want an error naming it", err)
	}
}

// TestShutdown checks that Run returns once its context ends, even with an
// idle keep-alive connection and a slow request in flight.
func TestShutdown(t *testing.T) {
	s := New(Config{Listen: "127.0.0.1:0", ShutdownTimeout: 2 * time.Second})
	release, entered := make(chan struct{}), make(chan struct{})
	s.Handle("/slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "done")
	}))
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	<-entered
	cancel()
	time.Sleep(100 * time.Millisecond) // let Shutdown start; the request must still finish
	close(release)
	if got := <-slow; got != "done" {
		t.Errorf("in-flight request: %q, want it finished", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("server still answers after shutdown")
	}
}
