package dissect

import (
	"strconv"
)

// dnsTypeNames maps the DNS RR types below 300 to their mnemonics (IANA "DNS
// Parameters" registry).
var dnsTypeNames = [...]string{
	1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR",
	10: "NULL", 11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT",
	17: "RP", 18: "AFSDB", 19: "X25", 20: "ISDN", 21: "RT", 22: "NSAP", 23: "NSAP-PTR",
	24: "SIG", 25: "KEY", 26: "PX", 27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT",
	31: "EID", 32: "NIMLOC", 33: "SRV", 34: "ATMA", 35: "NAPTR", 36: "KX", 37: "CERT",
	38: "A6", 39: "DNAME", 40: "SINK", 41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP",
	45: "IPSECKEY", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 49: "DHCID", 50: "NSEC3",
	51: "NSEC3PARAM", 52: "TLSA", 53: "SMIMEA", 55: "HIP", 56: "NINFO", 57: "RKEY",
	58: "TALINK", 59: "CDS", 60: "CDNSKEY", 61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD",
	64: "SVCB", 65: "HTTPS", 99: "SPF", 100: "UINFO", 101: "UID", 102: "GID",
	103: "UNSPEC", 104: "NID", 105: "L32", 106: "L64", 107: "LP", 108: "EUI48",
	109: "EUI64", 249: "TKEY", 250: "TSIG", 251: "IXFR", 252: "AXFR", 253: "MAILB",
	254: "MAILA", 255: "ANY", 256: "URI", 257: "CAA", 258: "AVC", 259: "DOA",
	260: "AMTRELAY", 261: "RESINFO",
}

// DNSTypeName returns the mnemonic of an RR type ("A", "AAAA", "HTTPS"), or ""
// when the type has none (AppendDNSType writes "TYPE65280" for those).
func DNSTypeName(t uint16) string {
	switch {
	case int(t) < len(dnsTypeNames):
		return dnsTypeNames[t]
	case t == 32768:
		return "TA"
	case t == 32769:
		return "DLV"
	}
	return ""
}

// AppendDNSType appends the mnemonic of t, or "TYPE" and its number (RFC 3597)
// when it has none.
func AppendDNSType(dst []byte, t uint16) []byte {
	if n := DNSTypeName(t); n != "" {
		return append(dst, n...)
	}
	return strconv.AppendUint(append(dst, "TYPE"...), uint64(t), 10)
}

// DNSClassName returns the mnemonic of a class ("IN", "CH", "HS", "NONE",
// "ANY"), ignoring the top bit mDNS uses as a flag, or "" if unknown.
func DNSClassName(c uint16) string {
	switch c & 0x7fff {
	case 1:
		return "IN"
	case 3:
		return "CH"
	case 4:
		return "HS"
	case 254:
		return "NONE"
	case 255:
		if c == 255 {
			return "ANY"
		}
	}
	return ""
}

