//go:build integration

package app

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBadConfigs: invalid configurations stop serve before it starts, with
// every error as file:line:column and the YAML (and pattern JSON) path.
func TestBadConfigs(t *testing.T) {
	ns := newNetns(t)
	const good = `
sources:
  - name: s
    type: udp
    listen: ["127.0.0.1:5514"]
rules:
  - name: r
    pattern: {"version": ["0"]}
    targets: [f]
targets:
  - name: f
    type: file
    path: x.ndjson
`
	tests := []struct {
		name string
		yaml string
		want []string // regular expressions the output must match
	}{
		{"unknown key", strings.Replace(good, "    type: udp\n", "    type: udp\n    bogus: 1\n", 1),
			[]string{`bad\.yaml:5:5: sources\[0\]\.bogus: unknown key "bogus"`}},
		{"invalid pattern", strings.Replace(good, `{"version": ["0"]}`, `{"detail": {"Destination": {"Port": [{"numeric": [">", "x"]}]}}}`, 1),
			[]string{`bad\.yaml:8:\d+: rules\[0\]\.pattern: detail\.Destination\.Port\[0\]\.numeric: `}},
		{"unknown target", strings.Replace(good, "targets: [f]", "targets: [f, nowhere]", 1),
			[]string{`bad\.yaml:9:\d+: rules\[0\]\.targets\[1\]: .*nowhere`}},
		{"bad address", strings.Replace(good, "127.0.0.1:5514", "127.0.0.1:99999", 1),
			[]string{`bad\.yaml:5:\d+: sources\[0\]\.listen\[0\]`}},
		{"several errors", strings.Replace(strings.Replace(good, "    type: udp\n", "    type: udp\n    bogus: 1\n", 1), "path: x.ndjson", "path: x-%Q.ndjson", 1),
			[]string{`bad\.yaml:5:5: sources\[0\]\.bogus`, `bad\.yaml:14:\d+: targets\[0\]\.path`}},
		{"not yaml", "sources: [\n", []string{`bad\.yaml:\d+`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "bad.yaml")
			if err := os.WriteFile(p, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range [][]string{{"serve", "-c", p}, {"validate", "-c", p}} {
				_, errs, code := ns.wb(t, dir, cmd...)
				if code != 1 {
					t.Errorf("%s: exit %d, want 1\n%s", cmd[0], code, errs)
				}
				for _, w := range tc.want {
					if !regexp.MustCompile(w).MatchString(errs) {
						t.Errorf("%s: output does not match %s:\n%s", cmd[0], w, errs)
					}
				}
				if strings.Contains(errs, "panic") || strings.Contains(errs, "goroutine ") {
					t.Errorf("%s crashed:\n%s", cmd[0], errs)
				}
			}
		})
	}
	t.Run("http address in use", func(t *testing.T) {
		dir := t.TempDir()
		var ln net.Listener
		var err error
		ns.do(t, func() { ln, err = net.Listen("tcp", "127.0.0.1:8080") })
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		_, errs, code := ns.wb(t, dir, "serve", "-c", writeConfig(t, dir, good))
		if code != 1 || !strings.Contains(errs, "http.listen") || !strings.Contains(errs, "address already in use") {
			t.Errorf("exit %d, want 1 naming http.listen and the cause:\n%s", code, errs)
		}
	})
}

// rawIPv4UDP builds an IPv4 packet (the kernel fills in the checksum and the
// total length) from 127.0.0.1 to 127.0.0.1 carrying udp as its payload.
func rawIPv4UDP(udp []byte) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	h[8] = 64
	h[9] = unix.IPPROTO_UDP
	copy(h[12:16], []byte{127, 0, 0, 1})
	copy(h[16:20], []byte{127, 0, 0, 1})
	return append(h, udp...)
}

func udpHeader(src, dst, length int, payload []byte) []byte {
	u := make([]byte, 8)
	binary.BigEndian.PutUint16(u[0:], uint16(src))
	binary.BigEndian.PutUint16(u[2:], uint16(dst))
	binary.BigEndian.PutUint16(u[4:], uint16(length))
	return append(u, payload...)
}

