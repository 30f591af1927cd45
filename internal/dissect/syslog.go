package dissect

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// SyslogFormat is the syslog message format a SyslogMessage was parsed as.
type SyslogFormat uint8

// Syslog formats.
const (
	// SyslogRFC3164: the BSD format ("<13>Sep 12 19:16:12 host app[1]: msg"),
	// also the fallback for anything that is not RFC 5424 (as in rsyslog).
	SyslogRFC3164 SyslogFormat = iota + 1
	// SyslogRFC5424: "<13>1 2003-10-11T22:14:15.003Z host app 1 ID47 [sd] msg".
	SyslogRFC5424
)

// String returns "rfc3164", "rfc5424", or "" before a parse.
func (f SyslogFormat) String() string {
	switch f {
	case SyslogRFC3164:
		return "rfc3164"
	case SyslogRFC5424:
		return "rfc5424"
	}
	return ""
}

// SyslogMessage is one syslog message: an RFC 3164 or RFC 5424 UDP datagram
// (Parse), or the first message of a TCP segment (ParseTCP: RFC 6587 octet
// counting "LEN <PRI>..." or one LF-terminated line). Every byte-slice field
// points into the parsed bytes.
//
// The RFC 3164 fields follow rsyslog's pmrfc3164 parser with its default
// settings: an RFC 3339 timestamp, else an "Mmm dd hh:mm:ss" one, else none
// (also tried after one leading space); then a HOSTNAME when the next word is
// made of letters, digits, '.', '_', '-', ends in a letter or digit and is
// followed by a space (rsyslog uses the sender's address otherwise; here
// Hostname stays empty); then the TAG, which runs to the first ':' (included)
// or space. AppName is the TAG up to its first ':', '[' or '/' (rsyslog's
// programname), ProcID the text between '[' and ']' in the TAG. Message is the
// rest, without the one space that usually follows the TAG (rsyslog keeps it).
type SyslogMessage struct {
	Format SyslogFormat
	// HasPRI is false when the message did not start with a valid <PRI>
	// ("<" 1-3 digits ">", value at most 191). It is then handled as rsyslog
	// does: facility user (1), severity notice (5), and the whole text parsed
	// as RFC 3164.
	HasPRI bool
	// FacilityCode (0..23) and SeverityCode (0..7) from PRI; Facility and
	// Severity give their names.
	FacilityCode, SeverityCode uint8
	// Version is the RFC 5424 VERSION (1), 0 for RFC 3164.
	Version uint8
	// Timestamp as written in the message ("Sep 12 19:16:12",
	// "2003-10-11T22:14:15.003Z"); empty when absent (RFC 5424 "-").
	Timestamp []byte
	// Timestamp3339 is Timestamp when it is a valid RFC 3339 date-time (always
	// for RFC 5424; for RFC 3164 when the sender wrote one, which rsyslog
	// accepts). RFC 3164 "Mmm dd hh:mm:ss" timestamps carry no year and no
	// zone and are not converted: Timestamp3339 is then empty.
	Timestamp3339 []byte
	// Header fields; empty when absent (RFC 5424 "-").
	Hostname, AppName, ProcID, MsgID []byte
	// Tag is the RFC 3164 TAG as written ("sshd[42]:"), empty for RFC 5424.
	Tag []byte
	// StructuredData is the RFC 5424 STRUCTURED-DATA as written
	// (`[id k="v"][id2]`), empty for "-" and for RFC 3164.
	StructuredData []byte
	// Message is the free-form MSG, with a UTF-8 BOM and trailing
	// NUL/CR/LF bytes removed.
	Message []byte
	// Length is the length of the syslog message as received, trailing
	// NUL/CR/LF included (tcpdump's "length: N"), without an RFC 6587
	// octet-count prefix, the LF ending a TCP frame, or what follows the frame.
	Length int

	body []byte // the message after PRI
}

// Syslog parse errors (built once: Parse allocates nothing).
var (
	errSyslogEmpty   = fmt.Errorf("syslog: empty message: %w", ErrTruncated)
	errSyslogBinary  = fmt.Errorf("syslog: no PRI and not text: %w", ErrNotProtocol)
	errSyslogCounted = fmt.Errorf("syslog: octet-counted frame longer than the segment: %w", ErrTruncated)
	errSyslogNoLF    = fmt.Errorf("syslog: frame without its LF: %w", ErrTruncated)
)

