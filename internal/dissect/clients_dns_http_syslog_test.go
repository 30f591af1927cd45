//go:build integration

package dissect_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/dissect"
)

// Real clients on loopback: the bytes dig, curl, logger and Go's net/http
// server put on the wire, parsed by the dissectors.

func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s: %v (install it: the integration tests use the real client)", name, err)
	}
	return p
}

// runL7Client starts a client command; wait returns its error and output.
func runL7Client(t *testing.T, name string, args ...string) (wait func() (string, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	cmd := exec.CommandContext(ctx, lookTool(t, name), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	return func() (string, error) {
		defer cancel()
		err := cmd.Wait()
		return out.String(), err
	}
}

func loopbackUDP(t *testing.T) (*net.UDPConn, string) {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, fmt.Sprint(c.LocalAddr().(*net.UDPAddr).Port)
}

func loopbackTCP(t *testing.T) (net.Listener, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

func recvDatagram(t *testing.T, c *net.UDPConn) ([]byte, *net.UDPAddr) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second)) // only so that a missing client cannot hang the test
	buf := make([]byte, 65536)
	n, from, err := c.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return buf[:n], from
}

// dnsAnswer builds a response to query q with one A record.
func dnsAnswer(q *dissect.DNSMessage, raw []byte) []byte {
	qEnd := 12
	for qEnd < len(raw) && raw[qEnd] != 0 {
		qEnd += int(raw[qEnd]) + 1
	}
	qEnd += 5
	r := append([]byte(nil), raw[:qEnd]...)
	binary.BigEndian.PutUint16(r[2:], 0x8180)
	binary.BigEndian.PutUint16(r[6:], 1)  // one answer
	binary.BigEndian.PutUint16(r[8:], 0)  // no authority
	binary.BigEndian.PutUint16(r[10:], 0) // no additional (the query's OPT is dropped)
	m := &dnsMsg{b: r}
	m.ptr(12).rr(1, 1, 300, func(m *dnsMsg) { m.raw(192, 0, 2, 7) })
	return m.b
}

func TestDigUDPAndTCP(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tcp   bool
		qtype string
		typ   uint16
	}{
		{"udp A", false, "A", 1},
		{"udp MX", false, "MX", 15},
		{"tcp AAAA", true, "AAAA", 28},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raw []byte
			var reply func([]byte)
			args := []string{"+tries=1", "+time=5", "-t", tc.qtype, "www.example.org"}
			if tc.tcp {
				l, port := loopbackTCP(t)
				wait := runL7Client(t, "dig", append([]string{"@127.0.0.1", "-p", port, "+tcp"}, args...)...)
				conn, err := l.Accept()
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				var hdr [2]byte
				if _, err := io.ReadFull(conn, hdr[:]); err != nil {
					t.Fatal(err)
				}
				raw = make([]byte, 2+int(binary.BigEndian.Uint16(hdr[:])))
				copy(raw, hdr[:])
				if _, err := io.ReadFull(conn, raw[2:]); err != nil {
					t.Fatal(err)
				}
				reply = func(b []byte) {
					_, _ = conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...))
				}
				defer func() {
					if out, err := wait(); err != nil {
						t.Errorf("dig: %v\n%s", err, out)
					}
				}()
			} else {
				c, port := loopbackUDP(t)
				wait := runL7Client(t, "dig", append([]string{"@127.0.0.1", "-p", port}, args...)...)
				var from *net.UDPAddr
				raw, from = recvDatagram(t, c)
				reply = func(b []byte) { _, _ = c.WriteToUDP(b, from) }
				defer func() {
					if out, err := wait(); err != nil {
						t.Errorf("dig: %v\n%s", err, out)
					}
				}()
			}
			var m dissect.DNSMessage
			if err := m.Parse(raw, tc.tcp); err != nil {
				t.Fatalf("parse dig's query: %v", err)
			}
			if m.Response || !m.RecursionDesired || m.OpcodeName() != "QUERY" || m.NQuestions != 1 || m.ARCount != 1 {
				t.Errorf("header: response %v rd %v opcode %s questions %d additional %d (dig sends one EDNS OPT record)",
					m.Response, m.RecursionDesired, m.OpcodeName(), m.NQuestions, m.ARCount)
			}
			q := m.Questions[0]
			if string(q.Name) != "www.example.org" || q.Type != tc.typ || q.TypeName() != tc.qtype || q.ClassName() != "IN" {
				t.Errorf("question %s %s %s", q.Name, q.TypeName(), q.ClassName())
			}
			body := raw
			if tc.tcp {
				body = raw[2:]
			}
			resp := dnsAnswer(&m, body)
			reply(resp)
			var r dissect.DNSMessage
			if err := r.Parse(resp, false); err != nil || r.NAnswers != 1 || string(r.Answers[0].Data) != "192.0.2.7" {
				t.Errorf("response: %v %d", err, r.NAnswers)
			}
		})
	}
}

