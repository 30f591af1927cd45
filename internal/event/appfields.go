package event

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/wirebridge/wirebridge/internal/dissect"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/pattern"
)

// The application blocks (detail.DNS, detail.HTTP, ...) are written, matched
// and built by one generic walk over their leaves in schema order (appBlocks,
// derived from the generated Leaves and viewPaths at start-up), with one
// accessor, appLayer.value, giving the value of each leaf. The encoder, the
// View and Build therefore cannot disagree on which leaves a block has or on
// their values; value is the only per-field code.

// appBlockKeys maps each block's key to its protocol.
var appBlockKeys = map[string]dissect.Proto{
	KeyDNS:    dissect.DNS,
	KeyHTTP:   dissect.HTTP,
	KeySyslog: dissect.Syslog,
	KeyTLS:    dissect.TLS,
	KeyDHCP:   dissect.DHCP,
	KeyNTP:    dissect.NTP,
	KeyARP:    dissect.ARP,
}

// appLeaf is one leaf of an application block.
type appLeaf struct {
	proto dissect.Proto // of its block
	code  viewField
	key   string // the leaf's own key
	kind  Kind
	array string          // key of the array of objects it is a member of, "" if none
	arr   pattern.ArrayID // that array's id, or the leaf's own when it is an array of values
	multi bool            // an array member or an array of values: reported through VisitField
}

// appBlock is one application block: its key and leaves in encoder order.
type appBlock struct {
	proto  dissect.Proto
	key    string
	leaves []appLeaf
}

var (
	appBlocks [8]appBlock      // by dissect.Proto
	appLeaves [1 << 8]*appLeaf // by field code
)

func init() {
	kinds := map[string]Kind{}
	for _, l := range Leaves {
		kinds[joinPath(l.Path)] = l.Kind
	}
	for _, vp := range viewPaths {
		if len(vp.path) < 3 || vp.path[0] != KeyDetail {
			continue
		}
		proto, ok := appBlockKeys[vp.path[1]]
		if !ok {
			continue
		}
		b := &appBlocks[proto]
		b.proto, b.key = proto, vp.path[1]
		l := appLeaf{proto: proto, code: vp.code, key: vp.path[len(vp.path)-1], kind: kinds[joinPath(vp.path)]}
		switch len(vp.path) {
		case 3:
			if l.kind == KindStringArray || l.kind == KindNumberArray {
				l.arr, l.multi = arrayID(vp.path...), true
			}
		case 4:
			l.array = vp.path[2]
			l.arr, l.multi = arrayID(vp.path[:3]...), true
		default:
			panic(fmt.Sprintf("event: application field %v nests too deep", vp.path))
		}
		b.leaves = append(b.leaves, l)
	}
	for i := range appBlocks {
		for j := range appBlocks[i].leaves {
			l := &appBlocks[i].leaves[j]
			appLeaves[l.code] = l
		}
	}
}

func joinPath(p []string) string { return strings.Join(p, ".") }

// appValue is one value of an application leaf.
type appValue struct {
	ok   bool // present
	kind avKind
	b    []byte // avString
	n    uint64 // avUint, avInt (two's complement), avBool (0 or 1), avIPv4 (the address)
	// tmp: b is in the appLayer's scratch, which the next value call
	// overwrites (the View reports such values through VisitField, which
	// copies them, never as a Scalar the matcher may keep while it asks
	// for other fields).
	tmp bool
}

type avKind uint8

const (
	avString avKind = iota
	avUint
	avInt
	avBool
	avIPv4
)

func avBytes(b []byte) appValue { return appValue{ok: true, kind: avString, b: b} }
func avTmp(b []byte) appValue   { return appValue{ok: true, kind: avString, b: b, tmp: true} }
func avStr(s string) appValue   { return appValue{ok: true, kind: avString, b: stringBytes(s)} }
func avU(n uint64) appValue     { return appValue{ok: true, kind: avUint, n: n} }
func avI(n int64) appValue      { return appValue{ok: true, kind: avInt, n: uint64(n)} }
func avBytesIf(b []byte) appValue {
	if len(b) == 0 {
		return appValue{}
	}
	return avBytes(b)
}
func avB(v bool) appValue {
	if v {
		return appValue{ok: true, kind: avBool, n: 1}
	}
	return appValue{ok: true, kind: avBool}
}
func avTrue(v bool) appValue {
	if v {
		return avB(true)
	}
	return appValue{}
}

