package app

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"time"

	"github.com/wirebridge/wirebridge/internal/dissect"
	"github.com/wirebridge/wirebridge/internal/packet"
)

// textFormatter writes `read --format text` lines: one line per packet in
// the style of `tcpdump -nn` (see appendText). It keeps what the lines of
// later packets depend on — the initial sequence numbers of each TCP
// conversation, so sequence and acknowledgment numbers print relative to
// them as tcpdump prints them — and the dissectors' scratch.
type textFormatter struct {
	tab  *dissect.Table // nil: dissect.Default()
	msgs dissect.Messages
	tmp  []byte // the dissector's summary of the current packet
	tcp  map[tcpConv]tcpISN
}

// tcpConv is a TCP conversation as tcpdump keys it: the two endpoints in a
// fixed order (the lower address, or the lower port for equal addresses,
// first).
type tcpConv struct {
	a, b         netip.Addr
	aPort, bPort uint16
}

// tcpISN is what tcpdump subtracts from the numbers of a conversation: seq
// and ack of the endpoint listed first in tcpConv.
type tcpISN struct{ seq, ack uint32 }

// maxTCPConvs bounds the conversations remembered; past it the table starts
// over (tcpdump's grows without bound).
const maxTCPConvs = 1 << 16

// appendText appends a one-line summary of p in the spirit of `tcpdump -nn`:
//
//	20:40:15.123456 IP 10.0.0.7.40123 > 10.0.0.2.514: SYSLOG user.notice, length: 42
//	20:40:15.223456 IP 10.0.0.7.40000 > 10.0.0.2.80: Flags [P.], seq 1:79, ack 1, win 502, options [nop,nop,TS val 1 ecr 2], length 78: HTTP: GET / HTTP/1.1
//
// UDP datagrams and ARP frames a dissector understands (DNS, syslog, NTP,
// DHCP, ARP) print its summary instead of "UDP, length N"; TCP segments
// carry tcpdump's relative sequence numbers, options and, after the length,
// the summary of HTTP and DNS. Tunnelled packets describe the innermost
// frame and end with the outermost tunnel in brackets: `[vxlan vni 42
// 172.31.1.5.65445 > 172.31.1.9.4789]`.
func appendText(b []byte, p *packet.Packet) []byte {
	var tf textFormatter
	return tf.appendText(b, p)
}

func (tf *textFormatter) appendText(b []byte, p *packet.Packet) []byte {
	b = appendClock(b, p.Info.Timestamp)
	b = append(b, ' ')
	f := p.Inner()
	b = tf.appendFrameText(b, p, f)
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

func (tf *textFormatter) appendFrameText(b []byte, p *packet.Packet, f *packet.Frame) []byte {
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
			if text := tf.appText(p, f, dissect.UDP); text != nil {
				return append(b, text...)
			}
			b = append(b, "UDP"...)
		case f.Layers.Has(packet.LayerTCP) && !f.L4Partial:
			b = tf.appendTCP(b, p, f)
			if text := tf.appText(p, f, dissect.TCP); text != nil {
				b = append(b, ": "...)
				b = append(b, text...)
			}
			return b
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
		if tf.table().Enabled(dissect.ARP) && tf.msgs.Parse(dissect.ARP, p.Payload(), false) == dissect.ARP && tf.msgs.ARP.Supported() {
			return tf.msgs.ARP.AppendText(b)
		}
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

func (tf *textFormatter) table() *dissect.Table {
	if tf.tab == nil {
		return dissect.Default()
	}
	return tf.tab
}

// appText returns the dissector's tcpdump-style summary of f's payload over
// transport tr, or nil when no dissector applies: for TCP, HTTP ("HTTP: GET
// / HTTP/1.1", as tcpdump prints it) and DNS only (tcpdump prints nothing for
// TLS). The bytes are valid until the next call.
func (tf *textFormatter) appText(p *packet.Packet, f *packet.Frame, tr dissect.Transport) []byte {
	payload := p.Payload()
	if len(payload) == 0 || f.Fragment && f.FragOffset > 0 {
		return nil
	}
	proto := tf.table().Choose(tr, f.SrcPort, f.DstPort, payload)
	if proto == dissect.None || tr == dissect.TCP && proto != dissect.HTTP && proto != dissect.DNS {
		return nil
	}
	m := &tf.msgs
	b := tf.tmp[:0]
	got := m.Parse(proto, payload, tr == dissect.TCP)
	if got == dissect.None && proto == dissect.HTTP {
		// tcpdump names the protocol of a segment in the middle of a
		// message (a body, a continuation) by its port.
		got, b = dissect.HTTP, append(b, "HTTP"...)
		tf.tmp = b
		return b
	}
	switch got {
	case dissect.DNS:
		b = m.DNS.AppendText(b)
	case dissect.HTTP:
		b = m.HTTP.AppendText(b) // "HTTP: GET / HTTP/1.1"
	case dissect.Syslog:
		b = m.Syslog.AppendText(b)
	case dissect.NTP:
		b = m.NTP.AppendText(b)
	case dissect.DHCP:
		b = m.DHCP.AppendText(b)
	default:
		return nil
	}
	tf.tmp = b
	return b
}

// appendTCP appends the TCP part of a line as tcpdump -nn prints it:
// "Flags [P.], seq 1:79, ack 1, win 502, options [...], length 78". As in
// tcpdump, the seq is printed when the segment has data or SYN, FIN or RST;
// sequence and acknowledgment numbers are relative to the first segment
// with ACK of the conversation (which, like segments without ACK, prints
// them absolute; a SYN with ACK starts the conversation over).
func (tf *textFormatter) appendTCP(b []byte, p *packet.Packet, f *packet.Frame) []byte {
	seq, ack := f.TCPSeq, f.TCPAck
	if f.TCPFlags&packet.TCPAck != 0 {
		conv, rev := tcpConvOf(f)
		isn, ok := tf.tcp[conv]
		if !ok || f.TCPFlags&packet.TCPSyn != 0 {
			if rev {
				isn = tcpISN{seq: ack - 1, ack: seq}
			} else {
				isn = tcpISN{seq: seq, ack: ack - 1}
			}
			if tf.tcp == nil || len(tf.tcp) >= maxTCPConvs {
				tf.tcp = make(map[tcpConv]tcpISN)
			}
			tf.tcp[conv] = isn
		} else if rev {
			seq, ack = seq-isn.ack, ack-isn.seq
		} else {
			seq, ack = seq-isn.seq, ack-isn.ack
		}
	}
	length := f.PayloadLen
	if f.PayloadWireLen > length {
		length = f.PayloadWireLen
	}
	b = append(b, "Flags ["...)
	b = appendTCPFlags(b, f.TCPFlags)
	b = append(b, ']')
	if length > 0 || f.TCPFlags&(packet.TCPSyn|packet.TCPFin|packet.TCPRst) != 0 {
		b = append(b, ", seq "...)
		b = strconv.AppendUint(b, uint64(seq), 10)
		if length > 0 {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(seq+uint32(length)), 10)
		}
	}
	if f.TCPFlags&packet.TCPAck != 0 {
		b = append(b, ", ack "...)
		b = strconv.AppendUint(b, uint64(ack), 10)
	}
	b = append(b, ", win "...)
	b = strconv.AppendUint(b, uint64(f.TCPWindow), 10)
	if f.TCPFlags&packet.TCPUrg != 0 && f.L4Off+20 <= len(p.Data) {
		b = append(b, ", urg "...)
		b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(p.Data[f.L4Off+18:])), 10)
	}
	if f.TCPHeaderLen > 20 && f.L4Off+f.TCPHeaderLen <= len(p.Data) {
		b = appendTCPOptions(b, p.Data[f.L4Off+20:f.L4Off+f.TCPHeaderLen])
	}
	b = append(b, ", length "...)
	return strconv.AppendInt(b, int64(length), 10)
}

