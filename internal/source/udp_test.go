package source

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/spec"
)

func newTestUDP(t *testing.T, cfg UDPConfig) *UDP {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "test"
		cfg.EventSource = "wirebridge.udp"
	}
	u, err := NewUDP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func sendUDP(t *testing.T, from, to string, payloads ...[]byte) netip.AddrPort {
	t.Helper()
	la, err := net.ResolveUDPAddr("udp", from)
	if err != nil {
		t.Fatal(err)
	}
	ra, err := net.ResolveUDPAddr("udp", to)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", la, ra)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range payloads {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func TestUDPReceivesWithAddresses(t *testing.T) {
	tests := []struct {
		name      string
		listen    string
		sendFrom  string
		sendTo    func(port uint16) string
		wantDst   func(port uint16) netip.AddrPort
		ipVersion uint8
	}{
		{"ipv4 loopback", "127.0.0.1:0", "127.0.0.1:0",
			func(p uint16) string { return fmt.Sprintf("127.0.0.1:%d", p) },
			func(p uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), p) }, 4},
		{"ipv4 wildcard gives real destination", "0.0.0.0:0", "127.0.0.1:0",
			func(p uint16) string { return fmt.Sprintf("127.0.0.2:%d", p) },
			func(p uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), p) }, 4},
		{"ipv6 loopback", "[::1]:0", "[::1]:0",
			func(p uint16) string { return fmt.Sprintf("[::1]:%d", p) },
			func(p uint16) netip.AddrPort { return netip.AddrPortFrom(netip.IPv6Loopback(), p) }, 6},
		{"dual stack wildcard, ipv4 sender", ":0", "127.0.0.1:0",
			func(p uint16) string { return fmt.Sprintf("127.0.0.3:%d", p) },
			func(p uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), p) }, 4},
		{"dual stack wildcard, ipv6 sender", ":0", "[::1]:0",
			func(p uint16) string { return fmt.Sprintf("[::1]:%d", p) },
			func(p uint16) netip.AddrPort { return netip.AddrPortFrom(netip.IPv6Loopback(), p) }, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newTestUDP(t, UDPConfig{Listen: []string{tc.listen}, Readers: 2})
			c := newCollector()
			running(t, u, c.emit)
			port := u.Addrs()[0].Port()
			payload := []byte("<13>Nov 21 20:40:15 host app: hello " + tc.name)
			from := sendUDP(t, tc.sendFrom, tc.sendTo(port), payload)
			fs := c.waitFor(t, 5*time.Second, "datagram", func(fs []got) bool { return len(fs) >= 1 })
			f := fs[0]
			if f.decodeErr != nil {
				t.Fatalf("decode: %v", f.decodeErr)
			}
			if !bytes.Equal(f.payload, payload) {
				t.Errorf("payload %q, want %q", f.payload, payload)
			}
			if f.src != from {
				t.Errorf("source %v, want %v", f.src, from)
			}
			if want := tc.wantDst(port); f.dst != want {
				t.Errorf("destination %v, want %v", f.dst, want)
			}
			if f.ipVersion != tc.ipVersion {
				t.Errorf("IP version %d, want %d", f.ipVersion, tc.ipVersion)
			}
			if f.ttl == 0 {
				t.Errorf("TTL 0: IP_RECVTTL/IPV6_RECVHOPLIMIT not applied")
			}
			// The archived packet is valid: IPv4 header checksum right and
			// UDP checksum "none"; over IPv6 (where none is not allowed) a
			// right UDP checksum.
			wantIP, wantUDP := packet.ChecksumGood, packet.ChecksumAbsent
			if tc.ipVersion == 6 {
				wantIP, wantUDP = packet.ChecksumUnverifiable, packet.ChecksumGood
			}
			if f.ipSum != wantIP || f.udpSum != wantUDP {
				t.Errorf("checksums: IPv4 header %v, UDP %v; want %v, %v", f.ipSum, f.udpSum, wantIP, wantUDP)
			}
			if f.info.LinkType != packet.LinkRaw || f.info.CaptureLength != len(f.data) || f.info.Length != len(f.data) {
				t.Errorf("capture info %+v for %d bytes", f.info, len(f.data))
			}
			if f.info.InterfaceIndex == 0 {
				t.Errorf("interface index 0: pktinfo missing")
			}
			if f.batchSource != "test" || f.eventSource != "wirebridge.udp" {
				t.Errorf("batch names %q %q", f.batchSource, f.eventSource)
			}
			if st := u.Stats().Snapshot(); st.Received != 1 || st.Emitted != 1 || st.DroppedTotal() != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestUDPOversizeTruncatedAndCounted(t *testing.T) {
	u := newTestUDP(t, UDPConfig{Listen: []string{"127.0.0.1:0"}, Common: Common{MaxDatagram: 9216}, RecvBuffer: 1 << 20})
	c := newCollector()
	running(t, u, c.emit)
	to := u.Addrs()[0].String()
	exact := bytes.Repeat([]byte{'a'}, 9216)
	over := bytes.Repeat([]byte{'b'}, 20000)
	sendUDP(t, "127.0.0.1:0", to, exact, over)
	fs := c.waitFor(t, 5*time.Second, "2 datagrams", func(fs []got) bool { return len(fs) >= 2 })
	if fs[0].truncated || !bytes.Equal(fs[0].payload, exact) {
		t.Errorf("9216-byte datagram: truncated=%v payload %d bytes", fs[0].truncated, len(fs[0].payload))
	}
	if !fs[1].truncated || len(fs[1].payload) != 9216 || fs[1].info.Length != 28+20000 || fs[1].info.CaptureLength != 28+9216 {
		t.Errorf("20000-byte datagram: truncated=%v payload %d info %+v", fs[1].truncated, len(fs[1].payload), fs[1].info)
	}
	if st := u.Stats().Snapshot(); st.Truncated != 1 || st.Received != 2 || st.Emitted != 2 || st.Bytes != 28+9216+28+20000 {
		t.Errorf("stats %+v", st)
	}
}

func TestUDPAllowAndRateLimits(t *testing.T) {
	tests := []struct {
		name     string
		common   Common
		send     map[string]int // sender address -> datagrams
		want     int            // emitted
		dropped  map[DropReason]uint64
		senderOK func(netip.Addr) bool
	}{
		{
			name:   "allow list",
			common: Common{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.10/31")}},
			send:   map[string]int{"127.0.0.10": 3, "127.0.0.11": 2, "127.0.0.12": 4},
			want:   5, dropped: map[DropReason]uint64{DropNotAllowed: 4},
		},
		{
			name:   "per source bucket",
			common: Common{PerSource: spec.TokenBucket{PPS: 0.001, Burst: 2}},
			send:   map[string]int{"127.0.0.20": 5, "127.0.0.21": 1},
			want:   3, dropped: map[DropReason]uint64{DropRateLimitedSource: 3},
		},
		{
			name:   "global bucket",
			common: Common{Global: spec.TokenBucket{PPS: 0.001, Burst: 4}},
			send:   map[string]int{"127.0.0.30": 3, "127.0.0.31": 3},
			want:   4, dropped: map[DropReason]uint64{DropRateLimitedGlobal: 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newTestUDP(t, UDPConfig{Listen: []string{"127.0.0.1:0"}, Common: tc.common})
			c := newCollector()
			running(t, u, c.emit)
			total := 0
			for from, n := range tc.send {
				for i := 0; i < n; i++ {
					sendUDP(t, from+":0", u.Addrs()[0].String(), []byte("x"))
				}
				total += n
			}
			deadline := time.Now().Add(5 * time.Second)
			for u.Stats().Received.Load() < uint64(total) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			st := u.Stats()
			if got := st.Received.Load(); got != uint64(total) {
				t.Fatalf("received %d, want %d", got, total)
			}
			// Every datagram is then emitted or dropped; Emitted moves just
			// before the batch reaches the collector.
			settled := func() bool {
				sn := st.Snapshot()
				return sn.Emitted+sn.DroppedTotal() >= uint64(total) && uint64(len(c.snapshot())) >= sn.Emitted
			}
			for !settled() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if got := len(c.snapshot()); got != tc.want || st.Emitted.Load() != uint64(tc.want) {
				t.Errorf("emitted %d (counter %d), want %d", got, st.Emitted.Load(), tc.want)
			}
			for _, r := range DropReasons() {
				if got := st.Dropped(r); got != tc.dropped[r] {
					t.Errorf("dropped %s = %d, want %d", r, got, tc.dropped[r])
				}
			}
		})
	}
}

func TestUDPConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		listen []string
	}{
		{"no address", nil},
		{"bad address", []string{"not an address"}},
		{"not local", []string{"192.0.2.1:5514"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := NewUDP(UDPConfig{Common: Common{Name: "bad"}, Listen: tc.listen})
			if err == nil {
				u.Close()
				t.Fatal("no error")
			}
		})
	}
}

