package httpstream

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

type parsed struct {
	msgs []*Message
	errs []string
}

func parseAll(response bool, pieces ...[]byte) parsed {
	return parseWith(response, false, pieces...)
}

// parseWith parses pieces; stop sets StopOnError (request lines found after
// an error are noted as errors "skipped").
func parseWith(response, stop bool, pieces ...[]byte) parsed {
	var out parsed
	p := NewParser(response, 1024, 1<<20, true, func(m *Message) { out.msgs = append(out.msgs, m) },
		func(r string) { out.errs = append(out.errs, r) })
	if stop {
		p.StopOnError(func() { out.errs = append(out.errs, "skipped") })
	}
	for _, b := range pieces {
		p.Feed(b)
	}
	p.Close()
	return out
}

func summary(ms []*Message) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%s %s %s %d len=%d sha=%x raw=%q up=%v|", m.Method, m.URI, m.Proto, m.Status, m.BodyLen, m.BodySHA256[:4], m.Body, m.Upgrade)
	}
	return b.String()
}

func TestRequestParser(t *testing.T) {
	sum := func(s string) [32]byte { return sha256.Sum256([]byte(s)) }
	tests := []struct {
		name   string
		in     string
		want   []string // method uri
		bodies []string // decoded bodies
		errs   int
	}{
		{"get", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET /a"}, []string{""}, 0},
		{"pipelined", "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /3 HTTP/1.1\r\n\r\n",
			[]string{"GET /1", "GET /2", "HEAD /3"}, []string{"", "", ""}, 0},
		{"content-length", "POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /n HTTP/1.1\r\n\r\n",
			[]string{"POST /p", "GET /n"}, []string{"hello", ""}, 0},
		{"chunked with extension and trailer", "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nGET /after HTTP/1.1\r\n\r\n",
			[]string{"POST /c", "GET /after"}, []string{"hello world", ""}, 0},
		{"expect 100-continue", "PUT /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
			[]string{"PUT /e"}, []string{"abc"}, 0},
		{"http/1.0 and LF only", "GET /old HTTP/1.0\nUser-Agent: a\n\n", []string{"GET /old"}, []string{""}, 0},
		{"empty lines between requests", "GET /1 HTTP/1.1\r\n\r\n\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", []string{"GET /1", "GET /2"}, []string{"", ""}, 0},
		{"garbage then a request", "\x00\x01junk\r\nmore junk\nGET /ok HTTP/1.1\r\n\r\n", []string{"GET /ok"}, []string{""}, 1},
		{"conflicting content-length", "POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcdGET /y HTTP/1.1\r\n\r\n",
			// the body's end is unknown: resync takes the next line that is a request line
			// by the grammar (any method token), here one that begins inside the body
			[]string{"abcdGET /y"}, []string{""}, 1},
		{"bad chunk size", "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /y HTTP/1.1\r\n\r\n", []string{"GET /y"}, []string{""}, 1},
		{"upgrade stops parsing", "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /not-http HTTP/1.1\r\n\r\n",
			[]string{"GET /ws"}, []string{""}, 0},
		{"header too large", "GET /big HTTP/1.1\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\nGET /small HTTP/1.1\r\n\r\n",
			[]string{"GET /small"}, []string{""}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			whole := parseAll(false, []byte(tc.in))
			var got []string
			for i, m := range whole.msgs {
				got = append(got, m.Method+" "+m.URI)
				if i < len(tc.bodies) && m.BodySHA256 != sum(tc.bodies[i]) {
					t.Errorf("request %d body hash mismatch (len %d)", i, m.BodyLen)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("requests = %q, want %q", got, tc.want)
			}
			if len(whole.errs) != tc.errs {
				t.Errorf("errors = %v, want %d", whole.errs, tc.errs)
			}
			// Any split gives the same result.
			for cut := 1; cut < len(tc.in); cut++ {
				split := parseAll(false, []byte(tc.in[:cut]), []byte(tc.in[cut:]))
				if summary(split.msgs) != summary(whole.msgs) {
					t.Fatalf("split at %d:\n got %s\nwant %s", cut, summary(split.msgs), summary(whole.msgs))
				}
			}
		})
	}
}

// TestRequestParserStopsOnError: with StopOnError (the default of a replay
// target) nothing after a parse error is parsed; each request line found
// after it is reported (counted as dropped), none is returned.
func TestRequestParserStopsOnError(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		errs    int
		skipped int
	}{
		{"both content-length and transfer-encoding", "GET /1 HTTP/1.1\r\n\r\nPOST /s HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n",
			[]string{"GET /1"}, 1, 2},
		{"bad chunk", "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /smuggled HTTP/1.1\r\n\r\n", nil, 1, 1},
		{"bad start line", "\x00junk\r\nGET /x HTTP/1.1\r\n\r\n", nil, 1, 1},
		{"no error", "QUERY /q HTTP/1.1\r\n\r\nM-SEARCH * HTTP/1.1\r\n\r\n", []string{"QUERY /q", "M-SEARCH *"}, 0, 0},
		// RFC 9110 section 8.6 and RFC 9112 section 7.1: Content-Length is
		// 1*DIGIT, a chunk size 1*HEXDIG; a sign makes either invalid (Go's
		// net/http and nginx answer 400), so the body's end is unknown.
		{"content-length with a plus sign", "POST /s HTTP/1.1\r\nContent-Length: +4\r\n\r\nabcdGET /smuggled HTTP/1.1\r\n\r\n", nil, 1, 1},
		{"content-length minus zero", "POST /s HTTP/1.1\r\nContent-Length: -0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", nil, 1, 1},
		// RFC 9112 section 6.1: Transfer-Encoding in an HTTP/1.0 message
		// is faulty framing (Go's net/http ignores it and reads no body,
		// nginx since 1.21.1 answers 400), so the end of the body is unknown.
		{"transfer-encoding in http/1.0", "POST /old HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", nil, 1, 1},
		{"chunk size with a plus sign", "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", nil, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for cut := 0; cut <= len(tc.in); cut++ {
				var got, errs []string
				skipped := 0
				p := NewParser(false, 1024, 1<<20, true, func(m *Message) { got = append(got, m.Method+" "+m.URI) },
					func(r string) { errs = append(errs, r) })
				p.StopOnError(func() { skipped++ })
				p.Feed([]byte(tc.in[:cut]))
				p.Feed([]byte(tc.in[cut:]))
				if strings.Join(got, ",") != strings.Join(tc.want, ",") || len(errs) != tc.errs || skipped != tc.skipped {
					t.Fatalf("cut %d: requests %q errors %v skipped %d, want %q %d %d", cut, got, errs, skipped, tc.want, tc.errs, tc.skipped)
				}
			}
		})
	}
}

