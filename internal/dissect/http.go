package dissect

import (
	"bytes"
	"fmt"
	"strconv"
)

// HTTPMessage is the start of one HTTP/1.x message: a request line or a
// status line and the selected header fields found after it. Parse reads one
// packet's payload (the headers present in it); ParseHead reads a complete
// message head reassembled by the caller. Every byte-slice field points into
// the parsed bytes.
type HTTPMessage struct {
	// Response: a status line was parsed (else a request line).
	Response bool
	// Request line: Method ("GET"), Path (the request-target as written,
	// "/item/2?x=1"), Version ("HTTP/1.1"). For a response Version is the
	// status line's version.
	Method, Path, Version []byte
	// Status line: Status (200) and Reason ("OK", may be empty).
	Status uint16
	Reason []byte
	// Selected headers (names matched case-insensitively; the first of
	// repeated headers is kept). Values have surrounding blanks removed.
	Host, ContentType, UserAgent []byte
	// ContentLength is the Content-Length value, -1 when absent or not a
	// valid non-negative decimal number.
	ContentLength int64
	// Complete: the empty line ending the head was seen. When false the head
	// continues in a later segment and headers after this packet are unknown.
	Complete bool
}

// HTTP parse errors (built once: Parse allocates nothing).
var (
	errHTTPNotHTTP   = fmt.Errorf("http: start line: %w", ErrNotProtocol)
	errHTTPLineShort = fmt.Errorf("http: start line: %w", ErrTruncated)
	errHTTPHeadShort = fmt.Errorf("http: head: %w", ErrTruncated)
	errHTTPHeader    = fmt.Errorf("http: header line: %w", ErrMalformed)
	errHTTPStatus    = fmt.Errorf("http: status code: %w", ErrMalformed)
)

// Parse reads one packet's payload b as the start of an HTTP/1.x message:
// the request line or status line, then the header lines present in b. Header
// lines after the last complete one (cut by the end of the packet) are
// ignored and Complete stays false; that is not an error. Obsolete line
// folding (a header line starting with a blank) is skipped: a folded value
// keeps its first line only.
//
// Errors: ErrNotProtocol when b does not start with a request line ("METHOD
// SP request-target SP HTTP/d.d", METHOD a token) or a status line ("HTTP/d.d
// SP ddd [SP reason]") — a body segment, or another protocol on an HTTP port;
// ErrTruncated when b ends inside a plausible start line; ErrMalformed for a
// header line without a colon or with a name that is not a token, or a status
// code that is not three digits (fields parsed before it are kept).
func (m *HTTPMessage) Parse(b []byte) error {
	*m = HTTPMessage{ContentLength: -1}
	if !plausibleHTTPStart(b[:min(len(b), maxMethod+1)]) {
		return errHTTPNotHTTP // a body segment, or another protocol: rejected before looking for a line end
	}
	eol := bytes.IndexByte(b, '\n')
	if eol < 0 {
		return errHTTPLineShort
	}
	if err := m.startLine(trimTrailingCR(b[:eol])); err != nil {
		return err
	}
	for rest := b[eol+1:]; ; {
		eol = bytes.IndexByte(rest, '\n')
		if eol < 0 {
			return nil // the head continues in a later segment
		}
		line := trimTrailingCR(rest[:eol])
		rest = rest[eol+1:]
		if len(line) == 0 {
			m.Complete = true
			return nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // obs-fold
		}
		if err := m.header(line); err != nil {
			return err
		}
	}
}

// ParseHead reads a complete message head (start line, headers, and the empty
// line that ends them), as reassembled by a caller such as internal/httpstream
// (its Parser sees the head before building a Message). It is Parse plus one
// more rule: a head without its ending empty line is ErrTruncated.
func (m *HTTPMessage) ParseHead(head []byte) error {
	if err := m.Parse(head); err != nil {
		return err
	}
	if !m.Complete {
		return errHTTPHeadShort
	}
	return nil
}

func trimTrailingCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// tchar reports whether c may appear in an RFC 9110 token.
func tchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// httpVersion reports whether v is "HTTP/d.d".
func httpVersion(v []byte) bool {
	return len(v) == 8 && string(v[:5]) == "HTTP/" && decDigit(v[5]) && v[6] == '.' && decDigit(v[7])
}

