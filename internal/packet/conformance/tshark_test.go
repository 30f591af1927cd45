package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// tshark -T json repeats keys inside one object (two "ip" layers in a
// tunnelled packet, "ip.addr" twice, one "geneve.option" per option), so it
// cannot be decoded into Go maps. node keeps every member, in order.
type node struct {
	key  string
	val  string  // leaf value ("" for objects)
	kids []*node // object members, or array elements with key ""
}

// first returns the first member named key, or nil.
func (n *node) first(key string) *node {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.key == key {
			return k
		}
	}
	return nil
}

// all returns every member named key, in order.
func (n *node) all(key string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, k := range n.kids {
		if k.key == key {
			out = append(out, k)
		}
	}
	return out
}

// str returns the leaf value of the first member named key.
func (n *node) str(key string) (string, bool) {
	k := n.first(key)
	if k == nil || k.kids != nil {
		return "", false
	}
	return k.val, true
}

// num parses the first member named key as an unsigned number (decimal or 0x hex).
func (n *node) num(key string) (uint64, bool) {
	s, ok := n.str(key)
	if !ok {
		return 0, false
	}
	v, err := parseNum(s)
	return v, err == nil
}

func parseNum(s string) (uint64, error) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return strconv.ParseUint(s[2:], 16, 64)
	}
	return strconv.ParseUint(s, 10, 64)
}

// parseValue reads one JSON value from dec, keeping object members in order.
func parseValue(dec *json.Decoder, key string) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	n := &node{key: key}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.kids = []*node{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is %T, not a string", kt)
				}
				kid, err := parseValue(dec, k)
				if err != nil {
					return nil, err
				}
				n.kids = append(n.kids, kid)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
		case '[':
			n.kids = []*node{}
			for dec.More() {
				kid, err := parseValue(dec, "")
				if err != nil {
					return nil, err
				}
				n.kids = append(n.kids, kid)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unexpected delimiter %q", t)
		}
	case string:
		n.val = t
	case json.Number:
		n.val = t.String()
	case bool:
		n.val = strconv.FormatBool(t)
	case nil:
		n.val = ""
	default:
		return nil, fmt.Errorf("unexpected token %T", tok)
	}
	return n, nil
}

// tsharkPacket is one packet of tshark's output: its frame number and the
// top-level protocol layers in dissection order.
type tsharkPacket struct {
	number int
	layers *node
	// notPacket marks a pcapng block that is not a packet but that tshark
	// 4.0 numbers as a frame anyway (a Custom Block, frame.cb_pen).
	notPacket bool
}

// readTshark parses the whole output of `tshark -T json`.
func readTshark(r io.Reader) ([]tsharkPacket, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return nil, nil // tshark prints nothing for an empty capture
	}
	if err != nil {
		return nil, fmt.Errorf("read tshark json: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, fmt.Errorf("read tshark json: want '[', got %v", tok)
	}
	var out []tsharkPacket
	for dec.More() {
		pkt, err := parseValue(dec, "")
		if err != nil {
			return nil, fmt.Errorf("read tshark json packet %d: %w", len(out)+1, err)
		}
		layers := pkt.first("_source").first("layers")
		if layers == nil {
			return nil, fmt.Errorf("read tshark json packet %d: no _source.layers", len(out)+1)
		}
		no, ok := layers.first("frame").num("frame.number")
		if !ok {
			return nil, fmt.Errorf("read tshark json packet %d: no frame.number", len(out)+1)
		}
		_, custom := layers.first("frame").str("frame.cb_pen")
		out = append(out, tsharkPacket{number: int(no), layers: layers, notPacket: custom})
	}
	return out, nil
}

// fields is the normalised view of one packet that both sides are reduced to:
// a flat map from a field name ("f0.ip.src", "t0.vni", "ev.Source.Port") to
// its value as text. Names containing "._" are notes for deriving other
// fields and are not compared. A field absent on one side and present on the other is
// a disagreement, so each side adds a field only when its layer is present.
//
// Names: fN.* describe frame N (f0 the frame as captured, f1 the frame
// carried by the first tunnel, ...), tN.* the tunnel between frame N and
// frame N+1.
type fields map[string]string

func (f fields) set(k string, v any) { f[k] = fmt.Sprint(v) }

// normAddr prints an address the way netip does, so both sides agree on the
// textual form of IPv6 addresses.
func normAddr(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	return a.String()
}

