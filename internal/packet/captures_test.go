package packet

import (
	"net/netip"
	"testing"
)

// TestDecodeCaptures decodes every frame of every shared capture: no panic,
// every invariant, the same view whether the Packet is reused or fresh, the
// expected error kinds, and per-capture field checks. Expected values come
// from the captures' own oracles (tcpdump .out files, SOURCES.md, tshark).
func TestDecodeCaptures(t *testing.T) {
	type tc struct {
		errs  map[Kind]int // error kinds expected over the whole file
		check func(t *testing.T, i int, p *Packet)
		after func(t *testing.T) // checks over counts gathered by check
	}
	var n1, n2, n3, n4 int // counters for the after checks
	cases := map[string]tc{
		"suricata-verify_vxlan-aws-traffic-mirror.pcap": {check: func(t *testing.T, i int, p *Packet) {
			tn := p.Tunnel()
			if tn == nil || p.NumFrames != 2 {
				t.Fatalf("packet %d: %d frames, want a VXLAN inner frame", i, p.NumFrames)
			}
			o := p.Outer()
			eq(t, "type", tn.Type, TunnelVXLAN)
			eq(t, "vni", tn.VNI, uint32(5569041))
			eq(t, "flow hash is the outer source port", tn.FlowHash, o.SrcPort)
			eq(t, "outer dst port", o.DstPort, PortVXLAN)
			if !netip.MustParsePrefix("172.31.0.0/16").Contains(o.Src) {
				t.Errorf("outer source %v", o.Src)
			}
			in := p.Inner()
			eq(t, "inner link", in.Link, LinkEthernet)
			if !in.Layers.Has(LayerEthernet) || in.IPOff < 0 || in.L4Off < 0 {
				t.Errorf("packet %d: inner layers %b", i, in.Layers)
			}
		}},
		"zeek_vxlan-encapsulated-http.pcap": {check: func(t *testing.T, i int, p *Packet) {
			tn := p.Tunnel()
			eq(t, "vni", tn.VNI, uint32(1))
			eq(t, "flow hash", tn.FlowHash, uint16(50000))
			eq(t, "inner tcp", p.Inner().Layers.Has(LayerTCP), true)
		}},
		"tcpdump_vxlan.pcap": {check: func(t *testing.T, i int, p *Packet) {
			eq(t, "vni", p.Tunnel().VNI, uint32(100))
			if in := p.Inner(); !in.Layers.Has(LayerARP) && !in.Layers.Has(LayerICMPv4) {
				t.Errorf("packet %d: inner layers %b, want ARP or ICMP", i, in.Layers)
			}
		}},
		"tcpdump_geneve-gcp.pcap": {check: func(t *testing.T, i int, p *Packet) {
			tn := p.Tunnel()
			eq(t, "type", tn.Type, TunnelGeneve)
			eq(t, "proto", tn.GeneveProto, EtherTypeIPv4)
			eq(t, "options", tn.NumOptions, 3)
			eq(t, "opts len", tn.GeneveOptsLen, 40)
			for j, want := range [][3]int{{0x132, 1, 4}, {0x132, 2, 16}, {0x132, 3, 8}} {
				o := tn.Options[j]
				eq(t, "option", [3]int{int(o.Class), int(o.Type), o.Len}, want)
			}
			eq(t, "gwlb", tn.GWLB.Has, uint8(0))
			in := p.Inner()
			eq(t, "inner layers", in.Layers, LayerIPv4|LayerTCP)
			eq(t, "inner dst", [2]any{in.Dst, in.DstPort}, [2]any{netip.MustParseAddr("192.168.100.1"), uint16(8080)})
		}},
		"zeek_geneve-many-options.pcap": {check: func(t *testing.T, i int, p *Packet) {
			tn := p.Tunnel()
			eq(t, "vni", tn.VNI, uint32(0x0c012e))
			eq(t, "opts len", tn.GeneveOptsLen, 76)
			eq(t, "options", tn.NumOptions, 3)
			for j, want := range [][3]int{{0x100, 1, 16}, {0x100, 2, 36}, {0x100, 3, 12}} {
				o := tn.Options[j]
				eq(t, "option", [3]int{int(o.Class), int(o.Type), o.Len}, want)
			}
			eq(t, "inner tcp", p.Inner().Layers.Has(LayerEthernet|LayerTCP), true)
		}},
		"tcpdump_geneve.pcap": {
			check: func(t *testing.T, i int, p *Packet) {
				tn := p.Tunnel()
				if tn.VNI != 0xa && tn.VNI != 0xb {
					t.Errorf("packet %d: vni %#x", i, tn.VNI)
				}
				if tn.GeneveCrit {
					n1++
					eq(t, "critical option", [2]int{int(tn.Options[0].Class), int(tn.Options[0].Type)}, [2]int{0, 0x80})
				}
				eq(t, "inner ipv4", p.Inner().Layers.Has(LayerEthernet|LayerIPv4), true)
			},
			after: func(t *testing.T) {
				if n1 == 0 {
					t.Error("no packet with the C flag and a critical option")
				}
			},
		},
		"zeek_geneve-truncated.pcapng": {errs: map[Kind]int{ErrTruncated: 1}, check: func(t *testing.T, i int, p *Packet) {
			eq(t, "frames", p.NumFrames, 2)
			eq(t, "err depth", p.ErrDepth, 1)
			eq(t, "options", p.Tunnel().NumOptions, 1)
			eq(t, "outer", p.Outer().DstPort, PortGeneve)
		}},
		"zeek_gre-sample.pcap": {check: func(t *testing.T, i int, p *Packet) {
			tn := p.Tunnel()
			eq(t, "type", tn.Type, TunnelGRE)
			eq(t, "proto", tn.GREProto, EtherTypeIPv4)
			eq(t, "inner ipv4", p.Inner().Layers.Has(LayerIPv4), true)
		}},
		"tcpdump_various_gre.pcap": {
			// tshark: 8 keepalives (proto 0), 2 CDP (0x2000), 20 Cisco MetaData
			// (0x8909) carrying IPv4: 12 ICMP or PIM and 8 GRE keepalives.
			check: func(t *testing.T, i int, p *Packet) {
				o := p.Outer()
				if o.Protocol != ProtoGRE {
					return
				}
				eq(t, "tagged", o.NumVLANs, uint8(1))
				tn := p.Tunnel()
				if tn == nil {
					t.Fatalf("packet %d: no tunnel", i)
				}
				eq(t, "key", [3]any{tn.Type, tn.GREHasKey, tn.GREKey}, [3]any{TunnelGRE, true, uint32(40)})
				// The outer frame's payload is the GRE packet (K bit, key 0x28).
				if pl := p.Data[o.PayloadOff : o.PayloadOff+o.PayloadLen]; len(pl) < 8 || pl[0] != 0x20 || pl[7] != 0x28 {
					t.Errorf("packet %d: outer payload % x", i, pl)
				}
				switch tn.GREProto {
				case 0, 0x2000:
					eq(t, "opaque", [3]any{p.NumFrames, p.Inner().Link, p.Inner().EtherType}, [3]any{2, LinkOpaque, tn.GREProto})
					if tn.GREProto == 0 {
						n1++
					} else {
						n2++
					}
				case EtherTypeCiscoMD:
					eq(t, "sgt", [2]any{tn.GREHasSGT, tn.GRESGT}, [2]any{true, uint16(0)})
					eq(t, "ipv4 inside", p.Frames[1].Layers.Has(LayerIPv4), true)
					if p.NumFrames == 3 {
						eq(t, "keepalive inside", [3]any{p.Tunnels[1].GREProto, p.Tunnels[1].GREKey, p.Inner().Link}, [3]any{uint16(0), uint32(40), LinkOpaque})
						n3++
					} else {
						if pr := p.Inner().Protocol; pr != ProtoICMPv4 && pr != 103 {
							t.Errorf("packet %d: protocol %d inside cisco metadata, want icmp or pim", i, pr)
						}
						n4++
					}
				default:
					t.Errorf("packet %d: gre protocol %#04x", i, tn.GREProto)
				}
			},
			after: func(t *testing.T) {
				eq(t, "keepalives, cdp, keepalives and icmp/pim in metadata", [4]int{n1, n2, n3, n4}, [4]int{8, 2, 8, 12})
			},
		},
		"tcpdump_erspan-type-i-1.pcap": {check: func(t *testing.T, i int, p *Packet) {
			tn := p.Tunnel()
			eq(t, "type", [2]any{tn.Type, tn.ERSPANVersion}, [2]any{TunnelERSPAN, uint8(1)})
			in := p.Inner()
			eq(t, "inner vlan", in.VLANs[0], uint16(101))
			eq(t, "inner icmp", in.Layers.Has(LayerICMPv4), true)
		}},
		"tcpdump_erspan-type-ii-2.pcap": {check: func(t *testing.T, i int, p *Packet) {
			tn := p.Tunnel()
			eq(t, "version", tn.ERSPANVersion, uint8(2))
			eq(t, "session", tn.ERSPANSession, uint16(1))
			if tn.ERSPANVLAN != 100 && tn.ERSPANVLAN != 101 {
				t.Errorf("erspan vlan %d", tn.ERSPANVLAN)
			}
			eq(t, "has seq", tn.GREHasSeq, true)
			eq(t, "inner hsrp", p.Inner().DstPort, uint16(1985))
		}},
		"tcpdump_erspan-type-iii-ft-0.pcap": {check: func(t *testing.T, i int, p *Packet) {
			tn := p.Tunnel()
			eq(t, "version", tn.ERSPANVersion, uint8(3))
			eq(t, "session", tn.ERSPANSession, uint16(0))
			eq(t, "vlan", tn.ERSPANVLAN, uint16(20))
			eq(t, "inner vlan", p.Inner().VLANs[0], uint16(20))
			eq(t, "inner icmp", p.Inner().Layers.Has(LayerICMPv4), true)
		}},
		"zeek_gre-erspan3-dot1q.pcap": {check: func(t *testing.T, i int, p *Packet) {
			eq(t, "version", p.Tunnel().ERSPANVersion, uint8(3))
			in := p.Inner()
			eq(t, "inner vlan", [2]any{in.NumVLANs, in.VLANs[0]}, [2]any{uint8(1), uint16(10)})
			eq(t, "inner icmp", in.Layers.Has(LayerICMPv4), true)
		}},
		"tcpdump_802.1ad_QinQ.pcap": {check: func(t *testing.T, i int, p *Packet) {
			f := p.Outer()
			eq(t, "vlans", [3]uint16{f.VLANs[0], f.VLANs[1], f.VLANTPIDs[0]}, [3]uint16{200, 2001, 0x88A8})
			eq(t, "arp", f.Layers.Has(LayerARP), true)
		}},
		"arkime_twovlan.pcap": {check: func(t *testing.T, i int, p *Packet) {
			f := p.Outer()
			eq(t, "vlans", [2]uint16{f.VLANs[0], f.VLANs[1]}, [2]uint16{201, 200})
			eq(t, "pcp", f.VLANPCP[1], uint8(4))
			eq(t, "tcp", f.Layers.Has(LayerTCP), true)
		}},
		"zeek_http-vlan-0.pcap": {check: func(t *testing.T, i int, p *Packet) {
			f := p.Outer()
			eq(t, "vlan 0", [2]any{f.NumVLANs, f.VLANs[0]}, [2]any{uint8(1), uint16(0)})
			eq(t, "tcp", f.Layers.Has(LayerTCP), true)
		}},
		"tcpdump_tcp-handshake-nano.pcap": {check: func(t *testing.T, i int, p *Packet) {
			f := p.Outer()
			eq(t, "sll tcp", f.Layers.Has(LayerSLL|LayerIPv4|LayerTCP), true)
			if f.SrcPort != 80 && f.DstPort != 80 {
				t.Errorf("ports %d %d", f.SrcPort, f.DstPort)
			}
			if i == 0 {
				eq(t, "syn", f.TCPFlags, TCPSyn)
				eq(t, "options skipped", f.TCPHeaderLen > 20, true)
			}
		}},
		"zeek_linux_dlt_sll2.pcap": {check: func(t *testing.T, i int, p *Packet) {
			f := p.Outer()
			if f.Layers&(LayerICMPv4|LayerICMPv6|LayerARP) == 0 || !f.Layers.Has(LayerSLL2) {
				t.Errorf("packet %d: layers %b", i, f.Layers)
			}
		}},
		"tcpdump_ipv6-routing-header.pcap": {check: func(t *testing.T, i int, p *Packet) {
			eq(t, "routing", p.Outer().IPv6Ext, IPv6ExtRouting)
			eq(t, "checksum against the final destination", p.VerifyTransportChecksum(0), ChecksumGood)
		}},
		"zeek_ipv6-hbh-routing0.pcap": {check: func(t *testing.T, i int, p *Packet) {
			f := p.Outer()
			eq(t, "ext", f.IPv6Ext, IPv6ExtHopByHop|IPv6ExtRouting)
			eq(t, "udp 53", [2]any{f.Protocol, f.DstPort}, [2]any{ProtoUDP, uint16(53)})
		}},
		"suricata-verify_ipv6-covert-dstopts.pcap": {
			check: func(t *testing.T, i int, p *Packet) {
				// tshark: 18 echo requests with destination options, 18 replies, 1 RA.
				f := p.Outer()
				eq(t, "icmpv6", f.Layers.Has(LayerIPv6|LayerICMPv6), true)
				if f.IPv6Ext == IPv6ExtDestOpts {
					n1++
					eq(t, "echo request", [3]any{f.ICMPType, f.ICMPHasEcho, f.Protocol}, [3]any{uint8(128), true, ProtoICMPv6})
				}
				if f.ICMPType == 129 {
					n2++
				}
			},
			after: func(t *testing.T) { eq(t, "with destination options, replies", [2]int{n1, n2}, [2]int{18, 18}) },
		},
		"zeek_ipv6-fragmented-dns.pcap": {
			check: func(t *testing.T, i int, p *Packet) {
				if f := p.Outer(); f.IPv6Ext&IPv6ExtFragment != 0 {
					n1++
					if f.FragOffset == 0 {
						n2++
						eq(t, "first fragment udp", f.Layers.Has(LayerUDP), true)
					} else {
						eq(t, "later fragment l4", f.L4Off, -1)
					}
				}
			},
			// ident 1: its last fragment only; ident 2: three fragments.
			after: func(t *testing.T) { eq(t, "fragments, first fragments", [2]int{n1, n2}, [2]int{4, 1}) },
		},
		"suricata-verify_frag-eth-vlan-ip-tcp-syn.pcap": {check: func(t *testing.T, i int, p *Packet) {
			f := p.Outer()
			eq(t, "fragment", [2]any{f.Fragment, f.FragOffset}, [2]any{true, uint16(8 * i)})
			if i == 0 {
				// The first fragment holds the first 8 bytes of the TCP header.
				eq(t, "ports of the partial tcp header", [4]any{f.Layers.Has(LayerTCP), f.L4Partial, f.SrcPort, f.DstPort}, [4]any{true, true, uint16(12345), uint16(8080)})
			} else {
				eq(t, "no tcp in later fragments", f.L4Off, -1)
			}
		}},
		"tcpdump_icmpv6.pcap": {check: func(t *testing.T, i int, p *Packet) {
			eq(t, "icmpv6", p.Outer().Layers.Has(LayerICMPv6), true)
		}},
		"gopacket_pcapng-be-test202.pcapng": {check: func(t *testing.T, i int, p *Packet) {
			f := p.Outer()
			eq(t, "udp", f.Layers.Has(LayerIPv4|LayerUDP), true)
			if f.Link == LinkNull {
				eq(t, "null", f.Layers.Has(LayerNull), true)
				n1++
			}
		}, after: func(t *testing.T) { eq(t, "null frames", n1, 2) }},
		"zeek_trunc_ip4-trunc.pcap":              {errs: map[Kind]int{ErrTruncated: 1}},
		"zeek_trunc_trunc-hdr.pcap":              {errs: map[Kind]int{ErrTruncated: 1}},
		"zeek_trunc_ip6-ext-trunc.pcap":          {errs: map[Kind]int{ErrBadLength: 1}},
		"tcpdump_ipv4_invalid_total_length.pcap": {errs: map[Kind]int{ErrBadLength: 1}},
		"tcpdump_udp-length-heapoverflow.pcap": {errs: map[Kind]int{ErrTruncated: 1}, check: func(t *testing.T, i int, p *Packet) {
			f := p.Outer()
			eq(t, "ip kept", f.IPTotalLen, 12336)
			// 38 bytes captured: 4 bytes of the UDP header, the ports.
			eq(t, "udp cut after the ports", [4]any{f.L4Off, f.L4Partial, f.SrcPort, f.DstPort}, [4]any{34, true, uint16(12336), uint16(12336)})
		}},
		"zeek_tcp-truncated-header.pcap": {errs: map[Kind]int{ErrTruncated: 1}, check: func(t *testing.T, i int, p *Packet) {
			eq(t, "truncated", p.Truncated(), true)
			eq(t, "tcp port 25", p.Outer().SrcPort == 25 || p.Outer().DstPort == 25, true)
			if i == 0 {
				// IP total length 60 = 20 + a 40-byte TCP header: no payload on the wire.
				eq(t, "syn options cut", [3]any{p.Err, p.Outer().TCPHeaderLen, p.Outer().PayloadWireLen}, [3]any{ErrTruncated, 40, 0})
			}
		}},
	}
	var p Packet
	seen := 0
	for _, name := range captureFiles(t) {
		c, known := cases[name]
		if known {
			seen++
		}
		t.Run(name, func(t *testing.T) {
			n1, n2, n3, n4 = 0, 0, 0, 0
			frames := readCapture(t, name)
			if len(frames) == 0 {
				t.Fatal("no frames")
			}
			errs := map[Kind]int{}
			for i, fr := range frames {
				err := Decode(&p, fr.data, fr.info())
				checkInvariants(t, &p, err)
				if p.Err != OK {
					errs[p.Err]++
				}
				var fresh Packet
				_ = Decode(&fresh, fr.data, fr.info())
				comparePackets(t, &fresh, &p)
				if c.check != nil && (p.Err == OK || c.errs != nil) {
					c.check(t, i, &p)
				}
			}
			if c.errs == nil {
				c.errs = map[Kind]int{}
			}
			eq(t, "error kinds", errs, c.errs)
			if c.after != nil {
				c.after(t)
			}
		})
	}
	if seen != len(cases) {
		t.Errorf("%d of %d cases name a capture that is missing", len(cases)-seen, len(cases))
	}
}