// stringBytes returns the bytes of s without copying them; they must not be
// written.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// dissected returns the protocol whose block the event has (None: no block),
// running the dissector on first use.
func (a *appLayer) dissected() dissect.Proto {
	if a.have&haveProto != 0 {
		return a.proto
	}
	a.have |= haveProto
	a.proto = dissect.None
	f := a.p.Inner()
	payload := a.p.Payload()
	if len(payload) == 0 {
		return dissect.None
	}
	var tr dissect.Transport
	switch {
	case f.Layers&packet.LayerUDP != 0:
		tr = dissect.UDP
	case f.Layers&packet.LayerTCP != 0:
		tr = dissect.TCP
	case hasLinkBlock(f) && (f.EtherType == 0x0806 || f.EtherType == 0x8035):
		if a.tab.Enabled(dissect.ARP) {
			a.proto = a.msgs.Parse(dissect.ARP, payload, false)
		}
		return a.proto
	default:
		return dissect.None
	}
	p := a.tab.Choose(tr, f.SrcPort, f.DstPort, payload)
	if p == dissect.None {
		return dissect.None
	}
	a.proto = a.msgs.Parse(p, payload, tr == dissect.TCP)
	return a.proto
}

// count returns how many elements the array of leaf l holds.
func (a *appLayer) count(l *appLeaf) int {
	m := &a.msgs
	switch l.array {
	case KeyQuestions:
		return m.DNS.NQuestions
	case KeyAnswers:
		return m.DNS.NAnswers
	}
	switch l.code {
	case vfTLSALPN:
		return len(m.TLS.ALPN())
	case vfTLSVersions, vfTLSVersionCodes:
		return len(m.TLS.Versions())
	case vfDHCPParams:
		return len(m.DHCP.ParameterRequestList)
	case vfDHCPDNS:
		return m.DHCP.NumDNS()
	}
	return 0
}

var (
	dnsOpcodeCodes [16]string
	dnsRCodeCodes  [16]string
)

func init() {
	for i := range 16 {
		dnsOpcodeCodes[i] = "OPCODE" + strconv.Itoa(i)
		dnsRCodeCodes[i] = "RCODE" + strconv.Itoa(i)
	}
}

func dnsOpcode(m *dissect.DNSMessage) string {
	if s := m.OpcodeName(); s != "" {
		return s
	}
	return dnsOpcodeCodes[m.Opcode&0xf]
}

func dnsRCode(m *dissect.DNSMessage) string {
	if s := m.RCodeName(); s != "" {
		return s
	}
	return dnsRCodeCodes[m.RCode&0xf]
}

