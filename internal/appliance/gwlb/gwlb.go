// Package gwlb is a local AWS Gateway Load Balancer: beside the event path,
// a test rig that plays GWLB so that a Geneve appliance (wirebridge's own,
// internal/appliance, or any other) can be run without AWS. IP packets the
// kernel routes into a TUN interface are wrapped in Geneve as GWLB does
// (outer IPv4/UDP to the appliance's port 6081, the AWS options of class
// 0x0108: endpoint id, attachment id and a flow cookie per 5-tuple), sent
// to one of the healthy appliances chosen by a symmetric flow hash, and
// what comes back is checked against what was sent, unwrapped and written
// to the TUN for the kernel to forward to its destination.
package gwlb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// Defaults of Config's zero fields.
const (
	DefaultTUN       = "gwlb0"
	DefaultMTU       = 8500 // GWLB's largest inner packet; the outer packet is 68 bytes more (9,001-byte jumbo frames fit)
	DefaultPorts     = 8
	DefaultFlowIdle  = 350 * time.Second // GWLB's TCP idle timeout
	DefaultMaxFlows  = 1 << 20
	DefaultInterval  = 10 * time.Second // GWLB's defaults: 10 s, 5 s, 3 healthy, 3 unhealthy
	DefaultTimeout   = 5 * time.Second
	DefaultThreshold = 3
)

// Policy is what the GWLB does with a packet when no appliance is healthy.
type Policy string

// Policies when every appliance is unhealthy.
const (
	// PolicyDrop drops the packet (counted as no_healthy_appliance).
	PolicyDrop Policy = "drop"
	// PolicyFailOpen sends it to the appliance the flow hash picks among
	// all of them, healthy or not (counted as AllUnhealthyFailOpen).
	PolicyFailOpen Policy = "fail-open"
)

// Config configures a GWLB.
type Config struct {
	TUN   string         // TUN interface name (default gwlb0); attached to if it exists
	Addrs []netip.Prefix // addresses to put on the TUN (optional)
	MTU   int            // TUN MTU (default 8500)
	// Appliances receive the Geneve packets (IPv4, usually port 6081).
	Appliances   []netip.AddrPort
	Health       HealthCheck
	EndpointID   uint64 // Geneve option type 1
	AttachmentID uint64 // Geneve option type 2
	// Listen is the local address the Geneve packets are sent from and come
	// back to. An unspecified address: the source address of the route to
	// the first appliance. Port 0: Ports ports the kernel chooses; else
	// Ports ports from Listen's port up. A flow's outer source port is one
	// of them, chosen by its flow hash. Replies come back as AWS GWLB
	// expects them: to Listen's address at the appliance's Geneve port
	// (the GWLB listens on each appliance port), from the flow's source
	// port (the UDP ports are kept, only the addresses swapped).
	Listen       netip.AddrPort
	Ports        int    // default 8
	AllUnhealthy Policy // default drop
	// NoRebalance keeps a flow on its appliance when that appliance turns
	// unhealthy (AWS's target failover "no_rebalance", its default): only
	// new flows avoid it. By default ("rebalance") the flow moves to a
	// healthy appliance.
	NoRebalance bool
	FlowIdle    time.Duration
	MaxFlows    int
	Logger      *slog.Logger
	// OnReady, when set, is called once the TUN and sockets are up.
	OnReady func(Ready)
}

// Ready describes a running GWLB.
type Ready struct {
	TUN     string
	Created bool // the GWLB created the TUN (and removes it when it stops)
	Source  netip.Addr
	Ports   []uint16
}

// appliance is one configured appliance.
type appliance struct {
	addr    netip.AddrPort
	serving atomic.Bool // healthy, or health checks are off
	health  health
	stats   applianceStats
}

// GWLB is a local Gateway Load Balancer.
type GWLB struct {
	cfg     Config
	log     *slog.Logger
	apps    []appliance
	healthy atomic.Pointer[[]int32] // indices of serving appliances
	flows   *flowTable
	ports   []uint16
	src     netip.Addr
	ipID    atomic.Uint32
	closing atomic.Bool // Run is closing the TUN and sockets: read errors are expected
	c       counters
	mu      sync.Mutex // serialises rebuilds of healthy
}

