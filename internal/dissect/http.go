package dissect

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

// Parse reads one packet's payload b as the start of an HTTP/1.x message.
func (m *HTTPMessage) Parse(b []byte) error {
	*m = HTTPMessage{ContentLength: -1}
	return ErrNotProtocol // TODO(d1): being written
}

// ParseHead reads a complete message head (start line, headers, and the empty
// line that ends them), as reassembled by a caller such as internal/httpstream.
func (m *HTTPMessage) ParseHead(head []byte) error {
	return m.Parse(head)
}

// AppendText appends a tcpdump-like summary ("GET / HTTP/1.1", "HTTP/1.1 200 OK").
func (m *HTTPMessage) AppendText(dst []byte) []byte { return m.AppendInfo(dst) }

// AppendInfo appends Wireshark's Info column text ("GET /item/2 HTTP/1.1",
// "HTTP/1.1 200 OK").
func (m *HTTPMessage) AppendInfo(dst []byte) []byte {
	if m.Response {
		dst = append(dst, m.Version...)
		dst = appendUint(append(dst, ' '), uint64(m.Status))
		return append(append(dst, ' '), m.Reason...)
	}
	dst = append(append(dst, m.Method...), ' ')
	dst = append(append(dst, m.Path...), ' ')
	return append(dst, m.Version...)
}
