package dissect

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/wirebridge/wirebridge/internal/packet"
)

func TestARPCaptured(t *testing.T) {
	// Expected Info as tshark 4.0 shows it, text as tcpdump 4.99 prints it
	// (the .out files beside the shared captures; tcpdump -nn for ours).
	cases := []struct {
		name  string
		file  string
		frame int
		op    uint16
		info  string
		text  string
	}{
		{"request inside VXLAN", "../../testdata/pcaps/tcpdump_vxlan.pcap", 2, ARPRequest,
			"Who has 192.168.203.3? Tell 192.168.203.5", "ARP, Request who-has 192.168.203.3 tell 192.168.203.5, length 28"},
		{"reply inside VXLAN", "../../testdata/pcaps/tcpdump_vxlan.pcap", 3, ARPReply,
			"192.168.203.3 is at 00:16:3e:37:f6:04", "ARP, Reply 192.168.203.3 is-at 00:16:3e:37:f6:04, length 28"},
		{"request behind QinQ, padded", "../../testdata/pcaps/tcpdump_802.1ad_QinQ.pcap", 1, ARPRequest,
			"Who has 172.21.79.100? Tell 172.21.79.97", "ARP, Request who-has 172.21.79.100 tell 172.21.79.97, length 42"},
		{"reply behind QinQ", "../../testdata/pcaps/tcpdump_802.1ad_QinQ.pcap", 2, ARPReply,
			"172.21.79.100 is at 00:80:ea:81:88:63", "ARP, Reply 172.21.79.100 is-at 00:80:ea:81:88:63, length 42"},
		{"request over Linux SLL2", "../../testdata/pcaps/zeek_linux_dlt_sll2.pcap", 5, ARPRequest,
			"Who has 192.0.2.2? Tell 192.0.2.1", ""},
		{"RARP request over Linux SLL2", "../../testdata/pcaps/zeek_linux_dlt_sll2.pcap", 6, ARPReverseRequest,
			"Who is 00:00:00:00:00:00? Tell 8e:36:06:44:ac:af", ""},
		{"kernel request padded to 46 bytes", dhcpCapture, 2, ARPRequest,
			"Who has 192.168.77.133? Tell 192.168.77.1", "ARP, Request who-has 192.168.77.133 tell 192.168.77.1, length 46"},
		{"arping request to the broadcast MAC", dhcpCapture, 6, ARPRequest,
			"Who has 192.168.77.1? Tell 192.168.77.133", "ARP, Request who-has 192.168.77.1 (ff:ff:ff:ff:ff:ff) tell 192.168.77.133, length 28"},
	}
	var m ARPMessage
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := frameNum(t, framesFromCapture(t, tc.file), tc.frame)
			if !f.pkt.Inner().Layers.Has(packet.LayerARP) {
				t.Fatalf("frame %d is not ARP", tc.frame)
			}
			if err := m.Parse(f.payload()); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.Operation != tc.op || !m.Supported() || !m.SenderIP().IsValid() {
				t.Errorf("op %d supported %v sender %v", m.Operation, m.Supported(), m.SenderIP())
			}
			if got := string(m.AppendInfo(nil)); got != tc.info {
				t.Errorf("info %q, want %q", got, tc.info)
			}
			if got := string(m.AppendText(nil)); tc.text != "" && got != tc.text {
				t.Errorf("text %q, want %q", got, tc.text)
			}
		})
	}
}

func TestARPBuilt(t *testing.T) {
	mac1 := [6]byte{0x02, 0, 0, 0, 0, 1}
	mac2 := [6]byte{0x02, 0, 0, 0, 0, 2}
	a1, a2 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	zero := netip.IPv4Unspecified()
	build := func(a packet.ARP) []byte {
		return packet.Build(packet.Eth{Src: a.SenderMAC, Dst: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, a)[14:]
	}
	rarpReply := build(packet.ARP{Op: ARPReverseReply, SenderMAC: mac1, SenderIP: a1, Target: mac2, TargetIP: a2})
	infiniband := []byte{0, 32, 8, 0, 20, 4, 0, 1}
	infiniband = append(infiniband, make([]byte, 2*(20+4))...)
	cases := []struct {
		name string
		b    []byte
		err  error
		info string
		text string
	}{
		{"probe", build(packet.ARP{Op: ARPRequest, SenderMAC: mac1, SenderIP: zero, TargetIP: a1}), nil,
			"Who has 10.0.0.1? (ARP Probe)", "ARP, Request who-has 10.0.0.1 tell 0.0.0.0, length 28"},
		{"announcement", build(packet.ARP{Op: ARPRequest, SenderMAC: mac1, SenderIP: a1, TargetIP: a1}), nil,
			"ARP Announcement for 10.0.0.1", "ARP, Request who-has 10.0.0.1 tell 10.0.0.1, length 28"},
		{"gratuitous reply", build(packet.ARP{Op: ARPReply, SenderMAC: mac1, SenderIP: a1, Target: mac1, TargetIP: a1}), nil,
			"Gratuitous ARP for 10.0.0.1 (Reply)", "ARP, Reply 10.0.0.1 is-at 02:00:00:00:00:01, length 28"},
		{"RARP reply", rarpReply, nil,
			"02:00:00:00:00:02 is at 10.0.0.2", "RARP, Reverse Reply 02:00:00:00:00:02 at 10.0.0.2, length 28"},
		{"InfiniBand hardware: unsupported, addresses kept", infiniband, ErrUnsupported,
			"Who has 0.0.0.0? (ARP Probe)", "ARP, Request who-has 0.0.0.0 tell 0.0.0.0, length 56"},
		{"addresses cut short", build(packet.ARP{Op: ARPRequest, SenderIP: a1, TargetIP: a2})[:27], ErrTruncated, "", ""},
		{"header cut short", []byte{0, 1, 8, 0, 6, 4, 0}, ErrTruncated, "", ""},
		{"zero address lengths", []byte{0, 1, 8, 0, 0, 0, 0, 1}, ErrMalformed, "", ""},
	}
	var m ARPMessage
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Parse(tc.b)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if tc.info == "" {
				return
			}
			if got := string(m.AppendInfo(nil)); got != tc.info {
				t.Errorf("info %q, want %q", got, tc.info)
			}
			if got := string(m.AppendText(nil)); got != tc.text {
				t.Errorf("text %q, want %q", got, tc.text)
			}
		})
	}
	if err := m.Parse(infiniband); !errors.Is(err, ErrUnsupported) || m.HardwareType != 32 || len(m.SenderHW) != 20 || m.SenderIP() != zero {
		t.Errorf("InfiniBand: %v type %d hw len %d sender %v", err, m.HardwareType, len(m.SenderHW), m.SenderIP())
	}
}
