// Package httpstream parses HTTP/1.x messages from reassembled TCP byte
// streams. It sits inside the last stage of the data path, under the replay
// target (internal/target/replay), between the TCP reassembler
// (internal/tcpreasm) and the forwarding to a shadow service:
//
//	tcpreasm (client / server bytes) ──► Parser.Feed ──► Message ──► replay (filter, forward, compare)
//
// A Parser is fed one direction of one connection in pieces of any size and
// yields each complete message; it never reads past what it was given and
// bounds what it buffers (MaxHeader for the head, MaxBody for a kept body).
// After a gap, or when joining a stream mid-way, it looks for the next
// request line. After a parse error it either stops (StopOnError: the rest
// of the stream is only scanned, and each request line found in it is
// reported to onSkip, never parsed) or resynchronises the same way as after
// a gap, which replays whatever looks like a request line in a body it could
// not frame (a smuggled request).
package httpstream

import (
	"bytes"
	"crypto/sha256"
	"hash"
	"strconv"
	"strings"
)

// Header is one header field as it appeared (name case kept).
type Header struct {
	Name, Value string
}

// Message is one parsed HTTP/1.x request or response.
type Message struct {
	// Request line, or status line.
	Method, URI, Proto string
	Status             int
	Headers            []Header
	// Body is the body as framed on the wire (chunk framing and trailers
	// included), kept for requests only; nil when the body was larger than
	// MaxBody (Oversize).
	Body     []byte
	Oversize bool
	// BodyLen and BodySHA256 describe the body after chunked decoding.
	BodyLen    int64
	BodySHA256 [32]byte
	Chunked    bool
	// Upgrade: a CONNECT request or an Upgrade handshake; bytes after it are not HTTP.
	Upgrade bool
}