// Parse reads b as one syslog message (a UDP datagram). An RFC 6587
// octet-count prefix ("123 <13>...") is recognised and removed; embedded line
// feeds are part of the message.
//
// Errors: ErrTruncated for an empty message or an octet count longer than b
// (the fields of what is there are kept); ErrNotProtocol when b has no PRI and
// holds control bytes other than TAB, CR, LF and trailing NULs (not text).
// Anything else parses: syslog has no invalid message, only unrecognised
// parts, which end up in Message.
func (m *SyslogMessage) Parse(b []byte) error {
	*m = SyslogMessage{}
	var err error
	if n, body, ok := octetCount(b); ok {
		b = body
		if n > len(body) {
			err = errSyslogCounted
		} else {
			b = body[:n]
		}
	}
	if perr := m.parse(b); perr != nil {
		return perr
	}
	return err
}

// ParseTCP reads the first syslog message of a TCP segment: an RFC 6587
// octet-counted frame ("LEN SP MSG"), else the bytes up to the first LF
// (non-transparent framing). A frame that does not end in b is parsed as far
// as it goes and ErrTruncated is returned with the fields kept.
func (m *SyslogMessage) ParseTCP(b []byte) error {
	*m = SyslogMessage{}
	if _, _, ok := octetCount(b); ok {
		return m.Parse(b)
	}
	var err error
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	} else {
		err = errSyslogNoLF
	}
	if perr := m.parse(b); perr != nil {
		return perr
	}
	return err
}

// octetCount recognises "LEN SP <": 1-9 digits without a leading zero, a
// space, and a '<' starting the message.
func octetCount(b []byte) (n int, body []byte, ok bool) {
	i := 0
	for i < len(b) && i < 9 && decDigit(b[i]) {
		n = n*10 + int(b[i]-'0')
		i++
	}
	if i == 0 || b[0] == '0' || i+1 >= len(b) || b[i] != ' ' || b[i+1] != '<' {
		return 0, nil, false
	}
	return n, b[i+1:], true
}

func (m *SyslogMessage) parse(b []byte) error {
	m.Length = len(b)
	for len(b) > 0 && (b[len(b)-1] == 0 || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return errSyslogEmpty
	}
	rest, pri, ok := parsePRI(b)
	if ok {
		m.HasPRI = true
	} else {
		for _, c := range b {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
				return errSyslogBinary
			}
		}
		pri = 13 // rsyslog's default: user.notice
	}
	m.FacilityCode, m.SeverityCode = uint8(pri>>3), uint8(pri&7)
	m.body = rest
	if ok && m.parse5424(rest) {
		return nil
	}
	m.parse3164(rest)
	return nil
}

// parsePRI reads "<" 1-3 digits ">" with a value of at most 191.
func parsePRI(b []byte) (rest []byte, pri int, ok bool) {
	if len(b) < 3 || b[0] != '<' {
		return b, 0, false
	}
	i := 1
	for i < len(b) && i <= 3 && decDigit(b[i]) {
		pri = pri*10 + int(b[i]-'0')
		i++
	}
	if i == 1 || i >= len(b) || b[i] != '>' || pri > 191 || b[1] == '0' && i > 2 {
		return b, 0, false
	}
	return b[i+1:], pri, true
}

// nextWord returns b up to the first space and what follows that space; ok is
// false when there is no space.
func nextWord(b []byte) (w, rest []byte, ok bool) {
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return b, nil, false
	}
	return b[:i], b[i+1:], true
}

// nilValue maps the RFC 5424 NILVALUE "-" to empty.
func nilValue(b []byte) []byte {
	if len(b) == 1 && b[0] == '-' {
		return nil
	}
	return b
}