// tcpConvOf returns f's conversation and whether f goes from the endpoint
// listed second to the one listed first (tcpdump's "rev").
func tcpConvOf(f *packet.Frame) (tcpConv, bool) {
	c := f.Src.Compare(f.Dst)
	if c > 0 || c == 0 && f.SrcPort > f.DstPort {
		return tcpConv{a: f.Dst, b: f.Src, aPort: f.DstPort, bPort: f.SrcPort}, true
	}
	return tcpConv{a: f.Src, b: f.Dst, aPort: f.SrcPort, bPort: f.DstPort}, false
}

// appendTCPOptions appends ", options [...]" as tcpdump prints the options
// in opts: mss, wscale, sackOK, sack, TS val/ecr, nop, eol (which ends the
// list), and others as "opt-KIND:HEX". A malformed option ends the list
// with "bad opts".
func appendTCPOptions(b []byte, opts []byte) []byte {
	b = append(b, ", options ["...)
	for i := 0; i < len(opts); {
		if i > 0 {
			b = append(b, ',')
		}
		kind := opts[i]
		switch kind {
		case 0: // the end of the list: tcpdump stops there
			b = append(b, "eol"...)
			return append(b, ']')
		case 1:
			b = append(b, "nop"...)
			i++
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
			b = append(b, "bad opts"...)
			break
		}
		n := int(opts[i+1])
		d := opts[i+2 : i+n]
		switch {
		case kind == 2 && len(d) == 2:
			b = append(b, "mss "...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(d)), 10)
		case kind == 3 && len(d) == 1:
			b = append(b, "wscale "...)
			b = strconv.AppendUint(b, uint64(d[0]), 10)
		case kind == 4 && len(d) == 0:
			b = append(b, "sackOK"...)
		case kind == 5 && len(d)%8 == 0:
			b = append(b, "sack "...)
			b = strconv.AppendUint(b, uint64(len(d)/8), 10)
			b = append(b, ' ')
			for j := 0; j+8 <= len(d); j += 8 {
				b = append(b, '{')
				b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(d[j:])), 10)
				b = append(b, ':')
				b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(d[j+4:])), 10)
				b = append(b, '}')
			}
		case kind == 8 && len(d) == 8:
			b = append(b, "TS val "...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(d)), 10)
			b = append(b, " ecr "...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(d[4:])), 10)
		default:
			b = append(b, "opt-"...)
			b = strconv.AppendUint(b, uint64(kind), 10)
			b = append(b, ':')
			for _, c := range d {
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
			}
		}
		i += n
	}
	return append(b, ']')
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
