package app

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// appendText appends a one-line summary of p in the spirit of `tcpdump -n`:
//
//	20:40:15.123456 IP 10.0.0.7.40123 > 10.0.0.2.514: UDP, length 42
//
// Tunnelled packets describe the innermost frame and end with the outermost
// tunnel in brackets: `[vxlan vni 42 172.31.1.5.65445 > 172.31.1.9.4789]`.
func appendText(b []byte, p *packet.Packet) []byte {
	b = appendClock(b, p.Info.Timestamp)
	b = append(b, ' ')
	f := p.Inner()
	b = appendFrameText(b, p, f)
	if t := p.Tunnel(); t != nil {
		o := p.Outer()
		b = append(b, " ["...)
		b = append(b, t.Type.String()...)
		switch t.Type {
		case packet.TunnelVXLAN, packet.TunnelGeneve:
			b = append(b, " vni "...)
			b = strconv.AppendUint(b, uint64(t.VNI), 10)
		case packet.TunnelGRE:
			if t.GREHasKey {
				b = append(b, " key "...)
				b = strconv.AppendUint(b, uint64(t.GREKey), 10)
			}
		case packet.TunnelERSPAN:
			b = append(b, " type "...)
			b = strconv.AppendUint(b, uint64(t.ERSPANVersion), 10)
			if t.ERSPANVersion > 1 {
				b = append(b, " session "...)
				b = strconv.AppendUint(b, uint64(t.ERSPANSession), 10)
			}
		case packet.TunnelGTPU:
			b = append(b, " teid "...)
			b = strconv.AppendUint(b, uint64(t.TEID), 10)
		case packet.TunnelMPLS:
			b = append(b, " labels "...)
			for i := range min(int(t.NumMPLS), packet.MaxMPLSLabels) {
				if i > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendUint(b, uint64(t.MPLSLabel(i)), 10)
			}
		}
		if o.IPOff >= 0 && o.Src.IsValid() {
			b = append(b, ' ')
			b = appendHostPort(b, o.Src, o.SrcPort, o.Layers.Has(packet.LayerUDP))
			b = append(b, " > "...)
			b = appendHostPort(b, o.Dst, o.DstPort, o.Layers.Has(packet.LayerUDP))
		}
		b = append(b, ']')
	}
	if p.Err != packet.OK {
		b = append(b, " [|"...)
		b = append(b, p.Err.String()...)
		b = append(b, ']')
	}
	return append(b, '\n')
}

func appendFrameText(b []byte, p *packet.Packet, f *packet.Frame) []byte {
	if f.NumVLANs > 0 {
		b = append(b, "vlan "...)
		n := int(f.NumVLANs)
		if n > packet.MaxVLANs {
			n = packet.MaxVLANs
		}
		for i := 0; i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, uint64(f.VLANs[i]), 10)
		}
		b = append(b, ", "...)
	}
	if f.Layers.Has(packet.LayerPPPoE) { // as tcpdump prints it
		b = append(b, "PPPoE  [ses 0x"...)
		b = strconv.AppendUint(b, uint64(f.PPPoESession), 16)
		b = append(b, "] "...)
	}
	switch {
	case f.Layers.Has(packet.LayerIPv4) || f.Layers.Has(packet.LayerIPv6):
		if f.IPVersion == 6 {
			b = append(b, "IP6 "...)
		} else {
			b = append(b, "IP "...)
		}
		ports := (f.Layers.Has(packet.LayerUDP) || f.Layers.Has(packet.LayerTCP)) && !(f.Fragment && f.FragOffset > 0)
		b = appendHostPort(b, f.Src, f.SrcPort, ports)
		b = append(b, " > "...)
		b = appendHostPort(b, f.Dst, f.DstPort, ports)
		b = append(b, ": "...)
		switch {
		case f.Fragment && f.FragOffset > 0:
			b = append(b, "fragment offset "...)
			b = strconv.AppendUint(b, uint64(f.FragOffset), 10)
			b = append(b, ", proto "...)
			b = strconv.AppendUint(b, uint64(f.Protocol), 10)
		case f.Layers.Has(packet.LayerUDP):
			b = append(b, "UDP"...)
		case f.Layers.Has(packet.LayerTCP):
			b = append(b, "Flags ["...)
			b = appendTCPFlags(b, f.TCPFlags)
			b = append(b, "], seq "...)
			b = strconv.AppendUint(b, uint64(f.TCPSeq), 10)
			if f.TCPFlags&packet.TCPAck != 0 {
				b = append(b, ", ack "...)
				b = strconv.AppendUint(b, uint64(f.TCPAck), 10)
			}
			b = append(b, ", win "...)
			b = strconv.AppendUint(b, uint64(f.TCPWindow), 10)
		case f.Layers.Has(packet.LayerICMPv4) || f.Layers.Has(packet.LayerICMPv6):
			if f.Layers.Has(packet.LayerICMPv6) {
				b = append(b, "ICMP6 "...)
			} else {
				b = append(b, "ICMP "...)
			}
			b = appendICMPName(b, f)
		default:
			b = append(b, "proto "...)
			b = strconv.AppendUint(b, uint64(f.Protocol), 10)
		}
		b = append(b, ", length "...)
		b = strconv.AppendInt(b, int64(f.PayloadLen), 10)
	case f.Layers.Has(packet.LayerARP):
		b = append(b, "ARP, length "...)
		b = strconv.AppendInt(b, int64(len(p.Data)-f.Start), 10)
	default:
		b = append(b, "ethertype 0x"...)
		b = appendHex16(b, f.EtherType)
		b = append(b, ", length "...)
		b = strconv.AppendInt(b, int64(len(p.Data)-f.Start), 10)
	}
	return b
}

