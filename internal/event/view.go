package event

import (
	"encoding/base64"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/pattern"
)

// View is the event of a packet as the rule matcher sees it: a
// pattern.Event over the decoded packet view, reporting for every field path
// exactly the values (and JSON types) the event JSON would carry, without
// building the JSON. Matching a View allocates nothing once its scratch
// buffer has grown to the largest payload seen, so reuse one View per
// goroutine (Reset) rather than making one per packet.
//
// The event id and, for packets without a usable capture time, the clock
// reading are taken once per View, the first time something needs them (a
// pattern on "id", "time" or detail.Timestamp, or an encoding), so the event
// a View encodes (AppendJSON, AppendCloudEvent) has the id and time the
// patterns saw. Packets that match nothing never consume an id.
//
// A View is not safe for concurrent use, and the packet must stay unchanged
// (and its bytes valid) while the View is in use.
type View struct {
	enc  *Encoder
	p    *packet.Packet
	meta Meta

	have viewHave
	// UTF-8 validity of the Meta strings last reported: valid ones are
	// reported as they are, others with U+FFFD substitution.
	listenerOK, sourceOK, typeOK utf8Check
	id                           ID
	ts                           time.Time
	st                           stamp

	buf []byte // base64 and string scratch, reused across Reset

	app appLayer // PayloadText and the dissected protocol, on first need

	// IPv6 addresses (inner source and destination, tunnel source and
	// destination) for the pattern.ScalarIPv6 answers, whose Str points here.
	ip6 [4][16]byte
}

type viewHave uint8

const (
	haveID viewHave = 1 << iota
	haveStamp
)

// utf8Check caches whether one string is valid UTF-8. It recognises the
// string by its data pointer and length: strings are immutable and the
// pointer keeps the bytes alive, so equal pointer and length mean the same
// string.
type utf8Check struct {
	p  *byte
	n  int
	ok bool
}

func (c *utf8Check) valid(s string) bool {
	if p := unsafe.StringData(s); p != c.p || len(s) != c.n {
		c.p, c.n, c.ok = p, len(s), utf8.ValidString(s)
	}
	return c.ok
}

// NewView returns a View of p's event. It allocates the View; on hot paths
// reuse one with Reset.
func (e *Encoder) NewView(p *packet.Packet, m Meta) *View {
	v := new(View)
	v.Reset(e, p, m)
	return v
}

// Reset makes v the view of p's event as encoder e (nil: the zero Encoder)
// would build it, forgetting the previous packet's id and time.
func (v *View) Reset(e *Encoder, p *packet.Packet, m Meta) {
	if e == nil {
		e = &zeroEncoder
	}
	v.enc, v.p, v.meta = e, p, m
	v.have = 0
	v.app.reset(e.table(), p)
}

var zeroEncoder Encoder

// Packet returns the packet the View reports on.
func (v *View) Packet() *packet.Packet { return v.p }

// Meta returns the packet's Meta.
func (v *View) Meta() Meta { return v.meta }

// SetID sets the event id, for a caller that generated it beforehand.
func (v *View) SetID(id ID) {
	v.id = id
	v.have |= haveID
}

// ID returns the event id, generating it on first use.
func (v *View) ID() ID {
	if v.have&haveID == 0 {
		v.id = v.enc.nextID()
		v.have |= haveID
	}
	return v.id
}

// Time returns the event instant (detail.Timestamp; "time" is it truncated
// to whole seconds), reading the clock on first use when the packet has no
// usable capture time.
func (v *View) Time() time.Time {
	v.stamp()
	return v.ts
}

func (v *View) stamp() *stamp {
	if v.have&haveStamp == 0 {
		v.ts = v.enc.timestamp(v.p)
		v.st = makeStamp(v.ts)
		v.have |= haveStamp
	}
	return &v.st
}

// AppendJSON appends the event JSON to dst: byte for byte what
// Encoder.AppendJSON writes for the same packet, id and time.
func (v *View) AppendJSON(dst []byte) []byte {
	id := v.ID() // the id first, then the time, as the Encoder takes them
	return appendEvent(dst, v.p, &v.meta, &id, v.stamp(), &v.app)
}

// AppendCloudEvent appends the CloudEvents structured JSON of the event:
// what Encoder.AppendCloudEvent writes for the same packet, id and time.
func (v *View) AppendCloudEvent(dst []byte) []byte {
	id := v.ID() // the id first, then the time, as the Encoder takes them
	return appendCloudEvent(dst, v.p, &v.meta, &id, v.stamp(), &v.app)
}

