//go:build integration

package mirror_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/wirebridge/wirebridge/internal/bintest"
	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/mirror"
	"github.com/wirebridge/wirebridge/internal/mirror/linux"
	"github.com/wirebridge/wirebridge/internal/netnstest"
)

// The controller acceptance with the real linux provider, in network
// namespaces the tests create: kill -9 in the middle of a reconcile and a
// restart converge with no duplicate and no orphan filter; two controllers on
// one NATS server mirror each interface exactly once; the one-host example
// (examples/mirror-linux.yaml) end to end.

var wbBin string

func TestMain(m *testing.M) { bintest.Main(m, &wbBin) }

// root is the repository's root (for examples/).
var root = func() string {
	d, _ := filepath.Abs(filepath.Join("..", ".."))
	return d
}()

// vethsTo adds n veth pairs prefix0..prefixN-1 in ns, their peers in peer,
// every end up.
func vethsTo(t *testing.T, ns, peer, prefix string, n int) {
	t.Helper()
	for i := range n {
		name := fmt.Sprintf("%s%d", prefix, i)
		netnstest.IP(t, "-n", ns, "link", "add", name, "type", "veth", "peer", "name", "p"+name, "netns", peer)
		netnstest.IP(t, "-n", ns, "link", "set", name, "up")
		netnstest.IP(t, "-n", peer, "link", "set", "p"+name, "up")
	}
}

// inNS runs a command in namespace ns and returns its output.
func inNS(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// mirrorFilters counts the distinct u32 filters (by handle) with a mirred
// action on dev, ingress and egress together: a dump of one clsact hook
// lists the u32 nodes of both, so handles are counted once. A mirrored
// interface has two (ingress and egress); more is a duplicate.
func mirrorFilters(t *testing.T, ns, dev string) int {
	t.Helper()
	seen := map[string]bool{}
	for _, hook := range []string{"ingress", "egress"} {
		handle := ""
		for _, l := range strings.Split(inNS(t, ns, "tc", "filter", "show", "dev", dev, hook), "\n") {
			if strings.HasPrefix(l, "filter ") {
				handle = ""
				f := strings.Fields(l)
				for i := 0; i+1 < len(f); i++ {
					if f[i] == "fh" && strings.Contains(f[i+1], "::") {
						handle = f[i+1]
					}
				}
			}
			if handle != "" && strings.Contains(l, "Egress Mirror to device") {
				seen[handle] = true
			}
		}
	}
	return len(seen)
}

// vxlanDevices lists the vxlan devices of ns.
func vxlanDevices(t *testing.T, ns string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(inNS(t, ns, "ip", "-o", "link", "show", "type", "vxlan"), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			out = append(out, strings.TrimSuffix(f[1], ":"))
		}
	}
	return out
}

func waitFor(t *testing.T, what func() string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit) // a hang detector, not a measure
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what())
		}
		time.Sleep(time.Millisecond)
	}
}

func say(s string) func() string { return func() string { return s } }

// proc is a wirebridge command running in a namespace.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs strings.Builder
	done chan struct{}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// start runs `wirebridge ARGS` in ns with working directory dir and returns
// once its banner names the mirror controller.
func start(t *testing.T, ns, dir string, args ...string) *proc {
	t.Helper()
	p, ready := launch(t, ns, dir, args...)
	select {
	case <-ready:
	case <-p.done:
		t.Fatalf("wirebridge %s exited before its banner:\n%s", args[0], p.output())
	case <-time.After(time.Minute):
		t.Fatalf("wirebridge %s: no banner after a minute:\n%s", args[0], p.output())
	}
	return p
}

// launch starts `wirebridge ARGS` in ns; ready is closed when its banner
// names the mirror controller.
func launch(t *testing.T, ns, dir string, args ...string) (*proc, chan struct{}) {
	t.Helper()
	p := &proc{cmd: exec.Command("ip", append([]string{"netns", "exec", ns, wbBin}, args...)...), done: make(chan struct{})}
	p.cmd.Dir = dir
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		var once sync.Once
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if strings.HasPrefix(strings.TrimSpace(sc.Text()), "mirror ") {
				once.Do(func() { close(ready) })
			}
		}
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p, ready
}

