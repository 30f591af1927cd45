package conformance

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// packetFields reduces a decoded Packet to the same field names tsharkFields
// produces, frame by frame and tunnel by tunnel.
func packetFields(p *packet.Packet) fields {
	out := fields{}
	n := p.NumFrames
	if n > packet.MaxDepth {
		n = packet.MaxDepth
	}
	for i := 0; i < n; i++ {
		frameFields(out, fmt.Sprintf("f%d.", i), &p.Frames[i])
		if i+1 < n {
			tunnelFields(out, fmt.Sprintf("t%d.", i), p, &p.Tunnels[i])
		}
	}
	return out
}

func frameFields(out fields, p string, f *packet.Frame) {
	if f.NumVLANs > 0 {
		k := int(f.NumVLANs)
		if k > packet.MaxVLANs {
			k = packet.MaxVLANs
		}
		ids := make([]string, k)
		for i := range ids {
			ids[i] = fmt.Sprint(f.VLANs[i])
		}
		if int(f.NumVLANs) > k {
			ids = append(ids, fmt.Sprintf("...(%d tags)", f.NumVLANs))
		}
		out.set(p+"vlan", strings.Join(ids, ","))
	}
	switch {
	case f.Layers.Has(packet.LayerIPv4):
		out.set(p+"ip.version", 4)
		out.set(p+"ip.src", f.Src)
		out.set(p+"ip.dst", f.Dst)
		out.set(p+"ip.proto", f.Protocol)
		out.set(p+"ip.hdr_len", f.IPHeaderLen)
		out.set(p+"ip.len", f.IPTotalLen)
		out.set(p+"ip.ttl", f.TTL)
		out.set(p+"ip.id", f.IPID)
		out.set(p+"ip.frag_offset", f.FragOffset)
		out.set(p+"ip.mf", b01(f.MoreFrags))
		out.set(p+"ip.df", b01(f.DontFrag))
	case f.Layers.Has(packet.LayerIPv6):
		out.set(p+"ip.version", 6)
		out.set(p+"ip.src", f.Src)
		out.set(p+"ip.dst", f.Dst)
		out.set(p+"ip.proto", f.Protocol)
		out.set(p+"ip.hdr_len", f.IPHeaderLen)
		out.set(p+"ip.len", f.IPTotalLen)
		out.set(p+"ip.ttl", f.TTL)
		var ext []string
		for i, bit := range []uint8{packet.IPv6ExtHopByHop, packet.IPv6ExtRouting, packet.IPv6ExtFragment, packet.IPv6ExtDestOpts} {
			if f.IPv6Ext&bit != 0 {
				ext = append(ext, ipv6ExtOrder[i])
			}
		}
		if len(ext) > 0 {
			out.set(p+"ipv6.ext", strings.Join(ext, ","))
		}
		if f.IPv6Ext&packet.IPv6ExtFragment != 0 {
			out.set(p+"ip.id", f.IPID)
			out.set(p+"ip.frag_offset", f.FragOffset)
			out.set(p+"ip.mf", b01(f.MoreFrags))
		}
	}
	switch {
	case f.L4Partial && f.Layers&(packet.LayerUDP|packet.LayerTCP) != 0:
		// A header cut after the ports: only they were decoded.
		l4 := "udp."
		if f.Layers.Has(packet.LayerTCP) {
			l4 = "tcp."
		}
		out.set(p+l4+"srcport", f.SrcPort)
		out.set(p+l4+"dstport", f.DstPort)
	case f.Layers.Has(packet.LayerUDP):
		out.set(p+"udp.srcport", f.SrcPort)
		out.set(p+"udp.dstport", f.DstPort)
		out.set(p+"udp.length", f.UDPLength)
		if f.UDPLength >= 8 {
			out.set(p+"payload_len", f.PayloadWireLen)
		}
	case f.Layers.Has(packet.LayerTCP):
		out.set(p+"tcp.srcport", f.SrcPort)
		out.set(p+"tcp.dstport", f.DstPort)
		out.set(p+"tcp.seq", f.TCPSeq)
		out.set(p+"tcp.ack", f.TCPAck)
		out.set(p+"tcp.window", f.TCPWindow)
		out.set(p+"tcp.hdr_len", f.TCPHeaderLen)
		out.set(p+"tcp.flags", fmt.Sprintf("0x%03x", f.TCPFlags&tcpFlagMask))
		out.set(p+"payload_len", f.PayloadWireLen)
	case f.Layers.Has(packet.LayerICMPv4), f.Layers.Has(packet.LayerICMPv6):
		out.set(p+"icmp.type", f.ICMPType)
		out.set(p+"icmp.code", f.ICMPCode)
		if f.ICMPHasEcho {
			out.set(p+"icmp.id", f.ICMPID)
			out.set(p+"icmp.seq", f.ICMPSeq)
		}
	}
}