// TestRequestLineMethods: any RFC 9110 token is a method; anything else is not.
func TestRequestLineMethods(t *testing.T) {
	tests := []struct {
		name string
		line string
		ok   bool
	}{
		{"GET", "GET / HTTP/1.1\r\n", true},
		{"QUERY", "QUERY /q HTTP/1.1\r\n", true},
		{"CCM_POST", "CCM_POST /c HTTP/1.1\r\n", true},
		{"M-SEARCH", "M-SEARCH * HTTP/1.1\r\n", true},
		{"LINK", "LINK /l HTTP/1.0\n", true},
		{"every tchar", "!#$%&'*+-.^_`|~09azAZ / HTTP/1.1\r\n", true},
		{"separator in method", "GE(T / HTTP/1.1\r\n", false},
		{"no target", "GET  HTTP/1.1\r\n", false},
		{"http/2", "GET / HTTP/2.0\r\n", false},
		{"control character in target", "GET /\x01 HTTP/1.1\r\n", false},
		{"no method", " / HTTP/1.1\r\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := parseAll(false, []byte(tc.line+"\r\n"))
			if got := len(r.msgs) == 1; got != tc.ok {
				t.Errorf("parsed = %v (errors %v), want %v", got, r.errs, tc.ok)
			}
			p := NewParser(false, 1024, 0, false, nil, nil)
			if ok, _ := p.looksLikeStart([]byte(tc.line)); ok != tc.ok {
				t.Errorf("looksLikeStart = %v, want %v", ok, tc.ok)
			}
		})
	}
}

func TestRequestParserKeepsWireBody(t *testing.T) {
	in := "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	r := parseAll(false, []byte(in))
	if len(r.msgs) != 1 || string(r.msgs[0].Body) != "3\r\nabc\r\n0\r\n\r\n" || !r.msgs[0].Chunked || r.msgs[0].BodyLen != 3 {
		t.Fatalf("got %s", summary(r.msgs))
	}
}

func TestResponseParser(t *testing.T) {
	var got []*Message
	p := NewParser(true, 1024, 0, false, func(m *Message) { got = append(got, m) }, func(string) {})
	for _, m := range []string{"GET", "HEAD", "POST", "GET"} {
		p.ExpectResponseTo(m)
	}
	p.Feed([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi" +
		"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + // HEAD: no body
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" +
		"HTTP/1.0 200 OK\r\n\r\nuntil close"))
	p.Close()
	want := []struct {
		status int
		body   string
	}{{200, "hi"}, {200, ""}, {100, ""}, {201, "ok"}, {200, "until close"}}
	if len(got) != len(want) {
		t.Fatalf("responses = %s", summary(got))
	}
	for i, w := range want {
		if got[i].Status != w.status || got[i].BodySHA256 != sha256.Sum256([]byte(w.body)) {
			t.Errorf("response %d = %d len %d, want %d %q", i, got[i].Status, got[i].BodyLen, w.status, w.body)
		}
	}
}

