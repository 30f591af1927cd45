package gwlb

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// TestProbe: health checks against real listeners on loopback.
func TestProbe(t *testing.T) {
	// A TCP listener that accepts, and a port where nothing listens.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dead, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := uint16(dead.Addr().(*net.TCPAddr).Port)
	dead.Close()
	// An HTTP server: /healthz 200, /sick 503, /moved 302.
	hl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.WriteHeader(200)
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			w.WriteHeader(503)
		}
	})}
	go srv.Serve(hl)
	defer srv.Close()
	// A listener that accepts and never answers HTTP.
	mute, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	go func() {
		var held []net.Conn // closed once the listener is
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	port := func(l net.Listener) uint16 { return uint16(l.Addr().(*net.TCPAddr).Port) }
	tests := []struct {
		name string
		hc   HealthCheck
		ok   bool
	}{
		{"tcp accepted", HealthCheck{Protocol: "tcp", Port: port(ln)}, true},
		{"tcp refused", HealthCheck{Protocol: "tcp", Port: deadPort}, false},
		{"http 200", HealthCheck{Protocol: "http", Port: port(hl), Path: "/healthz"}, true},
		{"http 503", HealthCheck{Protocol: "http", Port: port(hl), Path: "/sick"}, false},
		{"http redirect counts as healthy, not followed", HealthCheck{Protocol: "http", Port: port(hl), Path: "/moved"}, true},
		{"http refused", HealthCheck{Protocol: "http", Port: deadPort, Path: "/"}, false},
		{"http no answer within the timeout", HealthCheck{Protocol: "http", Port: port(mute), Path: "/"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.hc.Timeout = 500 * time.Millisecond
			err := tt.hc.probe(context.Background(), netip.MustParseAddr("127.0.0.1"))
			if (err == nil) != tt.ok {
				t.Errorf("probe: %v, want healthy %v", err, tt.ok)
			}
		})
	}
}
