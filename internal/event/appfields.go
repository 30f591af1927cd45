package event

import (
	"encoding/json"
	"fmt"
	"strconv"
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
}

// appLeaf is one leaf of an application block.
type appLeaf struct {
	proto dissect.Proto // of its block
	code  viewField
	key   string // the leaf's own key
	kind  Kind
	array string          // key of the array of objects it is a member of, "" if none
	arr   pattern.ArrayID // that array's id, or the leaf's own when it is an array of values
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
				l.arr = arrayID(vp.path...)
			}
		case 4:
			l.array = vp.path[2]
			l.arr = arrayID(vp.path[:3]...)
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

func joinPath(p []string) string {
	s := ""
	for i, k := range p {
		if i > 0 {
			s += "."
		}
		s += k
	}
	return s
}

// appValue is one value of an application leaf.
type appValue struct {
	ok   bool // present
	kind avKind
	b    []byte // avString
	n    uint64 // avUint, avInt (two's complement), avBool (0 or 1)
}

type avKind uint8

const (
	avString avKind = iota
	avUint
	avInt
	avBool
)

func avBytes(b []byte) appValue { return appValue{ok: true, kind: avString, b: b} }
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
	var tr dissect.Transport
	switch {
	case f.Layers&packet.LayerUDP != 0:
		tr = dissect.UDP
	case f.Layers&packet.LayerTCP != 0:
		tr = dissect.TCP
	default:
		return dissect.None
	}
	payload := a.p.Payload()
	if len(payload) == 0 {
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
		return avBytes(dissect.AppendDNSType(a.num[:0], m.DNS.Questions[i].Type))
	case vfQClass:
		return avBytes(appendDNSClass(a.num[:0], m.DNS.Questions[i].Class))
	case vfAName:
		return avBytes(m.DNS.Answers[i].Name)
	case vfAType:
		return avBytes(dissect.AppendDNSType(a.num[:0], m.DNS.Answers[i].Type))
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
	}
	return appValue{}
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
func appendApp(dst []byte, a *appLayer) []byte {
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
							dst = appendAppValue(dst, v)
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
					dst = appendAppValue(dst, a.value(l.code, k))
				}
				dst = append(dst, ']')
			}
		default:
			if v := a.value(l.code, 0); v.ok {
				dst = appendKey(dst, l.key, &first)
				dst = appendAppValue(dst, v)
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

func appendAppValue(dst []byte, v appValue) []byte {
	switch v.kind {
	case avString:
		return appendStringBytes(dst, v.b)
	case avUint:
		return appendUint(dst, v.n)
	case avInt:
		return strconv.AppendInt(dst, int64(v.n), 10)
	default:
		return strconv.AppendBool(dst, v.n != 0)
	}
}

// appSizeHint bounds the bytes appendApp writes for a's block.
func appSizeHint(a *appLayer) int {
	p := a.dissected()
	if p == dissect.None {
		return 0
	}
	b := &appBlocks[p]
	n := 16 + len(b.key)
	for i := range b.leaves {
		l := &b.leaves[i]
		k := 1
		if l.array != "" || l.kind == KindStringArray || l.kind == KindNumberArray {
			k = a.count(l)
			n += 4 + len(l.array)
		}
		for j := range k {
			v := a.value(l.code, j)
			n += 8 + len(l.key) + 22 + 6*len(v.b)
		}
	}
	return n
}

// scalar is the View's Scalar for application leaf l.
func (a *appLayer) scalar(l *appLeaf) pattern.Scalar {
	if a.dissected() != l.proto {
		return pattern.Scalar{}
	}
	code := l.code
	if l.arr != 0 || l.array != "" {
		return pattern.Scalar{Kind: pattern.ScalarMany}
	}
	v := a.value(code, 0)
	if !v.ok {
		return pattern.Scalar{}
	}
	switch v.kind {
	case avString:
		if !utf8.Valid(v.b) {
			return pattern.Scalar{Kind: pattern.ScalarMany}
		}
		return pattern.Scalar{Kind: pattern.ScalarString, Str: bytesString(v.b)}
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
	if l.arr == 0 && l.array == "" {
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
