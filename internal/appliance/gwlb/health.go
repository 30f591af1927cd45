package gwlb

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HealthCheck configures GWLB-like target health checks. Protocol "" turns
// them off: every appliance counts as healthy.
type HealthCheck struct {
	Protocol string // "tcp", "http" or ""
	Port     uint16
	Path     string // http only; default "/"
	Interval time.Duration
	Timeout  time.Duration
	// HealthyThreshold consecutive successes make an unhealthy appliance
	// healthy; UnhealthyThreshold consecutive failures make a healthy one
	// unhealthy. A new appliance starts "initial" (it gets no traffic) and
	// becomes healthy at its first success, unhealthy after
	// UnhealthyThreshold failures.
	HealthyThreshold, UnhealthyThreshold int
}

// ParseHealth parses the --health flag: tcp:PORT or http:PORT/PATH.
func ParseHealth(s string) (HealthCheck, error) {
	proto, rest, ok := strings.Cut(s, ":")
	if !ok || (proto != "tcp" && proto != "http") {
		return HealthCheck{}, fmt.Errorf("health check %q: want tcp:PORT or http:PORT/PATH", s)
	}
	port, path := rest, ""
	if proto == "http" {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			port, path = rest[:i], rest[i:]
		} else {
			path = "/"
		}
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return HealthCheck{}, fmt.Errorf("health check %q: port must be 1..65535", s)
	}
	return HealthCheck{Protocol: proto, Port: uint16(n), Path: path}, nil
}

// healthState is an appliance's health and the run of results behind it.
type healthState uint8

// Health states.
const (
	stateInitial healthState = iota
	stateHealthy
	stateUnhealthy
)

func (s healthState) String() string {
	return [...]string{"initial", "healthy", "unhealthy"}[s]
}

// health is one appliance's health state machine.
type health struct {
	mu        sync.Mutex
	st        healthState
	successes int // consecutive
	failures  int // consecutive
}

func (h *health) state() healthState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st
}

// observe records one check result and returns the state before and after.
func (h *health) observe(ok bool, healthyThreshold, unhealthyThreshold int) (from, to healthState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	from = h.st
	if ok {
		h.successes++
		h.failures = 0
		if h.st == stateInitial || (h.st == stateUnhealthy && h.successes >= healthyThreshold) {
			h.st = stateHealthy
		}
	} else {
		h.failures++
		h.successes = 0
		if h.st != stateUnhealthy && h.failures >= unhealthyThreshold {
			h.st = stateUnhealthy
		}
	}
	return from, h.st
}

// probe runs one health check of the appliance at ip.
func (c *HealthCheck) probe(ctx context.Context, ip netip.Addr) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	addr := netip.AddrPortFrom(ip, c.Port).String()
	switch c.Protocol {
	case "tcp":
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("tcp health check: %w", err)
		}
		return conn.Close()
	case "http":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+c.Path, nil)
		if err != nil {
			return fmt.Errorf("http health check: %w", err)
		}
		resp, err := healthClient.Do(req)
		if err != nil {
			return fmt.Errorf("http health check: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 399 {
			return fmt.Errorf("http health check: status %d", resp.StatusCode)
		}
		return nil
	}
	return fmt.Errorf("health check: unknown protocol %q", c.Protocol)
}

// healthClient checks without keep-alive: every check opens a connection,
// as GWLB's do, so a dead appliance cannot look alive through an old one.
var healthClient = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}
