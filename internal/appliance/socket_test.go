package appliance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// The socket tests run the appliance on 127.0.0.1 and a stand-in load
// balancer on 127.0.0.2 (on loopback both are local): the load balancer
// sends from the appliance's port number, so the reply (addresses swapped,
// ports kept) comes back to its socket. A raw IPPROTO_UDP socket captures
// the replies with their outer headers as the kernel saw them.

// patience bounds every wait for something that must happen; tests never
// pass or fail on how long it took.
const patience = 20 * time.Second

var (
	appIP = netip.MustParseAddr("127.0.0.1")
	lbIP  = netip.MustParseAddr("127.0.0.2")
)

func needRaw(t *testing.T) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		t.Skipf("the appliance sends on a raw socket and needs CAP_NET_RAW: %v", err)
	}
	unix.Close(fd)
}

type running struct {
	a      *Appliance
	cancel context.CancelFunc
	done   chan error
}

// start opens an appliance from spec on 127.0.0.1 (ephemeral ports, fast
// probes) and runs it until the test ends.
func start(t *testing.T, spec Spec, opts Options) *running {
	t.Helper()
	needRaw(t)
	spec.Listen = "127.0.0.1:0"
	spec.Health.Listen = "127.0.0.1:0"
	if spec.Health.ProbeInterval == 0 {
		// Healthy soon after start, and a window (1s) long enough that a
		// probe late on a busy machine does not flap the check.
		spec.Health.ProbeInterval = 20 * time.Millisecond
		spec.Health.UnhealthyThreshold = 50
	}
	a, err := New(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	return run(t, a)
}

func run(t *testing.T, a *Appliance) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{a: a, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
			r.done <- nil
		case <-time.After(patience):
			t.Error("Run did not return after its context ended")
		}
	})
	return r
}

// lb is the stand-in load balancer: a UDP socket on 127.0.0.2 with the
// appliance's port, and a capture of what comes back.
type lb struct {
	conn *net.UDPConn
	app  netip.AddrPort
	cap  int
}

func newLB(t *testing.T, app netip.AddrPort) *lb {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lbIP, app.Port())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
	tv := unix.NsecToTimeval(int64(patience))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return &lb{conn: c, app: app, cap: fd}
}

func (l *lb) send(t *testing.T, d []byte) {
	t.Helper()
	if _, err := l.conn.WriteToUDPAddrPort(d, l.app); err != nil {
		t.Fatal(err)
	}
}

// recv returns the next Geneve datagram the load balancer's socket gets
// (the kernel checked its UDP checksum), or fails the test.
func (l *lb) recv(t *testing.T) []byte {
	t.Helper()
	buf := make([]byte, 65536)
	_ = l.conn.SetReadDeadline(time.Now().Add(patience))
	n, from, err := l.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	if from != netip.AddrPortFrom(appIP, l.app.Port()) {
		t.Fatalf("reply from %v, want %v", from, l.app)
	}
	return buf[:n]
}

// captured returns the next reply the capture saw: an outer IPv4 packet
// from the appliance to the load balancer's address and the appliance's port.
func (l *lb) captured(t *testing.T) []byte {
	t.Helper()
	buf := make([]byte, 65536)
	for {
		n, _, err := unix.Recvfrom(l.cap, buf, 0)
		if err != nil {
			t.Fatalf("capture: %v", err)
		}
		p := buf[:n]
		if n >= outerLen && netip.AddrFrom4([4]byte(p[12:16])) == appIP && netip.AddrFrom4([4]byte(p[16:20])) == lbIP &&
			be.Uint16(p[22:]) == l.app.Port() {
			return append([]byte(nil), p...)
		}
	}
}

