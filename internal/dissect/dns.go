package dissect

import (
	"fmt"
	"net/netip"
)

// DNS message capacities. A message holding more questions or answers than
// these keeps the first ones and sets DNSMessage.More.
const (
	// DNSMaxQuestions is how many questions a DNSMessage keeps.
	DNSMaxQuestions = 4
	// DNSMaxAnswers is how many answer records a DNSMessage keeps.
	DNSMaxAnswers = 16
	// dnsScratch is the size of the text storage shared by every name and
	// answer Data of one message (names in presentation form, addresses as
	// text). A record whose text does not fit is not kept (More is set).
	dnsScratch = 4096
	// dnsMaxHops bounds the compression pointers followed for one name.
	dnsMaxHops = 64
	// dnsMaxHexData is the longest RDATA shown as hex for types without a
	// text form; longer RDATA leaves Data empty.
	dnsMaxHexData = 64
)

// DNSQuestion is one entry of the question section.
type DNSQuestion struct {
	// Name in presentation form without the trailing dot ("" for the root);
	// bytes outside printable ASCII, '.', and '\' inside a label are escaped
	// as in RFC 1035 master files (\DDD, \., \\).
	Name []byte
	// Type is the QTYPE (TypeName gives its mnemonic).
	Type uint16
	// Class is the QCLASS as on the wire: for mDNS its top bit is the
	// unicast-response (QU) bit (ClassName masks it).
	Class uint16
}

// TypeName returns the mnemonic of q.Type ("A", "AAAA", ...; "" if unknown).
func (q *DNSQuestion) TypeName() string { return DNSTypeName(q.Type) }

// ClassName returns the mnemonic of q.Class ("IN", "CH", ...) with the mDNS
// top bit ignored, or "" if unknown.
func (q *DNSQuestion) ClassName() string { return DNSClassName(q.Class) }

// DNSAnswer is one resource record of the answer section.
type DNSAnswer struct {
	Name  []byte // as DNSQuestion.Name
	Type  uint16
	Class uint16 // as on the wire (mDNS: top bit is cache-flush)
	TTL   uint32
	// Data is the RDATA as text: A and AAAA addresses; CNAME, NS, PTR target
	// names; MX "preference exchange"; TXT the character-strings concatenated
	// (non-printable bytes escaped as \DDD); SRV "priority weight port target";
	// SOA the primary server name (MNAME). Any other type: lower-case hex of
	// the RDATA when it is at most 64 bytes long, else empty.
	Data []byte
}

// TypeName returns the mnemonic of a.Type ("A", "AAAA", ...; "" if unknown).
func (a *DNSAnswer) TypeName() string { return DNSTypeName(a.Type) }

// DNSMessage is one DNS message (RFC 1035; also mDNS, RFC 6762, and LLMNR,
// RFC 4795, which share its format). Only the header, the question section and
// the answer section are decoded; authority and additional records are
// counted (NSCount, ARCount) but not kept.
type DNSMessage struct {
	ID       uint16
	Response bool  // QR
	Opcode   uint8 // 4 bits; OpcodeName gives its name
	// Header flags.
	Authoritative      bool  // AA
	Truncated          bool  // TC: the message was truncated by its sender
	RecursionDesired   bool  // RD
	RecursionAvailable bool  // RA
	AuthenticData      bool  // AD
	CheckingDisabled   bool  // CD
	RCode              uint8 // 4-bit header RCODE; RCodeName gives its name

	// Section counts as in the header.
	QDCount, ANCount, NSCount, ARCount uint16

	// Questions and Answers kept, in message order.
	Questions            [DNSMaxQuestions]DNSQuestion
	Answers              [DNSMaxAnswers]DNSAnswer
	NQuestions, NAnswers int
	// More: the message held more questions or answers than kept (capacity,
	// or scratch space for their text ran out).
	More bool
	// Length is the DNS message length: over TCP the length prefix, over UDP
	// len(b).
	Length int

	scratch [dnsScratch]byte
	used    int
}

// QuestionList returns the questions kept.
func (m *DNSMessage) QuestionList() []DNSQuestion { return m.Questions[:m.NQuestions] }

// AnswerList returns the answers kept.
func (m *DNSMessage) AnswerList() []DNSAnswer { return m.Answers[:m.NAnswers] }