func decDigit(c byte) bool { return c >= '0' && c <= '9' }

// maxMethod bounds the method token looked at before the first line end is
// searched for (the longest registered method, UPDATEREDIRECTREF, has 17).
const maxMethod = 24

// plausibleHTTPStart reports whether b, with no line end, could be the
// beginning of a start line: a prefix of "HTTP/" or a token then a space.
func plausibleHTTPStart(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	const v = "HTTP/"
	if n := min(len(b), len(v)); string(b[:n]) == v[:n] {
		return true
	}
	for i, c := range b {
		if c == ' ' {
			return i > 0 && i <= maxMethod
		}
		if !tchar(c) {
			return false
		}
	}
	return len(b) <= maxMethod // a token longer than any method is not one
}

func (m *HTTPMessage) startLine(line []byte) error {
	if len(line) >= 5 && string(line[:5]) == "HTTP/" {
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 || !httpVersion(line[:sp]) {
			return errHTTPNotHTTP
		}
		m.Response, m.Version = true, line[:sp]
		rest := line[sp+1:]
		if len(rest) < 3 || !decDigit(rest[0]) || !decDigit(rest[1]) || !decDigit(rest[2]) || len(rest) > 3 && rest[3] != ' ' {
			return errHTTPStatus
		}
		m.Status = uint16(rest[0]-'0')*100 + uint16(rest[1]-'0')*10 + uint16(rest[2]-'0')
		if len(rest) > 4 {
			m.Reason = rest[4:]
		}
		return nil
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return errHTTPNotHTTP
	}
	for _, c := range line[:sp] {
		if !tchar(c) {
			return errHTTPNotHTTP
		}
	}
	rest := line[sp+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 || !httpVersion(rest[sp2+1:]) {
		return errHTTPNotHTTP
	}
	m.Method, m.Path, m.Version = line[:sp], rest[:sp2], rest[sp2+1:]
	return nil
}

// header records line ("Name: value") if it is one of the selected headers.
func (m *HTTPMessage) header(line []byte) error {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return errHTTPHeader
	}
	name := line[:colon]
	for _, c := range name {
		if !tchar(c) {
			return errHTTPHeader
		}
	}
	v := trimOWS(line[colon+1:])
	switch {
	case asciiEqualFoldLower(name, "host"):
		if m.Host == nil {
			m.Host = v
		}
	case asciiEqualFoldLower(name, "content-type"):
		if m.ContentType == nil {
			m.ContentType = v
		}
	case asciiEqualFoldLower(name, "user-agent"):
		if m.UserAgent == nil {
			m.UserAgent = v
		}
	case asciiEqualFoldLower(name, "content-length"):
		if m.ContentLength < 0 {
			m.ContentLength = parseContentLength(v)
		}
	}
	return nil
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// asciiEqualFoldLower reports whether b equals the lower-case ASCII string s, ignoring case.
func asciiEqualFoldLower(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// parseContentLength parses a non-negative decimal below 2^62, else -1.
func parseContentLength(v []byte) int64 {
	if len(v) == 0 || len(v) > 18 {
		return -1
	}
	var n int64
	for _, c := range v {
		if !decDigit(c) {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// AppendText appends tcpdump's summary of the packet: "HTTP: " and the start
// line ("HTTP: GET / HTTP/1.1", "HTTP: HTTP/1.1 200 OK").
func (m *HTTPMessage) AppendText(dst []byte) []byte {
	return m.AppendInfo(append(dst, "HTTP: "...))
}

// AppendInfo appends Wireshark's Info column text, the start line: "GET
// /item/2 HTTP/1.1", "HTTP/1.1 200 OK" (Wireshark adds a trailing space, and
// "  (text/html)" when the packet holds the body; this does not).
func (m *HTTPMessage) AppendInfo(dst []byte) []byte {
	if m.Response {
		dst = append(dst, m.Version...)
		dst = strconv.AppendUint(append(dst, ' '), uint64(m.Status), 10)
		if len(m.Reason) > 0 {
			dst = append(append(dst, ' '), m.Reason...)
		}
		return dst
	}
	if m.Method == nil {
		return dst
	}
	dst = append(append(dst, m.Method...), ' ')
	dst = append(append(dst, m.Path...), ' ')
	return append(dst, m.Version...)
}