// New checks cfg and returns a GWLB; Run starts it.
func New(cfg Config) (*GWLB, error) {
	if cfg.TUN == "" {
		cfg.TUN = DefaultTUN
	}
	if cfg.MTU == 0 {
		cfg.MTU = DefaultMTU
	}
	if cfg.MTU < 1280 || cfg.MTU > maxIPPacket-Headroom {
		return nil, fmt.Errorf("mtu %d: want 1280..%d", cfg.MTU, maxIPPacket-Headroom)
	}
	if len(cfg.Appliances) == 0 {
		return nil, errors.New("no appliance")
	}
	for _, a := range cfg.Appliances {
		if !a.Addr().Unmap().Is4() || a.Port() == 0 {
			return nil, fmt.Errorf("appliance %s: want an IPv4 address and a port (GWLB speaks Geneve over IPv4)", a)
		}
	}
	if cfg.Listen.Addr().IsValid() && !cfg.Listen.Addr().Unmap().Is4() {
		return nil, fmt.Errorf("listen %s: want an IPv4 address", cfg.Listen)
	}
	if cfg.Ports == 0 {
		cfg.Ports = DefaultPorts
	}
	if cfg.Ports < 1 || int(cfg.Listen.Port())+cfg.Ports > 65536 {
		return nil, fmt.Errorf("%d ports from %d: out of range", cfg.Ports, cfg.Listen.Port())
	}
	switch cfg.AllUnhealthy {
	case "":
		cfg.AllUnhealthy = PolicyDrop
	case PolicyDrop, PolicyFailOpen:
	default:
		return nil, fmt.Errorf("all-unhealthy policy %q: want drop or fail-open", cfg.AllUnhealthy)
	}
	h := &cfg.Health
	switch h.Protocol {
	case "":
	case "tcp", "http":
		if h.Port == 0 {
			return nil, errors.New("health check: no port")
		}
		if h.Protocol == "http" && h.Path == "" {
			h.Path = "/"
		}
		if h.Interval == 0 {
			h.Interval = DefaultInterval
		}
		if h.Timeout == 0 {
			h.Timeout = min(DefaultTimeout, h.Interval)
		}
		if h.HealthyThreshold == 0 {
			h.HealthyThreshold = DefaultThreshold
		}
		if h.UnhealthyThreshold == 0 {
			h.UnhealthyThreshold = DefaultThreshold
		}
		if h.Interval < 0 || h.Timeout < 0 || h.HealthyThreshold < 1 || h.UnhealthyThreshold < 1 {
			return nil, errors.New("health check: interval, timeout and thresholds must be positive")
		}
	default:
		return nil, fmt.Errorf("health check protocol %q: want tcp or http", h.Protocol)
	}
	if cfg.FlowIdle == 0 {
		cfg.FlowIdle = DefaultFlowIdle
	}
	if cfg.MaxFlows == 0 {
		cfg.MaxFlows = DefaultMaxFlows
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	g := &GWLB{cfg: cfg, log: cfg.Logger, apps: make([]appliance, len(cfg.Appliances)), flows: newFlowTable(cfg.MaxFlows)}
	for i, a := range cfg.Appliances {
		g.apps[i].addr = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
		if h.Protocol == "" {
			g.apps[i].serving.Store(true)
			g.apps[i].health.st = stateHealthy
		}
	}
	g.rebuildHealthy()
	return g, nil
}

// rebuildHealthy recomputes the list of serving appliances.
func (g *GWLB) rebuildHealthy() {
	g.mu.Lock()
	defer g.mu.Unlock()
	var l []int32
	for i := range g.apps {
		if g.apps[i].serving.Load() {
			l = append(l, int32(i))
		}
	}
	g.healthy.Store(&l)
}

// pick returns the index of the appliance for flow f, or -1 for none. A
// flow keeps its appliance while that one is healthy (with NoRebalance,
// always); otherwise it is hashed over the healthy ones (both directions of
// a flow share f).
func (g *GWLB) pick(f *flow) int {
	if cur := f.appliance.Load(); cur >= 0 && (g.cfg.NoRebalance || g.apps[cur].serving.Load()) {
		return int(cur)
	}
	healthy := *g.healthy.Load()
	if len(healthy) == 0 {
		if g.cfg.AllUnhealthy == PolicyFailOpen {
			g.c.failOpen.Add(1)
			return int(f.hash % uint64(len(g.apps)))
		}
		return -1
	}
	i := healthy[f.hash%uint64(len(healthy))]
	f.appliance.Store(i)
	return int(i)
}

// Run creates or attaches to the TUN, opens the sockets, and forwards until
// ctx is done; then it closes everything (removing the TUN if it created
// it) and returns nil. The TUN and the sockets belong to the network
// namespace of the calling thread, but health checks dial from other
// goroutines: run the GWLB in a process inside the namespace (`ip netns
// exec`), not on a thread switched into it.
func (g *GWLB) Run(ctx context.Context) error {
	src := g.cfg.Listen.Addr().Unmap()
	if !src.IsValid() || src.IsUnspecified() {
		routes, err := netlink.RouteGet(g.apps[0].addr.Addr().AsSlice())
		if err != nil {
			return fmt.Errorf("route to %s (give a listen address): %w", g.apps[0].addr.Addr(), err)
		}
		if len(routes) == 0 || routes[0].Src.To4() == nil {
			return fmt.Errorf("no IPv4 source address towards %s (give a listen address)", g.apps[0].addr.Addr())
		}
		src, _ = netip.AddrFromSlice(routes[0].Src.To4())
	}
	g.src = src

	// IPPROTO_RAW: send-only, the GWLB writes the outer IPv4 header itself.
	rawConn, err := net.ListenPacket("ip4:255", src.String())
	if err != nil {
		return fmt.Errorf("raw socket: %w", err)
	}
	defer rawConn.Close()
	raw := ipv4.NewPacketConn(rawConn)

	var conns []*net.UDPConn // the flows' source ports, then the return sockets
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// The flows' outer source ports are bound only to reserve them: Geneve
	// is sent from the raw socket, and replies come back to the appliances'
	// port, not to these.
	for i := 0; i < g.cfg.Ports; i++ {
		port := 0
		if g.cfg.Listen.Port() != 0 {
			port = int(g.cfg.Listen.Port()) + i
		}
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, uint16(port))))
		if err != nil {
			return fmt.Errorf("listen %s: %w", netip.AddrPortFrom(src, uint16(port)), err)
		}
		conns = append(conns, c)
		g.ports = append(g.ports, uint16(c.LocalAddr().(*net.UDPAddr).Port))
	}
	// Replies keep the UDP ports: they come back to the appliance's Geneve
	// port (6081) on the GWLB's address, one socket per distinct port.
	var returns []*net.UDPConn
	var returnPorts []uint16
	for _, port := range g.returnPorts() {
		at := netip.AddrPortFrom(src, port)
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(at))
		if err != nil {
			return fmt.Errorf("listen %s for returns (the appliances' Geneve port): %w", at, err)
		}
		conns = append(conns, c)
		setBuffers(c)
		returns = append(returns, c)
		returnPorts = append(returnPorts, port)
	}

	tun, err := openTUN(g.cfg.TUN, g.cfg.MTU, g.cfg.Addrs)
	if err != nil {
		return err
	}
	closeTUN := sync.OnceValue(tun.close)
	defer closeTUN()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A loop that ends with an unexpected error (the TUN deleted under it,
	// say) stops the GWLB, and Run returns that error.
	var failed error
	var failOnce sync.Once
	fail := func(err error) {
		if err == nil || g.closing.Load() {
			return
		}
		failOnce.Do(func() { failed = err; cancel() })
	}
	var wg sync.WaitGroup
	if g.cfg.Health.Protocol != "" {
		for i := range g.apps {
			wg.Go(func() { g.checkHealth(ctx, i) })
		}
	}
	wg.Go(func() { g.expireFlows(ctx) })
	for i, c := range returns {
		wg.Go(func() { fail(g.returnLoop(c, returnPorts[i], tun.file)) })
	}
	wg.Go(func() { fail(g.outLoop(raw, tun.file)) })

	g.log.Info("gwlb ready", "tun", tun.name, "created", tun.created, "source", src, "ports", g.ports)
	if g.cfg.OnReady != nil {
		g.cfg.OnReady(Ready{TUN: tun.name, Created: tun.created, Source: src, Ports: g.ports})
	}
	<-ctx.Done()
	// Closing the TUN and the sockets ends the loops blocked in them.
	g.closing.Store(true)
	err = closeTUN()
	for _, c := range conns {
		c.Close()
	}
	rawConn.Close()
	wg.Wait()
	if failed != nil {
		return failed
	}
	if err != nil {
		return fmt.Errorf("close tun %q: %w", tun.name, err)
	}
	return nil
}