// Field codes of the View: one per leaf path of a packet event, generated
// (fields_gen.go) with the path table viewPaths.
type viewField uint8

// viewCodes maps a pattern.FieldID to its field code (vfNone beyond the end).
var viewCodes []viewField

// arrayID is the array id of the array at the path keys (the arr...
// variables of fields_gen.go).
func arrayID(keys ...string) pattern.ArrayID {
	return pattern.ArrayID(pattern.PathID(strings.Join(keys, ".")))
}

func init() {
	ids := make([]pattern.FieldID, len(viewPaths))
	n := 0
	for i, vp := range viewPaths {
		ids[i] = pattern.PathID(strings.Join(vp.path, "."))
		n = max(n, int(ids[i])+1)
	}
	viewCodes = make([]viewField, n)
	for i, vp := range viewPaths {
		viewCodes[ids[i]] = vp.code
	}
}

// Scalar implements pattern.ScalarEvent for every field that holds one value
// outside arrays and is read straight from the packet view or Meta; arrays
// (VLANs, TCP flags, extension headers, Geneve options, resources) and
// strings the View would have to build (id, time, timestamp, payload, MAC
// addresses, GWLB ids, Meta strings that are not valid UTF-8) answer
// ScalarMany and the matcher calls VisitField. VisitField reports the other
// fields through Scalar, so the two cannot disagree.
func (v *View) Scalar(f pattern.Field) pattern.Scalar {
	code := vfNone
	if int(f.ID) < len(viewCodes) {
		code = viewCodes[f.ID]
	}
	return v.scalar(code)
}

func (v *View) scalar(code viewField) pattern.Scalar {
	if l := appLeaves[code]; l != nil {
		return v.app.scalar(l)
	}
	fr := v.p.Inner()
	switch code {
	case vfNone:
		return pattern.Scalar{}
	case vfSource:
		m := &v.meta
		if m.Source != "" && v.sourceOK.valid(m.Source) {
			return pattern.Scalar{Kind: pattern.ScalarString, Str: m.Source}
		}
	case vfDetailType:
		return pattern.Scalar{Kind: pattern.ScalarString, Str: DetailType(fr)}
	case vfListener:
		if v.meta.Listener == "" {
			return pattern.Scalar{}
		}
		if v.listenerOK.valid(v.meta.Listener) {
			return pattern.Scalar{Kind: pattern.ScalarString, Str: v.meta.Listener}
		}
	case vfSrcIP:
		if HasIP(fr) {
			return v.addrScalar(fr.Src, 0)
		}
		return pattern.Scalar{}
	case vfDstIP:
		if HasIP(fr) {
			return v.addrScalar(fr.Dst, 1)
		}
		return pattern.Scalar{}
	case vfSrcPort, vfDstPort:
		if !HasIP(fr) || !HasPorts(fr) {
			return pattern.Scalar{}
		}
		port := fr.SrcPort
		if code == vfDstPort {
			port = fr.DstPort
		}
		return pattern.Scalar{Kind: pattern.ScalarUint, Num: uint64(port)}
	case vfProtocol:
		if !HasIP(fr) {
			return pattern.Scalar{}
		}
		return pattern.Scalar{Kind: pattern.ScalarString, Str: ProtocolName(fr.Protocol)}
	case vfLength:
		return pattern.Scalar{Kind: pattern.ScalarUint, Num: uint64(PayloadLength(fr))}
	case vfVersion:
		return pattern.Scalar{Kind: pattern.ScalarString, Str: Version}
	case vfIPVersion, vfTTL, vfDSCP, vfFlowLabel, vfIPID, vfDontFragment, vfFragOffset, vfMoreFragments, vfLenFromCap:
		if HasIP(fr) {
			return ipScalar(code, fr)
		}
		return pattern.Scalar{}
	case vfTCPSeq, vfTCPAck, vfTCPWindow:
		if !HasTCPBlock(fr) {
			return pattern.Scalar{}
		}
		n := fr.TCPSeq
		switch code {
		case vfTCPAck:
			n = fr.TCPAck
		case vfTCPWindow:
			n = uint32(fr.TCPWindow)
		}
		return uintScalar(uint64(n))
	case vfICMPType, vfICMPCode, vfICMPID, vfICMPSeq:
		if fr.Layers&(packet.LayerICMPv4|packet.LayerICMPv6) == 0 {
			return pattern.Scalar{}
		}
		switch code {
		case vfICMPType:
			return uintScalar(uint64(fr.ICMPType))
		case vfICMPCode:
			return uintScalar(uint64(fr.ICMPCode))
		case vfICMPID:
			if fr.ICMPHasEcho {
				return uintScalar(uint64(fr.ICMPID))
			}
		case vfICMPSeq:
			if fr.ICMPHasEcho {
				return uintScalar(uint64(fr.ICMPSeq))
			}
		}
		return pattern.Scalar{}
	case vfEthType:
		if hasLinkBlock(fr) {
			return uintScalar(uint64(fr.EtherType))
		}
		return pattern.Scalar{}
	case vfTruncated:
		if v.p.Truncated() {
			return pattern.Scalar{Kind: pattern.ScalarTrue}
		}
		return pattern.Scalar{}
	case vfPayloadText:
		if text, _ := v.app.payloadText(); text != nil {
			return pattern.Scalar{Kind: pattern.ScalarString, Str: bytesString(text)}
		}
		return pattern.Scalar{}
	case vfPayloadTextCut:
		if _, cut := v.app.payloadText(); cut {
			return pattern.Scalar{Kind: pattern.ScalarTrue}
		}
		return pattern.Scalar{}
	case vfDecodeError:
		if v.p.Err != packet.OK {
			return pattern.Scalar{Kind: pattern.ScalarString, Str: v.p.Err.String()}
		}
		return pattern.Scalar{}
	case vfTunType, vfTunVNI, vfTunFlowHash, vfTunKey, vfTunSequence, vfTunSessionID, vfTunVersion, vfTunTEID, vfTunFragment,
		vfTunSrcIP, vfTunSrcPort, vfTunDstIP, vfTunDstPort:
		if t := v.p.Tunnel(); t != nil {
			return v.tunnelScalar(code, t)
		}
		return pattern.Scalar{}
	}
	return pattern.Scalar{Kind: pattern.ScalarMany}
}