// Get returns the value of the first header named name (case-insensitive).
func (m *Message) Get(name string) (string, bool) {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

type pstate uint8

const (
	psHead pstate = iota
	psBody
	psChunkSize
	psChunkData
	psChunkDataEnd
	psTrailer
	psUntilClose
	psResync
	psOpaque
	psStopped // after a parse error with stopOnError: count request lines, parse nothing
)

// Reasons a Parser reports to its onError function (metric label values).
const (
	ReasonBadStart   = "bad_start_line"
	ReasonBadHeader  = "bad_header"
	ReasonHeadTooBig = "head_too_large"
	ReasonBadLength  = "bad_length"
	ReasonBadChunk   = "bad_chunk"
	ReasonGap        = "gap"
	ReasonMidstream  = "midstream" // a flow joined mid-stream began inside a request
)

// Parser is an incremental HTTP/1.x parser for one direction of one flow.
// It is not safe for concurrent use.
type Parser struct {
	response  bool
	maxHeader int
	maxBody   int
	keepBody  bool

	state     pstate
	lineStart bool   // resync: the next byte starts a line
	joined    bool   // joined mid-stream, no start line found yet
	buf       []byte // unconsumed head / chunk-size / trailer bytes
	cur       *Message
	remain    int64 // body or chunk bytes still to come
	sum       hash.Hash

	// methods, for responses: the methods of the requests in order, so
	// that a response to HEAD is known to have no body (ExpectResponseTo).
	methods []string

	onMessage func(*Message)
	onError   func(reason string)

	// stopOnError: a parse error in a request stream stops the parsing;
	// onSkip is called for each request line found after it.
	stopOnError bool
	onSkip      func()
}

// NewParser returns a parser of requests, or of responses when response is
// set. maxHeader bounds a head (default 64 KiB when not positive); a request
// body longer than maxBody is not kept (Message.Oversize). keepBody keeps
// request bodies as framed on the wire. onMessage is called for each
// complete message, onError with a Reason* for each error.
func NewParser(response bool, maxHeader, maxBody int, keepBody bool, onMessage func(*Message), onError func(reason string)) *Parser {
	if maxHeader <= 0 {
		maxHeader = 64 << 10
	}
	return &Parser{response: response, maxHeader: maxHeader, maxBody: maxBody, keepBody: keepBody,
		onMessage: onMessage, onError: onError, sum: sha256.New()}
}

// StopOnError makes a parse error in a request stream stop the parsing: the
// rest of the stream is only scanned, and onSkip (if not nil) is called for
// each request line found in it. Without it the parser resynchronises at the
// next request line.
func (p *Parser) StopOnError(onSkip func()) { p.stopOnError, p.onSkip = true, onSkip }

// ExpectResponseTo tells a response parser the method of the next request
// of the connection, in order, so that a response to HEAD is known to have
// no body.
func (p *Parser) ExpectResponseTo(method string) { p.methods = append(p.methods, method) }

// maxStartLine bounds a request line looked for by resync (and so what it
// buffers of a line cut by the end of a piece); startCheck is how much of a
// head's beginning is checked before the head is complete.
const (
	maxStartLine = 8 << 10
	startCheck   = 16
)

// tchar reports whether c may appear in a token (RFC 9110 section 5.6.2):
// a method is any token.
func tchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// looksLikeStart reports whether b begins with a request line (for
// responses: a status line prefix). A request line is checked whole, up to
// its line end: method token, SP, request target (visible characters), SP,
// HTTP/1.<digit>, CRLF or LF. need says that b is a prefix of one and more
// bytes are needed to decide (never beyond MaxHeader).
func (p *Parser) looksLikeStart(b []byte) (ok, need bool) {
	if p.response {
		const pre = "HTTP/1."
		n := min(len(b), len(pre))
		if string(b[:n]) != pre[:n] {
			return false, false
		}
		return n == len(pre), n < len(pre)
	}
	more := len(b) < min(p.maxHeader, maxStartLine) // a longer line is not taken for a start line
	i := 0
	for i < len(b) && tchar(b[i]) {
		i++
	}
	if i == len(b) {
		return false, more
	}
	if i == 0 || b[i] != ' ' {
		return false, false
	}
	j := i + 1
	for j < len(b) && b[j] > ' ' && b[j] < 0x7f {
		j++
	}
	if j == len(b) {
		return false, more
	}
	if j == i+1 || b[j] != ' ' {
		return false, false
	}
	const ver = "HTTP/1.?\r\n"
	v := b[j+1:]
	for k := 0; k < len(ver); k++ {
		if k == len(v) {
			return false, more
		}
		c := v[k]
		switch {
		case ver[k] == '?':
			if c < '0' || c > '9' {
				return false, false
			}
		case ver[k] == '\r' && c == '\n':
			return true, false // LF alone ends a line too
		case c != ver[k]:
			return false, false
		}
	}
	return true, false
}

// keptBuf is the largest buffer a parser keeps while it holds nothing.
const keptBuf = 4 << 10

// emptyBuf empties p.buf; an array grown past keptBuf (a long line resync
// held, a large head) is given back, so an idle flow costs a few bytes, not
// the largest line or head it ever saw.
func (p *Parser) emptyBuf() {
	if cap(p.buf) > keptBuf {
		p.buf = nil
		return
	}
	p.buf = p.buf[:0]
}

// Gap tells the parser that n bytes are missing here: the message in
// progress is lost (counted) and parsing resumes at the next start line.
// Each gap in a request stream counts once: it lost at least part of a request.
func (p *Parser) Gap() {
	if p.state == psOpaque || p.state == psStopped {
		return
	}
	p.joined = false // the gap is what is counted
	if p.response {
		if p.state != psHead || len(p.buf) > 0 {
			p.onError(ReasonGap)
		}
	} else {
		p.onError(ReasonGap)
	}
	p.cur = nil
	p.emptyBuf()
	if p.response {
		p.methods = p.methods[:0] // the pairing with requests is lost
	}
	p.state = psResync
	p.lineStart = true
}

// Pending reports whether a request (or response) was begun and is not complete.
func (p *Parser) Pending() bool {
	switch p.state {
	case psHead:
		return len(p.buf) > 0
	case psBody, psChunkSize, psChunkData, psChunkDataEnd, psTrailer, psUntilClose:
		return true
	}
	return false
}

// Resync makes the parser look for a start line first (a flow joined
// mid-stream); what it skips before the first one is reported once as
// ReasonMidstream.
func (p *Parser) Resync() { p.state, p.lineStart, p.joined = psResync, true, true }

// Close ends the stream: a response delimited by the connection's close is complete.
func (p *Parser) Close() {
	if p.state == psUntilClose && p.cur != nil {
		p.finish()
	}
}

// Feed parses b.
func (p *Parser) Feed(b []byte) {
	for len(b) > 0 {
		switch p.state {
		case psOpaque:
			return
		case psResync, psStopped:
			b = p.resync(b)
		case psHead:
			b = p.head(b)
		case psBody, psChunkData:
			n := int64(len(b))
			if n > p.remain {
				n = p.remain
			}
			p.body(b[:n], true)
			b = b[n:]
			p.remain -= n
			if p.remain == 0 {
				if p.state == psBody {
					p.finish()
				} else {
					p.state = psChunkDataEnd
				}
			}
		case psUntilClose:
			p.body(b, true)
			b = nil
		case psChunkSize, psChunkDataEnd, psTrailer:
			b = p.chunkLine(b)
		}
	}
}

// resync drops bytes until a plausible start line at the start of a line.
// A possible start cut by the end of b is kept in p.buf and looked at again
// with the next piece, so the outcome does not depend on how the stream is cut.
func (p *Parser) resync(b []byte) []byte {
	if len(p.buf) > 0 {
		b = append(append([]byte(nil), p.buf...), b...)
		p.buf = p.buf[:0] // reused while the line may still be a start line
		p.lineStart = true
	}
	for i := 0; i < len(b); {
		if i > 0 || p.lineStart {
			ok, need := p.looksLikeStart(b[i:])
			if ok && p.state == psStopped {
				if p.onSkip != nil {
					p.onSkip()
				}
				ok = false // count it and look further
			}
			if ok {
				p.state, p.joined = psHead, false
				return b[i:]
			}
			if need {
				p.buf = append(p.buf[:0], b[i:]...)
				return nil
			}
		}
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			p.discard(b[i:])
			p.lineStart = false
			p.emptyBuf()
			return nil
		}
		p.discard(b[i : i+j+1])
		i += j + 1
	}
	p.lineStart = true
	p.emptyBuf()
	return nil
}

