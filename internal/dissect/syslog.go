package dissect

// SyslogFormat is the syslog message format a SyslogMessage was parsed as.
type SyslogFormat uint8

// Syslog formats.
const (
	// SyslogRFC3164: the BSD format ("<13>Sep 12 19:16:12 host app[1]: msg"),
	// also the fallback for anything that is not RFC 5424.
	SyslogRFC3164 SyslogFormat = iota + 1
	// SyslogRFC5424: "<13>1 2003-10-11T22:14:15.003Z host app 1 ID47 [sd] msg".
	SyslogRFC5424
)

// SyslogMessage is one syslog message: an RFC 3164 or RFC 5424 UDP datagram,
// or one TCP frame (RFC 6587 octet counting "LEN <PRI>..." or one LF-terminated
// line). Every byte-slice field points into the parsed bytes, except
// Timestamp3339, which points into the value's own storage.
type SyslogMessage struct {
	Format SyslogFormat
	// HasPRI is false when the message did not start with a valid <PRI>; it
	// is then treated as rsyslog does: facility user (1), severity notice (5),
	// and the whole text parsed as RFC 3164.
	HasPRI bool
	// FacilityCode (0..23) and SeverityCode (0..7) from PRI; Facility and
	// Severity give their names.
	FacilityCode, SeverityCode uint8
	// Timestamp as written in the message ("Sep 12 19:16:12",
	// "2003-10-11T22:14:15.003Z"); empty when absent (RFC 5424 "-").
	Timestamp []byte
	// Timestamp3339 is Timestamp in RFC 3339 form when the message carries
	// enough to write it: RFC 5424 timestamps and RFC 3339 timestamps in
	// RFC 3164 messages (as rsyslog accepts) are kept as written. RFC 3164
	// "Mmm dd hh:mm:ss" timestamps have no year and no zone and are not
	// converted (empty).
	Timestamp3339 []byte
	// Header fields; empty when absent (RFC 5424 "-").
	Hostname, AppName, ProcID, MsgID []byte
	// StructuredData is the RFC 5424 STRUCTURED-DATA as written
	// ("[id k=\"v\"][id2]"), empty for "-" and for RFC 3164.
	StructuredData []byte
	// Message is the free-form MSG, with a UTF-8 BOM and trailing
	// NUL/CR/LF removed.
	Message []byte
	// Length is the length of the syslog message (without an RFC 6587
	// octet-count prefix).
	Length int

	ts [40]byte
}

// Parse reads one syslog message from b.
func (m *SyslogMessage) Parse(b []byte) error {
	*m = SyslogMessage{}
	return ErrNotProtocol // TODO(d1): being written
}

// Facility returns the facility's name ("kern", "user", ..., "local7").
func (m *SyslogMessage) Facility() string { return "" }

// Severity returns the severity's name ("emerg", "alert", "crit", "err",
// "warning", "notice", "info", "debug").
func (m *SyslogMessage) Severity() string { return "" }

// AppendText appends a tcpdump-like summary ("SYSLOG user.alert, length: 56").
func (m *SyslogMessage) AppendText(dst []byte) []byte { return dst }

// AppendInfo appends Wireshark's Info column text ("USER.ALERT: Sep 12 ...").
func (m *SyslogMessage) AppendInfo(dst []byte) []byte { return dst }
