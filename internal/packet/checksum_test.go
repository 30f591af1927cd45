package packet

import (
	"encoding/binary"
	"testing"
)

// TestChecksumsAgainstTshark verifies the IPv4 header and transport checksums
// of every decoded layer of every shared capture and compares the counts of
// good, bad and absent (UDP checksum 0) with what TShark 4.0.17 reports:
//
//	tshark -r F -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -o tcp.check_checksum:TRUE \
//	  -T fields -e ip.checksum.status -e udp.checksum.status -e tcp.checksum.status \
//	  -e icmpv6.checksum.status -e icmp.checksum.status
//
// tsharkOnly counts good checksums tshark verifies in layers this decoder
// does not reach (reassembled fragments, headers quoted in ICMP
// errors, a packet stopped at a bad length).
// Where a checksum verifies, recomputing it gives the stored value.
func TestChecksumsAgainstTshark(t *testing.T) {
	type counts struct{ bad, good, absent, tsharkOnly int }
	cases := map[string]counts{
		"arkime_bigendian.pcap":                         {good: 4},
		"arkime_twovlan.pcap":                           {bad: 12},
		"gopacket_pcapng-be-test202.pcapng":             {bad: 3, good: 7},
		"ndpi_syslog.pcap":                              {good: 188}, // PPPoE and 6in4 inner layers included
		"pcap2har_http-chunked-gzip.pcap":               {bad: 28, good: 28},
		"suricata-verify_frag-eth-vlan-ip-tcp-syn.pcap": {good: 4, tsharkOnly: 1}, // reassembled TCP
		"suricata-verify_ipv4frags.pcap":                {good: 5, tsharkOnly: 1}, // reassembled ICMP
		"suricata-verify_ipv6-covert-dstopts.pcap":      {good: 37},
		"suricata-verify_vxlan-aws-traffic-mirror.pcap": {good: 300, absent: 100},
		"tcpdump_802.1ad_QinQ.pcap":                     {},
		"tcpdump_dns_udp.pcap":                          {good: 4},
		"tcpdump_erspan-type-i-1.pcap":                  {good: 6},
		"tcpdump_erspan-type-ii-2.pcap":                 {good: 48},
		"tcpdump_erspan-type-iii-ft-0.pcap":             {good: 27},
		"tcpdump_geneve-gcp.pcap":                       {good: 3, absent: 1},
		"tcpdump_geneve.pcap":                           {good: 117, absent: 39},
		"tcpdump_icmpv6.pcap":                           {good: 5},
		"tcpdump_ipv4_invalid_total_length.pcap":        {good: 2, tsharkOnly: 1}, // UDP after the bad total length
		"tcpdump_ipv6-routing-header.pcap":              {good: 4},
		"tcpdump_syslog_udp.pcap":                       {bad: 4, good: 4},
		"tcpdump_tcp-handshake-nano.pcap":               {good: 6},
		"tcpdump_udp-length-heapoverflow.pcap":          {bad: 1},
		"tcpdump_various_gre.pcap":                      {good: 60}, // 30 of them inside Cisco MetaData GRE payloads
		"tcpdump_vxlan.pcap":                            {good: 26, absent: 10},
		"zeek_geneve-many-options.pcap":                 {bad: 17, good: 23},
		"zeek_geneve-truncated.pcapng":                  {good: 1, absent: 1},
		"zeek_gre-erspan3-dot1q.pcap":                   {good: 6},
		"zeek_gre-sample.pcap":                          {good: 124, tsharkOnly: 4}, // headers quoted in ICMP errors
		"zeek_http-docker-upgrade-chunked.pcap":         {bad: 200, good: 200},
		"zeek_http-pipelined-requests.pcap":             {good: 98},
		"zeek_http-vlan-0.pcap":                         {good: 28},
		"zeek_ipv6-fragmented-dns.pcap":                 {good: 5, tsharkOnly: 1}, // reassembled UDP
		"zeek_ipv6-hbh-routing0.pcap":                   {good: 1},
		"zeek_linux_dlt_sll2.pcap":                      {good: 6},
		"zeek_pcapng-multi-interface.pcapng":            {bad: 5, good: 7},
		"zeek_tcp-truncated-header.pcap":                {good: 36},
		"zeek_trunc_ip4-trunc.pcap":                     {},
		"zeek_trunc_ip6-ext-trunc.pcap":                 {},
		"zeek_trunc_trunc-hdr.pcap":                     {},
		"zeek_vxlan-encapsulated-http.pcap":             {good: 48},
	}
	var p Packet
	for _, name := range captureFiles(t) {
		want, ok := cases[name]
		if !ok {
			t.Errorf("%s: no expected checksum counts", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			var got counts
			tally := func(s ChecksumStatus) {
				switch s {
				case ChecksumGood:
					got.good++
				case ChecksumBad:
					got.bad++
				case ChecksumAbsent:
					got.absent++
				}
			}
			for i, fr := range readCapture(t, name) {
				_ = Decode(&p, fr.data, fr.info())
				for d := 0; d < p.NumFrames; d++ {
					f := &p.Frames[d]
					s := p.VerifyIPv4Checksum(d)
					tally(s)
					if s == ChecksumGood {
						hdr := p.Data[f.IPOff : f.IPOff+f.IPHeaderLen]
						if c := IPv4HeaderChecksum(hdr); c != binary.BigEndian.Uint16(hdr[10:]) {
							t.Errorf("packet %d frame %d: computed IPv4 checksum %#04x, stored %#04x", i, d, c, binary.BigEndian.Uint16(hdr[10:]))
						}
					}
					s = p.VerifyTransportChecksum(d)
					tally(s)
					if s == ChecksumGood {
						end := f.IPOff + f.IPTotalLen
						if f.Layers.Has(LayerUDP) {
							end = f.L4Off + int(f.UDPLength)
						}
						seg := p.Data[f.L4Off:end]
						dst := f.Dst
						if f.IPv6Ext&IPv6ExtRouting != 0 {
							dst = p.finalDestination(f)
						}
						co := ChecksumOffset(f.Protocol)
						if c := TransportChecksum(f.Src, dst, f.Protocol, seg); c != binary.BigEndian.Uint16(seg[co:]) {
							t.Errorf("packet %d frame %d: computed transport checksum %#04x, stored %#04x", i, d, c, binary.BigEndian.Uint16(seg[co:]))
						}
					}
				}
			}
			want.good -= want.tsharkOnly
			want.tsharkOnly = 0
			eq(t, "bad/good/absent", got, want)
		})
	}
}

