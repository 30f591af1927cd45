package dissect

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

const dhcpCapture = "testdata/dhcp-arp-busybox-veth.pcap"

func TestDHCPCaptured(t *testing.T) {
	frames := framesFromCapture(t, dhcpCapture)
	mac := "2a:4b:1c:40:99:e7"
	server := netip.MustParseAddr("192.168.77.1")
	leased := netip.MustParseAddr("192.168.77.133")
	// Expected values as tshark 4.0 shows them for this capture.
	cases := []struct {
		name      string
		frame     int
		op, mtype uint8
		yourIP    netip.Addr
		requested netip.Addr
		serverID  netip.Addr
		hostname  string
		prl       []byte
		lease     uint32
		info      string
		text      string
	}{
		{name: "discover", frame: 1, op: BOOTRequest, mtype: DHCPDiscover, yourIP: netip.IPv4Unspecified(), hostname: "d2-client",
			prl: []byte{1, 3, 6, 12, 15, 28, 42}, info: "DHCP Discover - Transaction ID 0x1cf11925",
			text: "BOOTP/DHCP, Request from 2a:4b:1c:40:99:e7, length 300"},
		{name: "offer", frame: 3, op: BOOTReply, mtype: DHCPOffer, yourIP: leased, serverID: server, lease: 3600,
			info: "DHCP Offer    - Transaction ID 0x1cf11925", text: "BOOTP/DHCP, Reply, length 300"},
		{name: "request", frame: 4, op: BOOTRequest, mtype: DHCPRequest, yourIP: netip.IPv4Unspecified(), requested: leased, serverID: server,
			hostname: "d2-client", prl: []byte{1, 3, 6, 12, 15, 28, 42}, info: "DHCP Request  - Transaction ID 0x1cf11925",
			text: "BOOTP/DHCP, Request from 2a:4b:1c:40:99:e7, length 300"},
		{name: "ack", frame: 5, op: BOOTReply, mtype: DHCPAck, yourIP: leased, serverID: server, lease: 3600,
			info: "DHCP ACK      - Transaction ID 0x1cf11925", text: "BOOTP/DHCP, Reply, length 300"},
	}
	var m DHCPMessage
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := m.Parse(frameNum(t, frames, tc.frame).payload()); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.Op != tc.op || m.MessageType != tc.mtype || m.XID != 0x1cf11925 || !m.Cookie {
				t.Errorf("op %d type %d xid %#x cookie %v", m.Op, m.MessageType, m.XID, m.Cookie)
			}
			if got := string(appendColonHex(nil, m.ClientMAC)); got != mac {
				t.Errorf("client MAC %s, want %s", got, mac)
			}
			if m.YourIP != tc.yourIP || m.RequestedIP != tc.requested || m.ServerID != tc.serverID {
				t.Errorf("yiaddr %v requested %v server id %v", m.YourIP, m.RequestedIP, m.ServerID)
			}
			if string(m.Hostname) != tc.hostname || string(m.ParameterRequestList) != string(tc.prl) {
				t.Errorf("hostname %q PRL %v", m.Hostname, m.ParameterRequestList)
			}
			if m.LeaseTime != tc.lease || m.HasLeaseTime != (tc.lease != 0) {
				t.Errorf("lease %d (%v)", m.LeaseTime, m.HasLeaseTime)
			}
			if tc.op == BOOTRequest {
				if string(m.VendorClass) != "d2vendor" || len(m.ClientID) != 7 || m.ClientID[0] != 1 {
					t.Errorf("vendor class %q client id %x", m.VendorClass, m.ClientID)
				}
			} else {
				if m.SubnetMask != netip.MustParseAddr("255.255.255.0") || m.Router != server || string(m.DomainName) != "example.test" ||
					m.NumDNS() != 2 || m.DNSServer(1) != netip.MustParseAddr("192.168.77.2") {
					t.Errorf("mask %v router %v domain %q dns %d", m.SubnetMask, m.Router, m.DomainName, m.NumDNS())
				}
			}
			if got := string(m.AppendInfo(nil)); got != tc.info {
				t.Errorf("info %q, want %q", got, tc.info)
			}
			if got := string(m.AppendText(nil)); got != tc.text {
				t.Errorf("text %q, want %q", got, tc.text)
			}
		})
	}
}

// testDHCP builds a BOOTP message with the given options area (after the
// cookie; nil: no cookie) and sname/file contents.
func testDHCP(op uint8, options []byte, sname, file string) []byte {
	b := make([]byte, dhcpFixedLen)
	b[0], b[1], b[2] = op, 1, 6
	binary.BigEndian.PutUint32(b[4:], 0x00000abc)
	copy(b[28:], []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55})
	copy(b[44:108], sname)
	copy(b[108:236], file)
	if options != nil {
		b = binary.BigEndian.AppendUint32(b, dhcpMagic)
		b = append(b, options...)
	}
	return b
}