// value returns leaf code's value, element i of its array for array members.
// The bytes are valid until the next value call or reset.
func (a *appLayer) value(code viewField, i int) appValue {
	m := &a.msgs
	switch code {
	// detail.DNS
	case vfDNSID:
		return avU(uint64(m.DNS.ID))
	case vfDNSResponse:
		return avB(m.DNS.Response)
	case vfDNSOpcode:
		return avStr(dnsOpcode(&m.DNS))
	case vfDNSRCode:
		return avStr(dnsRCode(&m.DNS))
	case vfQName:
		return avBytes(m.DNS.Questions[i].Name)
	case vfQType:
		return avTmp(dissect.AppendDNSType(a.num[:0], m.DNS.Questions[i].Type))
	case vfQClass:
		return avTmp(appendDNSClass(a.num[:0], m.DNS.Questions[i].Class))
	case vfAName:
		return avBytes(m.DNS.Answers[i].Name)
	case vfAType:
		return avTmp(dissect.AppendDNSType(a.num[:0], m.DNS.Answers[i].Type))
	case vfATTL:
		return avU(uint64(m.DNS.Answers[i].TTL))
	case vfAData:
		return avBytes(m.DNS.Answers[i].Data)
	case vfDNSMore:
		return avTrue(m.DNS.More)
	// detail.HTTP
	case vfHTTPMethod:
		return avBytesIf(m.HTTP.Method)
	case vfHTTPPath:
		return avBytesIf(m.HTTP.Path)
	case vfHTTPVersion:
		return avBytes(m.HTTP.Version)
	case vfHTTPHost:
		return avBytesIf(m.HTTP.Host)
	case vfHTTPStatus:
		if m.HTTP.Response {
			return avU(uint64(m.HTTP.Status))
		}
	case vfHTTPReason:
		if m.HTTP.Response {
			return avBytes(m.HTTP.Reason)
		}
	case vfHTTPContentType:
		return avBytesIf(m.HTTP.ContentType)
	case vfHTTPContentLength:
		if m.HTTP.ContentLength >= 0 {
			return avI(m.HTTP.ContentLength)
		}
	case vfHTTPUserAgent:
		return avBytesIf(m.HTTP.UserAgent)
	// detail.Syslog
	case vfSyslogFacility:
		return avStr(m.Syslog.Facility())
	case vfSyslogFacilityCode:
		return avU(uint64(m.Syslog.FacilityCode))
	case vfSyslogSeverity:
		return avStr(m.Syslog.Severity())
	case vfSyslogSeverityCode:
		return avU(uint64(m.Syslog.SeverityCode))
	case vfSyslogTimestamp:
		return avBytesIf(m.Syslog.Timestamp)
	case vfSyslogHostname:
		return avBytesIf(m.Syslog.Hostname)
	case vfSyslogAppName:
		return avBytesIf(m.Syslog.AppName)
	case vfSyslogProcID:
		return avBytesIf(m.Syslog.ProcID)
	case vfSyslogMsgID:
		return avBytesIf(m.Syslog.MsgID)
	case vfSyslogSD:
		return avBytesIf(m.Syslog.StructuredData)
	case vfSyslogMessage:
		return avBytes(m.Syslog.Message)
	// detail.TLS
	case vfTLSHandshake:
		return avStr(m.TLS.HandshakeName())
	case vfTLSSNI:
		return avBytesIf(m.TLS.SNI)
	case vfTLSALPN:
		return avBytes(m.TLS.ALPN()[i])
	case vfTLSVersions:
		return avStr(dissect.TLSVersionName(m.TLS.Versions()[i]))
	case vfTLSVersionCodes:
		return avU(uint64(m.TLS.Versions()[i]))
	case vfTLSCipher:
		if m.TLS.HandshakeType == dissect.TLSServerHello {
			return avU(uint64(m.TLS.CipherSuite))
		}
	case vfTLSJA4:
		return avBytesIf(m.TLS.JA4)
	// detail.DHCP
	case vfDHCPOp:
		return avStr(m.DHCP.OpName())
	case vfDHCPType:
		if m.DHCP.MessageType != 0 {
			return avStr(m.DHCP.MessageTypeName())
		}
	case vfDHCPTypeCode:
		if m.DHCP.MessageType != 0 {
			return avU(uint64(m.DHCP.MessageType))
		}
	case vfDHCPXID:
		return avU(uint64(m.DHCP.XID))
	case vfDHCPClientMAC:
		if len(m.DHCP.ClientMAC) > 0 {
			return avTmp(appendMAC(a.num[:0], m.DHCP.ClientMAC))
		}
	case vfDHCPClientIP:
		return a.addr(m.DHCP.ClientIP, true)
	case vfDHCPYourIP:
		return a.addr(m.DHCP.YourIP, true)
	case vfDHCPServerIP:
		return a.addr(m.DHCP.ServerIP, true)
	case vfDHCPGatewayIP:
		return a.addr(m.DHCP.GatewayIP, true)
	case vfDHCPRequestedIP:
		return a.addr(m.DHCP.RequestedIP, false)
	case vfDHCPServerID:
		return a.addr(m.DHCP.ServerID, false)
	case vfDHCPHostname:
		return avBytesIf(m.DHCP.Hostname)
	case vfDHCPVendorClass:
		return avBytesIf(m.DHCP.VendorClass)
	case vfDHCPParams:
		return avU(uint64(m.DHCP.ParameterRequestList[i]))
	case vfDHCPLeaseTime:
		if m.DHCP.HasLeaseTime {
			return avU(uint64(m.DHCP.LeaseTime))
		}
	case vfDHCPSubnetMask:
		return a.addr(m.DHCP.SubnetMask, false)
	case vfDHCPRouter:
		return a.addr(m.DHCP.Router, false)
	case vfDHCPDNS:
		return a.addr(m.DHCP.DNSServer(i), false)
	// detail.NTP
	case vfNTPVersion:
		return avU(uint64(m.NTP.Version))
	case vfNTPMode:
		return avStr(m.NTP.ModeName())
	case vfNTPModeCode:
		return avU(uint64(m.NTP.Mode))
	case vfNTPLeap:
		return avU(uint64(m.NTP.LeapIndicator))
	case vfNTPStratum, vfNTPPoll, vfNTPPrecision, vfNTPRefID, vfNTPTransmit:
		if m.NTP.Mode >= dissect.NTPModeControl {
			return appValue{}
		}
		switch code {
		case vfNTPStratum:
			return avU(uint64(m.NTP.Stratum))
		case vfNTPPoll:
			return avI(int64(m.NTP.Poll))
		case vfNTPPrecision:
			return avI(int64(m.NTP.Precision))
		case vfNTPRefID:
			if id := m.NTP.AppendReferenceID(a.num[:0]); len(id) > 0 {
				return avTmp(id)
			}
		default:
			if t := m.NTP.TransmitTime; t != 0 {
				return avTmp(appendNTPTime(a.num[:0], t))
			}
		}
	// detail.ARP
	case vfARPOp:
		return avStr(m.ARP.OperationName())
	case vfARPOpCode:
		return avU(uint64(m.ARP.Operation))
	case vfARPHWType:
		return avU(uint64(m.ARP.HardwareType))
	case vfARPProtoType:
		return avU(uint64(m.ARP.ProtocolType))
	case vfARPSenderMAC, vfARPSenderIP, vfARPTargetMAC, vfARPTargetIP:
		if !m.ARP.Supported() {
			return appValue{}
		}
		switch code {
		case vfARPSenderMAC:
			return avTmp(appendMAC(a.num[:0], m.ARP.SenderMAC()))
		case vfARPTargetMAC:
			return avTmp(appendMAC(a.num[:0], m.ARP.TargetMAC()))
		case vfARPSenderIP:
			return a.addr(m.ARP.SenderIP(), false)
		default:
			return a.addr(m.ARP.TargetIP(), false)
		}
	}
	return appValue{}
}