// Parse errors of the DNS parser (built once: Parse allocates nothing).
var (
	errDNSTCPShort  = fmt.Errorf("dns: tcp length prefix: %w", ErrTruncated)
	errDNSHeader    = fmt.Errorf("dns: header: %w", ErrTruncated)
	errDNSQuestion  = fmt.Errorf("dns: question: %w", ErrTruncated)
	errDNSAnswer    = fmt.Errorf("dns: answer: %w", ErrTruncated)
	errDNSName      = fmt.Errorf("dns: name: %w", ErrTruncated)
	errDNSPointer   = fmt.Errorf("dns: name: compression pointer out of bounds: %w", ErrMalformed)
	errDNSLoop      = fmt.Errorf("dns: name: too many compression pointers: %w", ErrMalformed)
	errDNSLong      = fmt.Errorf("dns: name: longer than 255 bytes: %w", ErrMalformed)
	errDNSLabel     = fmt.Errorf("dns: name: reserved label type: %w", ErrMalformed)
	errDNSRData     = fmt.Errorf("dns: rdata: length does not fit its type: %w", ErrMalformed)
	errDNSRDataName = fmt.Errorf("dns: rdata: name runs past the record: %w", ErrMalformed)
	errDNSNoRoom    = fmt.Errorf("dns: scratch full: %w", ErrTruncated) // internal: stop keeping records
	errDNSTCPLength = fmt.Errorf("dns: tcp length prefix shorter than a header: %w", ErrNotProtocol)
)

func (m *DNSMessage) reset() {
	m.ID, m.Response, m.Opcode = 0, false, 0
	m.Authoritative, m.Truncated, m.RecursionDesired = false, false, false
	m.RecursionAvailable, m.AuthenticData, m.CheckingDisabled = false, false, false
	m.RCode = 0
	m.QDCount, m.ANCount, m.NSCount, m.ARCount = 0, 0, 0, 0
	for i := 0; i < m.NQuestions; i++ {
		m.Questions[i] = DNSQuestion{}
	}
	for i := 0; i < m.NAnswers; i++ {
		m.Answers[i] = DNSAnswer{}
	}
	m.NQuestions, m.NAnswers, m.More, m.Length, m.used = 0, 0, false, 0, 0
}

// Parse decodes one DNS message from b: a UDP payload (overTCP false) or,
// over TCP (overTCP true), a message with its RFC 1035 two-byte length prefix.
// Over TCP, bytes after the prefixed length are ignored and a message longer
// than b is decoded as far as b goes. Parse resets m first and keeps what it
// decoded before an error.
//
// Errors: ErrNotProtocol over TCP when the length prefix is below 12 (no room
// for a header); ErrTruncated when b ends inside the header, a question or an answer
// (a capture cut short, or the first segment of a longer TCP message);
// ErrMalformed for compression pointers that leave the message or loop (more
// than 64 pointers for one name), names longer than 255 bytes, reserved label
// types, or RDATA whose length does not fit its type (A not 4 bytes, ...).
func (m *DNSMessage) Parse(b []byte, overTCP bool) error {
	m.reset()
	msg := b
	partial := false
	if overTCP {
		if len(b) < 2 {
			return errDNSTCPShort
		}
		n := int(b[0])<<8 | int(b[1])
		if n < 12 {
			return errDNSTCPLength // also what a segment from inside a longer message often looks like
		}
		m.Length = n
		msg = b[2:]
		if len(msg) > n {
			msg = msg[:n]
		} else if len(msg) < n {
			partial = true
		}
	} else {
		m.Length = len(b)
	}
	if len(msg) < 12 {
		return errDNSHeader
	}
	m.ID = dnsUint16(msg)
	f := dnsUint16(msg[2:])
	m.Response = f&0x8000 != 0
	m.Opcode = uint8(f>>11) & 0xf
	m.Authoritative = f&0x0400 != 0
	m.Truncated = f&0x0200 != 0
	m.RecursionDesired = f&0x0100 != 0
	m.RecursionAvailable = f&0x0080 != 0
	m.AuthenticData = f&0x0020 != 0
	m.CheckingDisabled = f&0x0010 != 0
	m.RCode = uint8(f & 0xf)
	m.QDCount, m.ANCount = dnsUint16(msg[4:]), dnsUint16(msg[6:])
	m.NSCount, m.ARCount = dnsUint16(msg[8:]), dnsUint16(msg[10:])

	off := 12
	for i := 0; i < int(m.QDCount); i++ {
		keep := m.NQuestions < DNSMaxQuestions
		name, next, err := m.readName(msg, off, keep, partial)
		if err == errDNSNoRoom {
			m.More = true
			return nil
		}
		if err != nil {
			return err
		}
		if next+4 > len(msg) {
			return errDNSQuestion
		}
		if keep {
			m.Questions[m.NQuestions] = DNSQuestion{Name: name, Type: dnsUint16(msg[next:]), Class: dnsUint16(msg[next+2:])}
			m.NQuestions++
		} else {
			m.More = true
		}
		off = next + 4
	}
	for i := 0; i < int(m.ANCount); i++ {
		if m.NAnswers == DNSMaxAnswers {
			m.More = true
			return nil
		}
		mark := m.used
		name, next, err := m.readName(msg, off, true, partial)
		if err == errDNSNoRoom {
			m.used, m.More = mark, true
			return nil
		}
		if err != nil {
			return err
		}
		if next+10 > len(msg) {
			return errDNSAnswer
		}
		a := &m.Answers[m.NAnswers]
		a.Name = name
		a.Type, a.Class = dnsUint16(msg[next:]), dnsUint16(msg[next+2:])
		a.TTL = uint32(dnsUint16(msg[next+4:]))<<16 | uint32(dnsUint16(msg[next+6:]))
		rdl := int(dnsUint16(msg[next+8:]))
		rd := next + 10
		if rd+rdl > len(msg) {
			*a = DNSAnswer{}
			return errDNSAnswer
		}
		data, err := m.rdata(msg, a.Type, rd, rd+rdl, partial)
		if err == errDNSNoRoom {
			*a = DNSAnswer{}
			m.used, m.More = mark, true
			return nil
		}
		if err != nil {
			*a = DNSAnswer{}
			m.used = mark
			return err
		}
		a.Data = data
		m.NAnswers++
		off = rd + rdl
	}
	return nil
}