// TestBadPackets: malformed UDP (a truncated header, lengths that disagree
// with the packet), sent with a raw socket to a raw source, and odd datagrams
// (empty, max_datagram, oversize) to a udp source are counted, still become
// events, and crash nothing.
func TestBadPackets(t *testing.T) {
	ns := newNetns(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`
data_dir: %s/data
sources:
  - name: raw
    type: raw
    ipv6: false
  - name: udp
    type: udp
    listen: ["127.0.0.1:6000"]
rules:
  - name: all
    pattern: {"version": ["0"]}
    targets: [archive]
targets:
  - name: archive
    type: file
    path: out.ndjson
    fsync: always
`, dir))
	wb := startWB(t, ns, dir, cfg, "127.0.0.1:8080")

	malformed := map[string][]byte{
		"truncated header": rawIPv4UDP([]byte{0x13, 0x88, 0x17}),                        // 3 bytes of UDP header
		"length too long":  rawIPv4UDP(udpHeader(5000, 6001, 400, []byte("short"))),     // claims 400 bytes, has 13
		"length too short": rawIPv4UDP(udpHeader(5000, 6002, 4, []byte("under eight"))), // below the header size
	}
	var fd int
	var err error
	ns.do(t, func() { fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW) })
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for name, pkt := range malformed {
		if err := unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			t.Fatalf("send %s: %v", name, err)
		}
	}

	big := bytes.Repeat([]byte("0123456789abcdef"), 9216/16)
	huge := bytes.Repeat([]byte{0xff}, 20000)
	var c net.Conn
	ns.do(t, func() { c, err = net.Dial("udp", "127.0.0.1:6000") })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][]byte{{}, {0}, big, huge, []byte("\x00\xff\xfe not text \x80")} {
		if _, err := c.Write(p); err != nil {
			t.Fatalf("send %d bytes: %v", len(p), err)
		}
	}
	c.Close()

	decodeErrors := func() float64 {
		var n float64
		for k, v := range wb.metrics() {
			if strings.HasPrefix(k, "wirebridge_source_decode_errors_total{") && strings.Contains(k, `source="raw"`) {
				n += v
			}
		}
		return n
	}
	waitFor(t, 10*time.Second, "3 decode errors and 5 udp datagrams", func() bool {
		return decodeErrors() >= 3 && wb.metric(`wirebridge_source_received_total{source="udp"}`) >= 5
	})
	m := wb.metrics()
	for k, v := range m {
		if strings.HasPrefix(k, "wirebridge_source_decode_errors_total") && v > 0 {
			t.Logf("%s %v", k, v)
		}
	}
	if got := decodeErrors(); got != 3 {
		t.Errorf("raw source decode errors %v, want 3 (one per malformed packet)", got)
	}
	if got := m[`wirebridge_source_truncated_total{source="udp"}`]; got != 1 {
		t.Errorf("udp source truncated %v, want 1 (the 20000-byte datagram)", got)
	}
	if code, _, err := wb.get("/healthz"); err != nil || code != 200 {
		t.Fatalf("/healthz after bad input: %d %v", code, err)
	}

	// Every packet became an event: malformed ones carry DecodeError, the
	// max_datagram-sized one is whole, the oversize one is flagged.
	waitFor(t, 10*time.Second, "the events in the archive", func() bool {
		return len(readNDJSON(t, filepath.Join(dir, "data/out.ndjson"))) >= 3+5+5 // raw sees the udp ones too
	})
	var withErr, whole, truncated int
	for _, l := range readNDJSON(t, filepath.Join(dir, "data/out.ndjson")) {
		e := parseEvent(t, l)
		if e.Detail.DecodeError != "" {
			withErr++
		}
		if e.Detail.Listener == "udp" {
			p := e.payload(t)
			switch {
			case bytes.Equal(p, big) && e.Detail.Length == len(big) && !e.Detail.Truncated:
				whole++
			case e.Detail.Truncated && e.Detail.Length == len(huge) && bytes.Equal(p, huge[:len(p)]):
				truncated++
			}
		}
	}
	if withErr != 3 || whole != 1 || truncated != 1 {
		t.Errorf("archive: %d events with DecodeError (want 3), %d whole 9216-byte payloads (want 1), %d truncated (want 1)",
			withErr, whole, truncated)
	}
	wb.signal(syscall.SIGTERM)
	if code := wb.exitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}
