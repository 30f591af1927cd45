package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wirebridge/wirebridge/internal/appliance/gwlb"
)

const gwlbHelp = `Run a local AWS Gateway Load Balancer, to try a Geneve appliance (wirebridge's
or any other) without AWS. IP packets routed into the TUN interface are wrapped
in Geneve as GWLB does (outer IPv4/UDP to the appliance, the AWS options class
0x0108: endpoint id, attachment id and a flow cookie per 5-tuple) and sent to
an appliance chosen by flow hash (both directions of a flow go to the same
one); with --health, only to appliances passing the health check. What comes
back (as GWLB expects: addresses swapped, UDP ports kept, so to the
appliance's port on the GWLB's address) is checked (Geneve header and
options as sent, a known flow cookie, the flow's source port, the same
flow), unwrapped and handed back to the kernel, which forwards it to
its destination. Route traffic into the TUN with policy routing: see
docs/appliance.md for a whole demo in network namespaces. Needs root (CAP_NET_ADMIN
and CAP_NET_RAW). SIGINT/SIGTERM stop it and remove the TUN if it created it.

Example:
  wirebridge gwlb --tun gwlb0 --appliance 10.0.3.2:6081 --appliance 10.0.3.3:6081 \
      --health tcp:8080 --listen 10.0.3.1
  ip rule add iif veth-client lookup 100
  ip route add default dev gwlb0 table 100`

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func runGWLB(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("gwlb", "--appliance HOST:PORT [--appliance ...] [flags]", gwlbHelp, stdio)
	var appls, addrs multiFlag
	tun := fs.String("tun", gwlb.DefaultTUN, "the TUN interface `NAME` (created, or attached to if it exists)")
	fs.Var(&addrs, "addr", "an `ADDRESS/PREFIX` for the TUN (repeatable; optional with policy routing)")
	fs.Var(&appls, "appliance", "an appliance's Geneve `HOST:PORT`, IPv4 (repeatable, at least one; port usually 6081)")
	health := fs.String("health", "", "health check: tcp:PORT or http:PORT/PATH (none: every appliance is healthy)")
	interval := fs.Duration("health-interval", gwlb.DefaultInterval, "time between health checks")
	timeout := fs.Duration("health-timeout", 0, "health check timeout (default 5s, at most the interval)")
	healthyN := fs.Int("healthy-threshold", gwlb.DefaultThreshold, "consecutive successes that make an unhealthy appliance healthy (a new one: the first)")
	unhealthyN := fs.Int("unhealthy-threshold", gwlb.DefaultThreshold, "consecutive failures that make an appliance unhealthy")
	allUnhealthy := fs.String("all-unhealthy", string(gwlb.PolicyDrop), "with no healthy appliance: drop, or fail-open (send to all, hashed)")
	failover := fs.String("target-failover", "rebalance", "when a flow's appliance turns unhealthy: rebalance (move the flow to a healthy one) or no-rebalance (keep it there; only new flows avoid it, AWS's default)")
	endpoint := fs.String("endpoint-id", "0x1", "the GWLB endpoint id (Geneve option type 1), decimal or 0x hex")
	attachment := fs.String("attachment-id", "0x2", "the attachment id (Geneve option type 2), decimal or 0x hex")
	listen := fs.String("listen", "", "local IPv4 `ADDR[:PORT]` Geneve is sent from (the flows' source ports, from PORT up) and replies return to (at the appliances' Geneve port, ports kept as GWLB expects) (default: the route's source address towards the first appliance, kernel-chosen ports)")
	ports := fs.Int("ports", gwlb.DefaultPorts, "local UDP ports (from --listen's port up); each flow uses one, by flow hash")
	statsEvery := fs.Duration("stats", 0, "log the counters this often (0: only when it stops)")
	mtu := fs.Int("mtu", gwlb.DefaultMTU, "the TUN MTU: the largest inner packet (the outer one is 68 bytes more)")
	pos, code, done := parseFlags(fs, args, stdio)
	if done {
		return code
	}
	cfg, err := gwlbConfig(pos, appls, addrs, *tun, *health, *endpoint, *attachment, *listen, *allUnhealthy)
	if err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge gwlb: %v\n", err)
		fs.Usage()
		return exitUsage
	}
	cfg.MTU, cfg.Ports = *mtu, *ports
	switch *failover {
	case "rebalance":
	case "no-rebalance":
		cfg.NoRebalance = true
	default:
		fmt.Fprintf(stdio.Err, "wirebridge gwlb: --target-failover %q: want rebalance or no-rebalance\n", *failover)
		fs.Usage()
		return exitUsage
	}
	if cfg.Health.Protocol != "" {
		cfg.Health.Interval, cfg.Health.Timeout = *interval, *timeout
		cfg.Health.HealthyThreshold, cfg.Health.UnhealthyThreshold = *healthyN, *unhealthyN
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stdio.Err, nil))
	cfg.OnReady = func(r gwlb.Ready) { printGWLBReady(stdio, cfg, r) }
	g, err := gwlb.New(cfg)
	if err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge gwlb: %v\n", err)
		return exitUsage
	}
	stopStats := make(chan struct{})
	statsDone := make(chan struct{})
	go func() {
		defer close(statsDone)
		if *statsEvery <= 0 {
			return
		}
		t := time.NewTicker(*statsEvery)
		defer t.Stop()
		for {
			select {
			case <-stopStats:
				return
			case <-t.C:
				logGWLBStats(cfg.Logger, g.Stats())
			}
		}
	}()
	err = g.Run(ctx)
	close(stopStats)
	<-statsDone
	printGWLBStats(stdio, g.Stats())
	if err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge gwlb: %v\n", err)
		return exitFail
	}
	return exitOK
}