// TestSocketCensor drives the censor rules over real sockets: what comes
// back, in order, with every header right.
func TestSocketCensor(t *testing.T) {
	r := start(t, censorSpec(), Options{Name: "censor"})
	l := newLB(t, r.a.Addr())
	type want struct {
		sent    []byte
		payload string // "" with icmp
		back    bool
	}
	var seq []want
	for _, p := range []string{"test", "drop me", "weakly typed programming language"} {
		seq = append(seq, want{sent: udp4(p), payload: strings.Replace(p, "weakly", "strongly", 1), back: p != "drop me"})
	}
	for i := uint16(1); i <= 10; i++ {
		seq = append(seq, want{sent: icmpEcho(i), back: i%5 != 0})
	}
	seq = append(seq, want{sent: udp4("end"), payload: "end", back: true})
	for _, w := range seq {
		l.send(t, w.sent)
	}
	lbPort := netip.AddrPortFrom(lbIP, r.a.Addr().Port())
	for _, w := range seq {
		if !w.back {
			continue
		}
		got := l.recv(t)
		reply := l.captured(t)
		if !equalBytes(got, reply[outerLen:]) {
			t.Fatal("socket and capture disagree")
		}
		p := checkReply(t, w.sent, reply, lbPort, r.a.Addr())
		if in := p.Inner(); in.Layers.Has(packet.LayerICMPv4) {
			if w.payload != "" || in.ICMPSeq != be.Uint16(w.sent[8+32+20+6:]) {
				t.Errorf("icmp seq %d came back out of order", in.ICMPSeq)
			}
			continue
		}
		if string(p.Payload()) != w.payload {
			t.Errorf("payload %q, want %q (packets come back in order, drops skipped)", p.Payload(), w.payload)
		}
	}
	// The reader counts a batch returned after sendmmsg returns, which can
	// be after the replies arrived.
	deadline := time.Now().Add(patience)
	for r.a.Stats().Returned < uint64(len(seq)-3) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st := r.a.Stats()
	if st.Rules["drop-me"][OutcomeDrop] != 1 || st.Rules["weakly-typed"][OutcomeModify] != 1 || st.Rules["every-5th-icmp"][OutcomeDrop] != 2 {
		t.Errorf("rule counters %v", st.Rules)
	}
	if st.Returned < uint64(len(seq)-3) {
		t.Errorf("returned %d, want at least %d", st.Returned, len(seq)-3)
	}

	// The collector reports the same counters.
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(r.a.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "wirebridge_appliance_rule_packets_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["rule"] == "every-5th-icmp" && labels["action"] == "drop" {
				found = m.GetCounter().GetValue() == 2
			}
		}
	}
	if !found {
		t.Error("wirebridge_appliance_rule_packets_total{rule=every-5th-icmp,action=drop} is not 2")
	}
}

func equalBytes(a, b []byte) bool { return string(a) == string(b) }