func dnsUint16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

// room reports whether n more bytes fit in the scratch storage.
func (m *DNSMessage) room(n int) bool { return m.used+n <= len(m.scratch) }

// readName decodes the (possibly compressed) name starting at off in msg.
// With keep it writes the presentation form to the scratch storage and
// returns it; next is the offset just after the name where it starts.
// partial: msg is the first part of a longer message, so a pointer past its
// end means truncation rather than a malformed message.
func (m *DNSMessage) readName(msg []byte, off int, keep, partial bool) (name []byte, next int, err error) {
	start := m.used
	pos, next := off, -1
	hops, wire := 0, 0
	for {
		if pos >= len(msg) {
			if next >= 0 && !partial {
				return nil, 0, errDNSPointer // only reachable through a pointer
			}
			return nil, 0, errDNSName
		}
		c := msg[pos]
		switch c & 0xc0 {
		case 0xc0:
			if pos+1 >= len(msg) {
				return nil, 0, errDNSName
			}
			if next < 0 {
				next = pos + 2
			}
			hops++
			if hops > dnsMaxHops {
				return nil, 0, errDNSLoop
			}
			ptr := int(c&0x3f)<<8 | int(msg[pos+1])
			if ptr >= len(msg) {
				if partial {
					return nil, 0, errDNSName
				}
				return nil, 0, errDNSPointer
			}
			pos = ptr
			continue
		case 0x40, 0x80:
			return nil, 0, errDNSLabel
		}
		if c == 0 {
			if next < 0 {
				next = pos + 1
			}
			if !keep {
				return nil, next, nil
			}
			return m.scratch[start:m.used:m.used], next, nil
		}
		l := int(c)
		wire += l + 1
		if wire > 254 { // with the root label's byte: > 255
			return nil, 0, errDNSLong
		}
		if pos+1+l > len(msg) {
			if next >= 0 && !partial {
				return nil, 0, errDNSPointer
			}
			return nil, 0, errDNSName
		}
		if keep {
			if m.used > start && !m.putByte('.') {
				return nil, 0, errDNSNoRoom
			}
			if !m.putLabel(msg[pos+1 : pos+1+l]) {
				return nil, 0, errDNSNoRoom
			}
		}
		pos += 1 + l
	}
}

// putLabel writes one label in presentation form: copied as is when it needs
// no escape (the usual case), else byte by byte.
func (m *DNSMessage) putLabel(l []byte) bool {
	for _, c := range l {
		if c < 0x21 || c >= 0x7f || c == '.' || c == '\\' {
			for _, ch := range l {
				if !m.putEscaped(ch, true) {
					return false
				}
			}
			return true
		}
	}
	if !m.room(len(l)) {
		return false
	}
	m.used += copy(m.scratch[m.used:], l)
	return true
}

func (m *DNSMessage) putByte(c byte) bool {
	if m.used >= len(m.scratch) {
		return false
	}
	m.scratch[m.used] = c
	m.used++
	return true
}

