package event

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/wirebridge/wirebridge/internal/dissect"
	"github.com/wirebridge/wirebridge/internal/packet"
)

// Build returns the event for p as an Event value whose Detail is a
// *PacketDetail. Its JSON (json.Marshal) is byte for byte what AppendJSON
// writes for the same packet, id and time. Build allocates; it is for APIs and
// tests, not the per-packet path.
func (e *Encoder) Build(p *packet.Packet, m Meta) Event {
	id := e.nextID()
	ts := e.timestamp(p)
	ev := Event{
		Version:    Version,
		ID:         id.String(),
		Source:     m.source(),
		DetailType: DetailType(p.Inner()),
		Time:       ts.Truncate(time.Second),
		Resources:  []string{},
		Detail:     buildDetail(p, &m, ts, e.table()),
	}
	if m.Listener != "" {
		ev.Resources = []string{m.Listener}
	}
	return ev
}

func buildDetail(p *packet.Packet, m *Meta, ts time.Time, tab *dissect.Table) *PacketDetail {
	f := p.Inner()
	var a appLayer
	a.reset(tab, p)
	d := &PacketDetail{
		Timestamp: ts,
		Listener:  m.Listener,
		Length:    PayloadLength(f),
		Payload:   bytes.Clone(p.Payload()),
		Truncated: p.Truncated(),
	}
	if d.Payload == nil {
		d.Payload = []byte{}
	}
	if text, cut := a.payloadText(); text != nil {
		d.PayloadText, d.PayloadTextTruncated = string(text), cut
	}
	if HasIP(f) {
		d.Source, d.Destination = endpoints(f)
		d.Protocol = ProtocolName(f.Protocol)
		d.IP = buildIP(f)
	}
	if HasTCPBlock(f) {
		t := &TCPInfo{Flags: []string{}, Seq: f.TCPSeq, Ack: f.TCPAck, Window: f.TCPWindow}
		for i, name := range TCPFlagNames {
			if f.TCPFlags&(1<<i) != 0 {
				t.Flags = append(t.Flags, name)
			}
		}
		d.TCP = t
	}
	if f.Layers&(packet.LayerICMPv4|packet.LayerICMPv6) != 0 {
		c := &ICMPInfo{Type: f.ICMPType, Code: f.ICMPCode}
		if f.ICMPHasEcho {
			c.ID, c.Seq = ptr(f.ICMPID), ptr(f.ICMPSeq)
		}
		d.ICMP = c
	}
	if hasLinkBlock(f) {
		eth := &EthernetInfo{EtherType: f.EtherType}
		src, dst := linkAddrs(f)
		if src != nil {
			eth.Source = string(appendMAC(nil, src))
		}
		if dst != nil {
			eth.Destination = string(appendMAC(nil, dst))
		}
		d.Ethernet = eth
	}
	if n := VLANCount(f); n > 0 {
		d.VLAN = append([]uint16(nil), f.VLANs[:n]...)
	}
	if t := p.Tunnel(); t != nil {
		d.Tunnel = buildTunnel(p, t)
	}
	buildApp(d, &a)
	if p.Err != packet.OK {
		d.DecodeError = p.Err.String()
	}
	return d
}

func endpoints(f *packet.Frame) (src, dst *Endpoint) {
	src = &Endpoint{IP: addrString(f.Src)}
	dst = &Endpoint{IP: addrString(f.Dst)}
	if HasPorts(f) {
		src.Port, dst.Port = ptr(f.SrcPort), ptr(f.DstPort)
	}
	return src, dst
}

func buildIP(f *packet.Frame) *IPInfo {
	ip := &IPInfo{Version: f.IPVersion, TTL: f.TTL, DSCP: f.TOS >> 2, DontFragment: f.DontFrag}
	v6 := f.Layers&packet.LayerIPv6 != 0
	if v6 {
		ip.FlowLabel = ptr(f.FlowLabel)
	}
	if hasIPID(f) {
		ip.ID = ptr(f.IPID)
	}
	if f.Fragment {
		ip.Fragment = &Fragment{Offset: f.FragOffset, MoreFragments: f.MoreFrags}
	}
	if v6 && f.IPv6Ext != 0 {
		for i, name := range IPv6ExtNames {
			if f.IPv6Ext&(1<<i) != 0 {
				ip.Extensions = append(ip.Extensions, name)
			}
		}
	}
	ip.LengthFromCapture = lenFromCapture(f)
	return ip
}

func buildTunnel(p *packet.Packet, t *packet.Tunnel) *TunnelInfo {
	outer := p.Outer()
	ti := &TunnelInfo{Type: t.Type.String()}
	if IsVNITunnel(t) {
		ti.VNI, ti.FlowHash = ptr(t.VNI), ptr(t.FlowHash)
	}
	if HasIP(outer) {
		ti.Source, ti.Destination = endpoints(outer)
	}
	if n := VLANCount(outer); n > 0 {
		ti.VLAN = append([]uint16(nil), outer.VLANs[:n]...)
	}
	if t.GREHasKey {
		ti.Key = ptr(t.GREKey)
	}
	if t.GREHasSeq {
		ti.Sequence = ptr(t.GRESeq)
	}
	if t.Type == packet.TunnelERSPAN {
		if t.ERSPANVersion >= 2 {
			ti.SessionID = ptr(t.ERSPANSession)
		}
		ti.Version = ptr(t.ERSPANVersion)
	}
	if t.Type == packet.TunnelGTPU {
		ti.TEID = ptr(t.TEID)
	}
	if n := MPLSCount(t); n > 0 {
		for i := range n {
			ti.Labels = append(ti.Labels, t.MPLSLabel(i))
		}
	}
	ti.Fragment = OuterFragment(p)
	if t.Type == packet.TunnelGeneve {
		for i := range numGeneveOptions(t) {
			o := &t.Options[i]
			data := bytes.Clone(geneveOptionData(p, o))
			if data == nil {
				data = []byte{}
			}
			ti.Options = append(ti.Options, GeneveOption{Class: o.Class, Type: o.Type, Data: data})
		}
		if g := &t.GWLB; g.Has&(packet.GWLBHasEndpointID|packet.GWLBHasAttachmentID|packet.GWLBHasFlowCookie) != 0 {
			gi := &GWLBInfo{}
			if g.Has&packet.GWLBHasEndpointID != 0 {
				gi.EndpointID = string(AppendHex64(nil, g.EndpointID))
			}
			if g.Has&packet.GWLBHasAttachmentID != 0 {
				gi.AttachmentID = string(AppendHex64(nil, g.AttachmentID))
			}
			if g.Has&packet.GWLBHasFlowCookie != 0 {
				gi.FlowCookie = string(AppendHex32(nil, g.FlowCookie))
			}
			ti.GWLB = gi
		}
	}
	return ti
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func ptr[T any](v T) *T { return &v }