// hexColon strips tshark's colon-separated hex bytes to plain lower-case hex.
func hexColon(s string) string { return strings.ToLower(strings.ReplaceAll(s, ":", "")) }

// TCP flag bits kept in both views (FIN .. CWR plus NS/AE in bit 8); tshark's
// tcp.flags also carries the three reserved bits, which the decoder does not keep.
const tcpFlagMask = 0x1ff

// tsharkFrame accumulates one frame of a tshark packet.
type tsharkFrame struct {
	vlans []string
	hasIP bool
}

// tsharkFields reduces one tshark packet to fields. It walks the top-level
// layers in order; a tunnel layer (vxlan, geneve, gre, gtp with a T-PDU,
// the first mpls of a label stack) ends the current frame and starts the
// next, erspan and cmd (Cisco MetaData) belong to the GRE tunnel before them,
// an mpls layer right after gre or mpls belongs to that tunnel (tshark shows
// one mpls layer per label; wirebridge calls MPLS in GRE an mpls tunnel), and an IP layer directly after a complete IP layer of
// the same frame (IP-in-IP, 6in4) starts a new frame through an "ipip" tunnel.
// Protocols nested inside a layer (the IP header quoted by an ICMP error)
// are not top-level layers and are ignored.
func tsharkFields(layers *node) fields {
	out := fields{}
	fi := 0 // current frame index
	var cur tsharkFrame
	flushVLAN := func() {
		if len(cur.vlans) > 0 {
			out.set(fmt.Sprintf("f%d.vlan", fi), strings.Join(cur.vlans, ","))
		}
	}
	newFrame := func(tunnel string) {
		flushVLAN()
		out.set(fmt.Sprintf("t%d.type", fi), tunnel)
		fi++
		cur = tsharkFrame{}
	}
	var lastUDPSrc string // source port of the last UDP layer, the tunnel flow hash
	var labels []string   // MPLS labels of the current stack
	prev := ""            // key of the previous top-level layer
	for _, l := range layers.kids {
		prevKey := prev
		prev = l.key
		p := fmt.Sprintf("f%d.", fi)
		t := fmt.Sprintf("t%d.", fi)
		switch l.key {
		case "vlan":
			if v, ok := l.str("vlan.id"); ok {
				cur.vlans = append(cur.vlans, v)
			}
		case "ieee8021ad":
			if v, ok := l.str("ieee8021ad.id"); ok {
				cur.vlans = append(cur.vlans, v)
			}
		case "ip", "ipv6":
			if cur.hasIP {
				newFrame("ipip") // wirebridge's name for tshark's IP-in-IP

				p = fmt.Sprintf("f%d.", fi)
			}
			cur.hasIP = true
			if l.key == "ip" {
				tsharkIPv4(out, p, l)
			} else {
				tsharkIPv6(out, p, l)
			}
		case "udp":
			src, _ := l.str("udp.srcport")
			dst, _ := l.str("udp.dstport")
			out.set(p+"udp.srcport", src)
			out.set(p+"udp.dstport", dst)
			lastUDPSrc = src
			if n, ok := l.num("udp.length"); ok {
				out.set(p+"udp.length", n)
				if n >= 8 {
					out.set(p+"payload_len", n-8)
				}
			}
		case "tcp":
			for _, k := range [][2]string{
				{"tcp.srcport", "tcp.srcport"}, {"tcp.dstport", "tcp.dstport"},
				{"tcp.seq_raw", "tcp.seq"}, {"tcp.ack_raw", "tcp.ack"},
				{"tcp.window_size_value", "tcp.window"}, {"tcp.hdr_len", "tcp.hdr_len"},
			} {
				if v, ok := l.str(k[0]); ok {
					out.set(p+k[1], v)
				}
			}
			if fl, ok := l.num("tcp.flags"); ok {
				out.set(p+"tcp.flags", fmt.Sprintf("0x%03x", fl&tcpFlagMask))
			}
			if v, ok := l.str("tcp.len"); ok {
				out.set(p+"payload_len", v)
			}
		case "icmp":
			typ, tok := l.num("icmp.type")
			if tok {
				out.set(p+"icmp.type", typ)
			}
			if v, ok := l.str("icmp.code"); ok {
				out.set(p+"icmp.code", v)
			}
			if tok && (typ == 0 || typ == 8) {
				if v, ok := l.num("icmp.ident"); ok {
					out.set(p+"icmp.id", v)
				}
				if v, ok := l.num("icmp.seq"); ok {
					out.set(p+"icmp.seq", v)
				}
			}
		case "icmpv6":
			typ, tok := l.num("icmpv6.type")
			if tok {
				out.set(p+"icmp.type", typ)
			}
			if v, ok := l.str("icmpv6.code"); ok {
				out.set(p+"icmp.code", v)
			}
			if tok && (typ == 128 || typ == 129) {
				if v, ok := l.num("icmpv6.echo.identifier"); ok {
					out.set(p+"icmp.id", v)
				}
				if v, ok := l.num("icmpv6.echo.sequence_number"); ok {
					out.set(p+"icmp.seq", v)
				}
			}
		case "vxlan":
			if v, ok := l.num("vxlan.vni"); ok {
				out.set(t+"vni", v)
			}
			out.set(t+"flowhash", lastUDPSrc)
			newFrame("vxlan")
		case "geneve":
			tsharkGeneve(out, t, l)
			out.set(t+"flowhash", lastUDPSrc)
			newFrame("geneve")
		case "gre":
			if v, ok := l.num("gre.proto"); ok {
				out.set(t+"gre.proto", fmt.Sprintf("0x%04x", v))
			}
			if v, ok := l.num("gre.key"); ok {
				out.set(t+"gre.key", v)
			}
			if v, ok := l.num("gre.sequence_number"); ok {
				out.set(t+"gre.seq", v)
			}
			newFrame("gre")
		case "gtp":
			if m, _ := l.num("gtp.message"); m != 0xff {
				break // signalling: no T-PDU
			}
			if v, ok := l.num("gtp.teid"); ok {
				out.set(t+"teid", v)
			}
			if v, ok := l.num("gtp.seq_number"); ok {
				out.set(t+"gtp.seq", v)
			}
			newFrame("gtpu")
		case "mpls":
			label, _ := l.num("mpls.label")
			switch prevKey {
			case "mpls", "gre":
				// The next label of the stack, or the stack GRE carries:
				// both belong to the tunnel that ended frame fi-1.
				t = fmt.Sprintf("t%d.", fi-1)
				if prevKey == "gre" {
					labels = nil
				}
				out.set(t+"type", "mpls")
			default:
				labels = nil
				newFrame("mpls")
			}
			labels = append(labels, fmt.Sprint(label))
			out.set(t+"mpls.labels", strings.Join(labels, ","))
		case "erspan":
			// Belongs to the GRE tunnel that just ended frame fi-1.
			t = fmt.Sprintf("t%d.", fi-1)
			out.set(t+"type", "erspan")
			if l.kids == nil {
				out.set(t+"erspan.version", 1) // type I has no header: tshark prints a label only
				break
			}
			// tshark prints the header's version field: 1 for type II, 2 for type III.
			if v, ok := l.num("erspan.version"); ok {
				out.set(t+"erspan.version", v+1)
			}
			if v, ok := l.num("erspan.spanid"); ok {
				out.set(t+"erspan.session", v)
			}
			if v, ok := l.num("erspan.vlan"); ok {
				out.set(t+"erspan.vlan", v)
			}
		}
	}
	flushVLAN()
	return out
}

