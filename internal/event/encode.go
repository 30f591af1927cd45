package event

import (
	"encoding/base64"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/wirebridge/wirebridge/internal/dissect"
	"github.com/wirebridge/wirebridge/internal/packet"
)

// Meta is what the pipeline knows about a packet beyond its bytes: which
// listener (configured source) captured it.
type Meta struct {
	// Listener is the name of the configured source: detail.Listener and the
	// only entry of resources. Empty: no Listener key, resources is [].
	Listener string
	// SourceType is the kind of source ("udp", "raw", "afpacket", "pcap",
	// "vxlan", "geneve"); the event source defaults to "wirebridge.<SourceType>".
	SourceType string
	// Source, when set, is the event source (config: event_source), replacing
	// the default.
	Source string
}

// source returns the event source Meta selects.
func (m *Meta) source() string {
	if m.Source != "" {
		return m.Source
	}
	return DefaultSource(m.SourceType)
}

// Encoder builds events from packets. The zero value is ready to use: ids come
// from the process-wide generator and packets without a usable capture
// timestamp get the current time. An Encoder is safe for concurrent use.
type Encoder struct {
	// IDs generates event ids; nil means the process-wide generator.
	IDs *IDGenerator
	// Now is the clock for packets whose capture timestamp is zero or outside
	// years 0..9999; nil means time.Now.
	Now func() time.Time
	// Dissect chooses the application dissector of each packet and the
	// length of detail.PayloadText; nil means dissect.Default().
	Dissect *dissect.Table
}

// table returns the dissector table e uses.
func (e *Encoder) table() *dissect.Table {
	if e.Dissect != nil {
		return e.Dissect
	}
	return dissect.Default()
}

func (e *Encoder) nextID() ID {
	if e.IDs != nil {
		return e.IDs.Next()
	}
	return defaultIDs.Next()
}

// timestamp returns the event instant: the capture timestamp, in UTC.
func (e *Encoder) timestamp(p *packet.Packet) time.Time {
	t := p.Info.Timestamp
	if !usableTime(t) {
		if e.Now != nil {
			t = e.Now()
		} else {
			t = time.Now()
		}
		if !usableTime(t) {
			t = time.Unix(0, 0)
		}
	}
	return t.UTC()
}