// printUSASCII reports whether b is 1..max bytes of PRINTUSASCII (33..126).
func printUSASCII(b []byte, max int) bool {
	if len(b) == 0 || len(b) > max {
		return false
	}
	for _, c := range b {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// parse5424 parses b (after PRI) as "VERSION SP TIMESTAMP SP HOSTNAME SP
// APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]". It fills m and
// reports true only when the whole header is valid (rsyslog then hands the
// message to its RFC 3164 parser, and so does this one).
func (m *SyslogMessage) parse5424(b []byte) bool {
	if len(b) < 2 || b[0] < '1' || b[0] > '9' || b[1] != ' ' {
		return false
	}
	var f [5][]byte
	rest := b[2:]
	maxLen := [5]int{64, 255, 48, 128, 32}
	for i := range f {
		var ok bool
		f[i], rest, ok = nextWord(rest)
		if !ok || !printUSASCII(f[i], maxLen[i]) {
			return false
		}
	}
	ts := nilValue(f[0])
	if ts != nil && !isRFC3339(ts) {
		return false
	}
	sd, msg, ok := structuredData(rest)
	if !ok {
		return false
	}
	m.Format, m.Version = SyslogRFC5424, b[0]-'0'
	m.Timestamp, m.Timestamp3339 = ts, ts
	m.Hostname, m.AppName, m.ProcID, m.MsgID = nilValue(f[1]), nilValue(f[2]), nilValue(f[3]), nilValue(f[4])
	m.StructuredData = nilValue(sd)
	if len(msg) >= 3 && msg[0] == 0xef && msg[1] == 0xbb && msg[2] == 0xbf {
		msg = msg[3:]
	}
	m.Message = msg
	return true
}

// structuredData splits b into STRUCTURED-DATA ("-" or one or more
// SD-ELEMENTs "[id param=\"value\" ...]", with \" \\ \] escapes in values) and
// the MSG after one space.
func structuredData(b []byte) (sd, msg []byte, ok bool) {
	if len(b) == 0 {
		return nil, nil, false
	}
	i := 0
	if b[0] == '-' {
		i = 1
	} else {
		for i < len(b) && b[i] == '[' {
			j, ok := sdElement(b, i)
			if !ok {
				return nil, nil, false
			}
			i = j
		}
		if i == 0 {
			return nil, nil, false
		}
	}
	switch {
	case i == len(b):
		return b, nil, true
	case b[i] == ' ':
		return b[:i], b[i+1:], true
	}
	return nil, nil, false
}

// sdElement returns the offset just past the SD-ELEMENT starting at b[i] == '['.
func sdElement(b []byte, i int) (int, bool) {
	i++
	quoted := false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case quoted && c == '\\':
			i++ // the escaped byte
		case c == '"':
			quoted = !quoted
		case !quoted && c == ']':
			return i + 1, true
		}
	}
	return 0, false
}

// isRFC3339 reports whether b is an RFC 3339 date-time as RFC 5424 allows it:
// YYYY-MM-DDThh:mm:ss[.1-6 digits](Z|+hh:mm|-hh:mm) (also up to 9 fraction
// digits, and lower-case t and z, which RFC 3339 permits).
func isRFC3339(b []byte) bool {
	if len(b) < 20 {
		return false
	}
	d := func(i, n int, lo, hi int) bool {
		v := 0
		for k := i; k < i+n; k++ {
			if !decDigit(b[k]) {
				return false
			}
			v = v*10 + int(b[k]-'0')
		}
		return v >= lo && v <= hi
	}
	if !d(0, 4, 0, 9999) || b[4] != '-' || !d(5, 2, 1, 12) || b[7] != '-' || !d(8, 2, 1, 31) ||
		(b[10] != 'T' && b[10] != 't') || !d(11, 2, 0, 23) || b[13] != ':' || !d(14, 2, 0, 59) ||
		b[16] != ':' || !d(17, 2, 0, 60) {
		return false
	}
	i := 19
	if b[i] == '.' {
		j := i + 1
		for j < len(b) && decDigit(b[j]) {
			j++
		}
		if j == i+1 || j-i-1 > 9 {
			return false
		}
		i = j
	}
	if i >= len(b) {
		return false
	}
	switch b[i] {
	case 'Z', 'z':
		return i+1 == len(b)
	case '+', '-':
		return len(b) == i+6 && d(i+1, 2, 0, 23) && b[i+3] == ':' && d(i+4, 2, 0, 59)
	}
	return false
}