func TestDHCPBuilt(t *testing.T) {
	overloaded := testDHCP(BOOTRequest, []byte{53, 1, 8, 52, 1, 3, 255}, "\x0c\x04host\xff", "\x32\x04\x0a\x00\x00\x07\xff")
	cases := []struct {
		name  string
		b     []byte
		err   error
		check func(t *testing.T, m *DHCPMessage)
	}{
		{"plain BOOTP without cookie", testDHCP(BOOTReply, nil, "srv", "pxelinux.0"), nil, func(t *testing.T, m *DHCPMessage) {
			if m.Cookie || m.MessageType != 0 || string(m.ServerName) != "srv" || string(m.BootFile) != "pxelinux.0" {
				t.Errorf("cookie %v type %d sname %q file %q", m.Cookie, m.MessageType, m.ServerName, m.BootFile)
			}
			if got := string(m.AppendInfo(nil)); got != "Boot Reply" {
				t.Errorf("info %q", got)
			}
		}},
		{"options overloaded into sname and file", overloaded, nil, func(t *testing.T, m *DHCPMessage) {
			if m.MessageType != DHCPInform || string(m.Hostname) != "host" || m.RequestedIP != netip.MustParseAddr("10.0.0.7") ||
				len(m.ServerName) != 0 || len(m.BootFile) != 0 {
				t.Errorf("type %d hostname %q requested %v sname %q file %q", m.MessageType, m.Hostname, m.RequestedIP, m.ServerName, m.BootFile)
			}
			if got := m.Options(); string(got) != string([]byte{53, 52, 50, 12}) {
				t.Errorf("options %v", got)
			}
		}},
		{"pad options and no end", testDHCP(BOOTRequest, []byte{0, 0, 53, 1, 1}, "", ""), nil, func(t *testing.T, m *DHCPMessage) {
			if m.MessageType != DHCPDiscover || m.MessageTypeName() != "DISCOVER" {
				t.Errorf("type %d %s", m.MessageType, m.MessageTypeName())
			}
		}},
		{"unknown message type", testDHCP(BOOTRequest, []byte{53, 1, 200, 255}, "", ""), nil, func(t *testing.T, m *DHCPMessage) {
			if m.MessageTypeName() != "UNKNOWN" {
				t.Errorf("name %s", m.MessageTypeName())
			}
		}},
		{"option runs past the end", testDHCP(BOOTRequest, []byte{53, 1, 1, 12, 10, 'a'}, "", ""), ErrTruncated, func(t *testing.T, m *DHCPMessage) {
			if m.MessageType != DHCPDiscover {
				t.Errorf("fields before the cut lost: type %d", m.MessageType)
			}
		}},
		{"option code without length", testDHCP(BOOTRequest, []byte{53}, "", ""), ErrTruncated, nil},
		{"message type of length 2", testDHCP(BOOTRequest, []byte{53, 2, 1, 1}, "", ""), ErrMalformed, nil},
		{"requested IP of length 3", testDHCP(BOOTRequest, []byte{50, 3, 1, 2, 3}, "", ""), ErrMalformed, nil},
		{"cut inside sname, as a snaplen cuts it", testDHCP(BOOTRequest, nil, "", "")[:96], ErrTruncated, func(t *testing.T, m *DHCPMessage) {
			if m.XID != 0xabc || string(appendColonHex(nil, m.ClientMAC)) != "00:11:22:33:44:55" || !m.GatewayIP.IsValid() {
				t.Errorf("fixed fields lost: xid %#x mac %x", m.XID, m.ClientMAC)
			}
			if got := string(m.AppendInfo(nil)); got != "Boot Request from 00:11:22:33:44:55" {
				t.Errorf("info %q", got)
			}
		}},
		{"cut inside chaddr", testDHCP(BOOTRequest, nil, "", "")[:30], ErrTruncated, func(t *testing.T, m *DHCPMessage) {
			if m.ClientMAC != nil || m.XID != 0xabc {
				t.Errorf("mac %x xid %#x", m.ClientMAC, m.XID)
			}
		}},
		{"op 3", append([]byte{3}, make([]byte, 300)...), ErrNotProtocol, nil},
		{"hardware address length 17", func() []byte { b := testDHCP(BOOTRequest, []byte{255}, "", ""); b[2] = 17; return b }(), ErrMalformed, nil},
	}
	var m DHCPMessage
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Parse(tc.b)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if tc.check != nil {
				tc.check(t, &m)
			}
		})
	}
}