func uintScalar(n uint64) pattern.Scalar { return pattern.Scalar{Kind: pattern.ScalarUint, Num: n} }

// addrScalar is the Scalar of an address field: the JSON string appendAddr
// writes ("" for the invalid address of a hand-made view). An IPv6 address's
// bytes are kept in slot of v.ip6: a string over them stays the same while
// the Match runs (the next Scalar call for the field writes the same bytes;
// Reset starts another Match).
func (v *View) addrScalar(a netip.Addr, slot int) pattern.Scalar {
	switch {
	case a.Is4():
		return pattern.IPv4Scalar(a)
	case !a.IsValid():
		return pattern.Scalar{Kind: pattern.ScalarString}
	case a.Zone() != "":
		return pattern.Scalar{Kind: pattern.ScalarMany} // never from the decoder; VisitField reports it with its zone
	}
	v.ip6[slot] = a.As16()
	return pattern.Scalar{Kind: pattern.ScalarIPv6, Str: unsafe.String(&v.ip6[slot][0], 16)}
}

// ipScalar is detail.IP's field code of frame f, which has an IP header.
func ipScalar(code viewField, f *packet.Frame) pattern.Scalar {
	v6 := f.Layers&packet.LayerIPv6 != 0
	switch code {
	case vfIPVersion:
		return uintScalar(uint64(f.IPVersion))
	case vfTTL:
		return uintScalar(uint64(f.TTL))
	case vfDSCP:
		return uintScalar(uint64(f.TOS >> 2))
	case vfFlowLabel:
		if v6 {
			return uintScalar(uint64(f.FlowLabel))
		}
	case vfIPID:
		if hasIPID(f) {
			return uintScalar(uint64(f.IPID))
		}
	case vfDontFragment:
		if f.DontFrag {
			return pattern.Scalar{Kind: pattern.ScalarTrue}
		}
	case vfFragOffset:
		if f.Fragment {
			return uintScalar(uint64(f.FragOffset))
		}
	case vfLenFromCap:
		if lenFromCapture(f) {
			return pattern.Scalar{Kind: pattern.ScalarTrue}
		}
	case vfMoreFragments:
		if f.Fragment {
			if f.MoreFrags {
				return pattern.Scalar{Kind: pattern.ScalarTrue}
			}
			return pattern.Scalar{Kind: pattern.ScalarFalse}
		}
	}
	return pattern.Scalar{}
}