func tunnelFields(out fields, t string, p *packet.Packet, tn *packet.Tunnel) {
	out.set(t+"type", tn.Type)
	switch tn.Type {
	case packet.TunnelVXLAN:
		out.set(t+"vni", tn.VNI)
		out.set(t+"flowhash", tn.FlowHash)
	case packet.TunnelGeneve:
		out.set(t+"vni", tn.VNI)
		out.set(t+"flowhash", tn.FlowHash)
		out.set(t+"geneve.proto", fmt.Sprintf("0x%04x", tn.GeneveProto))
		out.set(t+"geneve.options_len", tn.GeneveOptsLen)
		out.set(t+"geneve.oam", b01(tn.GeneveOAM))
		out.set(t+"geneve.critical", b01(tn.GeneveCrit))
		if tn.NumOptions > 0 {
			opts := make([]string, 0, tn.NumOptions)
			for _, o := range tn.Options[:min(tn.NumOptions, packet.MaxGeneveOptions)] {
				data := "<out of range>"
				if o.Off >= 0 && o.Len >= 0 && o.Off+o.Len <= len(p.Data) {
					data = hex.EncodeToString(p.Data[o.Off : o.Off+o.Len])
				}
				opts = append(opts, geneveOption(o.Class, o.Type, data))
			}
			out.set(t+"geneve.options", strings.Join(opts, " "))
		}
	case packet.TunnelGTPU:
		out.set(t+"teid", tn.TEID)
		if tn.GTPHasSeq {
			out.set(t+"gtp.seq", tn.GTPSeq)
		}
	case packet.TunnelMPLS:
		var labels []string
		for i := range min(int(tn.NumMPLS), packet.MaxMPLSLabels) {
			labels = append(labels, fmt.Sprint(tn.MPLSLabel(i)))
		}
		if int(tn.NumMPLS) > packet.MaxMPLSLabels {
			labels = append(labels, fmt.Sprintf("...(%d labels)", tn.NumMPLS))
		}
		out.set(t+"mpls.labels", strings.Join(labels, ","))
		if tn.GREProto != 0 { // MPLS in GRE
			out.set(t+"gre.proto", fmt.Sprintf("0x%04x", tn.GREProto))
			if tn.GREHasKey {
				out.set(t+"gre.key", tn.GREKey)
			}
			if tn.GREHasSeq {
				out.set(t+"gre.seq", tn.GRESeq)
			}
		}
	case packet.TunnelGRE, packet.TunnelERSPAN:
		out.set(t+"gre.proto", fmt.Sprintf("0x%04x", tn.GREProto))
		if tn.GREHasKey {
			out.set(t+"gre.key", tn.GREKey)
		}
		if tn.GREHasSeq {
			out.set(t+"gre.seq", tn.GRESeq)
		}
		if tn.Type == packet.TunnelERSPAN {
			out.set(t+"erspan.version", tn.ERSPANVersion)
			if tn.ERSPANVersion >= 2 {
				out.set(t+"erspan.session", tn.ERSPANSession)
				out.set(t+"erspan.vlan", tn.ERSPANVLAN)
			}
		}
	}
}

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