func tsharkIPv4(out fields, p string, l *node) {
	out.set(p+"ip.version", 4)
	if v, ok := l.str("ip.src"); ok {
		out.set(p+"ip.src", normAddr(v))
	}
	if v, ok := l.str("ip.dst"); ok {
		out.set(p+"ip.dst", normAddr(v))
	}
	for _, k := range [][2]string{
		{"ip.proto", "ip.proto"}, {"ip.hdr_len", "ip.hdr_len"}, {"ip.len", "ip.len"},
		{"ip.ttl", "ip.ttl"}, {"ip.id", "ip.id"},
	} {
		if v, ok := l.num(k[0]); ok {
			out.set(p+k[1], v)
		}
	}
	if hasExpert(l.first("ip.len_tree"), "ip.bogus_ip_length") {
		out.set(p+"_ip.len_bogus", 1)
	}
	if v, ok := l.num("ip.frag_offset"); ok {
		out.set(p+"ip.frag_offset", v*8) // tshark prints 8-byte units
	}
	flags := l.first("ip.flags_tree")
	if v, ok := flags.str("ip.flags.mf"); ok {
		out.set(p+"ip.mf", v)
	}
	if v, ok := flags.str("ip.flags.df"); ok {
		out.set(p+"ip.df", v)
	}
}

// ipv6ExtOrder is the order extension header names are listed in, matching
// the decoder's bit order.
var ipv6ExtOrder = []string{"hopopts", "routing", "fragment", "dstopts"}