// putEscaped writes c in presentation form: printable ASCII as is, '\\' (and,
// inside a label, '.') escaped with a backslash, anything else as \DDD.
func (m *DNSMessage) putEscaped(c byte, label bool) bool {
	switch {
	case c == '\\' || (label && c == '.'):
		if !m.room(2) {
			return false
		}
		m.scratch[m.used], m.scratch[m.used+1] = '\\', c
		m.used += 2
	case c < 0x21 && (label || c != ' ') || c >= 0x7f:
		if !m.room(4) {
			return false
		}
		m.scratch[m.used] = '\\'
		m.scratch[m.used+1] = '0' + c/100
		m.scratch[m.used+2] = '0' + c/10%10
		m.scratch[m.used+3] = '0' + c%10
		m.used += 4
	default:
		return m.putByte(c)
	}
	return true
}

func (m *DNSMessage) putUint(v uint32) bool {
	var d [10]byte
	i := len(d)
	for {
		i--
		d[i] = '0' + byte(v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	if !m.room(len(d) - i) {
		return false
	}
	m.used += copy(m.scratch[m.used:], d[i:])
	return true
}

// rdataName decodes a name inside RDATA [off, end) and checks it stays there.
func (m *DNSMessage) rdataName(msg []byte, off, end int, partial bool) (next int, err error) {
	_, next, err = m.readName(msg, off, true, partial)
	if err != nil {
		return 0, err
	}
	if next > end {
		return 0, errDNSRDataName
	}
	return next, nil
}

// DNS types with a text form for Data.
const (
	dnsTypeA     = 1
	dnsTypeNS    = 2
	dnsTypeCNAME = 5
	dnsTypeSOA   = 6
	dnsTypePTR   = 12
	dnsTypeMX    = 15
	dnsTypeTXT   = 16
	dnsTypeAAAA  = 28
	dnsTypeSRV   = 33
	dnsTypeOPT   = 41
)

const dnsHexDigits = "0123456789abcdef"

// rdata writes the text form of the RDATA [off, end) of a record of type t.
func (m *DNSMessage) rdata(msg []byte, t uint16, off, end int, partial bool) ([]byte, error) {
	start := m.used
	rd := msg[off:end]
	switch t {
	case dnsTypeA:
		if len(rd) != 4 {
			return nil, errDNSRData
		}
		if !m.room(15) {
			return nil, errDNSNoRoom
		}
		for i, o := range rd {
			if i > 0 {
				m.putByte('.')
			}
			m.putUint(uint32(o))
		}
	case dnsTypeAAAA:
		if len(rd) != 16 {
			return nil, errDNSRData
		}
		if !m.room(45) {
			return nil, errDNSNoRoom
		}
		m.used += len(netip.AddrFrom16([16]byte(rd)).AppendTo(m.scratch[m.used:m.used]))
	case dnsTypeCNAME, dnsTypeNS, dnsTypePTR:
		if _, err := m.rdataName(msg, off, end, partial); err != nil {
			return nil, err
		}
	case dnsTypeSOA:
		if _, err := m.rdataName(msg, off, end, partial); err != nil {
			return nil, err
		}
	case dnsTypeMX:
		if len(rd) < 3 {
			return nil, errDNSRData
		}
		if !m.putUint(uint32(dnsUint16(rd))) || !m.putByte(' ') {
			return nil, errDNSNoRoom
		}
		if _, err := m.rdataName(msg, off+2, end, partial); err != nil {
			return nil, err
		}
	case dnsTypeSRV:
		if len(rd) < 7 {
			return nil, errDNSRData
		}
		for i := 0; i < 3; i++ {
			if !m.putUint(uint32(dnsUint16(rd[2*i:]))) || !m.putByte(' ') {
				return nil, errDNSNoRoom
			}
		}
		if _, err := m.rdataName(msg, off+6, end, partial); err != nil {
			return nil, err
		}
	case dnsTypeTXT:
		for i := 0; i < len(rd); {
			l := int(rd[i])
			if i+1+l > len(rd) {
				return nil, errDNSRData
			}
			for _, c := range rd[i+1 : i+1+l] {
				if !m.putEscaped(c, false) {
					return nil, errDNSNoRoom
				}
			}
			i += 1 + l
		}
	default:
		if len(rd) > dnsMaxHexData {
			return nil, nil
		}
		if !m.room(2 * len(rd)) {
			return nil, errDNSNoRoom
		}
		for _, c := range rd {
			m.scratch[m.used], m.scratch[m.used+1] = dnsHexDigits[c>>4], dnsHexDigits[c&0xf]
			m.used += 2
		}
	}
	return m.scratch[start:m.used:m.used], nil
}