// TestSocketIPv6AndJumbo: an IPv6 inner packet rewritten and an 8,500-byte
// inner packet come back whole over real sockets.
func TestSocketIPv6AndJumbo(t *testing.T) {
	spec := censorSpec()
	spec.Rules = append(spec.Rules, RuleSpec{Name: "v6", Pattern: `{"detail":{"Protocol":["udp"],"IP":{"Version":[6]}}}`,
		Action: ActionModify, Modify: &ModifySpec{Find: "ping", Replace: "pong!"}})
	r := start(t, spec, Options{})
	l := newLB(t, r.a.Addr())
	lbPort := netip.AddrPortFrom(lbIP, r.a.Addr().Port())
	v6 := geneve(packet.IPv6{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2")},
		packet.UDP{Src: 1111, Dst: 2222}, packet.Payload("ping ping"))
	jumbo := geneve(packet.IPv4{Src: netip.MustParseAddr("192.168.1.10"), Dst: netip.MustParseAddr("192.168.2.20")},
		packet.UDP{Src: 40000, Dst: 3000}, packet.Payload(strings.Repeat("j", 8500-28-12)+"weakly typed"))
	l.send(t, v6)
	l.send(t, jumbo)
	p := checkReply(t, v6, l.captured(t), lbPort, r.a.Addr())
	if string(p.Payload()) != "pong! pong!" || p.Inner().IPTotalLen != 40+8+11 {
		t.Errorf("ipv6 payload %q length %d", p.Payload(), p.Inner().IPTotalLen)
	}
	l.recv(t)
	p = checkReply(t, jumbo, l.captured(t), lbPort, r.a.Addr())
	if p.Inner().IPTotalLen != 8502 || !strings.HasSuffix(string(p.Payload()), "strongly typed") {
		t.Errorf("jumbo inner length %d, want 8502 rewritten", p.Inner().IPTotalLen)
	}
	if got := l.recv(t); len(got) != 8+32+8502 {
		t.Errorf("jumbo datagram %d bytes, want %d", len(got), 8+32+8502)
	}
}

// TestSocketOversizeArrival: a datagram larger than the MTU is dropped and
// counted, never returned cut short.
func TestSocketOversizeArrival(t *testing.T) {
	spec := censorSpec()
	spec.MTU = 1500
	r := start(t, spec, Options{})
	l := newLB(t, r.a.Addr())
	l.send(t, udp4(strings.Repeat("x", 1600)))
	l.send(t, udp4("end"))
	if p := l.recv(t); !strings.HasSuffix(string(p), "end") {
		t.Errorf("first reply is not the small packet: %d bytes", len(p))
	}
	if st := r.a.Stats(); st.OversizeReceived != 1 {
		t.Errorf("oversize received %d, want 1", st.OversizeReceived)
	}
}

// waitHealth polls the HTTP health check until it answers want (200 or 0
// for "connection refused").
func waitHealth(t *testing.T, a *Appliance, want int) {
	t.Helper()
	url := "http://" + a.HealthAddr() + "/healthz"
	deadline := time.Now().Add(patience)
	c := &http.Client{Timeout: time.Second}
	for {
		got := 0
		resp, err := c.Get(url)
		if err == nil {
			got = resp.StatusCode
			resp.Body.Close()
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health %s answers %d (%v), want %d", url, got, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHealthAndDrain: healthy (TCP and HTTP) once probes come back through
// the data path; Drain turns it unhealthy first and keeps forwarding; the
// appliance stops when the drain ends.
func TestHealthAndDrain(t *testing.T) {
	spec := censorSpec()
	spec.DrainTime = time.Hour // the test ends the drain through its context
	r := start(t, spec, Options{})
	waitHealth(t, r.a, http.StatusOK)
	c, err := net.Dial("tcp", r.a.HealthAddr())
	if err != nil {
		t.Fatalf("tcp health check: %v", err)
	}
	c.Close()
	if !r.a.Healthy() {
		t.Error("Healthy() false while the check answers 200")
	}
	l := newLB(t, r.a.Addr())

	ctx, cancel := context.WithCancel(context.Background())
	drained := make(chan error, 1)
	go func() { drained <- r.a.Drain(ctx) }()
	waitHealth(t, r.a, 0)
	if _, err := net.Dial("tcp", r.a.HealthAddr()); err == nil {
		t.Error("tcp health check connects while draining")
	}
	// Still forwarding while draining.
	for i := range 20 {
		l.send(t, udp4("during drain "+string(rune('a'+i))))
	}
	for i := range 20 {
		if got := string(l.recv(t)); !strings.HasSuffix(got, "during drain "+string(rune('a'+i))) {
			t.Fatalf("reply %d during the drain: %q", i, got[len(got)-14:])
		}
	}
	cancel()
	if err := <-drained; !errors.Is(err, context.Canceled) {
		t.Errorf("Drain: %v, want context.Canceled", err)
	}
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run after drain: %v", err)
		}
		r.done <- nil
	case <-time.After(patience):
		t.Fatal("Run still running after the drain")
	}
	if st := r.a.Stats(); st.Probes == 0 {
		t.Error("no probe went through the data path")
	}
}

// TestDrainTimeEnds: with a short drain time, Drain returns nil by itself
// and Run stops.
func TestDrainTimeEnds(t *testing.T) {
	spec := censorSpec()
	spec.DrainTime = 50 * time.Millisecond
	r := start(t, spec, Options{})
	if err := r.a.Drain(context.Background()); err != nil {
		t.Errorf("Drain: %v", err)
	}
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		r.done <- nil
	case <-time.After(patience):
		t.Fatal("Run still running after the drain time")
	}
}

// TestOverloadPolicy fills a reader's socket queue before the appliance
// reads it: the first batches find the queue more than half full and
// follow the policy: fail-open returns what a rule would drop, fail-closed
// drops what a rule would pass.
func TestOverloadPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy, action string
	}{{PolicyFailOpen, ActionDrop}, {PolicyFailClosed, ActionPass}} {
		t.Run(tc.policy, func(t *testing.T) {
			needRaw(t)
			spec := Spec{
				Listen: "127.0.0.1:0", Readers: 1, Batch: 4, RecvBuffer: 64 << 10, Overload: tc.policy,
				Health: HealthSpec{Listen: "127.0.0.1:0", ProbeInterval: time.Hour},
				Rules:  []RuleSpec{{Name: "all", Pattern: `{"detail":{"Protocol":["udp"]}}`, Action: tc.action}},
			}
			a, err := New(spec, Options{})
			if err != nil {
				t.Fatal(err)
			}
			l := newLB(t, a.Addr())
			d := udp4("flood")
			for range 2000 {
				l.send(t, d)
			}
			rd := a.readers[0]
			if rmem, rcvbuf, _ := rd.meminfo(); rmem <= rcvbuf/2 {
				t.Fatalf("queue %d of %d bytes after the flood: not behind", rmem, rcvbuf)
			}
			r := run(t, a)
			// Wait until the queue is read: a marker sent now is behind every flood packet.
			l.send(t, udp4("marker"))
			deadline := time.Now().Add(patience)
			for a.Stats().Received == 0 || func() bool { rmem, _, _ := rd.meminfo(); return rmem > 0 }() {
				if time.Now().After(deadline) {
					t.Fatal("the appliance did not read its queue")
				}
				time.Sleep(10 * time.Millisecond)
			}
			r.cancel()
			<-r.done
			r.done <- nil
			st := a.Stats()
			if st.Overload == 0 {
				t.Fatal("no packet handled by the overload policy")
			}
			ruled := st.Rules["all"][OutcomeDrop] + st.Rules["all"][OutcomePass]
			if st.Overload+ruled+st.Probes != st.Received {
				t.Errorf("overload %d + ruled %d + probes %d != received %d", st.Overload, ruled, st.Probes, st.Received)
			}
			var wantBack uint64
			if tc.policy == PolicyFailOpen {
				wantBack = st.Overload // the rule drops everything else
			} else {
				wantBack = ruled // overload drops, the rule passes
			}
			if st.Returned != wantBack+st.Probes {
				t.Errorf("returned %d, want %d", st.Returned, wantBack)
			}
		})
	}
}