func tsharkIPv6(out fields, p string, l *node) {
	out.set(p+"ip.version", 6)
	if v, ok := l.str("ipv6.src"); ok {
		out.set(p+"ip.src", normAddr(v))
	}
	if v, ok := l.str("ipv6.dst"); ok {
		out.set(p+"ip.dst", normAddr(v))
	}
	if v, ok := l.num("ipv6.hlim"); ok {
		out.set(p+"ip.ttl", v)
	}
	if v, ok := l.num("ipv6.plen"); ok {
		out.set(p+"ip.len", 40+v)
	}
	if hasExpert(l.first("ipv6.plen_tree"), "ipv6.plen_exceeds_framing") {
		out.set(p+"_ip.len_bogus", 1)
	}
	proto, protoOK := l.num("ipv6.nxt")
	hdrLen := uint64(40)
	seen := map[string]bool{}
	for _, k := range l.kids {
		var name, prefix string
		switch k.key {
		case "ipv6.hopopts":
			name, prefix = "hopopts", "ipv6.hopopts."
		case "ipv6.routing":
			name, prefix = "routing", "ipv6.routing."
		case "ipv6.dstopts":
			name, prefix = "dstopts", "ipv6.dstopts."
		case "ipv6.fraghdr":
			name, prefix = "fragment", "ipv6.fraghdr."
		default:
			continue
		}
		seen[name] = true
		if v, ok := k.num(prefix + "nxt"); ok {
			proto, protoOK = v, true
		}
		if name == "fragment" {
			hdrLen += 8
			if v, ok := k.num("ipv6.fraghdr.offset"); ok {
				out.set(p+"ip.frag_offset", v*8)
			}
			if v, ok := k.str("ipv6.fraghdr.more"); ok {
				out.set(p+"ip.mf", v)
			}
			if v, ok := k.num("ipv6.fraghdr.ident"); ok {
				out.set(p+"ip.id", v)
			}
		} else if v, ok := k.num(prefix + "len_oct"); ok {
			hdrLen += v
		}
	}
	var ext []string
	for _, name := range ipv6ExtOrder {
		if seen[name] {
			ext = append(ext, name)
		}
	}
	if len(ext) > 0 {
		out.set(p+"ipv6.ext", strings.Join(ext, ","))
	}
	if protoOK {
		out.set(p+"ip.proto", proto)
	}
	out.set(p+"ip.hdr_len", hdrLen)
}

func tsharkGeneve(out fields, t string, l *node) {
	if v, ok := l.num("geneve.vni"); ok {
		out.set(t+"vni", v)
	}
	if v, ok := l.num("geneve.proto_type"); ok {
		out.set(t+"geneve.proto", fmt.Sprintf("0x%04x", v))
	}
	if v, ok := l.num("geneve.option.length"); ok {
		out.set(t+"geneve.options_len", v)
	}
	flags := l.first("geneve.flags_tree")
	if v, ok := flags.str("geneve.flags.oam"); ok {
		out.set(t+"geneve.oam", v)
	}
	if v, ok := flags.str("geneve.flags.critical"); ok {
		out.set(t+"geneve.critical", v)
	}
	tree := l.first("geneve.options_tree")
	if tree == nil {
		return
	}
	// Options alternate: "geneve.option" (the raw bytes) then its "geneve.option_tree".
	var opts []string
	raw := tree.all("geneve.option")
	for i, ot := range tree.all("geneve.option_tree") {
		class, _ := ot.num("geneve.option.class")
		typ, _ := ot.num("geneve.option.type")
		data := ""
		if i < len(raw) {
			if b := hexColon(raw[i].val); len(b) >= 8 {
				data = b[8:] // skip the 4-byte option header
			}
		}
		opts = append(opts, geneveOption(uint16(class), uint8(typ), data))
	}
	out.set(t+"geneve.options", strings.Join(opts, " "))
}

// hasExpert reports whether tree holds the tshark expert item named key (an
// "_ws.expert" member with that key).
func hasExpert(tree *node, key string) bool {
	for _, e := range tree.all("_ws.expert") {
		if e.first(key) != nil {
			return true
		}
	}
	return false
}

// geneveOption prints one option the same way on both sides: class/type/data.
func geneveOption(class uint16, typ uint8, dataHex string) string {
	return fmt.Sprintf("0x%04x/0x%02x/%s", class, typ, dataHex)
}