// Preassembled key fragments; built from the constants in fields.go at compile time.
const (
	jsonHead       = `{"` + KeyVersion + `":"` + Version + `","` + KeyID + `":"`
	jsonSource     = `","` + KeySource + `":`
	jsonDetailType = `,"` + KeyDetailType + `":"`
	jsonTime       = `","` + KeyTime + `":"`
	jsonResources  = `","` + KeyResources + `":[`
	jsonDetail     = `],"` + KeyDetail + `":`

	jTimestamp   = `{"` + KeyTimestamp + `":"`
	jListener    = `,"` + KeyListener + `":`
	jSrcIP       = `,"` + KeySrc + `":{"` + KeyIP + `":"`
	jDstIP       = `,"` + KeyDst + `":{"` + KeyIP + `":"`
	jPort        = `","` + KeyPort + `":`
	jProtocol    = `,"` + KeyProtocol + `":"`
	jLength      = `,"` + KeyLength + `":`
	jPayload     = `,"` + KeyPayload + `":"`
	jPayloadText = `,"` + KeyPayloadText + `":`
	jPayloadCut  = `,"` + KeyPayloadTextCut + `":true`
	jIPVersion   = `,"` + KeyIP + `":{"` + KeyIPVersion + `":`
	jTTL         = `,"` + KeyTTL + `":`
	jDSCP        = `,"` + KeyDSCP + `":`
	jFlowLabel   = `,"` + KeyFlowLabel + `":`
	jIPID        = `,"` + KeyIPID + `":`
	jDF          = `,"` + KeyDontFragment + `":true`
	jFragOffset  = `,"` + KeyFragment + `":{"` + KeyFragOffset + `":`
	jMoreFrags   = `,"` + KeyMoreFragments + `":`
	jExtensions  = `,"` + KeyExtensions + `":[`
	jLenFromCap  = `,"` + KeyLenFromCap + `":true`
	jTCPFlags    = `,"` + KeyTCP + `":{"` + KeyFlags + `":[`
	jSeq         = `],"` + KeySeq + `":`
	jAck         = `,"` + KeyAck + `":`
	jWindow      = `,"` + KeyWindow + `":`
	jICMPType    = `,"` + KeyICMP + `":{"` + KeyType + `":`
	jCode        = `,"` + KeyCode + `":`
	jICMPID      = `,"` + KeyICMPID + `":`
	jICMPSeq     = `,"` + KeyICMPSeq + `":`
	jEthernet    = `,"` + KeyEthernet + `":{`
	jEthSrc      = `"` + KeySrc + `":"`
	jEthDst      = `"` + KeyDst + `":"`
	jEthType     = `"` + KeyEthType + `":`
	jVLAN        = `,"` + KeyVLAN + `":[`
	jTunnelType  = `,"` + KeyTunnel + `":{"` + KeyType + `":"`
	jVNI         = `,"` + KeyVNI + `":`
	jFlowHash    = `,"` + KeyFlowHash + `":`
	jGREKey      = `,"` + KeyGREKey + `":`
	jGRESeq      = `,"` + KeyGRESequence + `":`
	jSessionID   = `,"` + KeySessionID + `":`
	jERSPANVer   = `,"` + KeyERSPANVersion + `":`
	jTEID        = `,"` + KeyTEID + `":`
	jLabels      = `,"` + KeyLabels + `":[`
	jTunFragment = `,"` + KeyFragment + `":true`
	jOptions     = `,"` + KeyOptions + `":[`
	jOptClass    = `{"` + KeyOptClass + `":`
	jOptType     = `,"` + KeyOptType + `":`
	jOptData     = `,"` + KeyOptData + `":"`
	jGWLB        = `,"` + KeyGWLB + `":{`
	jEndpointID  = `"` + KeyEndpointID + `":"`
	jAttachment  = `"` + KeyAttachmentID + `":"`
	jFlowCookie  = `"` + KeyFlowCookie + `":"`
	jTruncated   = `,"` + KeyTruncated + `":true`
	jDecodeError = `,"` + KeyDecodeError + `":"`
)

// AppendJSON appends the event JSON for p to dst and returns the extended
// slice. It uses no reflection and allocates nothing except when dst must grow.
func (e *Encoder) AppendJSON(dst []byte, p *packet.Packet, m Meta) []byte {
	id := e.nextID()
	st := makeStamp(e.timestamp(p))
	a := getApp(e.table(), p)
	dst = appendEvent(dst, p, &m, &id, &st, a)
	putApp(a)
	return dst
}

// appendEvent appends the event JSON of p with the given id and time: the
// one implementation behind Encoder.AppendJSON and View.AppendJSON.
func appendEvent(dst []byte, p *packet.Packet, m *Meta, id *ID, st *stamp, a *appLayer) []byte {
	dst = slices.Grow(dst, sizeHint(p, m, a))
	dst = append(dst, jsonHead...)
	dst = id.AppendText(dst)
	dst = append(dst, jsonSource...)
	dst = appendEventSource(dst, m)
	dst = append(dst, jsonDetailType...)
	dst = append(dst, DetailType(p.Inner())...)
	dst = append(dst, jsonTime...)
	dst = append(dst, st.b[:19]...)
	dst = append(dst, "Z"+jsonResources...)
	if m.Listener != "" {
		dst = appendString(dst, m.Listener)
	}
	dst = append(dst, jsonDetail...)
	dst = appendDetail(dst, p, m, st, a)
	return append(dst, '}')
}