var syslogMonths = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// ts3164 recognises "Mmm dd hh:mm:ss" (day padded with a space or a zero, or
// one digit) followed by a space or the end; n is its length.
func ts3164(b []byte) (n int, ok bool) {
	if len(b) < 14 {
		return 0, false
	}
	found := false
	for _, mon := range syslogMonths {
		if string(b[:3]) == mon {
			found = true
			break
		}
	}
	if !found || b[3] != ' ' {
		return 0, false
	}
	i := 4
	if b[i] == ' ' {
		i++
	}
	day := 0
	for k := 0; k < 2 && i < len(b) && decDigit(b[i]); k++ {
		day = day*10 + int(b[i]-'0')
		i++
	}
	if day < 1 || day > 31 || i+9 > len(b) || b[i] != ' ' {
		return 0, false
	}
	t := b[i+1 : i+9]
	if !decDigit(t[0]) || !decDigit(t[1]) || t[2] != ':' || !decDigit(t[3]) || !decDigit(t[4]) || t[5] != ':' ||
		!decDigit(t[6]) || !decDigit(t[7]) || (t[0]-'0')*10+t[1]-'0' > 23 || t[3] > '5' || t[6] > '6' {
		return 0, false
	}
	n = i + 9
	if n < len(b) && b[n] != ' ' {
		return 0, false
	}
	return n, true
}

// ts3339Prefix recognises an RFC 3339 timestamp followed by a space or the end.
func ts3339Prefix(b []byte) (n int, ok bool) {
	w, _, _ := nextWord(b)
	if isRFC3339(w) {
		return len(w), true
	}
	return 0, false
}

func isAlnum(c byte) bool { return decDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// parse3164 parses b (after PRI, or the whole message without one) the way
// rsyslog's pmrfc3164 does (see SyslogMessage).
func (m *SyslogMessage) parse3164(b []byte) {
	m.Format = SyslogRFC3164
	if n, ok := ts3339Prefix(b); ok {
		m.Timestamp, m.Timestamp3339 = b[:n], b[:n]
		b = b[n:]
	} else if n, ok := ts3164(b); ok {
		m.Timestamp, b = b[:n], b[n:]
	} else if len(b) > 1 && b[0] == ' ' {
		if n, ok := ts3164(b[1:]); ok {
			m.Timestamp, b = b[1:n+1], b[n+1:]
		}
	}
	if len(m.Timestamp) > 0 && len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	// HOSTNAME
	i := 0
	for i < len(b) && (isAlnum(b[i]) || b[i] == '.' || b[i] == '_' || b[i] == '-') {
		i++
	}
	switch {
	case i > 0 && i == len(b):
		m.Hostname, b = b, nil
	case i > 0 && b[i] == ' ' && isAlnum(b[i-1]):
		m.Hostname, b = b[:i], b[i+1:]
	}
	// TAG
	i = 0
	for i < len(b) && b[i] != ':' && b[i] != ' ' {
		i++
	}
	if i < len(b) && b[i] == ':' {
		i++
	}
	m.Tag, b = b[:i], b[i:]
	m.AppName, m.ProcID = splitTag(m.Tag)
	if len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	m.Message = b
}

// splitTag returns the program name (the TAG up to ':', '[' or '/') and the
// process id between '[' and ']'.
func splitTag(tag []byte) (app, pid []byte) {
	i := 0
	for i < len(tag) && tag[i] != ':' && tag[i] != '[' && tag[i] != '/' {
		i++
	}
	app = tag[:i]
	if lb := bytes.IndexByte(tag, '['); lb >= 0 {
		if rb := bytes.IndexByte(tag[lb:], ']'); rb > 1 {
			pid = tag[lb+1 : lb+rb]
		}
	}
	return app, pid
}

// AppendTime3339 appends the message's timestamp in RFC 3339 form (with
// nanoseconds when it has a fraction): Timestamp3339 as written when there is
// one; an RFC 3164 "Mmm dd hh:mm:ss" completed with the year and the zone of
// ref (the capture time, in the zone the sender is assumed to be in — rsyslog
// assumes the receiver's local zone; a date more than a month after ref is
// taken from the year before, as across New Year). Nothing is appended when
// there is no timestamp.
func (m *SyslogMessage) AppendTime3339(dst []byte, ref time.Time) []byte {
	if len(m.Timestamp3339) > 0 {
		return append(dst, m.Timestamp3339...)
	}
	ts := m.Timestamp
	if len(ts) < 14 {
		return dst
	}
	mon := 0
	for i, name := range syslogMonths {
		if string(ts[:3]) == name {
			mon = i + 1
		}
	}
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			if decDigit(c) {
				n = n*10 + int(c-'0')
			}
		}
		return n
	}
	// ts3164 accepted "Mmm d hh:mm:ss", "Mmm dd hh:mm:ss" or "Mmm  d hh:mm:ss".
	clock := ts[len(ts)-8:]
	day := num(ts[4 : len(ts)-9])
	t := time.Date(ref.Year(), time.Month(mon), day, num(clock[0:2]), num(clock[3:5]), num(clock[6:8]), 0, ref.Location())
	if t.After(ref.AddDate(0, 1, 0)) {
		t = t.AddDate(-1, 0, 0)
	}
	return t.AppendFormat(dst, time.RFC3339)
}