// discard notes bytes resync skips: in a flow joined mid-stream, the first
// of them that are not blank lines are the rest of a request the join cut.
func (p *Parser) discard(d []byte) {
	if p.joined && !p.response && len(bytes.Trim(d, "\r\n")) > 0 {
		p.joined = false
		p.onError(ReasonMidstream)
	}
}

// head accumulates the start line and headers.
func (p *Parser) head(b []byte) []byte {
	if len(p.buf) == 0 {
		// skip the empty lines some clients send between requests
		for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
			b = b[1:]
		}
		if len(b) == 0 {
			return nil
		}
	}
	start := len(p.buf)
	p.buf = append(p.buf, b...)
	if start < startCheck {
		// The first startCheck bytes decide (the same verdict however the
		// stream is cut); parseHead checks the whole line.
		if ok, need := p.looksLikeStart(p.buf[:min(len(p.buf), startCheck)]); !ok && !need {
			return p.retry(ReasonBadStart, p.buf, false)
		}
	}
	// The end of the head: an empty line (CRLF CRLF or LF LF).
	from := max(0, start-3)
	end := -1
	for i := from; i < len(p.buf); i++ {
		if p.buf[i] != '\n' {
			continue
		}
		if i >= 1 && p.buf[i-1] == '\n' {
			end = i + 1
			break
		}
		if i >= 2 && p.buf[i-1] == '\r' && p.buf[i-2] == '\n' {
			end = i + 1
			break
		}
	}
	if (end < 0 && len(p.buf) > p.maxHeader) || end > p.maxHeader {
		return p.retry(ReasonHeadTooBig, p.afterFirstLine(len(p.buf)), true)
	}
	if end < 0 {
		return nil
	}
	m, reason := p.parseHead(p.buf[:end])
	if m == nil {
		return p.retry(reason, p.afterFirstLine(len(p.buf)), true)
	}
	rest := b[len(b)-(len(p.buf)-end):]
	p.emptyBuf()
	p.cur = m
	p.sum.Reset()
	p.frame()
	if p.state == psResync || p.state == psStopped { // a framing error: the body's end is unknown
		p.lineStart = true
	}
	return rest
}