// outBatch is how many packets the GWLB reads from the TUN per wake-up
// (as many as are queued, up to this) and sends with one sendmmsg.
const outBatch = 32

// outLoop reads packets from the TUN, wraps them in Geneve and sends them,
// until reading fails (closing the TUN ends it).
func (g *GWLB) outLoop(raw *ipv4.PacketConn, tun *os.File) error {
	rc, err := tun.SyscallConn()
	if err != nil {
		return fmt.Errorf("tun: %w", err)
	}
	bufs := make([][]byte, outBatch)
	for i := range bufs {
		bufs[i] = make([]byte, Headroom+maxIPPacket)
	}
	lens := make([]int, outBatch)
	msgs := make([]ipv4.Message, outBatch)
	for i := range msgs {
		msgs[i].Buffers = make([][]byte, 1)
	}
	apps := make([]int, outBatch)
	addrs := make([]net.IPAddr, len(g.apps))
	for i := range g.apps {
		addrs[i].IP = g.apps[i].addr.Addr().AsSlice()
	}
	var p packet.Packet
	for {
		n, err := readBatch(rc, bufs, lens)
		if err != nil {
			return fmt.Errorf("tun read: %w", err)
		}
		g.c.fromTUN.Add(uint64(n))
		now := time.Now()
		m := 0
		for i := range n {
			b := bufs[i][:Headroom+lens[i]]
			if a, ok := g.prepare(b, &p, now); ok {
				msgs[m].Buffers[0] = b
				msgs[m].Addr = &addrs[a]
				apps[m] = a
				m++
			}
		}
		g.send(raw, msgs[:m], apps[:m])
	}
}

