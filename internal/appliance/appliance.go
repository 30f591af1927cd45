package appliance

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/pattern"
)

// Options are what the appliance gets from its surroundings rather than
// from its configuration section.
type Options struct {
	// Name is the appliance's name: detail.Listener (and resources) of the
	// inner packets' events its rule patterns see.
	Name string
	// Tee receives the packets of rules that list tee targets; nil ignores them.
	Tee TeeFunc
	// Logger logs health changes; nil discards.
	Logger *slog.Logger
	// Defaulted says the Spec had SetDefaults applied before its values
	// were written (as the configuration does): New does not apply them
	// again, so a drain_time written as 0 stays 0 (no drain) instead of
	// turning into the default.
	Defaulted bool
}

// The self-probe's Geneve option: an experimental option class (RFC 8926
// reserves 0xFF00-0xFFFF for experimental use), the appliance's random key
// and a sequence number.
const (
	probeClass   = 0xFF77
	probeType    = 0x57
	probeDataLen = 16
)

// Appliance is a running inline Geneve appliance. New opens its sockets;
// Run forwards until its context ends or Drain finishes.
type Appliance struct {
	spec    Spec
	mtu     int
	rules   []*rule
	def     *rule
	matcher *pattern.Matcher
	meta    event.Meta
	tee     TeeFunc
	log     *slog.Logger

	failClosed, oversizeDrop, undecodableDrop bool

	start   time.Time
	readers []*reader
	addr    netip.AddrPort

	probeKey   [8]byte
	probeConn  *net.UDPConn
	probeFrame []byte
	probesSent atomic.Uint64
	probesBack atomic.Uint64
	lastBack   atomic.Int64 // monoNow of the last probe that came back; 0 none

	healthAddr string
	hsrv       *http.Server
	hmu        sync.Mutex
	hl         net.Listener
	healthy    atomic.Bool
	draining   atomic.Bool

	runMu     sync.Mutex
	cancelRun context.CancelFunc
	running   chan struct{} // closed when Run returns
	closeOnce sync.Once
}

// New checks s (after SetDefaults) and opens the appliance's sockets:
// the Geneve readers, their raw reply sockets and the probe socket. The
// health port is checked free but only listened on while healthy.
func New(s Spec, opts Options) (*Appliance, error) {
	a, err := build(s, opts)
	if err != nil {
		return nil, err
	}
	addr, _ := listenAddr(a.spec.Listen)
	if a.readers, err = openReaders(a, addr, &a.spec); err != nil {
		return nil, fmt.Errorf("appliance: %w", err)
	}
	a.addr = a.readers[0].bound
	if err := a.openProbe(); err != nil {
		a.Close()
		return nil, fmt.Errorf("appliance: %w", err)
	}
	if err := a.reserveHealth(); err != nil {
		a.Close()
		return nil, fmt.Errorf("appliance: %w", err)
	}
	return a, nil
}

// build compiles spec into an Appliance without sockets.
func build(s Spec, opts Options) (*Appliance, error) {
	if !opts.Defaulted {
		s.SetDefaults()
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("appliance: %w", err)
	}
	rules, def, m, err := compileRules(s.Rules, s.DefaultAction)
	if err != nil {
		return nil, fmt.Errorf("appliance: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Appliance{
		spec: s, mtu: s.MTU, rules: rules, def: def, matcher: m, tee: opts.Tee, log: log,
		meta:            event.Meta{Listener: opts.Name, SourceType: "appliance"},
		failClosed:      s.Overload == PolicyFailClosed,
		oversizeDrop:    s.Oversize == ActionDrop,
		undecodableDrop: s.Undecodable == ActionDrop,
		start:           time.Now(),
		running:         make(chan struct{}),
	}
	if _, err := rand.Read(a.probeKey[:]); err != nil {
		return nil, fmt.Errorf("appliance: probe key: %w", err)
	}
	return a, nil
}

// Addr returns the address the Geneve readers are bound to.
func (a *Appliance) Addr() netip.AddrPort { return a.addr }

// HealthAddr returns the health check's TCP address (host:port).
func (a *Appliance) HealthAddr() string { return a.healthAddr }

// Healthy reports whether the health check reports healthy now.
func (a *Appliance) Healthy() bool { return a.healthy.Load() }

// Close releases the sockets of an appliance that Run did not get to
// (Run closes them itself when it returns).
func (a *Appliance) Close() error {
	a.closeOnce.Do(func() {
		for _, r := range a.readers {
			r.close()
		}
		if a.probeConn != nil {
			a.probeConn.Close()
		}
		a.setHealthy(false)
	})
	return nil
}

// openProbe opens the self-probe's socket, connected to the Geneve port
// (through loopback when the readers listen on every address), and builds
// its Geneve packet.
func (a *Appliance) openProbe() error {
	dst := a.addr.Addr()
	if dst.IsUnspecified() {
		dst = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	c, err := net.DialUDP("udp4", &net.UDPAddr{IP: dst.AsSlice()}, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, a.addr.Port())))
	if err != nil {
		return fmt.Errorf("probe socket: %w", err)
	}
	a.probeConn = c
	data := make([]byte, probeDataLen)
	copy(data, a.probeKey[:])
	a.probeFrame = packet.Build(
		packet.Geneve{Options: []packet.GeneveOpt{{Class: probeClass, Type: probeType, Data: data}}},
		packet.IPv4{Src: dst, Dst: dst},
		packet.UDP{Src: 9, Dst: 9},
		packet.Payload("wirebridge appliance health probe"),
	)
	return nil
}