// Facility and severity names as rsyslog prints them (syslogfacility-text,
// syslogseverity-text), which are syslog.h's names.
var (
	syslogFacilities = [24]string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
		"uucp", "cron", "authpriv", "ftp", "ntp", "audit", "alert", "clock",
		"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}
	syslogSeverities = [8]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}
	// tcpdump's names (print-syslog.c), for AppendText.
	tcpdumpFacilities = [24]string{"kernel", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
		"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "cron",
		"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}
	tcpdumpSeverities = [8]string{"emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"}
	// Wireshark's names, for AppendInfo.
	wiresharkFacilities = [24]string{"KERN", "USER", "MAIL", "DAEMON", "AUTH", "SYSLOG", "LPR", "NEWS",
		"UUCP", "CRON", "AUTHPRIV", "FTP", "NTP", "AUDIT", "ALERT", "CRON2",
		"LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3", "LOCAL4", "LOCAL5", "LOCAL6", "LOCAL7"}
	wiresharkSeverities = [8]string{"EMERG", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG"}
)

// Facility returns the facility's name as rsyslog and syslog.h write it:
// "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp",
// "cron", "authpriv", "ftp", "ntp", "audit", "alert", "clock", "local0" ...
// "local7".
func (m *SyslogMessage) Facility() string {
	if m.Format == 0 {
		return ""
	}
	return syslogFacilities[m.FacilityCode%24]
}

// Severity returns the severity's name: "emerg", "alert", "crit", "err",
// "warning", "notice", "info", "debug".
func (m *SyslogMessage) Severity() string {
	if m.Format == 0 {
		return ""
	}
	return syslogSeverities[m.SeverityCode&7]
}

// AppendText appends tcpdump's summary: "SYSLOG user.alert, length: 56"
// (tcpdump's names: kernel, security, console, emergency, critical, error
// ...; length is Length).
func (m *SyslogMessage) AppendText(dst []byte) []byte {
	dst = append(dst, "SYSLOG "...)
	dst = append(dst, tcpdumpFacilities[m.FacilityCode%24]...)
	dst = append(append(dst, '.'), tcpdumpSeverities[m.SeverityCode&7]...)
	dst = append(dst, ", length: "...)
	return strconv.AppendUint(dst, uint64(m.Length), 10)
}

// AppendInfo appends Wireshark's Info column text: "USER.ALERT: " and the
// message after PRI (from the timestamp on; for RFC 5424 from VERSION on),
// with control characters escaped as Wireshark does (\n, \r, \t, \000, and a
// UTF-8 BOM as \uFEFF). Without PRI, Wireshark shows the text alone, and so
// does this.
// Trailing NUL, CR and LF bytes, which Parse removes, are not shown
// (Wireshark shows them).
func (m *SyslogMessage) AppendInfo(dst []byte) []byte {
	if m.HasPRI {
		dst = append(dst, wiresharkFacilities[m.FacilityCode%24]...)
		dst = append(append(dst, '.'), wiresharkSeverities[m.SeverityCode&7]...)
		dst = append(dst, ": "...)
	}
	return appendWiresharkEscaped(dst, m.body)
}

// appendWiresharkEscaped appends b with control bytes written as Wireshark's
// format_text does (\n \r \t \a \b \f \v, others as \ooo octal).
func appendWiresharkEscaped(dst, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == 0xef && i+2 < len(b) && b[i+1] == 0xbb && b[i+2] == 0xbf {
			dst = append(dst, `\uFEFF`...)
			i += 2
			continue
		}
		switch c {
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\a':
			dst = append(dst, '\\', 'a')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\v':
			dst = append(dst, '\\', 'v')
		default:
			if c < 0x20 || c == 0x7f {
				dst = append(dst, '\\', '0'+c>>6, '0'+c>>3&7, '0'+c&7)
			} else {
				dst = append(dst, c)
			}
		}
	}
	return dst
}
