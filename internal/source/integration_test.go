//go:build integration

package source

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not installed (scripts/deps.sh installs it): %v", name, err)
	}
	return p
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(needTool(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestUDPLoggerAndDig feeds the udp source with real clients: logger (RFC 3164
// and 5424, IPv4 and IPv6) and dig.
func TestUDPLoggerAndDig(t *testing.T) {
	tests := []struct {
		name   string
		listen string
		server string
	}{
		{"ipv4", "127.0.0.1:0", "127.0.0.1"},
		{"ipv6", "[::1]:0", "::1"},
		{"wildcard", "0.0.0.0:0", "127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newTestUDP(t, UDPConfig{Listen: []string{tc.listen}, Readers: 2})
			c := newCollector()
			running(t, u, c.emit)
			port := fmt.Sprint(u.Addrs()[0].Port())
			msg := "wirebridge test " + tc.name + " " + fmt.Sprint(time.Now().UnixNano())
			runTool(t, "logger", "--udp", "-n", tc.server, "-P", port, "--rfc3164", "-t", "wbtest", "-p", "user.notice", msg)
			runTool(t, "logger", "--udp", "-n", tc.server, "-P", port, "-t", "wbtest", "-p", "local0.err", msg+" 5424")
			fs := c.waitFor(t, 5*time.Second, "two logger messages", func(fs []got) bool { return len(fs) >= 2 })
			wantDst := netip.AddrPortFrom(netip.MustParseAddr(tc.server), u.Addrs()[0].Port())
			// Two logger processes one after the other: the source emits in
			// arrival order, but do not depend on it here; tell them apart by
			// content.
			if bytes.Contains(fs[0].payload, []byte(msg+" 5424")) {
				fs[0], fs[1] = fs[1], fs[0]
			}
			for i, prefix := range []string{"<13>", "<131>1 "} {
				f := fs[i]
				if !strings.HasPrefix(string(f.payload), prefix) || !bytes.Contains(f.payload, []byte("wbtest")) || !bytes.Contains(f.payload, []byte(msg)) {
					t.Errorf("logger message %d payload %q: want prefix %q, tag and message", i, f.payload, prefix)
				}
				if f.dst != wantDst || f.src.Addr() != wantDst.Addr() || f.src.Port() == 0 {
					t.Errorf("logger message %d: %v -> %v, want -> %v", i, f.src, f.dst, wantDst)
				}
			}

			// dig waits for an answer that never comes; the query is what we want.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			dig := exec.CommandContext(ctx, needTool(t, "dig"), "@"+tc.server, "-p", port, "+tries=1", "+time=1", "example.org", "AAAA")
			_ = dig.Run()
			fs = c.waitFor(t, 5*time.Second, "dig query", func(fs []got) bool { return len(fs) >= 3 })
			var m dnsmessage.Message
			if err := m.Unpack(fs[2].payload); err != nil {
				t.Fatalf("dig query does not parse as DNS (%d bytes): %v", len(fs[2].payload), err)
			}
			if m.Response || len(m.Questions) != 1 || m.Questions[0].Name.String() != "example.org." || m.Questions[0].Type != dnsmessage.TypeAAAA {
				t.Errorf("dig query: %+v", m)
			}
			if fs[2].dst != wantDst {
				t.Errorf("dig query to %v, want %v", fs[2].dst, wantDst)
			}
		})
	}
}

// TestRawSeesLoggerWithoutListener: the raw source sees datagrams to a port
// nothing listens on (logger to 514, the article's syslog port), IPv4 and
// IPv6, with the IPv6 header rebuilt.
//
// The raw socket sees every UDP datagram of its network namespace, so the
// test runs in a namespace of its own: other tests' loopback floods (go test
// runs packages in parallel) would otherwise bury the one datagram it waits for.
func TestRawSeesLoggerWithoutListener(t *testing.T) {
	logger := needTool(t, "logger")
	ns := newNetns(t)
	var r *Raw
	var err error
	ns.do(t, func() { r, err = NewRaw(RawConfig{Common: Common{Name: "raw", EventSource: "udp.raw"}}) })
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	running(t, r, c.emit)
	for _, server := range []string{"127.0.0.1", "::1"} {
		msg := fmt.Sprintf("raw test %s %d", server, time.Now().UnixNano())
		runTool(t, "ip", "netns", "exec", ns.name, logger, "--udp", "-n", server, "-P", "514", "--rfc3164", "-t", "wbraw", msg)
		fs := c.waitFor(t, 5*time.Second, "logger message via raw socket on "+server, func(fs []got) bool {
			for _, f := range fs {
				if bytes.HasSuffix(f.payload, []byte(msg)) {
					return true
				}
			}
			return false
		})
		for _, f := range fs {
			if !bytes.HasSuffix(f.payload, []byte(msg)) {
				continue
			}
			if f.decodeErr != nil {
				t.Errorf("decode: %v", f.decodeErr)
			}
			if f.dst != netip.AddrPortFrom(netip.MustParseAddr(server), 514) || f.src.Addr() != netip.MustParseAddr(server) {
				t.Errorf("%v -> %v", f.src, f.dst)
			}
			if f.eventSource != "udp.raw" || f.ttl == 0 {
				t.Errorf("event source %q ttl %d", f.eventSource, f.ttl)
			}
		}
	}
}

// TestRawPerPacketTime sends 500 datagrams from one socket, over IPv4 and
// IPv6, to a port nothing listens on, and checks that the raw source emits
// them in order, each with its own capture time (the kernel's per-packet
// timestamp), strictly increasing. It runs in a network namespace of its own
// (see TestRawSeesLoggerWithoutListener); other traffic there would be
// ignored by payload.
func TestRawPerPacketTime(t *testing.T) {
	for _, server := range []string{"127.0.0.1", "::1"} {
		t.Run(server, func(t *testing.T) {
			const n = 500
			ns := newNetns(t)
			var r *Raw
			var conn net.PacketConn
			var err, cerr error
			ns.do(t, func() {
				r, err = NewRaw(RawConfig{Common: Common{Name: "raw", EventSource: "udp.raw"}, RecvBuffer: 8 << 20})
				// Unconnected: the ICMP port unreachables do not fail later writes.
				conn, cerr = net.ListenPacket("udp", net.JoinHostPort(server, "0"))
			})
			if err != nil {
				t.Fatal(err)
			}
			if cerr != nil {
				t.Fatal(cerr)
			}
			c := newCollector()
			running(t, r, c.emit)
			const port = 9 // discard: nothing listens on it in the new namespace
			defer conn.Close()
			to, err := net.ResolveUDPAddr("udp", net.JoinHostPort(server, fmt.Sprint(port)))
			if err != nil {
				t.Fatal(err)
			}
			prefix := fmt.Sprintf("rawtime %d ", time.Now().UnixNano())
			before := time.Now()
			for i := range n {
				if _, err := conn.WriteTo(fmt.Appendf(nil, "%s%04d", prefix, i), to); err != nil {
					t.Fatal(err)
				}
				if i%100 == 99 {
					time.Sleep(time.Millisecond)
				}
			}
			ours := func(fs []got) []got {
				var out []got
				for _, f := range fs {
					if bytes.HasPrefix(f.payload, []byte(prefix)) {
						out = append(out, f)
					}
				}
				return out
			}
			fs := ours(c.waitFor(t, 10*time.Second, "500 datagrams", func(fs []got) bool { return len(ours(fs)) >= n }))
			for i, f := range fs {
				if want := fmt.Sprintf("%s%04d", prefix, i); string(f.payload) != want {
					t.Fatalf("frame %d: payload %q, want %q", i, f.payload, want)
				}
				if f.info.Timestamp.Before(before) {
					t.Errorf("frame %d: capture time %v before the test sent it", i, f.info.Timestamp)
				}
				if i > 0 && !f.info.Timestamp.After(fs[i-1].info.Timestamp) {
					t.Errorf("frame %d: capture time %v not after %v", i, f.info.Timestamp, fs[i-1].info.Timestamp)
				}
			}
		})
	}
}