var dnsOpcodeNames = [16]string{0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE", 6: "DSO"}

// OpcodeName returns the opcode's name ("QUERY", "NOTIFY", "UPDATE", ...), or
// "" for unassigned values.
func (m *DNSMessage) OpcodeName() string { return dnsOpcodeNames[m.Opcode&0xf] }

var dnsRCodeNames = [16]string{
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
	"YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI", "", "", "", "",
}

// RCodeName returns the response code's name ("NOERROR", "NXDOMAIN", ...), or
// "" for unassigned values.
func (m *DNSMessage) RCodeName() string { return dnsRCodeNames[m.RCode&0xf] }

// Wireshark's wording for opcodes and response codes in its Info column.
var (
	dnsOpcodeInfo = [16]string{0: "Standard query", 1: "Inverse query", 2: "Server status request",
		4: "Zone change notification", 5: "Dynamic update", 6: "DNS Stateful operations (DSO)"}
	dnsRCodeInfo = [16]string{"No error", "Format error", "Server failure", "No such name",
		"Not implemented", "Refused", "Name exists", "RRset exists", "RRset does not exist",
		"Not authoritative", "Name out of zone", "DSO-Type not implemented", "", "", "", ""}
	// tcpdump's wording for response codes (ns_rcode).
	dnsRCodeTcpdump = [16]string{"", " FormErr", " ServFail", " NXDomain", " NotImp", " Refused",
		" YXDomain", " YXRRSet", " NXRRSet", " NotAuth", " NotZone", " Resp11", " Resp12",
		" Resp13", " Resp14", " NoChange"}
)

// AppendInfo appends Wireshark's Info column text for m: "Standard query
// 0x1a2b A example.com" or "Standard query response 0x1a2b A example.com A
// 192.0.2.1", with the response code's wording after the ID when it is not
// NOERROR. Only kept questions and answers are listed (Wireshark also lists
// authority and additional records, which m does not keep).
func (m *DNSMessage) AppendInfo(dst []byte) []byte {
	if s := dnsOpcodeInfo[m.Opcode&0xf]; s != "" {
		dst = append(dst, s...)
	} else {
		dst = strconv.AppendUint(append(dst, "Unknown operation ("...), uint64(m.Opcode), 10)
		dst = append(dst, ')')
	}
	if m.Response {
		dst = append(dst, " response"...)
	}
	dst = append(dst, " 0x"...)
	dst = append(dst, dnsHexDigits[m.ID>>12], dnsHexDigits[m.ID>>8&0xf], dnsHexDigits[m.ID>>4&0xf], dnsHexDigits[m.ID&0xf])
	if m.Response && m.RCode != 0 {
		dst = append(append(dst, ' '), dnsRCodeInfo[m.RCode]...)
	}
	for i := range m.QuestionList() {
		q := &m.Questions[i]
		dst = AppendDNSType(append(dst, ' '), q.Type)
		if dst = append(dst, ' '); len(q.Name) == 0 {
			dst = append(dst, "<Root>"...)
		} else {
			dst = append(dst, q.Name...)
		}
	}
	for i := range m.AnswerList() {
		a := &m.Answers[i]
		dst = AppendDNSType(append(dst, ' '), a.Type)
		switch a.Type {
		case dnsTypeA, dnsTypeAAAA, dnsTypeCNAME, dnsTypeNS, dnsTypePTR, dnsTypeMX, dnsTypeSRV, dnsTypeSOA:
		default:
			continue // Wireshark shows only the type of the others
		}
		if len(a.Data) > 0 {
			dst = append(append(dst, ' '), a.Data...)
		}
	}
	return dst
}

// AppendText appends a tcpdump-like summary of m: for a query
// `22836+ [1au] A? www.tcpdump.org. (56)`, for a response
// `22836*- 2/2/5 A 192.139.46.66, A 198.199.88.104 (224)`. Flags after the ID
// are tcpdump's: '+' recursion desired (queries), '*' authoritative, '-'
// recursion not available, '|' truncated (responses); a non-zero response
// code follows as tcpdump words it (" NXDomain"); section counts other than
// one question (and, in queries, no records) show as " [2q]", " [1au]".
// Only kept answers are printed.
func (m *DNSMessage) AppendText(dst []byte) []byte {
	dst = strconv.AppendUint(dst, uint64(m.ID), 10)
	if m.Response {
		if m.Authoritative {
			dst = append(dst, '*')
		}
		if !m.RecursionAvailable {
			dst = append(dst, '-')
		}
		if m.Truncated {
			dst = append(dst, '|')
		}
		dst = append(dst, dnsRCodeTcpdump[m.RCode]...)
		if m.Opcode != 0 {
			dst = append(append(dst, ' '), m.opcodeText()...)
		}
		dst = dnsAppendCount(dst, m.QDCount, 1, "q")
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, uint64(m.ANCount), 10)
		dst = append(dst, '/')
		dst = strconv.AppendUint(dst, uint64(m.NSCount), 10)
		dst = append(dst, '/')
		dst = strconv.AppendUint(dst, uint64(m.ARCount), 10)
		for i := range m.AnswerList() {
			a := &m.Answers[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendDNSType(append(dst, ' '), a.Type)
			if len(a.Data) > 0 {
				dst = append(append(dst, ' '), a.Data...)
				if a.Type == dnsTypeCNAME || a.Type == dnsTypeNS || a.Type == dnsTypePTR {
					dst = append(dst, '.')
				}
			}
		}
	} else {
		if m.RecursionDesired {
			dst = append(dst, '+')
		}
		if m.Opcode != 0 {
			dst = append(append(dst, ' '), m.opcodeText()...)
		}
		dst = dnsAppendCount(dst, m.QDCount, 1, "q")
		dst = dnsAppendCount(dst, m.ANCount, 0, "a")
		dst = dnsAppendCount(dst, m.NSCount, 0, "n")
		dst = dnsAppendCount(dst, m.ARCount, 0, "au")
		for i := range m.QuestionList() {
			q := &m.Questions[i]
			dst = AppendDNSType(append(dst, ' '), q.Type)
			dst = append(dst, "? "...)
			dst = append(append(dst, q.Name...), '.')
		}
	}
	dst = append(dst, " ("...)
	dst = strconv.AppendUint(dst, uint64(m.Length), 10)
	return append(dst, ')')
}

// dnsAppendCount appends tcpdump's " [Nx]" for a section count other than usual.
func dnsAppendCount(dst []byte, n, usual uint16, x string) []byte {
	if n == usual {
		return dst
	}
	dst = strconv.AppendUint(append(dst, " ["...), uint64(n), 10)
	return append(append(dst, x...), ']')
}

func (m *DNSMessage) opcodeText() string {
	if s := dnsOpcodeNames[m.Opcode&0xf]; s != "" {
		return s
	}
	return "OPCODE?"
}