func TestUDPRecvBufferReported(t *testing.T) {
	u := newTestUDP(t, UDPConfig{Listen: []string{"127.0.0.1:0"}, RecvBuffer: 1 << 20})
	defer u.Close()
	want := 1 << 20
	if os.Geteuid() != 0 { // without CAP_NET_ADMIN the kernel caps the request at rmem_max
		b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
		if err != nil {
			t.Fatal(err)
		}
		if m, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && m < want {
			want = m
		}
	}
	if rb := u.RecvBuffer(); rb < want {
		t.Errorf("effective receive buffer %d, want >= %d", rb, want)
	}
}

// TestUDPIPv4AndIPv6WildcardsOnOnePort: a source listening on an IPv4
// address and on [::] with the same port (the documented
// ["0.0.0.0:514", "[::]:514"]) binds both, in either order: the IPv6
// wildcard is then IPv6-only, and each datagram arrives once.
func TestUDPIPv4AndIPv6WildcardsOnOnePort(t *testing.T) {
	tests := []struct {
		name   string
		listen []string // %d is the port
	}{
		{"IPv4 first", []string{"0.0.0.0:%d", "[::]:%d"}},
		{"IPv6 first", []string{"[::]:%d", "0.0.0.0:%d"}},
		{"IPv4 loopback and IPv6 wildcard", []string{"127.0.0.1:%d", "[::]:%d"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			probe, err := net.ListenUDP("udp", &net.UDPAddr{})
			if err != nil {
				t.Fatal(err)
			}
			port := probe.LocalAddr().(*net.UDPAddr).Port
			probe.Close()
			var listen []string
			for _, l := range tc.listen {
				listen = append(listen, fmt.Sprintf(l, port))
			}
			u := newTestUDP(t, UDPConfig{Listen: listen})
			c := newCollector()
			running(t, u, c.emit)
			for _, to := range []string{"127.0.0.1", "::1"} {
				conn, err := net.Dial("udp", net.JoinHostPort(to, strconv.Itoa(port)))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := conn.Write([]byte("to " + to)); err != nil {
					t.Fatal(err)
				}
				conn.Close()
			}
			c.waitFor(t, 5*time.Second, "both datagrams", func(fs []got) bool {
				return countPayload(fs, "to 127.0.0.1") >= 1 && countPayload(fs, "to ::1") >= 1
			})
			fs := c.snapshot()
			if len(fs) != 2 {
				t.Errorf("%d datagrams, want 2", len(fs))
			}
		})
	}
}