// afterFirstLine returns p.buf[:n] after its first line (nil if it has none).
func (p *Parser) afterFirstLine(n int) []byte {
	i := bytes.IndexByte(p.buf[:n], '\n')
	if i < 0 {
		return nil
	}
	return p.buf[i+1 : n]
}

// retry counts an error and resynchronises over b (a copy is taken).
func (p *Parser) retry(reason string, b []byte, lineStart bool) []byte {
	b = append([]byte(nil), b...)
	p.fail(reason)
	p.lineStart = lineStart
	return b
}

func (p *Parser) fail(reason string) {
	p.onError(reason)
	p.cur = nil
	p.emptyBuf()
	p.state = psResync
	if p.stopOnError && !p.response {
		p.state = psStopped
	}
	p.lineStart = true
}

// parseHead parses a complete head (ending with the empty line).
func (p *Parser) parseHead(h []byte) (*Message, string) {
	lines := splitLines(h)
	if len(lines) == 0 {
		return nil, ReasonBadStart
	}
	m := &Message{}
	sl := lines[0]
	if p.response {
		// HTTP/1.1 200 OK
		f := strings.SplitN(sl, " ", 3)
		if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/1.") || len(f[1]) != 3 {
			return nil, ReasonBadStart
		}
		st, err := strconv.Atoi(f[1])
		if err != nil || st < 100 || st > 999 {
			return nil, ReasonBadStart
		}
		m.Proto, m.Status = f[0], st
	} else {
		f := strings.Split(sl, " ")
		if len(f) != 3 || f[0] == "" || f[1] == "" || !strings.HasPrefix(f[2], "HTTP/1.") || len(f[2]) != 8 {
			return nil, ReasonBadStart
		}
		for _, c := range []byte(f[0]) {
			if !tchar(c) {
				return nil, ReasonBadStart
			}
		}
		m.Method, m.URI, m.Proto = f[0], f[1], f[2]
	}
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		if l[0] == ' ' || l[0] == '\t' { // obsolete line folding
			if len(m.Headers) == 0 {
				return nil, ReasonBadHeader
			}
			m.Headers[len(m.Headers)-1].Value += " " + strings.TrimSpace(l)
			continue
		}
		i := strings.IndexByte(l, ':')
		if i <= 0 || strings.ContainsAny(l[:i], " \t") {
			return nil, ReasonBadHeader
		}
		m.Headers = append(m.Headers, Header{Name: l[:i], Value: strings.Trim(l[i+1:], " \t")})
	}
	return m, ""
}

func splitLines(h []byte) []string {
	var out []string
	for len(h) > 0 {
		i := bytes.IndexByte(h, '\n')
		if i < 0 {
			out = append(out, string(h))
			break
		}
		l := h[:i]
		if len(l) > 0 && l[len(l)-1] == '\r' {
			l = l[:len(l)-1]
		}
		out = append(out, string(l))
		h = h[i+1:]
	}
	return out
}

func hasToken(v, tok string) bool {
	for _, t := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(t), tok) {
			return true
		}
	}
	return false
}

// allDigits reports whether s is 1*DIGIT (hex: 1*HEXDIG), the grammar of a
// Content-Length (RFC 9110 section 8.6) and of a chunk size (RFC 9112
// section 7.1): strconv also takes a sign, which servers refuse.
func allDigits(s string, hex bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || hex && ('a' <= c && c <= 'f' || 'A' <= c && c <= 'F')) {
			return false
		}
	}
	return s != ""
}

