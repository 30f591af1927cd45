package conformance

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/wirebridge/wirebridge/internal/event"
)

// The event view: what wirebridge reports in the event JSON (detail.*),
// reduced to fields named ev.<JSON path>. The event's main fields describe
// the innermost frame and detail.Tunnel the outermost tunnel, so the tshark
// side is derived from the tshark fields of the last frame and of tunnel 0.

// eventFields parses one event JSON document (keeping duplicate keys, which
// are an error) and reduces its detail to ev.* fields.
func eventFields(doc []byte) (fields, error) {
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.UseNumber()
	root, err := parseValue(dec, "")
	if err != nil {
		return nil, fmt.Errorf("event json: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("event json: trailing data")
	}
	if err := checkDuplicateKeys(root, ""); err != nil {
		return nil, err
	}
	d := root.first(event.KeyDetail)
	if d == nil {
		return nil, fmt.Errorf("event json: no detail")
	}
	out := fields{}
	endpoint := func(prefix string, n *node) {
		if n == nil {
			return
		}
		if v, ok := n.str(event.KeyIP); ok {
			out.set(prefix+".IP", normAddr(v))
		}
		if v, ok := n.str(event.KeyPort); ok {
			out.set(prefix+".Port", v)
		}
	}
	endpoint("ev.Source", d.first(event.KeySrc))
	endpoint("ev.Destination", d.first(event.KeyDst))
	if v, ok := d.str(event.KeyProtocol); ok {
		n, known := protocolNumber(v)
		if !known {
			return nil, fmt.Errorf("event json: unknown Protocol %q", v)
		}
		out.set("ev.Protocol", n)
	}
	// Length is compared for IP packets only: tshark gives no payload
	// length for frames it does not dissect to the network layer.
	if v, ok := d.str(event.KeyLength); ok && d.first(event.KeyIP) != nil {
		out.set("ev.Length", v)
	}
	if ip := d.first(event.KeyIP); ip != nil {
		for _, k := range []string{event.KeyIPVersion, event.KeyTTL, event.KeyIPID} {
			if v, ok := ip.str(k); ok {
				out.set("ev.IP."+k, v)
			}
		}
		if v, ok := ip.str(event.KeyLenFromCap); ok {
			// A note (not compared): tshark -T json has no field for it.
			out.set("ev.IP._LengthFromCapture", boolTo01(v))
		}
		if v, ok := ip.str(event.KeyDontFragment); ok {
			out.set("ev.IP.DontFragment", boolTo01(v))
		}
		if fr := ip.first(event.KeyFragment); fr != nil {
			if v, ok := fr.str(event.KeyFragOffset); ok {
				out.set("ev.IP.Fragment.Offset", v)
			}
			if v, ok := fr.str(event.KeyMoreFragments); ok {
				out.set("ev.IP.Fragment.MoreFragments", boolTo01(v))
			}
		}
		if ext := ip.first(event.KeyExtensions); ext != nil {
			var names []string
			for _, e := range ext.kids {
				names = append(names, eventExtName(e.val))
			}
			out.set("ev.IP.Extensions", strings.Join(names, ","))
		}
	}
	if tcp := d.first(event.KeyTCP); tcp != nil {
		var flags uint16
		for _, f := range tcp.first(event.KeyFlags).kidsOrNil() {
			bit := -1
			for i, name := range event.TCPFlagNames {
				if name == f.val {
					bit = i
				}
			}
			if bit < 0 {
				return nil, fmt.Errorf("event json: unknown TCP flag %q", f.val)
			}
			flags |= 1 << bit
		}
		out.set("ev.TCP.Flags", fmt.Sprintf("0x%03x", flags))
		for _, k := range []string{event.KeySeq, event.KeyAck, event.KeyWindow} {
			if v, ok := tcp.str(k); ok {
				out.set("ev.TCP."+k, v)
			}
		}
	}
	if icmp := d.first(event.KeyICMP); icmp != nil {
		for _, k := range []string{event.KeyType, event.KeyCode, event.KeyICMPID, event.KeyICMPSeq} {
			if v, ok := icmp.str(k); ok {
				out.set("ev.ICMP."+k, v)
			}
		}
	}
	if vl := d.first(event.KeyVLAN); vl != nil {
		out.set("ev.VLAN", joinVals(vl))
	}
	if tn := d.first(event.KeyTunnel); tn != nil {
		for _, k := range []string{event.KeyType, event.KeyVNI, event.KeyFlowHash, event.KeyGREKey, event.KeyGRESequence, event.KeySessionID, event.KeyERSPANVersion, event.KeyTEID} {
			if v, ok := tn.str(k); ok {
				out.set("ev.Tunnel."+k, v)
			}
		}
		if v, ok := tn.str(event.KeyFragment); ok {
			out.set("ev.Tunnel.Fragment", boolTo01(v))
		}
		if ls := tn.first(event.KeyLabels); ls != nil {
			out.set("ev.Tunnel.Labels", joinVals(ls))
		}
		endpoint("ev.Tunnel.Source", tn.first(event.KeySrc))
		endpoint("ev.Tunnel.Destination", tn.first(event.KeyDst))
		if vl := tn.first(event.KeyVLAN); vl != nil {
			out.set("ev.Tunnel.VLAN", joinVals(vl))
		}
		if opts := tn.first(event.KeyOptions); opts != nil {
			var s []string
			for _, o := range opts.kids {
				class, _ := o.num(event.KeyOptClass)
				typ, _ := o.num(event.KeyOptType)
				b64, _ := o.str(event.KeyOptData)
				data, err := base64.StdEncoding.DecodeString(b64)
				if err != nil {
					return nil, fmt.Errorf("event json: Tunnel.Options Data: %w", err)
				}
				s = append(s, geneveOption(uint16(class), uint8(typ), hex.EncodeToString(data)))
			}
			out.set("ev.Tunnel.Options", strings.Join(s, " "))
		}
	}
	return out, nil
}

func (n *node) kidsOrNil() []*node {
	if n == nil {
		return nil
	}
	return n.kids
}

func joinVals(n *node) string {
	var s []string
	for _, k := range n.kids {
		s = append(s, k.val)
	}
	return strings.Join(s, ",")
}

func boolTo01(v string) string {
	if v == "true" {
		return "1"
	}
	return "0"
}

// checkDuplicateKeys fails on an object that repeats a key: the event JSON
// must be plain JSON that any decoder reads the same way.
func checkDuplicateKeys(n *node, path string) error {
	seen := map[string]bool{}
	for _, k := range n.kids {
		if k.key != "" {
			if seen[k.key] {
				return fmt.Errorf("event json: duplicate key %q in %s", k.key, path)
			}
			seen[k.key] = true
		}
		if err := checkDuplicateKeys(k, path+"."+k.key); err != nil {
			return err
		}
	}
	return nil
}

// protocolNumber inverts event.ProtocolName.
func protocolNumber(name string) (int, bool) {
	for n := 0; n < 256; n++ {
		if event.ProtocolName(uint8(n)) == name {
			return n, true
		}
	}
	return 0, false
}

// eventExtName maps event.IPv6ExtNames to the names tsharkFields uses.
func eventExtName(s string) string {
	switch s {
	case "hop-by-hop":
		return "hopopts"
	case "destination-options":
		return "dstopts"
	}
	return s // routing, fragment, ah
}

// tunnelStructure lists the tunnel types of a fields view, outermost first.
func tunnelStructure(f fields) string {
	var s []string
	for i := 0; f[fmt.Sprintf("t%d.type", i)] != ""; i++ {
		s = append(s, f[fmt.Sprintf("t%d.type", i)])
	}
	return strings.Join(s, "/")
}

// dropEvent removes the ev.* fields of f.
func dropEvent(f fields) {
	for k := range f {
		if strings.HasPrefix(k, "ev.") {
			delete(f, k)
		}
	}
}

// expectedEvent derives, from the tshark fields of one packet, the ev.*
// fields the event should carry: the main fields from the innermost frame,
// Tunnel from the outermost tunnel and the frame carrying it.
func expectedEvent(tf fields) fields {
	out := fields{}
	last := 0
	for tf[fmt.Sprintf("t%d.type", last)] != "" {
		last++
	}
	p := fmt.Sprintf("f%d.", last)
	get := func(k string) (string, bool) { v, ok := tf[p+k]; return v, ok }
	num := func(k string) (int, bool) {
		v, ok := get(k)
		if !ok {
			return 0, false
		}
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	if src, ok := get("ip.src"); ok {
		out.set("ev.Source.IP", src)
		out.set("ev.Destination.IP", tf[p+"ip.dst"])
		out.set("ev.IP.Version", tf[p+"ip.version"])
		out.set("ev.IP.TTL", tf[p+"ip.ttl"])
		if v, ok := get("ip.proto"); ok {
			out.set("ev.Protocol", v)
		}
		if v, ok := get("ip.id"); ok {
			out.set("ev.IP.ID", v)
		}
		if v, _ := get("ip.df"); v == "1" {
			out.set("ev.IP.DontFragment", "1")
		}
		off, _ := num("ip.frag_offset")
		if mf, _ := get("ip.mf"); off > 0 || mf == "1" {
			out.set("ev.IP.Fragment.Offset", off)
			out.set("ev.IP.Fragment.MoreFragments", mf)
		}
		if v, ok := get("ipv6.ext"); ok {
			out.set("ev.IP.Extensions", v)
		}
	}
	for _, l4 := range []string{"udp", "tcp"} {
		if v, ok := get(l4 + ".srcport"); ok {
			out.set("ev.Source.Port", v)
			out.set("ev.Destination.Port", tf[p+l4+".dstport"])
		}
	}
	if _, ok := get("tcp.flags"); ok {
		out.set("ev.TCP.Flags", tf[p+"tcp.flags"])
		out.set("ev.TCP.Seq", tf[p+"tcp.seq"])
		out.set("ev.TCP.Ack", tf[p+"tcp.ack"])
		out.set("ev.TCP.Window", tf[p+"tcp.window"])
	}
	for k, ev := range map[string]string{"icmp.type": "Type", "icmp.code": "Code", "icmp.id": "ID", "icmp.seq": "Seq"} {
		if v, ok := get(k); ok {
			out.set("ev.ICMP."+ev, v)
		}
	}
	// detail.Length: the transport payload length; for ICMP what follows the
	// 8-byte header; for other IP protocols (and non-first fragments) the IP payload.
	// Not derived when tshark flags the IP length as exceeding the frame: the
	// claimed length is then not what was on the wire; nor when tshark shows
	// the ports of a UDP/TCP header but no length (a header cut short).
	ipLen, hasIPLen := num("ip.len")
	hdrLen, _ := num("ip.hdr_len")
	_, bogus := get("_ip.len_bogus")
	switch {
	case bogus:
		out.set("ev._length_unknown", 1)
	case tf[p+"payload_len"] != "":
		out.set("ev.Length", tf[p+"payload_len"])
	case tf[p+"udp.srcport"] != "" || tf[p+"tcp.srcport"] != "":
		out.set("ev._length_unknown", 1)
	case tf[p+"icmp.type"] != "" && hasIPLen:
		out.set("ev.Length", max(ipLen-hdrLen-8, 0))
	case hasIPLen && tf[p+"udp.srcport"] == "" && tf[p+"tcp.srcport"] == "":
		out.set("ev.Length", max(ipLen-hdrLen, 0))
	}
	if v, ok := get("vlan"); ok {
		out.set("ev.VLAN", v)
	}
	if last > 0 {
		out.set("ev.Tunnel.Type", tf["t0.type"])
		for k, ev := range map[string]string{
			"t0.vni": "VNI", "t0.flowhash": "FlowHash", "t0.gre.key": "Key", "t0.gre.seq": "Sequence",
			"t0.erspan.session": "SessionID", "t0.erspan.version": "Version", "t0.geneve.options": "Options",
			"t0.teid": "TEID", "t0.mpls.labels": "Labels",
			"f0.vlan": "VLAN", "f0.ip.src": "Source.IP", "f0.ip.dst": "Destination.IP",
			"f0.udp.srcport": "Source.Port", "f0.udp.dstport": "Destination.Port",
			"f0.tcp.srcport": "Source.Port", "f0.tcp.dstport": "Destination.Port",
		} {
			if v, ok := tf[k]; ok {
				out.set("ev.Tunnel."+ev, v)
			}
		}
		// A frame carrying a tunnel that is an IP fragment (a first one:
		// later ones carry no tunnel).
		for i := 0; i < last; i++ {
			if tf[fmt.Sprintf("f%d.ip.mf", i)] == "1" {
				out.set("ev.Tunnel.Fragment", "1")
			}
		}
	}
	return out
}