// TestSocketPerFlowOrder: with several readers, every flow's packets come
// back in the order they were sent (a flow stays on one socket and reader),
// whether the readers sleep between batches or busy-poll (more readers than
// CPUs: a polling reader gives way to one that waits with datagrams queued).
func TestSocketPerFlowOrder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		busyPoll time.Duration
	}{
		{name: "sleeping readers"},
		{name: "busy-polling readers", busyPoll: time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := censorSpec()
			spec.Readers = 4
			spec.Batch = 8
			spec.BusyPoll = tc.busyPoll
			perFlowOrder(t, start(t, spec, Options{}))
		})
	}
}

func perFlowOrder(t *testing.T, r *running) {
	app := r.a.Addr()
	// Replies go to 127.0.0.2 on the appliance's port, from each flow's port.
	recv, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lbIP, app.Port())))
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	if err := recv.SetReadBuffer(8 << 20); err != nil {
		t.Fatal(err)
	}
	const flows, per = 8, 200
	var conns []*net.UDPConn
	for range flows {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: lbIP.AsSlice()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i := range per {
		for f, c := range conns {
			if _, err := c.WriteToUDPAddrPort(udp4(fmt.Sprintf("flow %d seq %04d", f, i)), app); err != nil {
				t.Fatal(err)
			}
		}
	}
	next := map[uint16]int{}
	buf := make([]byte, 2048)
	_ = recv.SetReadDeadline(time.Now().Add(patience))
	for range flows * per {
		n, from, err := recv.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d replies: %v", len(next), err)
		}
		var f, seq int
		if _, err := fmt.Sscanf(string(buf[n-len("flow 0 seq 0000"):n]), "flow %d seq %d", &f, &seq); err != nil {
			t.Fatalf("reply %q: %v", buf[:n], err)
		}
		if want := next[from.Port()]; seq != want {
			t.Fatalf("flow %d (port %d): seq %d, want %d", f, from.Port(), seq, want)
		}
		next[from.Port()]++
	}
	used := 0
	for _, rd := range r.a.readers {
		if rd.st.received.Load() > 0 {
			used++
		}
	}
	t.Logf("%d flows spread over %d of %d readers", flows, used, len(r.a.readers))
}