func TestRequestParserGap(t *testing.T) {
	var got []string
	var errs []string
	p := NewParser(false, 1024, 1<<20, true, func(m *Message) { got = append(got, m.URI) }, func(r string) { errs = append(errs, r) })
	p.Feed([]byte("POST /lost HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"))
	p.Gap()
	p.Feed([]byte("hij\r\nGET /next HTTP/1.1\r\n\r\n"))
	if strings.Join(got, ",") != "/next" || len(errs) != 1 || errs[0] != ReasonGap {
		t.Fatalf("got %v errs %v", got, errs)
	}
}

// FuzzHTTPRequestParser: no panic; feeding the input in two pieces gives
// the same requests as feeding it whole; kept bodies match their lengths.
func FuzzHTTPRequestParser(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"), 10)
	f.Add([]byte("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\n0\r\nT: 1\r\n\r\n"), 40)
	f.Add([]byte("junk\nGET /ok HTTP/1.0\n\n"), 3)
	f.Add([]byte("GET /ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\nxx"), 20)
	f.Add([]byte("POST /s HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\n\r\n"), 50)
	f.Add([]byte("M-SEARCH * HTTP/1.1\r\n\r\nQUERY /q HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"), 7)
	f.Fuzz(func(t *testing.T, in []byte, cut int) {
		whole := parseAll(false, in)
		if cut < 0 {
			cut = -cut
		}
		if len(in) > 0 {
			cut %= len(in) + 1
		} else {
			cut = 0
		}
		split := parseAll(false, in[:cut], in[cut:])
		if summary(split.msgs) != summary(whole.msgs) {
			t.Fatalf("split at %d:\n got %s\nwant %s", cut, summary(split.msgs), summary(whole.msgs))
		}
		// With StopOnError (a replay target's default) too, and the same
		// requests counted as skipped.
		ws, ss := parseWith(false, true, in), parseWith(false, true, in[:cut], in[cut:])
		if summary(ss.msgs) != summary(ws.msgs) || strings.Join(ss.errs, ",") != strings.Join(ws.errs, ",") {
			t.Fatalf("stop mode, split at %d:\n got %s %v\nwant %s %v", cut, summary(ss.msgs), ss.errs, summary(ws.msgs), ws.errs)
		}
		for _, m := range whole.msgs {
			if !m.Chunked && !m.Oversize && int64(len(m.Body)) != m.BodyLen {
				t.Fatalf("body %d bytes, length %d", len(m.Body), m.BodyLen)
			}
		}
	})
}

// TestParserGivesBackItsBuffer: a flow's parser does not keep a large
// buffer once the bytes in it are decided. A hole followed by a long run of
// token characters (base64, form data) is held while it may still be a
// request line (up to 8 KiB), and a large head while it is read; afterwards
// the flow holds its few bytes again, not the largest it ever saw (measured:
// 10,000 flows after an out-of-order flood of such bytes kept 130 MB of heap
// with nothing buffered).
func TestParserGivesBackItsBuffer(t *testing.T) {
	const most = 4096
	tests := []struct {
		name string
		feed func(p *Parser)
	}{
		{"a long token run after a gap", func(p *Parser) {
			p.Feed([]byte("GET /a HTTP/1.1\r\n\r\n"))
			p.Gap()
			for range 40 {
				p.Feed([]byte(strings.Repeat("x", 250)))
			}
			p.Feed([]byte("\r\nGET /b HTTP/1.1\r\n\r\n"))
		}},
		{"a long token run in a stopped stream", func(p *Parser) {
			p.Feed([]byte("GET /a HTTP/1.1\r\n\r\n\x00bad\r\n"))
			for range 40 {
				p.Feed([]byte(strings.Repeat("x", 250)))
			}
			p.Feed([]byte("\r\n"))
		}},
		{"a large head", func(p *Parser) {
			p.Feed([]byte("GET /big HTTP/1.1\r\nX: " + strings.Repeat("a", 30000) + "\r\n\r\n"))
			p.Feed([]byte("GET /b HTTP/1.1\r\n\r\n"))
		}},
		{"a long chunk extension", func(p *Parser) {
			p.Feed([]byte("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;" + strings.Repeat("e", 3000)))
			p.Feed([]byte(strings.Repeat("e", 1000) + "\r\nabc\r\n0\r\n\r\n"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, stop := range []bool{false, true} {
				p := NewParser(false, 64<<10, 1<<20, false, func(*Message) {}, func(string) {})
				if stop {
					p.StopOnError(nil)
				}
				tc.feed(p)
				if c := cap(p.buf); c > most {
					t.Errorf("stop=%v: the parser keeps a %d-byte buffer holding %d bytes (want at most %d)", stop, c, len(p.buf), most)
				}
			}
		})
	}
}