// readBatch reads what the TUN has queued, at least one packet and at most
// len(bufs), each at Headroom in its buffer.
func readBatch(rc syscall.RawConn, bufs [][]byte, lens []int) (int, error) {
	n := 0
	var rerr error
	err := rc.Read(func(fd uintptr) bool {
		for n < len(bufs) {
			m, err := unix.Read(int(fd), bufs[n][Headroom:])
			if err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				return n > 0 // nothing read yet: wait until the TUN is readable
			}
			if err != nil {
				rerr = err
				return true
			}
			lens[n] = m
			n++
		}
		return true
	})
	if n > 0 {
		return n, nil
	}
	if err != nil {
		return 0, err
	}
	return 0, rerr
}

// send sends msgs (msgs[i] to appliance apps[i]) with sendmmsg; a message
// the kernel refuses is counted (oversize for EMSGSIZE) and skipped.
func (g *GWLB) send(raw *ipv4.PacketConn, msgs []ipv4.Message, apps []int) {
	for off := 0; off < len(msgs); {
		n, err := raw.WriteBatch(msgs[off:], 0)
		for _, a := range apps[off : off+max(n, 0)] {
			g.apps[a].stats.out.Add(1)
		}
		off += max(n, 0)
		if err != nil {
			if errors.Is(err, unix.EMSGSIZE) {
				g.c.drops[DropOversize].Add(1)
			} else {
				g.c.drops[DropSendError].Add(1)
			}
			off++ // the message that failed
		}
	}
}

// prepare encapsulates the inner packet b[Headroom:] in place and returns
// the index of the appliance to send it to; false when it is dropped (and
// counted).
func (g *GWLB) prepare(b []byte, p *packet.Packet, now time.Time) (int, bool) {
	inner := b[Headroom:]
	if err := packet.Decode(p, inner, packet.CaptureInfo{LinkType: packet.LinkRaw}); err != nil && p.Outer().IPOff < 0 {
		g.c.drops[DropUndecodable].Add(1)
		return 0, false
	}
	k, ok := keyOf(p)
	if !ok || p.Outer().IPOff != 0 {
		g.c.drops[DropUndecodable].Add(1)
		return 0, false
	}
	if o := p.Outer(); linkLocal(o.Src) || linkLocal(o.Dst) {
		g.c.drops[DropLinkLocal].Add(1)
		return 0, false
	}
	f := g.flows.get(k, g.ports, now)
	if f == nil {
		g.c.drops[DropFlowTable].Add(1)
		return 0, false
	}
	i := g.pick(f)
	if i < 0 {
		g.c.drops[DropNoHealthy].Add(1)
		return 0, false
	}
	src := netip.AddrPortFrom(g.src, f.port)
	if !encapsulate(b, src, g.apps[i].addr, uint16(g.ipID.Add(1)), g.cfg.EndpointID, g.cfg.AttachmentID, f.cookie) {
		g.c.drops[DropOversize].Add(1)
		return 0, false
	}
	return i, true
}

// socketBuffer is the receive buffer asked for on each return socket: a
// burst of jumbo frames (a TCP window of 8,500-byte segments) fits.
const socketBuffer = 8 << 20

