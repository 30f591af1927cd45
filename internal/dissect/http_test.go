package dissect_test

import (
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/dissect"
)

func TestHTTPParse(t *testing.T) {
	type want struct {
		err                     string
		method, path, version   string
		status                  int
		reason, host, ctype, ua string
		clen                    int64
		complete                bool
		info                    string
	}
	payload := func(file string, no int) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { b, _ := payloadOfPacket(t, file, no); return b }
	}
	built := func(s string) func(t *testing.T) []byte { return func(*testing.T) []byte { return []byte(s) } }
	cases := []struct {
		name  string
		input func(t *testing.T) []byte
		head  bool // ParseHead instead of Parse
		want  want
	}{
		{"wget request (two vlans)", payload("arkime_twovlan.pcap", 4), false, want{
			method: "GET", path: "/", version: "HTTP/1.1", host: "xxxxxxx.xxx.xxx", ua: "Wget/1.15 (linux-gnu)",
			clen: -1, complete: true, info: "GET / HTTP/1.1"}},
		{"response head and body start", payload("arkime_twovlan.pcap", 6), false, want{
			version: "HTTP/1.1", status: 200, reason: "OK", ctype: "text/html; charset=utf-8", clen: 104548,
			complete: true, info: "HTTP/1.1 200 OK"}},
		{"docker head request on 2375", payload("zeek_http-docker-upgrade-chunked.pcap", 4), false, want{
			method: "HEAD", path: "/_ping", version: "HTTP/1.1", host: "192.168.122.87:2375",
			ua: "Docker-Client/27.3.1 (linux)", clen: -1, complete: true}},
		{"docker post with json", payload("zeek_http-docker-upgrade-chunked.pcap", 8), false, want{
			method: "POST", path: "/v1.41/containers/create", version: "HTTP/1.1", host: "192.168.122.87:2375",
			ua: "Docker-Client/27.3.1 (linux)", ctype: "application/json", clen: 1719, complete: true}},
		{"101 upgrade", payload("zeek_http-docker-upgrade-chunked.pcap", 16), false, want{
			version: "HTTP/1.1", status: 101, reason: "UPGRADED", ctype: "application/vnd.docker.raw-stream", clen: -1, complete: true}},
		{"chunked response", payload("pcap2har_http-chunked-gzip.pcap", 6), false, want{
			version: "HTTP/1.1", status: 200, reason: "OK", ctype: "text/html", clen: -1, complete: true}},
		{"body segment", payload("zeek_http-pipelined-requests.pcap", 8), false, want{err: "not protocol", clen: -1}},
		{"header names in any case", built("PUT /a HTTP/1.1\r\nhOsT: h.example\r\nCONTENT-type: text/plain\r\ncontent-length: 3\r\nuser-AGENT: x/1\r\n\r\nabc"), false, want{
			method: "PUT", path: "/a", version: "HTTP/1.1", host: "h.example", ctype: "text/plain", ua: "x/1", clen: 3, complete: true}},
		{"first of repeated headers, blanks trimmed", built("GET / HTTP/1.0\nHost:  \t one \t\nHost: two\n\n"), false, want{
			method: "GET", path: "/", version: "HTTP/1.0", host: "one", clen: -1, complete: true}},
		{"head continues in the next segment", built("GET /x HTTP/1.1\r\nHost: a.example\r\nUser-Ag"), false, want{
			method: "GET", path: "/x", version: "HTTP/1.1", host: "a.example", clen: -1}},
		{"ParseHead wants the whole head", built("GET /x HTTP/1.1\r\nHost: a.example\r\n"), true, want{
			err: "truncated", method: "GET", path: "/x", version: "HTTP/1.1", host: "a.example", clen: -1}},
		{"ParseHead", built("HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\n\r\n"), true, want{
			version: "HTTP/1.1", status: 304, reason: "Not Modified", clen: 0, complete: true}},
		{"start line cut", built("GET /very/long/pa"), false, want{err: "truncated", clen: -1}},
		{"status line cut", built("HTT"), false, want{err: "truncated", clen: -1}},
		{"status without reason", built("HTTP/1.1 204\r\n\r\n"), false, want{version: "HTTP/1.1", status: 204, clen: -1, complete: true, info: "HTTP/1.1 204"}},
		{"status not three digits", built("HTTP/1.1 20x OK\r\n\r\n"), false, want{err: "malformed", version: "HTTP/1.1", clen: -1}},
		{"header without colon", built("GET / HTTP/1.1\r\nHost: a\r\nbogus line\r\nUser-Agent: u\r\n\r\n"), false, want{
			err: "malformed", method: "GET", path: "/", version: "HTTP/1.1", host: "a", clen: -1}},
		{"obsolete line folding", built("GET / HTTP/1.1\r\nUser-Agent: a\r\n b\r\nHost: h\r\n\r\n"), false, want{
			method: "GET", path: "/", version: "HTTP/1.1", host: "h", ua: "a", clen: -1, complete: true}},
		{"bad content-length", built("POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n"), false, want{
			method: "POST", path: "/", version: "HTTP/1.1", clen: -1, complete: true}},
		{"http/0.9 request", built("GET /\r\n"), false, want{err: "not protocol", clen: -1}},
		{"tls on port 80", built("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n"), false, want{err: "not protocol", clen: -1}},
		{"ssh banner", built("SSH-2.0-OpenSSH_9.6\r\n"), false, want{err: "not protocol", clen: -1}},
		{"empty", built(""), false, want{err: "not protocol", clen: -1}},
		{"base64 body without line end", built("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkwYWJjZGVm"), false, want{err: "not protocol", clen: -1}},
		{"long method cut", built("UPDATEREDIRECTREF"), false, want{err: "truncated", clen: -1}},
	}
	var m dissect.HTTPMessage
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.head {
				err = m.ParseHead(c.input(t))
			} else {
				err = m.Parse(c.input(t))
			}
			got := want{err: kindOf(err), method: string(m.Method), path: string(m.Path), version: string(m.Version),
				status: int(m.Status), reason: string(m.Reason), host: string(m.Host), ctype: string(m.ContentType),
				ua: string(m.UserAgent), clen: m.ContentLength, complete: m.Complete, info: c.want.info}
			if c.want.info != "" {
				got.info = string(m.AppendInfo(nil))
			}
			if got != c.want {
				t.Errorf("\ngot  %+v\nwant %+v", got, c.want)
			}
			if resp := c.want.method == "" && c.want.version != ""; m.Response != resp {
				t.Errorf("Response %v, want %v", m.Response, resp)
			}
		})
	}
}

func TestHTTPAppendText(t *testing.T) {
	var m dissect.HTTPMessage
	if err := m.Parse([]byte("GET /item/2?q=" + strings.Repeat("x", 3) + " HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if got, want := string(m.AppendText(nil)), "HTTP: GET /item/2?q=xxx HTTP/1.1"; got != want {
		t.Errorf("AppendText %q, want %q", got, want)
	}
	if got, want := string(m.AppendInfo([]byte("x "))), "x GET /item/2?q=xxx HTTP/1.1"; got != want {
		t.Errorf("AppendInfo %q, want %q", got, want)
	}
}