// tunnelScalar is detail.Tunnel's single-valued field code of tunnel t.
func (v *View) tunnelScalar(code viewField, t *packet.Tunnel) pattern.Scalar {
	switch code {
	case vfTunType:
		return pattern.Scalar{Kind: pattern.ScalarString, Str: t.Type.String()}
	case vfTunVNI:
		if IsVNITunnel(t) {
			return uintScalar(uint64(t.VNI))
		}
	case vfTunFlowHash:
		if IsVNITunnel(t) {
			return uintScalar(uint64(t.FlowHash))
		}
	case vfTunKey:
		if t.GREHasKey {
			return uintScalar(uint64(t.GREKey))
		}
	case vfTunSequence:
		if t.GREHasSeq {
			return uintScalar(uint64(t.GRESeq))
		}
	case vfTunSessionID:
		if t.Type == packet.TunnelERSPAN && t.ERSPANVersion >= 2 {
			return uintScalar(uint64(t.ERSPANSession))
		}
	case vfTunVersion:
		if t.Type == packet.TunnelERSPAN {
			return uintScalar(uint64(t.ERSPANVersion))
		}
	case vfTunTEID:
		if t.Type == packet.TunnelGTPU {
			return uintScalar(uint64(t.TEID))
		}
	case vfTunFragment:
		if OuterFragment(v.p) {
			return pattern.Scalar{Kind: pattern.ScalarTrue}
		}
	case vfTunSrcIP, vfTunDstIP, vfTunSrcPort, vfTunDstPort:
		outer := v.p.Outer()
		switch {
		case !HasIP(outer):
		case code == vfTunSrcIP:
			return v.addrScalar(outer.Src, 2)
		case code == vfTunDstIP:
			return v.addrScalar(outer.Dst, 3)
		case !HasPorts(outer):
		case code == vfTunSrcPort:
			return uintScalar(uint64(outer.SrcPort))
		default:
			return uintScalar(uint64(outer.DstPort))
		}
	}
	return pattern.Scalar{}
}

// VisitField implements pattern.Event: it reports the values the event JSON
// holds at f.Path, with their JSON types, and nothing for a path the event
// does not have (or an object path).
func (v *View) VisitField(f pattern.Field, out *pattern.Values) {
	code := vfNone
	if int(f.ID) < len(viewCodes) {
		code = viewCodes[f.ID]
	}
	if code == vfNone {
		return
	}
	if sc := v.scalar(code); sc.Kind != pattern.ScalarMany {
		out.Scalar(sc)
		return
	}
	p := v.p
	fr := p.Inner()
	switch code {
	case vfSrcIP:
		reportAddr(out, fr.Src)
	case vfDstIP:
		reportAddr(out, fr.Dst)
	case vfTunSrcIP:
		reportAddr(out, p.Outer().Src)
	case vfTunDstIP:
		reportAddr(out, p.Outer().Dst)
	case vfID:
		var b [36]byte
		out.Bytes(v.ID().AppendText(b[:0]))
	case vfSource:
		v.reportSource(out)
	case vfTime:
		var b [20]byte
		out.Bytes(v.stamp().appendSeconds(b[:0]))
	case vfResources:
		if v.meta.Listener != "" {
			out.Enter(arrResources, 0)
			v.reportListener(out)
			out.Leave()
		}
	case vfTimestamp:
		var b [31]byte
		out.Bytes(v.stamp().appendNano(b[:0]))
	case vfListener:
		if v.meta.Listener != "" {
			v.reportListener(out)
		}
	case vfPayload:
		v.buf = base64.StdEncoding.AppendEncode(v.buf[:0], p.Payload())
		out.Bytes(v.buf)
	case vfExtensions:
		if fr.Layers&packet.LayerIPv6 != 0 && fr.IPv6Ext != 0 {
			reportNames(out, arrExtensions, uint32(fr.IPv6Ext), IPv6ExtNames[:])
		}
	case vfTCPFlags:
		if HasTCPBlock(fr) {
			reportNames(out, arrTCPFlags, uint32(fr.TCPFlags), TCPFlagNames[:])
		}
	case vfEthSrc, vfEthDst:
		if hasLinkBlock(fr) {
			reportLinkAddr(out, code, fr)
		}
	case vfVLAN:
		reportVLANs(out, arrVLAN, fr)
	default:
		if l := appLeaves[code]; l != nil {
			v.app.visit(l, out, &v.buf)
			return
		}
		// detail.Tunnel
		if t := p.Tunnel(); t != nil {
			v.reportTunnel(out, code, t)
		}
	}
}