// setBuffers enlarges c's receive buffer: past net.core.rmem_max when the
// process may (CAP_NET_ADMIN), else as far as rmem_max allows.
func setBuffers(c *net.UDPConn) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	forced := false
	_ = rc.Control(func(fd uintptr) {
		forced = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketBuffer) == nil
	})
	if !forced {
		_ = c.SetReadBuffer(socketBuffer)
	}
}

// linkLocal reports whether a is an address no router forwards: unspecified,
// link-local unicast or link-local multicast (GWLB only sees routed traffic).
func linkLocal(a netip.Addr) bool {
	return a.IsUnspecified() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast()
}

// returnBatch is how many datagrams one recvmmsg call takes.
const returnBatch = 8

// returnPorts returns the distinct Geneve ports of the appliances, in
// configuration order: the ports replies come back to.
func (g *GWLB) returnPorts() []uint16 {
	var ports []uint16
	for i := range g.apps {
		if p := g.apps[i].addr.Port(); !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports
}

// returnLoop reads what the appliances send back to local port port (their
// Geneve port), checks it and writes the inner packets to the TUN, until
// reading fails (closing the socket ends it).
func (g *GWLB) returnLoop(c *net.UDPConn, port uint16, tun io.Writer) error {
	pc := ipv4.NewPacketConn(c)
	msgs := make([]ipv4.Message, returnBatch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, maxIPPacket)}
	}
	var p packet.Packet
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.EINTR) {
			continue // an ICMP error queued on the socket: not this loop's end
		}
		if err != nil {
			return fmt.Errorf("geneve receive on port %d: %w", port, err)
		}
		for _, m := range msgs[:n] {
			var from netip.AddrPort
			if a, ok := m.Addr.(*net.UDPAddr); ok {
				from = a.AddrPort()
			}
			g.handleReturn(m.Buffers[0][:m.N], from, port, &p, tun)
		}
	}
}

// handleReturn checks one datagram that came back from from to local port
// to, and writes its inner packet to tun. As AWS GWLB expects, a reply
// keeps the UDP ports of what was sent: it comes from an appliance's
// address and the flow's outer source port, to the appliance's Geneve port.
func (g *GWLB) handleReturn(b []byte, from netip.AddrPort, to uint16, p *packet.Packet, tun io.Writer) {
	a := g.applianceAt(from.Addr(), to)
	if a == nil {
		g.c.returns[ReturnUnknownAppliance].Add(1)
		return
	}
	inner, _, r := g.checkReturn(b, from.Port(), p)
	g.c.returns[r].Add(1)
	if r != ReturnOK {
		return
	}
	a.stats.back.Add(1)
	if _, err := tun.Write(inner); err != nil {
		g.c.drops[DropTUNWrite].Add(1)
		return
	}
	g.c.toTUN.Add(1)
}

// applianceAt returns the appliance at address ip whose Geneve port is
// port, or nil.
func (g *GWLB) applianceAt(ip netip.Addr, port uint16) *appliance {
	ip = ip.Unmap()
	for i := range g.apps {
		if g.apps[i].addr == netip.AddrPortFrom(ip, port) {
			return &g.apps[i]
		}
	}
	return nil
}

// checkHealth probes appliance i every interval until ctx is done.
func (g *GWLB) checkHealth(ctx context.Context, i int) {
	h := &g.cfg.Health
	a := &g.apps[i]
	t := time.NewTicker(h.Interval)
	defer t.Stop()
	for {
		err := h.probe(ctx, a.addr.Addr())
		if ctx.Err() != nil {
			return
		}
		from, to := a.health.observe(err == nil, h.HealthyThreshold, h.UnhealthyThreshold)
		if from == stateInitial && to == stateInitial {
			// Not yet unhealthy, but say why it gets no traffic.
			g.log.Warn("appliance health check failed", "appliance", a.addr, "state", to.String(), "error", err)
		}
		if from != to {
			g.c.healthTransitions.Add(1)
			a.serving.Store(to == stateHealthy)
			g.rebuildHealthy()
			if err != nil {
				g.log.Warn("appliance health", "appliance", a.addr, "from", from.String(), "to", to.String(), "error", err)
			} else {
				g.log.Info("appliance health", "appliance", a.addr, "from", from.String(), "to", to.String())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// expireFlows forgets idle flows.
func (g *GWLB) expireFlows(ctx context.Context) {
	t := time.NewTicker(min(g.cfg.FlowIdle/4, 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			g.flows.expire(now.Add(-g.cfg.FlowIdle))
		}
	}
}