// sizeHint is an upper bound, for usual names, of the bytes one event takes,
// so a nil or short dst grows once rather than by doubling.
func sizeHint(p *packet.Packet, m *Meta, a *appLayer) int {
	const fixed = 640 // envelope, detail, IP, TCP/ICMP blocks with maximal numbers
	n := fixed + 12*len(m.Listener) + 6*(len(m.Source)+len(m.SourceType))
	f := p.Inner()
	if f.PayloadLen > 0 {
		n += base64.StdEncoding.EncodedLen(f.PayloadLen)
	}
	if text, _ := a.payloadText(); text != nil {
		n += len(jPayloadText) + len(jPayloadCut) + 2 + len(text) + a.textEsc
	}
	n += appSizeHint(a)
	if t := p.Tunnel(); t != nil {
		n += 320
		if t.Type == packet.TunnelGeneve {
			for i := range numGeneveOptions(t) {
				n += 48 + base64.StdEncoding.EncodedLen(max(t.Options[i].Len, 0))
			}
		}
	}
	return n
}

// appendEventSource appends the JSON string of the event source without
// building the default "wirebridge.<type>" string.
func appendEventSource(dst []byte, m *Meta) []byte {
	if m.Source != "" || m.SourceType == "" {
		return appendString(dst, m.source())
	}
	dst = append(dst, '"')
	dst = append(dst, sourcePrefix...)
	dst = appendStringBody(dst, m.SourceType, true)
	return append(dst, '"')
}