// Strings from Meta are reported as they read back from the JSON: the
// encoder writes each invalid UTF-8 byte as U+FFFD.

func (v *View) reportListener(out *pattern.Values) {
	if v.listenerOK.valid(v.meta.Listener) {
		out.Str(v.meta.Listener)
		return
	}
	v.buf = appendValidUTF8(v.buf[:0], v.meta.Listener)
	out.Bytes(v.buf)
}

func (v *View) reportSource(out *pattern.Values) {
	m := &v.meta
	if m.Source != "" || m.SourceType == "" {
		if v.sourceOK.valid(m.Source) {
			out.Str(m.source())
			return
		}
		v.buf = appendValidUTF8(v.buf[:0], m.source())
		out.Bytes(v.buf)
		return
	}
	v.buf = append(v.buf[:0], sourcePrefix...)
	if v.typeOK.valid(m.SourceType) {
		v.buf = append(v.buf, m.SourceType...)
	} else {
		v.buf = appendValidUTF8(v.buf, m.SourceType)
	}
	out.Bytes(v.buf)
}

// appendValidUTF8 appends s with every byte that is not part of a valid
// UTF-8 sequence replaced by U+FFFD, as appendStringBody escapes it.
func appendValidUTF8(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// reportAddr reports an address as the JSON string appendAddr writes ("" for
// the invalid address of a hand-made view).
func reportAddr(out *pattern.Values, a netip.Addr) {
	if !a.IsValid() {
		out.Str("")
		return
	}
	out.Addr(a)
}

// reportNames reports the array appendNames writes: names[i] for every bit
// i set in bits.
func reportNames(out *pattern.Values, arr pattern.ArrayID, bits uint32, names []string) {
	n := 0
	for i, name := range names {
		if bits&(1<<i) != 0 {
			out.Enter(arr, n)
			out.Str(name)
			out.Leave()
			n++
		}
	}
}

// reportLinkAddr reports detail.Ethernet.Source or .Destination of f, which
// has the Ethernet block.
func reportLinkAddr(out *pattern.Values, code viewField, f *packet.Frame) {
	var b [17]byte
	src, dst := linkAddrs(f)
	switch {
	case code == vfEthSrc && src != nil:
		out.Bytes(appendMAC(b[:0], src))
	case code == vfEthDst && dst != nil:
		out.Bytes(appendMAC(b[:0], dst))
	}
}

func reportVLANs(out *pattern.Values, arr pattern.ArrayID, f *packet.Frame) {
	n := VLANCount(f)
	for i := range n {
		out.Enter(arr, i)
		out.Uint(uint64(f.VLANs[i]))
		out.Leave()
	}
}

func (v *View) reportTunnel(out *pattern.Values, code viewField, t *packet.Tunnel) {
	p := v.p
	switch code {
	case vfTunVLAN:
		reportVLANs(out, arrTunVLAN, p.Outer())
	case vfTunLabels:
		for i := range MPLSCount(t) {
			out.Enter(arrTunLabels, i)
			out.Uint(uint64(t.MPLSLabel(i)))
			out.Leave()
		}
	case vfOptClass, vfOptType, vfOptData:
		if t.Type != packet.TunnelGeneve {
			return
		}
		for i := range numGeneveOptions(t) {
			o := &t.Options[i]
			out.Enter(arrOptions, i)
			switch code {
			case vfOptClass:
				out.Uint(uint64(o.Class))
			case vfOptType:
				out.Uint(uint64(o.Type))
			default:
				v.buf = base64.StdEncoding.AppendEncode(v.buf[:0], geneveOptionData(p, o))
				out.Bytes(v.buf)
			}
			out.Leave()
		}
	case vfGWLBEndpoint, vfGWLBAttachment, vfGWLBCookie:
		if t.Type != packet.TunnelGeneve {
			return
		}
		var b [18]byte
		g := &t.GWLB
		switch {
		case code == vfGWLBEndpoint && g.Has&packet.GWLBHasEndpointID != 0:
			out.Bytes(AppendHex64(b[:0], g.EndpointID))
		case code == vfGWLBAttachment && g.Has&packet.GWLBHasAttachmentID != 0:
			out.Bytes(AppendHex64(b[:0], g.AttachmentID))
		case code == vfGWLBCookie && g.Has&packet.GWLBHasFlowCookie != 0:
			out.Bytes(AppendHex32(b[:0], g.FlowCookie))
		}
	}
}