// frame decides how the body of p.cur is delimited (RFC 9112 section 6).
func (p *Parser) frame() {
	m := p.cur
	var te, cl []string
	conn := ""
	for _, h := range m.Headers {
		switch {
		case strings.EqualFold(h.Name, "Transfer-Encoding"):
			te = append(te, h.Value)
		case strings.EqualFold(h.Name, "Content-Length"):
			cl = append(cl, h.Value)
		case strings.EqualFold(h.Name, "Connection"):
			conn += "," + h.Value
		}
	}
	method := ""
	if p.response {
		if len(p.methods) > 0 {
			method = p.methods[0]
			if m.Status >= 200 || m.Status == 101 {
				p.methods = p.methods[1:]
			}
		}
		if m.Status < 200 || m.Status == 204 || m.Status == 304 || method == "HEAD" ||
			(method == "CONNECT" && m.Status < 300) {
			m.Upgrade = m.Status == 101 || (method == "CONNECT" && m.Status >= 200 && m.Status < 300)
			p.finish()
			return
		}
	} else {
		_, up := m.Get("Upgrade")
		m.Upgrade = m.Method == "CONNECT" || (up && hasToken(conn, "upgrade"))
	}
	if len(te) > 0 && !p.response && (len(cl) > 0 || m.Proto == "HTTP/1.0") {
		// Both framings (RFC 9112 section 6.3), or a transfer coding in an
		// HTTP/1.0 request (section 6.1: faulty framing): a sign of request
		// smuggling; which framing a server believed is unknown, so the
		// body's end is too.
		p.fail(ReasonBadLength)
		return
	}
	if len(te) > 0 {
		all := strings.Join(te, ",")
		parts := strings.Split(all, ",")
		if !strings.EqualFold(strings.TrimSpace(parts[len(parts)-1]), "chunked") {
			if p.response {
				p.state = psUntilClose
				return
			}
			p.fail(ReasonBadLength)
			return
		}
		m.Chunked = true
		p.state = psChunkSize
		return
	}
	if len(cl) > 0 {
		n := int64(-1)
		for _, v := range cl {
			for _, part := range strings.Split(v, ",") {
				part = strings.TrimSpace(part)
				x, err := strconv.ParseInt(part, 10, 64)
				if err != nil || !allDigits(part, false) || (n >= 0 && x != n) {
					p.fail(ReasonBadLength)
					return
				}
				n = x
			}
		}
		if n == 0 {
			p.finish()
			return
		}
		p.remain = n
		p.state = psBody
		return
	}
	if p.response {
		p.state = psUntilClose
		return
	}
	p.finish()
}

// body takes body bytes; decoded tells whether they are content (not chunk framing).
func (p *Parser) body(b []byte, decoded bool) {
	m := p.cur
	if decoded {
		m.BodyLen += int64(len(b))
		p.sum.Write(b)
	}
	if !p.keepBody || m.Oversize {
		return
	}
	if p.maxBody > 0 && len(m.Body)+len(b) > p.maxBody {
		m.Oversize, m.Body = true, nil
		return
	}
	m.Body = append(m.Body, b...)
}

// chunkLine handles the chunk-size line, the CRLF after chunk data and the trailer.
func (p *Parser) chunkLine(b []byte) []byte {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		p.buf = append(p.buf, b...)
		if len(p.buf) > 4096 {
			p.fail(ReasonBadChunk)
		}
		return nil
	}
	line := append(p.buf, b[:i+1]...)
	p.emptyBuf()
	rest := b[i+1:]
	if len(line) > 4096 {
		p.fail(ReasonBadChunk)
		return rest
	}
	p.body(line, false)
	if p.cur == nil {
		return rest
	}
	text := strings.TrimRight(string(line), "\r\n")
	switch p.state {
	case psChunkDataEnd:
		if text != "" {
			p.fail(ReasonBadChunk)
			return rest
		}
		p.state = psChunkSize
	case psChunkSize:
		if j := strings.IndexByte(text, ';'); j >= 0 {
			text = text[:j]
		}
		text = strings.TrimSpace(text)
		n, err := strconv.ParseInt(text, 16, 64)
		if err != nil || !allDigits(text, true) || len(text) > 15 {
			p.fail(ReasonBadChunk)
			return rest
		}
		if n == 0 {
			p.state = psTrailer
		} else {
			p.remain = n
			p.state = psChunkData
		}
	case psTrailer:
		if text == "" {
			p.finish()
		}
	}
	return rest
}

// finish completes p.cur.
func (p *Parser) finish() {
	m := p.cur
	p.cur = nil
	copy(m.BodySHA256[:], p.sum.Sum(nil))
	p.state = psHead
	if m.Upgrade {
		p.state = psOpaque
	}
	p.onMessage(m)
}