func appendDetail(dst []byte, p *packet.Packet, m *Meta, st *stamp, a *appLayer) []byte {
	f := p.Inner()
	dst = append(dst, jTimestamp...)
	dst = append(dst, st.b[:st.n]...)
	if m.Listener != "" {
		dst = append(dst, `Z"`+jListener...)
		dst = appendString(dst, m.Listener)
	} else {
		dst = append(dst, 'Z', '"')
	}
	ip := HasIP(f)
	if ip {
		dst = appendEndpoints(dst, f)
		dst = append(dst, jProtocol...)
		dst = append(dst, ProtocolName(f.Protocol)...)
		dst = append(dst, `"`+jLength...)
	} else {
		dst = append(dst, jLength...)
	}
	dst = appendUint(dst, uint64(PayloadLength(f)))
	dst = append(dst, jPayload...)
	dst = appendBase64(dst, p.Payload())
	dst = append(dst, '"')
	if text, cut := a.payloadText(); text != nil {
		dst = append(dst, jPayloadText...)
		dst = appendStringBytes(dst, text)
		if cut {
			dst = append(dst, jPayloadCut...)
		}
	}
	if ip {
		dst = append(dst, jIPVersion...)
		dst = appendIP(dst, f)
	}
	if HasTCPBlock(f) {
		dst = append(dst, jTCPFlags...)
		dst = appendNames(dst, uint32(f.TCPFlags), TCPFlagNames[:])
		dst = append(dst, jSeq...)
		dst = appendUint(dst, uint64(f.TCPSeq))
		dst = append(dst, jAck...)
		dst = appendUint(dst, uint64(f.TCPAck))
		dst = append(dst, jWindow...)
		dst = appendUint(dst, uint64(f.TCPWindow))
		dst = append(dst, '}')
	}
	if f.Layers&(packet.LayerICMPv4|packet.LayerICMPv6) != 0 {
		dst = append(dst, jICMPType...)
		dst = appendUint(dst, uint64(f.ICMPType))
		dst = append(dst, jCode...)
		dst = appendUint(dst, uint64(f.ICMPCode))
		if f.ICMPHasEcho {
			dst = append(dst, jICMPID...)
			dst = appendUint(dst, uint64(f.ICMPID))
			dst = append(dst, jICMPSeq...)
			dst = appendUint(dst, uint64(f.ICMPSeq))
		}
		dst = append(dst, '}')
	}
	if hasLinkBlock(f) {
		dst = append(dst, jEthernet...)
		src, dstMAC := linkAddrs(f)
		if src != nil {
			dst = append(dst, jEthSrc...)
			dst = appendMAC(dst, src)
			dst = append(dst, '"', ',')
		}
		if dstMAC != nil {
			dst = append(dst, jEthDst...)
			dst = appendMAC(dst, dstMAC)
			dst = append(dst, '"', ',')
		}
		dst = append(dst, jEthType...)
		dst = appendUint(dst, uint64(f.EtherType))
		dst = append(dst, '}')
	}
	if n := VLANCount(f); n > 0 {
		dst = append(dst, jVLAN...)
		dst = appendUint16s(dst, f.VLANs[:n])
	}
	if t := p.Tunnel(); t != nil {
		dst = appendTunnel(dst, p, t)
	}
	dst = appendApp(dst, a)
	if p.Truncated() {
		dst = append(dst, jTruncated...)
	}
	if p.Err != packet.OK {
		dst = append(dst, jDecodeError...)
		dst = append(dst, p.Err.String()...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// appendIP appends the IP object after its opening (jIPVersion), which the
// caller has written.
func appendIP(dst []byte, f *packet.Frame) []byte {
	dst = appendUint(dst, uint64(f.IPVersion))
	dst = append(dst, jTTL...)
	dst = appendUint(dst, uint64(f.TTL))
	dst = append(dst, jDSCP...)
	dst = appendUint(dst, uint64(f.TOS>>2))
	v6 := f.Layers&packet.LayerIPv6 != 0
	if v6 {
		dst = append(dst, jFlowLabel...)
		dst = appendUint(dst, uint64(f.FlowLabel))
	}
	if hasIPID(f) {
		dst = append(dst, jIPID...)
		dst = appendUint(dst, uint64(f.IPID))
	}
	if f.DontFrag {
		dst = append(dst, jDF...)
	}
	if f.Fragment {
		dst = append(dst, jFragOffset...)
		dst = appendUint(dst, uint64(f.FragOffset))
		dst = append(dst, jMoreFrags...)
		dst = strconv.AppendBool(dst, f.MoreFrags)
		dst = append(dst, '}')
	}
	if v6 && f.IPv6Ext != 0 {
		dst = append(dst, jExtensions...)
		dst = appendNames(dst, uint32(f.IPv6Ext), IPv6ExtNames[:])
		dst = append(dst, ']')
	}
	if lenFromCapture(f) {
		dst = append(dst, jLenFromCap...)
	}
	return append(dst, '}')
}

// hasIPID reports whether detail.IP.ID is present: always for IPv4, for IPv6
// only with a fragment header.
func hasIPID(f *packet.Frame) bool {
	if f.Layers&packet.LayerIPv6 != 0 {
		return f.IPv6Ext&packet.IPv6ExtFragment != 0
	}
	return f.Layers&packet.LayerIPv4 != 0
}

func appendTunnel(dst []byte, p *packet.Packet, t *packet.Tunnel) []byte {
	outer := p.Outer()
	dst = append(dst, jTunnelType...)
	dst = append(dst, t.Type.String()...)
	dst = append(dst, '"')
	if IsVNITunnel(t) {
		dst = append(dst, jVNI...)
		dst = appendUint(dst, uint64(t.VNI))
		dst = append(dst, jFlowHash...)
		dst = appendUint(dst, uint64(t.FlowHash))
	}
	if HasIP(outer) {
		dst = appendEndpoints(dst, outer)
	}
	if n := VLANCount(outer); n > 0 {
		dst = append(dst, jVLAN...)
		dst = appendUint16s(dst, outer.VLANs[:n])
	}
	if t.GREHasKey {
		dst = append(dst, jGREKey...)
		dst = appendUint(dst, uint64(t.GREKey))
	}
	if t.GREHasSeq {
		dst = append(dst, jGRESeq...)
		dst = appendUint(dst, uint64(t.GRESeq))
	}
	if t.Type == packet.TunnelERSPAN {
		if t.ERSPANVersion >= 2 {
			dst = append(dst, jSessionID...)
			dst = appendUint(dst, uint64(t.ERSPANSession))
		}
		dst = append(dst, jERSPANVer...)
		dst = appendUint(dst, uint64(t.ERSPANVersion))
	}
	if t.Type == packet.TunnelGTPU {
		dst = append(dst, jTEID...)
		dst = appendUint(dst, uint64(t.TEID))
	}
	if n := MPLSCount(t); n > 0 {
		dst = append(dst, jLabels...)
		for i := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendUint(dst, uint64(t.MPLSLabel(i)))
		}
		dst = append(dst, ']')
	}
	if OuterFragment(p) {
		dst = append(dst, jTunFragment...)
	}
	if t.Type == packet.TunnelGeneve {
		if n := numGeneveOptions(t); n > 0 {
			dst = append(dst, jOptions...)
			for i := range n {
				o := &t.Options[i]
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, jOptClass...)
				dst = appendUint(dst, uint64(o.Class))
				dst = append(dst, jOptType...)
				dst = appendUint(dst, uint64(o.Type))
				dst = append(dst, jOptData...)
				dst = appendBase64(dst, geneveOptionData(p, o))
				dst = append(dst, '"', '}')
			}
			dst = append(dst, ']')
		}
		if g := &t.GWLB; g.Has&(packet.GWLBHasEndpointID|packet.GWLBHasAttachmentID|packet.GWLBHasFlowCookie) != 0 {
			dst = append(dst, jGWLB...)
			comma := false
			if g.Has&packet.GWLBHasEndpointID != 0 {
				dst = append(dst, jEndpointID...)
				dst = AppendHex64(dst, g.EndpointID)
				dst = append(dst, '"')
				comma = true
			}
			if g.Has&packet.GWLBHasAttachmentID != 0 {
				if comma {
					dst = append(dst, ',')
				}
				dst = append(dst, jAttachment...)
				dst = AppendHex64(dst, g.AttachmentID)
				dst = append(dst, '"')
				comma = true
			}
			if g.Has&packet.GWLBHasFlowCookie != 0 {
				if comma {
					dst = append(dst, ',')
				}
				dst = append(dst, jFlowCookie...)
				dst = AppendHex32(dst, g.FlowCookie)
				dst = append(dst, '"')
			}
			dst = append(dst, '}')
		}
	}
	return append(dst, '}')
}

// appendEndpoints appends the Source and Destination objects of f, which
// has an IP layer, with ports when its transport has them.
func appendEndpoints(dst []byte, f *packet.Frame) []byte {
	ports := HasPorts(f)
	dst = append(dst, jSrcIP...)
	dst = appendAddr(dst, f.Src)
	if ports {
		dst = append(dst, jPort...)
		dst = appendUint(dst, uint64(f.SrcPort))
		dst = append(dst, "}"+jDstIP...)
	} else {
		dst = append(dst, `"}`+jDstIP...)
	}
	dst = appendAddr(dst, f.Dst)
	if ports {
		dst = append(dst, jPort...)
		dst = appendUint(dst, uint64(f.DstPort))
	} else {
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// appendNames appends, as JSON strings separated by commas, names[i] for
// every bit i set in bits.
func appendNames(dst []byte, bits uint32, names []string) []byte {
	first := true
	for i, name := range names {
		if bits&(1<<i) != 0 {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, '"')
			dst = append(dst, name...)
			dst = append(dst, '"')
		}
	}
	return dst
}

// appendAddr appends an address; the invalid (zero) Addr appends nothing so
// the output stays valid JSON even for a hand-made view.
func appendAddr(dst []byte, a netip.Addr) []byte {
	if a.Is4() {
		return appendIPv4(dst, a.As4())
	}
	if !a.IsValid() {
		return dst
	}
	return a.AppendTo(dst)
}

// appendUint16s appends v as JSON numbers separated by commas, then ']'.
func appendUint16s(dst []byte, v []uint16) []byte {
	for i, x := range v {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendUint(dst, uint64(x))
	}
	return append(dst, ']')
}
