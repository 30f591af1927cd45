//go:build integration

package source

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// vxlanSender adds, in namespace b, a Linux vxlan device that encapsulates
// towards remote (a's address on the veth) with vni and dstport, and a
// static neighbour at inner so that datagrams sent to inner leave at once.
func vxlanSender(t *testing.T, b *testNetns, dev string, vni int, remote, local string, port int, inner string) {
	t.Helper()
	ip(t, "-n", b.name, "link", "add", dev, "type", "vxlan", "id", fmt.Sprint(vni), "remote", remote, "local", local,
		"dstport", fmt.Sprint(port), "dev", "vb")
	ip(t, "-n", b.name, "addr", "add", inner+".2/24", "dev", dev)
	ip(t, "-n", b.name, "link", "set", dev, "up")
	ip(t, "-n", b.name, "neigh", "add", inner+".1", "lladdr", "02:00:00:00:00:01", "dev", dev, "nud", "permanent")
}

// sendUDPFrom sends payload from namespace n to addr.
func sendUDPFrom(t *testing.T, n *testNetns, addr, payload string) {
	t.Helper()
	n.do(t, func() {
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(payload)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestVXLANInterfaceMode reads VXLAN traffic with AF_PACKET on a veth: the
// kernel's own vxlan devices in the peer namespace encapsulate datagrams over
// IPv4 and over IPv6 outer headers. The allowed VNIs are emitted as captured
// with the Tunnel (VNI, flow hash, outer addresses) decoded; another VNI is
// dropped as not_allowed; a session on port 8472 decodes as VXLAN (the
// destination port normalised to 4789; TestAdjustChecksum checks the UDP
// checksum update: over a veth the kernel leaves checksums to offload).
func TestVXLANInterfaceMode(t *testing.T) {
	type send struct {
		dev, inner, payload string // the vxlan device, its /24 (inner addresses), the datagram
		vni                 uint32
		v6                  bool // IPv6 outer headers
		keep                bool // the VNI is allowed
	}
	tests := []struct {
		name  string
		port  uint16 // the source's VXLAN port (0: 4789)
		sends []send
	}{
		{"port 4789", 0, []send{
			{"vx4", "192.168.42", "ipv4 outer", 42, false, true},
			{"vx6", "192.168.43", "ipv6 outer", 43, true, true},
			{"vx44", "192.168.44", "vni 44", 44, false, false},
		}},
		{"port 8472", 8472, []send{
			{"vx4", "192.168.42", "ipv4 outer 8472", 42, false, true},
			{"vx6", "192.168.43", "ipv6 outer 8472", 43, true, true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nsA, nsB := vethPair(t)
			ip(t, "-n", nsA.name, "addr", "add", "fd77::1/64", "dev", "va", "nodad")
			ip(t, "-n", nsB.name, "addr", "add", "fd77::2/64", "dev", "vb", "nodad")
			port := int(tc.port)
			if port == 0 {
				port = VXLANPort
			}
			for _, s := range tc.sends {
				remote, local := "10.77.0.1", "10.77.0.2"
				if s.v6 {
					remote, local = "fd77::1", "fd77::2"
				}
				vxlanSender(t, nsB, s.dev, int(s.vni), remote, local, port, s.inner)
			}
			var src *VXLAN
			var err error
			nsA.do(t, func() {
				src, err = NewVXLAN(VXLANConfig{Common: Common{Name: "mirror"}, Interface: "va", Port: tc.port, VNI: []uint32{42, 43}})
			})
			if err != nil {
				t.Fatal(err)
			}
			if src.Addrs() != nil {
				t.Errorf("interface mode has listener addresses %v", src.Addrs())
			}
			c := newCollector()
			stop := running(t, src, c.emit)
			time.Sleep(100 * time.Millisecond) // the ring is open before Run; let it settle
			for _, s := range tc.sends {
				sendUDPFrom(t, nsB, s.inner+".1:9999", s.payload)
			}
			want := 0
			for _, s := range tc.sends {
				if s.keep {
					want++
				}
			}
			find := func(fs []got, payload string) []got {
				var out []got
				for _, f := range fs {
					if string(f.payload) == payload {
						out = append(out, f)
					}
				}
				return out
			}
			c.waitFor(t, 5*time.Second, "the allowed datagrams", func(fs []got) bool {
				n := 0
				for _, s := range tc.sends {
					if s.keep && len(find(fs, s.payload)) > 0 {
						n++
					}
				}
				return n == want
			})
			time.Sleep(200 * time.Millisecond) // anything that should have been dropped would show now
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			fs := c.snapshot()
			for _, s := range tc.sends {
				t.Run(s.payload, func(t *testing.T) {
					m := find(fs, s.payload)
					if !s.keep {
						if len(m) != 0 {
							t.Fatalf("VNI %d emitted %d times, want dropped", s.vni, len(m))
						}
						return
					}
					if len(m) != 1 {
						t.Fatalf("emitted %d times, want once", len(m))
					}
					f := m[0]
					if f.info.LinkType != packet.LinkEthernet || f.info.InterfaceIndex == 0 || f.batchSource != "mirror" {
						t.Errorf("capture info %+v source %q", f.info, f.batchSource)
					}
					var p packet.Packet
					if err := packet.Decode(&p, f.data, f.info); err != nil {
						t.Fatalf("decode: %v", err)
					}
					tun := p.Tunnel()
					if tun == nil || tun.Type != packet.TunnelVXLAN || tun.VNI != s.vni {
						t.Fatalf("tunnel %+v, want VXLAN VNI %d", tun, s.vni)
					}
					o := p.Outer()
					wantSrc, wantDst := netip.MustParseAddr("10.77.0.2"), netip.MustParseAddr("10.77.0.1")
					if s.v6 {
						wantSrc, wantDst = netip.MustParseAddr("fd77::2"), netip.MustParseAddr("fd77::1")
					}
					if o.Src != wantSrc || o.Dst != wantDst || o.DstPort != VXLANPort || tun.FlowHash != o.SrcPort || o.SrcPort == 0 {
						t.Errorf("outer %s:%d > %s:%d flow hash %d, want %s > %s:%d", o.Src, o.SrcPort, o.Dst, o.DstPort, tun.FlowHash, wantSrc, wantDst, VXLANPort)
					}
					in := p.Inner()
					if in.Dst != netip.MustParseAddr(s.inner+".1") || in.DstPort != 9999 || in.Protocol != packet.ProtoUDP {
						t.Errorf("inner %s:%d proto %d", in.Dst, in.DstPort, in.Protocol)
					}
				})
			}
			if want < len(tc.sends) && src.VNIDropped() == 0 {
				t.Error("no VNI drop counted")
			}
			st := src.Stats().Snapshot()
			if st.Dropped[DropNotAllowed.String()] != src.VNIDropped() || st.Emitted+src.VNIDropped()+st.Dropped[DropMalformed.String()] != st.Received {
				t.Errorf("stats %+v, VNIDropped %d", st, src.VNIDropped())
			}
		})
	}
}
