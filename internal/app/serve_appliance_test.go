package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// TestServeAppliance: serve runs the appliance of the appliance: section:
// a Geneve packet on loopback comes back with the addresses swapped and the
// ports kept, rewritten by its rule; the rule's tee publishes an
// ApplianceVerdict event through the event ingress that a file target
// archives; its metrics are on /metrics; the banner says what listens
// where; and stopping drains it (unhealthy first) before the rest stops.
// Needs CAP_NET_RAW (the appliance replies on a raw socket).
func TestServeAppliance(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the appliance replies on a raw IPv4 socket")
	}
	// The load balancer's side: replies come back to its address at the
	// appliance's port, so the appliance listens on 127.0.0.2 and the
	// "load balancer" receives on 127.0.0.1 at the same port.
	lbRecv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer lbRecv.Close()
	port := lbRecv.LocalAddr().(*net.UDPAddr).Port

	dir := t.TempDir()
	out := filepath.Join(dir, "verdicts.ndjson")
	yaml := fmt.Sprintf(`data_dir: %s
http: {listen: "127.0.0.1:0"}
shutdown_timeout: 10s
appliance:
  listen: "127.0.0.2:%d"
  health: {listen: "127.0.0.2:0", probe_interval: 50ms}
  drain_time: 300ms
  rules:
    - name: weakly-typed
      pattern: '{"detail":{"Protocol":["udp"]}}'
      contains: weakly typed
      action: modify
      modify: {find: weakly typed, replace: strongly typed}
      tee: [verdicts]
targets:
  - {name: verdicts, type: file, path: %q}
`, dir, port, out)
	s, banner, logs := newTestServer(t, dir, yaml)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	base := "http://" + s.http.Addr().String()
	waitUntil(t, "ready", func() bool { code, _ := httpGet(t, base+"/readyz"); return code == 200 })
	waitUntil(t, "the appliance healthy", func() bool { return strings.Contains(logs.String(), "appliance healthy") })

	lbSend, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer lbSend.Close()
	flowPort := uint16(lbSend.LocalAddr().(*net.UDPAddr).Port)
	client, server := netip.MustParseAddr("10.0.1.2"), netip.MustParseAddr("10.0.2.2")
	sent := packet.Build(packet.Geneve{Options: packet.GWLBOptions(0x0102030405060708, 0x1112131415161718, 0xcafef00d)},
		packet.IPv4{Src: client, Dst: server, TTL: 64}, packet.UDP{Src: 40000, Dst: 3000}, packet.Payload("weakly typed programming language"))
	if _, err := lbSend.WriteToUDP(sent, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: port}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 9100)
	_ = lbRecv.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang detector
	for {
		n, from, err := lbRecv.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("no reply: %v", err)
		}
		if from.Port() != flowPort {
			continue // not ours
		}
		if from.Addr().Unmap() != netip.MustParseAddr("127.0.0.2") {
			t.Errorf("reply from %s, want the appliance's address 127.0.0.2 with the flow's port %d", from, flowPort)
		}
		if !bytes.Contains(buf[:n], []byte("strongly typed programming language")) || !bytes.Equal(buf[:40], sent[:40]) {
			t.Errorf("reply %q: want the Geneve header and options unchanged and the payload rewritten", buf[:n])
		}
		break
	}

	var ev struct {
		Source, DetailType string
		Resources          []string
		Detail             struct {
			Protocol  string
			Payload   []byte
			Tunnel    struct{ GWLB struct{ FlowCookie string } }
			Appliance struct {
				Rule, Action string
				Tee          []string
			}
		}
	}
	waitUntil(t, "the teed packet's event in the file", func() bool {
		b, _ := os.ReadFile(out)
		line, _, _ := bytes.Cut(b, []byte("\n"))
		if len(line) == 0 {
			return false
		}
		raw := bytes.ReplaceAll(line, []byte(`"detail-type"`), []byte(`"DetailType"`))
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatalf("event %s: %v", line, err)
		}
		return true
	})
	if ev.Source != "wirebridge.appliance" || ev.DetailType != "ApplianceVerdict" || len(ev.Resources) != 1 || ev.Resources[0] != "appliance" ||
		ev.Detail.Protocol != "udp" || string(ev.Detail.Payload) != "weakly typed programming language" ||
		ev.Detail.Tunnel.GWLB.FlowCookie != "0xcafef00d" ||
		ev.Detail.Appliance.Rule != "weakly-typed" || ev.Detail.Appliance.Action != "modify" || len(ev.Detail.Appliance.Tee) != 1 {
		t.Errorf("event %+v", ev)
	}
	_, metrics := httpGet(t, base+"/metrics")
	for _, w := range []string{
		`wirebridge_appliance_rule_packets_total{action="modify",rule="weakly-typed"} 1`,
		`wirebridge_appliance_tee_total{rule="weakly-typed"} 1`,
		`wirebridge_appliance_healthy 1`,
	} {
		if !strings.Contains(metrics, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	for _, w := range []string{"appliance", fmt.Sprintf("Geneve on udp 127.0.0.2:%d", port), "health check on tcp 127.0.0.2:"} {
		if !strings.Contains(banner.String(), w) {
			t.Errorf("banner lacks %q:\n%s", w, banner.String())
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second): // a hang detector
		t.Fatal("run did not return after cancel")
	}
	l := logs.String()
	unhealthy, draining, stopped := strings.Index(l, "appliance unhealthy"), strings.Index(l, "appliance draining"), strings.Index(l, "msg=stopped")
	if unhealthy < 0 || draining < 0 || stopped < 0 || unhealthy > draining || draining > stopped {
		t.Errorf("stop order: want the appliance unhealthy, then draining, then stopped:\n%s", l)
	}
}