// list runs `wirebridge mirror list --json` in ns and returns the records.
func list(t *testing.T, ns, dir, cfg string) map[string]mirror.Record {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, wbBin, "mirror", "list", "--json", "-c", cfg)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mirror list: %v\n%s", err, out)
	}
	recs := map[string]mirror.Record{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l == "" {
			continue
		}
		var r mirror.Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("mirror list line %q: %v", l, err)
		}
		recs[r.Endpoint] = r
	}
	return recs
}

func active(recs map[string]mirror.Record) int {
	n := 0
	for _, r := range recs {
		if r.State == mirror.Active {
			n++
		}
	}
	return n
}

// TestKill9MidReconcileConverges: a controller killed with SIGKILL while it
// sets up 20 interfaces leaves claims and half-made sessions; restarted, it
// converges: every selected interface mirrored once on each hook (no
// duplicate filter), the one no longer selected unmirrored (no orphan), one
// vxlan device. Stopped, mirroring outlives it; `mirror remove` takes it all
// away and `mirror list` (from the bus) shows nothing left.
func TestKill9MidReconcileConverges(t *testing.T) {
	ns := netnstest.New(t, "mk9")
	peer := netnstest.New(t, "mk9p")
	dir := t.TempDir()
	cfg := func(exclude string) string {
		p := filepath.Join(dir, "mirror-"+exclude+".yaml")
		body := fmt.Sprintf(`data_dir: %s
http: {listen: "127.0.0.1:0"}
mirror:
  - name: kill
    provider: linux
    interfaces: ["mv*"]
    exclude: [%q]
    collector: {address: 127.0.0.1, port: 4789, vni: 7}
    scan_interval: 1h
    max_attempts: 3
    backoff: {initial: 10ms, max: 100ms}
`, filepath.Join(dir, "data"), exclude)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := cfg("none")
	// The interfaces are there first: the controller's first reconcile sets
	// them up in name order, and the first filter on mv0 is the middle of it.
	vethsTo(t, ns, peer, "mv", 20)
	p, _ := launch(t, ns, dir, "mirror", "run", "-c", first, "--stats-interval", "0")
	waitFor(t, say("the first mirrored interface"), time.Minute, func() bool {
		out, _ := exec.Command("ip", "netns", "exec", ns, "tc", "filter", "show", "dev", "mv0", "ingress").CombinedOutput()
		return strings.Contains(string(out), "Egress Mirror")
	})
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	done := 0
	for i := range 20 {
		if mirrorFilters(t, ns, fmt.Sprintf("mv%d", i)) == 2 {
			done++
		}
	}
	t.Logf("killed with %d of 20 interfaces mirrored on both hooks", done)

	// Restarted with mv19 no longer selected: its filters are an orphan.
	second := cfg("mv19")
	p = start(t, ns, dir, "mirror", "run", "-c", second, "--stats-interval", "0")
	var last map[string]mirror.Record
	waitFor(t, func() string { return fmt.Sprintf("19 interfaces active: %+v\n%s", last, p.output()) }, time.Minute, func() bool {
		last = list(t, ns, dir, second)
		if active(last) == 19 {
			return true
		}
		select {
		case <-p.done:
			t.Fatalf("the restarted controller exited:\n%s", p.output())
		default:
		}
		return false
	})
	waitFor(t, say("mv19 unmirrored"), time.Minute, func() bool {
		return mirrorFilters(t, ns, "mv19") == 0
	})
	for i := range 19 {
		if n := mirrorFilters(t, ns, fmt.Sprintf("mv%d", i)); n != 2 {
			t.Errorf("mv%d: %d mirror filters, want 2 (ingress, egress)", i, n)
		}
	}
	if recs := list(t, ns, dir, second); len(recs) != 19 {
		t.Errorf("%d records, want 19: %v", len(recs), recs)
	}
	if devs := vxlanDevices(t, ns); len(devs) != 1 {
		t.Errorf("vxlan devices %v, want one", devs)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	// Stopped without remove_on_exit, mirroring outlives it; mirror remove
	// (no process runs the file: it takes data_dir itself) removes it all,
	// and mirror list reads the emptied state from the bus.
	if n := mirrorFilters(t, ns, "mv0"); n != 2 {
		t.Errorf("after a stop without remove_on_exit, mv0 has %d mirror filters, want 2", n)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, wbBin, "mirror", "remove", "-c", second)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "kill: every session removed") {
		t.Fatalf("mirror remove: %v\n%s", err, out)
	}
	for i := range 20 {
		if n := mirrorFilters(t, ns, fmt.Sprintf("mv%d", i)); n != 0 {
			t.Errorf("after mirror remove, mv%d has %d mirror filters", i, n)
		}
	}
	if devs := vxlanDevices(t, ns); len(devs) != 0 {
		t.Errorf("after mirror remove, vxlan devices %v", devs)
	}
	if recs := list(t, ns, dir, second); len(recs) != 0 {
		t.Errorf("after mirror remove, records %v", recs)
	}
}

// TestTwoControllersOneNATS: two controllers of one entry, each with its own
// linux provider and its own connection to one NATS server (a nats-server
// listening on TCP, the controllers as external clients), reconciling the
// same 20 interfaces at once: each is mirrored exactly once.
func TestTwoControllersOneNATS(t *testing.T) {
	ns := netnstest.New(t, "m2c")
	peer := netnstest.New(t, "m2cp")
	vethsTo(t, ns, peer, "tc", 20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", MaxStorage: 256 << 20,
		DeliveryMaxBytes: 16 << 20, DLQMaxBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := "nats://" + srv.Server().Addr().(*net.TCPAddr).String()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var ctls []*mirror.Controller
	for i := range 2 {
		b, err := bus.Open(ctx, bus.Config{URLs: []string{url}, Name: fmt.Sprintf("controller-%d", i),
			DeliveryMaxBytes: 16 << 20, DLQMaxBytes: 8 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		kv, err := b.Mirror(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p, err := linux.New(linux.Config{Name: "two", Spec: linux.Spec{Interfaces: []string{"tc*"},
			Collector: linux.Collector{Address: "127.0.0.1", Port: 4789, VNI: 9}}}, linux.WithNetns(h))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		c, err := mirror.New(mirror.Config{Name: "two", ProviderName: "linux", Provider: p, KV: kv,
			ScanInterval: time.Hour, Metrics: mirror.NewMetrics(), Owner: fmt.Sprintf("c%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ctls = append(ctls, c)
	}
	var wg sync.WaitGroup
	for _, c := range ctls {
		wg.Add(1)
		go func() { defer wg.Done(); c.Run(ctx) }()
	}
	defer func() { cancel(); wg.Wait() }()
	kv, err := srv.Mirror(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, say("20 interfaces active"), time.Minute, func() bool {
		rs, err := mirror.List(ctx, kv, "two")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rs {
			if r.State == mirror.Active {
				n++
			}
		}
		return n == 20
	})
	// Both controllers run on: a reconcile of each settles nothing more.
	for _, c := range ctls {
		ectx, ecancel := context.WithTimeout(ctx, 30*time.Second)
		for i := range 20 {
			if sel, err := c.Ensure(ectx, fmt.Sprintf("tc%d", i)); err != nil || !sel {
				t.Fatalf("ensure tc%d: %v %v", i, sel, err)
			}
		}
		ecancel()
	}
	for i := range 20 {
		if n := mirrorFilters(t, ns, fmt.Sprintf("tc%d", i)); n != 2 {
			t.Errorf("tc%d: %d mirror filters, want 2 (ingress, egress)", i, n)
		}
	}
	if devs := vxlanDevices(t, ns); len(devs) != 1 {
		t.Errorf("vxlan devices %v, want one", devs)
	}
}

// TestExampleEndToEnd: examples/mirror-linux.yaml as a user runs it, in a
// namespace standing for the host: an interface that appears is mirrored
// (ensure --wait returns), a ping over it is archived as events of the vxlan
// source, the state changes are archived as MirrorStateChange events, and
// SIGTERM (remove_on_exit) leaves no filter or vxlan device behind.
func TestExampleEndToEnd(t *testing.T) {
	ns := netnstest.New(t, "mex")
	peer := netnstest.New(t, "mexp")
	dir := t.TempDir()
	example := filepath.Join(root, "examples", "mirror-linux.yaml")
	p := start(t, ns, dir, "serve", "-c", example, "--stats-interval", "0")
	netnstest.IP(t, "-n", ns, "link", "add", "veth-demo", "type", "veth", "peer", "name", "veth-demo-peer", "netns", peer)
	netnstest.IP(t, "-n", ns, "addr", "add", "10.91.0.1/30", "dev", "veth-demo")
	netnstest.IP(t, "-n", ns, "link", "set", "veth-demo", "up")
	netnstest.IP(t, "-n", peer, "addr", "add", "10.91.0.2/30", "dev", "veth-demo-peer")
	netnstest.IP(t, "-n", peer, "link", "set", "veth-demo-peer", "up")
	cmd := exec.Command("ip", "netns", "exec", ns, wbBin, "mirror", "ensure", "veth-demo", "--wait", "--timeout", "30s", "-c", example)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "host/veth-demo: active") {
		t.Fatalf("mirror ensure: %v\n%s\nserve:\n%s", err, out, p.output())
	}
	// Not selected: the reason, exit 1.
	cmd = exec.Command("ip", "netns", "exec", ns, wbBin, "mirror", "ensure", "nope0", "--wait", "-c", example)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "not selected by mirror host") {
		t.Errorf("ensure nope0: %v\n%s", err, out)
	}
	inNS(t, peer, "ping", "-c", "3", "-i", "0.2", "-p", "77697265627269646765", "10.91.0.1")
	data := filepath.Join(dir, "wirebridge-data")
	var mirrored, states []map[string]any
	read := func(sub string) []map[string]any {
		var evs []map[string]any
		files, _ := filepath.Glob(filepath.Join(data, sub, "*.ndjson"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			for _, l := range strings.Split(string(b), "\n") {
				var ev map[string]any
				if json.Unmarshal([]byte(l), &ev) == nil {
					evs = append(evs, ev)
				}
			}
		}
		return evs
	}
	// Each echo request (ingress) and reply (egress) exactly once.
	copies := map[string]int{}
	waitFor(t, say("the mirrored pings archived"), time.Minute, func() bool {
		mirrored, copies = nil, map[string]int{}
		for _, ev := range read("mirrored") {
			d, _ := ev["detail"].(map[string]any)
			tun, _ := d["Tunnel"].(map[string]any)
			icmp, _ := d["ICMP"].(map[string]any)
			if d["Protocol"] == "icmp" && tun != nil && tun["VNI"] == float64(4242) && icmp != nil {
				mirrored = append(mirrored, ev)
				copies[fmt.Sprintf("type %v seq %v", icmp["Type"], icmp["Seq"])]++
			}
		}
		return len(copies) == 6 // 3 requests, 3 replies
	})
	waitFor(t, say("the state change archived"), time.Minute, func() bool {
		states = nil
		for _, ev := range read("mirror") {
			if d, _ := ev["detail"].(map[string]any); ev["detail-type"] == "MirrorStateChange" && d["Endpoint"] == "veth-demo" {
				states = append(states, ev)
			}
		}
		for _, ev := range states {
			if ev["detail"].(map[string]any)["State"] == "active" {
				return true
			}
		}
		return false
	})
	t.Logf("%d mirrored ICMP events, %d state changes of veth-demo", len(mirrored), len(states))
	for k, n := range copies {
		if n != 1 {
			t.Errorf("%s archived %d times, want once", k, n)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatalf("serve did not stop:\n%s", p.output())
	}
	if n := mirrorFilters(t, ns, "veth-demo"); n != 0 {
		t.Errorf("remove_on_exit left %d filters", n)
	}
	if devs := vxlanDevices(t, ns); len(devs) != 0 {
		t.Errorf("remove_on_exit left vxlan devices %v", devs)
	}
}