// addr is the value of an IPv4 address field: absent when the address is
// not valid, or, with skipZero, when it is 0.0.0.0.
func (a *appLayer) addr(ip netip.Addr, skipZero bool) appValue {
	if !ip.Is4() || skipZero && ip.IsUnspecified() {
		return appValue{}
	}
	b := ip.As4()
	return appValue{ok: true, kind: avIPv4, n: uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
}

// ntpUnixOffset is the seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
const ntpUnixOffset = 2208988800

// appendNTPTime appends NTP timestamp t (era 0) in RFC 3339 with
// nanoseconds, UTC.
func appendNTPTime(dst []byte, t uint64) []byte {
	secs := int64(t>>32) - ntpUnixOffset
	nanos := int64((t & 0xffffffff) * 1e9 >> 32)
	return appendTime(dst, time.Unix(secs, nanos).UTC(), true)
}

// appendDNSClass appends a class's mnemonic (mDNS top bit ignored) or
// "CLASS" and its number.
func appendDNSClass(dst []byte, c uint16) []byte {
	if n := dissect.DNSClassName(c); n != "" {
		return append(dst, n...)
	}
	return strconv.AppendUint(append(dst, "CLASS"...), uint64(c&0x7fff), 10)
}

// appendApp appends the application block of the event, if any (after the
// Tunnel block).
func appendApp(dst []byte, a *appLayer) []byte { return append(dst, a.blockJSON()...) }

// appendBlock encodes the application block of the event, if any.
func appendBlock(dst []byte, a *appLayer) []byte {
	p := a.dissected()
	if p == dissect.None {
		return dst
	}
	b := &appBlocks[p]
	dst = append(dst, ',', '"')
	dst = append(dst, b.key...)
	dst = append(dst, '"', ':', '{')
	first := true
	for i := 0; i < len(b.leaves); {
		l := &b.leaves[i]
		switch {
		case l.array != "":
			j := i
			for j < len(b.leaves) && b.leaves[j].array == l.array {
				j++
			}
			if n := a.count(l); n > 0 {
				dst = appendKey(dst, l.array, &first)
				dst = append(dst, '[')
				for k := range n {
					if k > 0 {
						dst = append(dst, ',')
					}
					dst = append(dst, '{')
					inner := true
					for _, m := range b.leaves[i:j] {
						if v := a.value(m.code, k); v.ok {
							dst = appendKey(dst, m.key, &inner)
							dst = appendAppValue(dst, v, &a.fix)
						}
					}
					dst = append(dst, '}')
				}
				dst = append(dst, ']')
			}
			i = j
			continue
		case l.kind == KindStringArray || l.kind == KindNumberArray:
			if n := a.count(l); n > 0 {
				dst = appendKey(dst, l.key, &first)
				dst = append(dst, '[')
				for k := range n {
					if k > 0 {
						dst = append(dst, ',')
					}
					dst = appendAppValue(dst, a.value(l.code, k), &a.fix)
				}
				dst = append(dst, ']')
			}
		default:
			if v := a.value(l.code, 0); v.ok {
				dst = appendKey(dst, l.key, &first)
				dst = appendAppValue(dst, v, &a.fix)
			}
		}
		i++
	}
	return append(dst, '}')
}

func appendKey(dst []byte, key string, first *bool) []byte {
	if !*first {
		dst = append(dst, ',')
	}
	*first = false
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

// appendAppValue appends v as JSON. A string that is not valid UTF-8 is
// written with each invalid byte replaced by U+FFFD (as the character, the
// way it reads back and as Build holds it), using fix as scratch.
func appendAppValue(dst []byte, v appValue, fix *[]byte) []byte {
	switch v.kind {
	case avString:
		if !utf8.Valid(v.b) {
			*fix = appendValidUTF8((*fix)[:0], bytesString(v.b))
			return appendStringBytes(dst, *fix)
		}
		return appendStringBytes(dst, v.b)
	case avUint:
		return appendUint(dst, v.n)
	case avInt:
		return strconv.AppendInt(dst, int64(v.n), 10)
	case avIPv4:
		dst = append(dst, '"')
		dst = appendIPv4(dst, v.ip4())
		return append(dst, '"')
	default:
		return strconv.AppendBool(dst, v.n != 0)
	}
}

func (v appValue) ip4() [4]byte {
	return [4]byte{byte(v.n >> 24), byte(v.n >> 16), byte(v.n >> 8), byte(v.n)}
}

// appSizeHint returns the bytes appendApp writes for a's block: the block
// is encoded once, into the appLayer's own buffer, and appendApp copies it.
func appSizeHint(a *appLayer) int { return len(a.blockJSON()) }

// blockJSON returns the JSON appendApp writes (`,"DNS":{...}`, or nothing),
// encoding it on first use into a buffer the appLayer keeps across packets.
func (a *appLayer) blockJSON() []byte {
	if a.have&haveJSON == 0 {
		a.json = appendBlock(a.json[:0], a)
		a.have |= haveJSON
	}
	return a.json
}

// scalar is the View's Scalar for application leaf l.
func (a *appLayer) scalar(l *appLeaf) pattern.Scalar {
	if a.dissected() != l.proto {
		return pattern.Scalar{}
	}
	code := l.code
	if l.multi {
		return pattern.Scalar{Kind: pattern.ScalarMany}
	}
	v := a.value(code, 0)
	if !v.ok {
		return pattern.Scalar{}
	}
	switch v.kind {
	case avString:
		if v.tmp || !utf8.Valid(v.b) {
			return pattern.Scalar{Kind: pattern.ScalarMany}
		}
		return pattern.Scalar{Kind: pattern.ScalarString, Str: bytesString(v.b)}
	case avIPv4:
		return pattern.Scalar{Kind: pattern.ScalarIPv4, Num: v.n}
	case avUint:
		return uintScalar(v.n)
	case avInt:
		return pattern.Scalar{Kind: pattern.ScalarInt, Num: v.n}
	default:
		if v.n != 0 {
			return pattern.Scalar{Kind: pattern.ScalarTrue}
		}
		return pattern.Scalar{Kind: pattern.ScalarFalse}
	}
}

// visit reports an application leaf's values (VisitField), buf being the
// View's scratch for strings that are not valid UTF-8.
func (a *appLayer) visit(l *appLeaf, out *pattern.Values, buf *[]byte) {
	if a.dissected() != l.proto {
		return
	}
	code := l.code
	if !l.multi {
		reportAppValue(out, a.value(code, 0), buf)
		return
	}
	for k := range a.count(l) {
		out.Enter(l.arr, k)
		reportAppValue(out, a.value(code, k), buf)
		out.Leave()
	}
}

func reportAppValue(out *pattern.Values, v appValue, buf *[]byte) {
	if !v.ok {
		return
	}
	switch v.kind {
	case avString:
		if utf8.Valid(v.b) {
			out.Bytes(v.b)
			return
		}
		*buf = appendValidUTF8((*buf)[:0], bytesString(v.b))
		out.Bytes(*buf)
	case avUint:
		out.Uint(v.n)
	case avInt:
		out.Int(int64(v.n))
	case avIPv4:
		out.Addr(netip.AddrFrom4(v.ip4()))
	default:
		out.Bool(v.n != 0)
	}
}

// buildApp sets d's application block: the encoder's JSON of it, decoded
// into the generated structs.
func buildApp(d *PacketDetail, a *appLayer) {
	if a.dissected() == dissect.None {
		return
	}
	b := append([]byte{'{', '"', 'x', '"', ':', '0'}, appendApp(nil, a)...)
	b = append(b, '}')
	_ = json.Unmarshal(b, d) // the encoder's own output: the tests compare the two
}