func TestChecksumHelpers(t *testing.T) {
	cases := []struct {
		name string
		b    []byte
		want uint16
	}{
		// RFC 1071 section 3 example: the sum of these words is 0xddf2.
		{"rfc1071 example", []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, ^uint16(0xddf2)},
		{"odd length pads with zero", []byte{0x01}, ^uint16(0x0100)},
		{"empty", nil, 0xffff},
		{"carry wraps around", []byte{0xff, 0xff, 0x00, 0x01}, ^uint16(0x0001)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eq(t, "checksum", InternetChecksum(c.b), c.want)
		})
	}
	// A UDP checksum that computes to 0 is sent as 0xffff: find payload bytes
	// making it so and check both the value and that it verifies.
	seg := Build(UDP{Src: 1, Dst: 2}, Payload{0, 0})
	c := TransportChecksum(ip1, ip2, ProtoUDP, seg)
	binary.BigEndian.PutUint16(seg[8:], c) // payload word chosen to cancel the sum
	if got := TransportChecksum(ip1, ip2, ProtoUDP, seg); got != 0xffff {
		t.Errorf("zero UDP checksum sent as %#04x, want 0xffff", got)
	}
	frame := Build(Eth{}, IPv4{Src: ip1, Dst: ip2}, UDP{Src: 1, Dst: 2}, Payload(seg[8:10]))
	var p Packet
	if err := Decode(&p, frame, info(LinkEthernet)); err != nil {
		t.Fatal(err)
	}
	eq(t, "stored", p.Outer().UDPChecksum, uint16(0xffff))
	eq(t, "verifies", p.VerifyTransportChecksum(0), ChecksumGood)
	// Flipping a payload bit makes it bad.
	frame[len(frame)-1] ^= 1
	_ = Decode(&p, frame, info(LinkEthernet))
	eq(t, "corrupted", p.VerifyTransportChecksum(0), ChecksumBad)
	frame[16] ^= 0x80 // IPv4 total length high bit: bad header checksum (and length)
	_ = Decode(&p, frame, info(LinkEthernet))
	eq(t, "ip header corrupted", p.VerifyIPv4Checksum(0), ChecksumBad)
}