// gwlbConfig turns the command line into a gwlb.Config.
func gwlbConfig(pos, appls, addrs []string, tun, health, endpoint, attachment, listen, allUnhealthy string) (gwlb.Config, error) {
	cfg := gwlb.Config{TUN: tun, AllUnhealthy: gwlb.Policy(allUnhealthy)}
	if len(pos) != 0 {
		return cfg, fmt.Errorf("unexpected argument %q", pos[0])
	}
	if len(appls) == 0 {
		return cfg, errors.New("at least one --appliance HOST:PORT is required")
	}
	for _, a := range appls {
		ap, err := resolveIPv4(a)
		if err != nil {
			return cfg, fmt.Errorf("--appliance %q: %w", a, err)
		}
		if ap.Port() == 0 {
			return cfg, fmt.Errorf("--appliance %q: want HOST:PORT (Geneve is port 6081)", a)
		}
		cfg.Appliances = append(cfg.Appliances, ap)
	}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return cfg, fmt.Errorf("--addr %q: want ADDRESS/PREFIX", a)
		}
		cfg.Addrs = append(cfg.Addrs, p)
	}
	if health != "" {
		h, err := gwlb.ParseHealth(health)
		if err != nil {
			return cfg, fmt.Errorf("--health: %w", err)
		}
		cfg.Health = h
	}
	var err error
	if cfg.EndpointID, err = strconv.ParseUint(endpoint, 0, 64); err != nil {
		return cfg, fmt.Errorf("--endpoint-id %q: want a 64-bit number, decimal or 0x hex", endpoint)
	}
	if cfg.AttachmentID, err = strconv.ParseUint(attachment, 0, 64); err != nil {
		return cfg, fmt.Errorf("--attachment-id %q: want a 64-bit number, decimal or 0x hex", attachment)
	}
	if listen != "" {
		s := listen
		if _, _, err := net.SplitHostPort(s); err != nil {
			s = net.JoinHostPort(s, "0")
		}
		ap, err := netip.ParseAddrPort(s)
		if err != nil || !ap.Addr().Is4() {
			return cfg, fmt.Errorf("--listen %q: want an IPv4 ADDR or ADDR:PORT", listen)
		}
		cfg.Listen = ap
	}
	return cfg, nil
}

