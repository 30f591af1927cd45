//go:build integration

package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeDissectsApplicationTraffic runs real clients — dig, curl,
// openssl s_client -servername, logger — against servers inside a namespace
// of the test's own (a tiny DNS responder on ports 53 and 5300, an HTTP
// server on 80, a TLS server on 443, a UDP syslog listener on 514), captures
// the loopback with the afpacket source through `wirebridge serve`, and
// checks that the events carry detail.DNS, detail.HTTP, detail.TLS,
// detail.Syslog and detail.PayloadText, that a Decode-As rule makes port
// 5300 DNS, and that rules on the new fields route exactly the events they
// name.
func TestServeDissectsApplicationTraffic(t *testing.T) {
	for _, tool := range []string{"dig", "curl", "openssl", "logger"} {
		needTool(t, tool)
	}
	ns := newNetns(t)
	dir := t.TempDir()

	stopDNS := serveDNS(t, ns, "127.0.0.1:53")
	defer stopDNS()
	stopLab := serveDNS(t, ns, "127.0.0.1:5300")
	defer stopLab()
	serveHTTP(t, ns, "127.0.0.1:80")
	serveTLS(t, ns, "127.0.0.1:443")
	var syslogConn *net.UDPConn
	ns.do(t, func() {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 514})
		if err != nil {
			t.Fatal(err)
		}
		syslogConn = c
	})
	defer syslogConn.Close()

	cfg := writeConfig(t, dir, fmt.Sprintf(`
data_dir: %s/data
http: {listen: "127.0.0.1:9090"}
dissect:
  decode_as:
    - {transport: udp, port: 5300, protocol: dns}
sources:
  - name: lo
    type: afpacket
    interface: lo
    filter: {ports: [53, 5300, 80, 443, 514]}
rules:
  - name: all
    pattern: {"source": ["wirebridge.afpacket"]}
    targets: [all]
  - name: example-org-queries
    pattern: {"detail": {"DNS": {"Questions": {"Name": [{"wildcard": "*.example.org"}]}}}}
    targets: [dns]
  - name: get-requests
    pattern: {"detail": {"PayloadText": [{"prefix": "GET"}]}}
    targets: [get]
targets:
  - {name: all, type: file, path: all.ndjson}
  - {name: dns, type: file, path: dns.ndjson}
  - {name: get, type: file, path: get.ndjson}
`, dir))
	wb := startWB(t, ns, dir, cfg, "127.0.0.1:9090")
	_ = wb

	ns.run(t, "dig", "+short", "+tries=1", "+time=2", "@127.0.0.1", "www.example.org", "A")
	ns.run(t, "dig", "+short", "+tries=1", "+time=2", "@127.0.0.1", "api.example.org", "AAAA")
	ns.run(t, "dig", "+short", "+tries=1", "+time=2", "@127.0.0.1", "www.example.com", "A")
	ns.run(t, "dig", "+short", "+tries=1", "+time=2", "-p", "5300", "@127.0.0.1", "lab.example.net", "TXT")
	ns.run(t, "curl", "-sS", "-o", "/dev/null", "-A", "dissect-test/1.0", "-H", "Host: shop.example.org", "http://127.0.0.1/item/2?x=1")
	openssl := ns.command("openssl", "s_client", "-connect", "127.0.0.1:443", "-servername", "secure.example.org", "-alpn", "h2,http/1.1")
	openssl.Stdin = strings.NewReader("")
	if out, err := openssl.CombinedOutput(); err != nil {
		t.Logf("openssl s_client: %v\n%s", err, tail(string(out), 2000)) // the handshake is what counts
	}
	ns.run(t, "logger", "-n", "127.0.0.1", "-P", "514", "-d", "--rfc3164", "-p", "local3.err", "-t", "dissect-test", "disk quota exceeded")

	type app struct {
		Detail struct {
			Destination struct{ Port int }
			PayloadText string
			DNS         *struct {
				ID        int
				Response  bool
				Opcode    string
				RCode     string
				Questions []struct{ Name, Type, Class string }
				Answers   []struct {
					Name, Type, Data string
					TTL              int
				}
			}
			HTTP *struct {
				Method, Path, Version, Host, Reason, UserAgent string
				Status                                         int
			}
			TLS *struct {
				HandshakeType, SNI, JA4 string
				ALPN, Versions          []string
			}
			Syslog *struct {
				Facility, Severity, AppName, Message string
				FacilityCode, SeverityCode           int
			}
		} `json:"detail"`
	}
	read := func(name string) []app {
		var out []app
		for _, l := range readNDJSON(t, filepath.Join(dir, "data", name+"*.ndjson")) {
			var e app
			if err := json.Unmarshal(l, &e); err != nil {
				t.Fatalf("%s: %v: %s", name, err, l)
			}
			out = append(out, e)
		}
		return out
	}
	has := func(evs []app, f func(*app) bool) bool {
		for i := range evs {
			if f(&evs[i]) {
				return true
			}
		}
		return false
	}
	question := func(e *app, name string) bool {
		return e.Detail.DNS != nil && len(e.Detail.DNS.Questions) > 0 && e.Detail.DNS.Questions[0].Name == name
	}
	checks := []struct {
		what string
		ok   func(*app) bool
	}{
		{"a DNS query for www.example.org", func(e *app) bool {
			return question(e, "www.example.org") && !e.Detail.DNS.Response && e.Detail.DNS.Questions[0].Type == "A" && e.Detail.DNS.Opcode == "QUERY"
		}},
		{"its answer", func(e *app) bool {
			return question(e, "www.example.org") && e.Detail.DNS.Response && e.Detail.DNS.RCode == "NOERROR" &&
				len(e.Detail.DNS.Answers) == 1 && e.Detail.DNS.Answers[0].Data == "192.0.2.80" && e.Detail.DNS.Answers[0].TTL == 300
		}},
		{"an AAAA query", func(e *app) bool { return question(e, "api.example.org") && e.Detail.DNS.Questions[0].Type == "AAAA" }},
		{"DNS on port 5300 (decode_as)", func(e *app) bool {
			return e.Detail.Destination.Port == 5300 && question(e, "lab.example.net") && e.Detail.DNS.Questions[0].Type == "TXT"
		}},
		{"the HTTP request", func(e *app) bool {
			h := e.Detail.HTTP
			return h != nil && h.Method == "GET" && h.Path == "/item/2?x=1" && h.Version == "HTTP/1.1" && h.Host == "shop.example.org" &&
				h.UserAgent == "dissect-test/1.0" && strings.HasPrefix(e.Detail.PayloadText, "GET /item/2?x=1 HTTP/1.1\r\n")
		}},
		{"the HTTP response", func(e *app) bool {
			return e.Detail.HTTP != nil && e.Detail.HTTP.Status == 200 && e.Detail.HTTP.Reason == "OK"
		}},
		{"the TLS ClientHello", func(e *app) bool {
			s := e.Detail.TLS
			return s != nil && s.HandshakeType == "client_hello" && s.SNI == "secure.example.org" &&
				strings.Join(s.ALPN, ",") == "h2,http/1.1" && len(s.Versions) > 0 && strings.HasPrefix(s.JA4, "t1")
		}},
		{"the TLS ServerHello", func(e *app) bool { return e.Detail.TLS != nil && e.Detail.TLS.HandshakeType == "server_hello" }},
		{"the syslog message", func(e *app) bool {
			s := e.Detail.Syslog
			return s != nil && s.Facility == "local3" && s.FacilityCode == 19 && s.Severity == "err" && s.SeverityCode == 3 &&
				s.AppName == "dissect-test" && s.Message == "disk quota exceeded"
		}},
	}
	// Wait until every expected event is in (or give up after 20s and
	// report the missing ones).
	var all []app
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		all = read("all")
		missing := false
		for _, c := range checks {
			missing = missing || !has(all, c.ok)
		}
		if !missing || time.Now().After(deadline) {
			break
		}
	}
	for _, c := range checks {
		if !has(all, c.ok) {
			t.Errorf("no event has %s", c.what)
		}
	}

	// The DNS rule routes the example.org queries and answers, and nothing else.
	dns := read("dns")
	for _, name := range []string{"www.example.org", "api.example.org"} {
		if !has(dns, func(e *app) bool { return question(e, name) }) {
			t.Errorf("the *.example.org rule did not route %s", name)
		}
	}
	for _, e := range dns {
		if e.Detail.DNS == nil || len(e.Detail.DNS.Questions) == 0 || !strings.HasSuffix(e.Detail.DNS.Questions[0].Name, ".example.org") {
			t.Errorf("the *.example.org rule routed %+v", e.Detail)
		}
	}
	if has(all, func(e *app) bool { return question(e, "www.example.com") }) == false {
		t.Error("no event for the www.example.com query (the rule's negative case)")
	}
	// The PayloadText rule routes the HTTP request and only text starting GET.
	get := read("get")
	if !has(get, func(e *app) bool { return e.Detail.HTTP != nil && e.Detail.HTTP.Path == "/item/2?x=1" }) {
		t.Error("the PayloadText prefix rule did not route the HTTP request")
	}
	for _, e := range get {
		if !strings.HasPrefix(e.Detail.PayloadText, "GET") {
			t.Errorf("the PayloadText prefix rule routed %q", e.Detail.PayloadText)
		}
	}
}