// isProbe reports whether p is this appliance's own probe.
func (a *Appliance) isProbe(p *packet.Packet) bool {
	t := &p.Tunnels[0]
	if t.NumOptions == 0 {
		return false
	}
	o := &t.Options[0]
	if o.Class != probeClass || o.Type != probeType || o.Len != probeDataLen || o.Off+8 > len(p.Data) {
		return false
	}
	return string(p.Data[o.Off:o.Off+8]) == string(a.probeKey[:])
}

// reserveHealth resolves the health address, checking the port is free
// (and choosing one for port 0) without keeping it.
func (a *Appliance) reserveHealth() error {
	l, err := net.Listen("tcp", a.spec.Health.Listen)
	if err != nil {
		return fmt.Errorf("health listen %s: %w", a.spec.Health.Listen, err)
	}
	a.healthAddr = l.Addr().String()
	l.Close()
	path := a.spec.Health.Path
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != path {
			http.NotFound(w, req)
			return
		}
		if a.healthy.Load() && !a.draining.Load() {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("healthy\n"))
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("unhealthy\n"))
	})
	a.hsrv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	return nil
}

// setHealthy opens the health listener (healthy) or closes it (unhealthy):
// a TCP check connects only while healthy, an HTTP check gets 200 only then.
func (a *Appliance) setHealthy(h bool) {
	a.hmu.Lock()
	defer a.hmu.Unlock()
	if h == (a.hl != nil) {
		a.healthy.Store(h)
		return
	}
	if !h {
		a.healthy.Store(false)
		a.hl.Close()
		a.hl = nil
		a.log.Warn("appliance unhealthy", "health", a.healthAddr, "draining", a.draining.Load())
		return
	}
	l, err := net.Listen("tcp", a.healthAddr)
	if err != nil {
		a.log.Error("appliance health listener", "addr", a.healthAddr, "err", err)
		return
	}
	a.hl = l
	a.healthy.Store(true)
	go func() { _ = a.hsrv.Serve(l) }()
	a.log.Info("appliance healthy", "health", a.healthAddr)
}

// Run forwards until ctx ends (stopping at once) or Drain finishes. It
// closes the appliance's sockets when it returns.
func (a *Appliance) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	a.runMu.Lock()
	a.cancelRun = cancel
	a.runMu.Unlock()
	defer close(a.running)
	defer a.Close()
	defer cancel()

	errc := make(chan error, len(a.readers))
	var wg sync.WaitGroup
	for _, r := range a.readers {
		wg.Go(func() {
			if err := r.loop(); err != nil {
				errc <- err
				cancel()
			}
		})
	}
	wg.Go(func() { a.receiveProbes(ctx) })
	wg.Go(func() { a.probeLoop(ctx) })

	<-ctx.Done()
	a.setHealthy(false)
	for _, r := range a.readers {
		_ = r.conn.SetReadDeadline(time.Now())
	}
	_ = a.probeConn.SetReadDeadline(time.Now())
	wg.Wait()
	select {
	case err := <-errc:
		return fmt.Errorf("appliance: %w", err)
	default:
		return nil
	}
}

// window is how long the health check tolerates no probe coming back.
func (a *Appliance) window() int64 {
	return int64(a.spec.Health.ProbeInterval) * int64(a.spec.Health.UnhealthyThreshold)
}

// probeLoop sends a probe every interval and updates health: healthy while
// a probe came back within UnhealthyThreshold intervals and not draining.
func (a *Appliance) probeLoop(ctx context.Context) {
	iv := a.spec.Health.ProbeInterval
	window := a.window()
	t := time.NewTicker(iv)
	defer t.Stop()
	seq := uint64(0)
	for {
		seq++
		be.PutUint64(a.probeFrame[8+4+8:], seq)
		if _, err := a.probeConn.Write(a.probeFrame); err == nil {
			a.probesSent.Add(1)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		last := a.lastBack.Load()
		now := monoNow(a.start, time.Now())
		a.setHealthy(!a.draining.Load() && last != 0 && now-last <= window && !a.stuck(now, window))
	}
}

// stuck reports whether a reader has been on one batch for longer than
// window. A probe reaches one reader of the group (the kernel hashes its
// 4-tuple), so this is how the others' health shows.
func (a *Appliance) stuck(now, window int64) bool {
	for _, r := range a.readers {
		if b := r.st.busySince.Load(); b != 0 && now-b > window {
			return true
		}
	}
	return false
}

// receiveProbes reads probes coming back through the data path.
func (a *Appliance) receiveProbes(ctx context.Context) {
	buf := make([]byte, 2048)
	for {
		n, err := a.probeConn.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if n < len(a.probeFrame) || string(buf[8+4:8+4+8]) != string(a.probeKey[:]) {
			continue
		}
		a.probesBack.Add(1)
		now := monoNow(a.start, time.Now())
		a.lastBack.Store(now)
		if !a.healthy.Load() && !a.draining.Load() && !a.stuck(now, a.window()) {
			a.setHealthy(true)
		}
	}
}

// Drain turns the appliance unhealthy, keeps forwarding for the drain time
// (the load balancer's deregistration delay: it stops sending new flows and
// lets existing ones finish), then stops Run and waits for it to return.
// If ctx ends first, it stops at once.
func (a *Appliance) Drain(ctx context.Context) error {
	a.draining.Store(true)
	a.setHealthy(false)
	a.log.Info("appliance draining", "drain_time", a.spec.DrainTime.String())
	t := time.NewTimer(a.spec.DrainTime)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-a.running:
		return nil
	}
	a.runMu.Lock()
	cancel := a.cancelRun
	a.runMu.Unlock()
	if cancel == nil {
		return a.Close()
	}
	cancel()
	<-a.running
	return ctx.Err()
}