// TestStuckReaderUnhealthy: a reader that stops making progress (here a tee
// callback that blocks) turns the appliance unhealthy even when the probes
// go through another reader; it recovers when the reader does.
func TestStuckReaderUnhealthy(t *testing.T) {
	release := make(chan struct{})
	spec := censorSpec()
	spec.Readers = 2
	spec.Rules[0].Tee = []string{"watch"}
	// A long window: probes late on a busy machine do not flap the check.
	spec.Health.ProbeInterval = 50 * time.Millisecond
	spec.Health.UnhealthyThreshold = 20
	r := start(t, spec, Options{Tee: func(tee *Tee) {
		if strings.HasSuffix(string(tee.Frame), "block") {
			<-release
		}
	}})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	waitHealth(t, r.a, http.StatusOK)
	probeReader := -1
	for i, rd := range r.a.readers {
		if rd.st.probes.Load() > 0 {
			probeReader = i
		}
	}
	if probeReader < 0 {
		t.Fatal("healthy without a probe through a reader")
	}
	// Find a flow (source port) the kernel gives to the other reader.
	other := r.a.readers[1-probeReader]
	app := r.a.Addr()
	var conn *net.UDPConn
	for attempt := 0; attempt < 64 && conn == nil; attempt++ {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: lbIP.AsSlice()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		before := other.st.received.Load()
		if _, err := c.WriteToUDPAddrPort(udp4("which reader"), app); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(patience)
		for r.a.Stats().Rules[DefaultRuleName][OutcomePass] < uint64(attempt+1) {
			if time.Now().After(deadline) {
				t.Fatal("packet not processed")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if other.st.received.Load() > before {
			conn = c
		}
	}
	if conn == nil {
		t.Fatal("no flow of 64 went to the second reader")
	}
	if _, err := conn.WriteToUDPAddrPort(udp4("drop me: block"), app); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(patience)
	for other.st.busySince.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the reader never took the blocking packet")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The verdict itself, at a time past the window: stuck.
	w := r.a.window()
	if now := other.st.busySince.Load() + w + 1; !r.a.stuck(now, w) {
		t.Error("a reader busy for longer than the window is not stuck")
	}
	waitHealth(t, r.a, 0)
	if r.a.readers[probeReader].st.probes.Load() == 0 {
		t.Fatal("probes stopped")
	}
	close(release)
	waitHealth(t, r.a, http.StatusOK)
}

// TestHealthPathOnly: the health check answers on its path only, whatever
// the path holds.
func TestHealthPathOnly(t *testing.T) {
	spec := censorSpec()
	spec.Health.Path = "/health/{x}/{x}" // an http.ServeMux pattern would panic
	r := start(t, spec, Options{})
	deadline := time.Now().Add(patience)
	for {
		resp, err := http.Get("http://" + r.a.HealthAddr() + "/health/%7Bx%7D/%7Bx%7D")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("health path never answered 200: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get("http://" + r.a.HealthAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("other path: %d, want 404", resp.StatusCode)
	}
}

// TestKernelDropsCounted: datagrams the kernel drops on a full socket
// (before the appliance runs) show in the collector, and the counter
// keeps its value after the sockets close.
func TestKernelDropsCounted(t *testing.T) {
	needRaw(t)
	a, err := New(Spec{Listen: "127.0.0.1:0", Readers: 1, RecvBuffer: 64 << 10,
		Health: HealthSpec{Listen: "127.0.0.1:0", ProbeInterval: time.Hour}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := newLB(t, a.Addr())
	for range 2000 {
		l.send(t, udp4("flood"))
	}
	drops := func() float64 {
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(a.Collector()); err != nil {
			t.Fatal(err)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "wirebridge_appliance_kernel_drops_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatal("no wirebridge_appliance_kernel_drops_total")
		return 0
	}
	before := drops()
	if before == 0 {
		t.Fatal("2,000 datagrams into a 128 KiB socket buffer, no kernel drop counted")
	}
	a.Close()
	if after := drops(); after != before {
		t.Errorf("kernel drops %v after close, want %v kept", after, before)
	}
}

// TestOthersWait: a busy-polling reader gives way only to another reader
// that waits in the poller with a datagram queued on its socket.
func TestOthersWait(t *testing.T) {
	needRaw(t)
	spec := censorSpec()
	spec.Listen = "127.0.0.1:0"
	spec.Health.Listen = "127.0.0.1:0"
	spec.Readers = 2
	spec.BusyPoll = time.Millisecond
	a, err := New(spec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r0, r1 := a.readers[0], a.readers[1]
	queued := func(r *reader) int {
		n, err := unix.IoctlGetInt(r.fd, unix.SIOCINQ)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Send from new ports until the kernel has put a datagram on r1's socket.
	for i := 0; queued(r1) == 0; i++ {
		if i == 1000 {
			t.Fatal("no datagram reached the second reader's socket")
		}
		c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(a.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(udp4("hello")); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	tests := []struct {
		name    string
		waiting bool
		drain   bool
		giveWay bool
	}{
		{name: "other reader busy", waiting: false, giveWay: false},
		{name: "other reader waits with a datagram", waiting: true, giveWay: true},
		{name: "other reader waits on an empty socket", waiting: true, drain: true, giveWay: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.drain {
				buf := make([]byte, 65536)
				for queued(r1) > 0 {
					if _, _, err := unix.Recvfrom(r1.fd, buf, unix.MSG_DONTWAIT); err != nil {
						t.Fatal(err)
					}
				}
			}
			r1.waiting.Store(tc.waiting)
			if got := r0.othersWait(); got != tc.giveWay {
				t.Errorf("othersWait = %v, want %v", got, tc.giveWay)
			}
		})
	}
}