// resolveIPv4 resolves HOST:PORT to an IPv4 address and port.
func resolveIPv4(s string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("want HOST:PORT: %w", err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q: want 1..65535", port)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Unmap().Is4() {
			return netip.AddrPort{}, errors.New("want an IPv4 address (GWLB speaks Geneve over IPv4)")
		}
		return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip4", host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("resolve %q: %w", host, err)
	}
	return netip.AddrPortFrom(ips[0].Unmap(), uint16(p)), nil
}

func printGWLBReady(stdio Stdio, cfg gwlb.Config, r gwlb.Ready) {
	how := "attached to existing"
	if r.Created {
		how = "created"
	}
	fmt.Fprintf(stdio.Out, "wirebridge gwlb: %s TUN %s (mtu %d)\n", how, r.TUN, cfg.MTU)
	fmt.Fprintf(stdio.Out, "  geneve from %s, ports %v\n", r.Source, r.Ports)
	fmt.Fprintf(stdio.Out, "  endpoint id 0x%016x, attachment id 0x%016x\n", cfg.EndpointID, cfg.AttachmentID)
	for _, a := range cfg.Appliances {
		fmt.Fprintf(stdio.Out, "  appliance %s\n", a)
	}
	if h := cfg.Health; h.Protocol != "" {
		failover := "rebalance"
		if cfg.NoRebalance {
			failover = "no-rebalance"
		}
		fmt.Fprintf(stdio.Out, "  health %s:%d%s every %s (healthy after %d, unhealthy after %d); target failover: %s; none healthy: %s\n",
			h.Protocol, h.Port, h.Path, h.Interval, h.HealthyThreshold, h.UnhealthyThreshold, failover, cfg.AllUnhealthy)
	} else {
		fmt.Fprintln(stdio.Out, "  no health check: every appliance is healthy")
	}
	fmt.Fprintf(stdio.Out, "ready: route traffic into %s (Ctrl-C stops)\n", r.TUN)
}

// logGWLBStats logs the counters as one line: totals, then per appliance
// and per drop reason (non-zero ones).
func logGWLBStats(l *slog.Logger, s gwlb.Stats) {
	attrs := []any{"from_tun", s.FromTUN, "to_tun", s.ToTUN, "flows", s.Flows, "health_transitions", s.HealthTransitions, "fail_open", s.AllUnhealthyFailOpen}
	for _, a := range s.Appliances {
		attrs = append(attrs, slog.Group(a.Address, "out", a.Out, "back", a.Back, "health", a.Health))
	}
	for _, m := range []struct {
		prefix string
		counts map[string]uint64
	}{{"dropped_", s.Drops}, {"returns_dropped_", s.Returns}} {
		keys := make([]string, 0, len(m.counts))
		for k, v := range m.counts {
			if v > 0 && k != "ok" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			attrs = append(attrs, m.prefix+k, m.counts[k])
		}
	}
	l.Info("gwlb stats", attrs...)
}

func printGWLBStats(stdio Stdio, s gwlb.Stats) {
	fmt.Fprintf(stdio.Out, "wirebridge gwlb: stopped; %d packets from the TUN, %d back to it, %d flows, %d health transitions, %d sent fail-open\n",
		s.FromTUN, s.ToTUN, s.Flows, s.HealthTransitions, s.AllUnhealthyFailOpen)
	for _, a := range s.Appliances {
		fmt.Fprintf(stdio.Out, "  appliance %s: %d out, %d back, %s\n", a.Address, a.Out, a.Back, a.Health)
	}
	printCounts := func(what string, m map[string]uint64) {
		keys := make([]string, 0, len(m))
		for k, v := range m {
			if v > 0 && k != "ok" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(stdio.Out, "  %s %s: %d\n", what, k, m[k])
		}
	}
	printCounts("dropped", s.Drops)
	printCounts("returns dropped", s.Returns)
}