func appendICMPName(b []byte, f *packet.Frame) []byte {
	v6 := f.Layers.Has(packet.LayerICMPv6)
	name := ""
	switch {
	case !v6 && f.ICMPType == 8, v6 && f.ICMPType == 128:
		name = "echo request"
	case !v6 && f.ICMPType == 0, v6 && f.ICMPType == 129:
		name = "echo reply"
	case !v6 && f.ICMPType == 3, v6 && f.ICMPType == 1:
		name = "unreachable"
	case !v6 && f.ICMPType == 11, v6 && f.ICMPType == 3:
		name = "time exceeded"
	case v6 && f.ICMPType == 133:
		name = "router solicitation"
	case v6 && f.ICMPType == 134:
		name = "router advertisement"
	case v6 && f.ICMPType == 135:
		name = "neighbor solicitation"
	case v6 && f.ICMPType == 136:
		name = "neighbor advertisement"
	}
	if name != "" {
		b = append(b, name...)
	} else {
		b = append(b, "type "...)
		b = strconv.AppendUint(b, uint64(f.ICMPType), 10)
		b = append(b, " code "...)
		b = strconv.AppendUint(b, uint64(f.ICMPCode), 10)
	}
	if f.ICMPHasEcho {
		b = append(b, ", id "...)
		b = strconv.AppendUint(b, uint64(f.ICMPID), 10)
		b = append(b, ", seq "...)
		b = strconv.AppendUint(b, uint64(f.ICMPSeq), 10)
	}
	return b
}

// appendTCPFlags uses tcpdump's letters: S F R P U E W, '.' for ACK, 'none' for no flags.
func appendTCPFlags(b []byte, fl uint16) []byte {
	n := len(b)
	for _, x := range []struct {
		bit uint16
		c   byte
	}{{packet.TCPSyn, 'S'}, {packet.TCPFin, 'F'}, {packet.TCPRst, 'R'}, {packet.TCPPsh, 'P'}, {packet.TCPUrg, 'U'}, {packet.TCPEce, 'E'}, {packet.TCPCwr, 'W'}, {packet.TCPAck, '.'}} {
		if fl&x.bit != 0 {
			b = append(b, x.c)
		}
	}
	if len(b) == n {
		b = append(b, "none"...)
	}
	return b
}

func appendHostPort(b []byte, a netip.Addr, port uint16, withPort bool) []byte {
	b = a.AppendTo(b)
	if withPort {
		b = append(b, '.')
		b = strconv.AppendUint(b, uint64(port), 10)
	}
	return b
}

func appendHex16(b []byte, v uint16) []byte {
	const hex = "0123456789abcdef"
	return append(b, hex[v>>12], hex[v>>8&15], hex[v>>4&15], hex[v&15])
}

// appendClock appends HH:MM:SS.micro in UTC, as tcpdump prints with TZ=UTC.
func appendClock(b []byte, t time.Time) []byte {
	t = t.UTC()
	h, m, s := t.Clock()
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, m)
	b = append(b, ':')
	b = append2(b, s)
	b = append(b, '.')
	us := t.Nanosecond() / 1000
	for d := 100000; d > 0; d /= 10 {
		b = append(b, byte('0'+us/d%10))
	}
	return b
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