// serveDNS answers every DNS query on addr (UDP, inside ns) with one A
// record 192.0.2.80 (TTL 300) for A queries, and an empty NOERROR answer
// otherwise.
func serveDNS(t *testing.T, ns *netns, addr string) func() {
	t.Helper()
	var c *net.UDPConn
	ns.do(t, func() {
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if c, err = net.ListenUDP("udp", ua); err != nil {
			t.Fatal(err)
		}
	})
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswer(buf[:n]); resp != nil {
				_, _ = c.WriteToUDP(resp, from)
			}
		}
	}()
	return func() { c.Close() }
}

// dnsAnswer builds the response to query q (one question), or nil.
func dnsAnswer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	end := 12
	for end < len(q) && q[end] != 0 {
		end += int(q[end]) + 1
	}
	end += 5 // the root label, QTYPE, QCLASS
	if end > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[end-4 : end-2])
	r := append([]byte(nil), q[:end]...)
	r[2], r[3] = 0x81, 0x80 // QR, RD, RA; NOERROR
	binary.BigEndian.PutUint16(r[6:8], 0)
	binary.BigEndian.PutUint16(r[8:10], 0)
	binary.BigEndian.PutUint16(r[10:12], 0)
	if qtype == 1 {
		binary.BigEndian.PutUint16(r[6:8], 1)
		r = append(r, 0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 80)
	}
	return r
}

// serveHTTP serves 200 OK on addr inside ns until the test ends.
func serveHTTP(t *testing.T, ns *netns, addr string) {
	t.Helper()
	var ln net.Listener
	var err error
	ns.do(t, func() { ln, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
}

// serveTLS completes TLS handshakes on addr inside ns (a self-signed
// certificate made for the test) until the test ends.
func serveTLS(t *testing.T, ns *netns, addr string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "secure.example.org"},
		DNSNames: []string{"secure.example.org"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	ns.do(t, func() { ln, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, NextProtos: []string{"h2", "http/1.1"}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
				_ = tc.Handshake()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
}