func TestCurlRequestAndGoResponse(t *testing.T) {
	l, port := loopbackTCP(t)
	wait := runL7Client(t, "curl", "-s", "-o", "/dev/null", "-A", "wb-test/1.0", "-H", "Content-Type: application/json",
		"-d", `{"a":1}`, "http://127.0.0.1:"+port+"/item/2?x=1")
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	head := readHTTPHead(t, conn)
	var m dissect.HTTPMessage
	if err := m.ParseHead(head); err != nil {
		t.Fatalf("parse curl's head: %v\n%s", err, head)
	}
	got := fmt.Sprintf("%s %s %s host=%s ua=%s ct=%s cl=%d", m.Method, m.Path, m.Version, m.Host, m.UserAgent, m.ContentType, m.ContentLength)
	want := "POST /item/2?x=1 HTTP/1.1 host=127.0.0.1:" + port + " ua=wb-test/1.0 ct=application/json cl=7"
	if got != want {
		t.Errorf("curl request:\ngot  %s\nwant %s", got, want)
	}
	_, _ = conn.Write([]byte("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"))
	conn.Close()
	if out, err := wait(); err != nil {
		t.Errorf("curl: %v\n%s", err, out)
	}

	// A response head written by Go's net/http server.
	hl, hport := loopbackTCP(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("short and stout"))
	})}
	go func() { _ = srv.Serve(hl) }()
	defer srv.Close()
	c, err := net.Dial("tcp", "127.0.0.1:"+hport)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("GET /tea HTTP/1.1\r\nHost: x\r\n\r\n"))
	head = readHTTPHead(t, c)
	if err := m.ParseHead(head); err != nil {
		t.Fatalf("parse net/http's head: %v\n%s", err, head)
	}
	if !m.Response || m.Status != 418 || string(m.Reason) != "I'm a teapot" || string(m.ContentType) != "text/plain; charset=utf-8" || m.ContentLength != 15 {
		t.Errorf("response: %s %d %q %q %d", m.Version, m.Status, m.Reason, m.ContentType, m.ContentLength)
	}
}

// readHTTPHead reads from c up to and including the empty line ending a head.
func readHTTPHead(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	var head []byte
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		line, err := r.ReadBytes('\n')
		head = append(head, line...)
		if err != nil {
			t.Fatalf("read head: %v (%q)", err, head)
		}
	}
	return head
}

func TestLogger(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ = strings.Cut(host, ".") // logger sends the short name in RFC 3164
	cases := []struct {
		name  string
		tcp   bool
		args  []string
		check func(t *testing.T, m *dissect.SyslogMessage)
	}{
		{"udp rfc5424", false, []string{"--udp", "--rfc5424", "--msgid", "ID7", "--sd-id", "test@32473", "--sd-param", `k="v"`,
			"-t", "myapp", "-p", "local3.warning", "hello 5424"},
			func(t *testing.T, m *dissect.SyslogMessage) {
				if m.Format != dissect.SyslogRFC5424 || m.Facility() != "local3" || m.Severity() != "warning" ||
					string(m.AppName) != "myapp" || string(m.MsgID) != "ID7" || string(m.Message) != "hello 5424" ||
					!bytes.Contains(m.StructuredData, []byte(`[test@32473 k="v"]`)) || len(m.Timestamp3339) == 0 || len(m.Hostname) == 0 {
					t.Errorf("%+v", syslogFields(m))
				}
			}},
		{"udp rfc3164", false, []string{"--udp", "--rfc3164", "-t", "sshd", "--id=4242", "-p", "auth.err", "Failed password for bob"},
			func(t *testing.T, m *dissect.SyslogMessage) {
				if m.Format != dissect.SyslogRFC3164 || m.Facility() != "auth" || m.Severity() != "err" ||
					string(m.AppName) != "sshd" || string(m.ProcID) != "4242" || string(m.Hostname) != host ||
					string(m.Message) != "Failed password for bob" || len(m.Timestamp) != 15 || len(m.Timestamp3339) != 0 {
					t.Errorf("%+v", syslogFields(m))
				}
			}},
		{"tcp octet counting", true, []string{"--tcp", "--octet-count", "--rfc5424", "-t", "web", "-p", "user.info", "over tcp"},
			func(t *testing.T, m *dissect.SyslogMessage) {
				if m.Format != dissect.SyslogRFC5424 || m.Facility() != "user" || m.Severity() != "info" ||
					string(m.AppName) != "web" || string(m.Message) != "over tcp" {
					t.Errorf("%+v", syslogFields(m))
				}
			}},
		{"tcp LF framing", true, []string{"--tcp", "--rfc3164", "-t", "cron", "-p", "cron.notice", "job done"},
			func(t *testing.T, m *dissect.SyslogMessage) {
				if m.Format != dissect.SyslogRFC3164 || m.Facility() != "cron" || m.Severity() != "notice" ||
					string(m.AppName) != "cron" || string(m.Message) != "job done" {
					t.Errorf("%+v", syslogFields(m))
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var raw []byte
			var m dissect.SyslogMessage
			var perr error
			if c.tcp {
				l, port := loopbackTCP(t)
				wait := runL7Client(t, "logger", append([]string{"--server", "127.0.0.1", "--port", port}, c.args...)...)
				conn, err := l.Accept()
				if err != nil {
					t.Fatal(err)
				}
				raw, err = io.ReadAll(conn) // logger closes the connection after its message
				conn.Close()
				if err != nil {
					t.Fatal(err)
				}
				if out, err := wait(); err != nil {
					t.Fatalf("logger: %v\n%s", err, out)
				}
				perr = m.ParseTCP(raw)
			} else {
				u, port := loopbackUDP(t)
				wait := runL7Client(t, "logger", append([]string{"--server", "127.0.0.1", "--port", port}, c.args...)...)
				raw, _ = recvDatagram(t, u)
				if out, err := wait(); err != nil {
					t.Fatalf("logger: %v\n%s", err, out)
				}
				perr = m.Parse(raw)
			}
			if perr != nil {
				t.Fatalf("parse %q: %v", raw, perr)
			}
			c.check(t, &m)
			t.Logf("%q", raw)
		})
	}
}

func syslogFields(m *dissect.SyslogMessage) map[string]string {
	return map[string]string{"format": m.Format.String(), "facility": m.Facility(), "severity": m.Severity(),
		"ts": string(m.Timestamp), "ts3339": string(m.Timestamp3339), "host": string(m.Hostname), "app": string(m.AppName),
		"pid": string(m.ProcID), "msgid": string(m.MsgID), "sd": string(m.StructuredData), "msg": string(m.Message)}
}
