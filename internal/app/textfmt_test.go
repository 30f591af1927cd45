package app

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// TestAppendTextTunnels checks the tunnel bracket of `read --format text`
// for each tunnel type that has its own fields.
func TestAppendTextTunnels(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.1")
	b := netip.MustParseAddr("10.0.0.2")
	o1 := netip.MustParseAddr("172.31.0.5")
	o2 := netip.MustParseAddr("172.31.0.9")
	inner := []packet.Layer{packet.IPv4{Src: a, Dst: b}, packet.UDP{Src: 5, Dst: 6}, packet.Payload("x")}
	cases := []struct {
		name   string
		layers []packet.Layer
		want   string
	}{
		{"vxlan", append([]packet.Layer{packet.Eth{}, packet.IPv4{Src: o1, Dst: o2}, packet.UDP{Src: 50000}, packet.VXLAN{VNI: 42}, packet.Eth{}}, inner...),
			"IP 10.0.0.1.5 > 10.0.0.2.6: UDP, length 1 [vxlan vni 42 172.31.0.5.50000 > 172.31.0.9.4789]"},
		{"gtpu", append([]packet.Layer{packet.Eth{}, packet.IPv4{Src: o1, Dst: o2}, packet.UDP{Src: 2152}, packet.GTPU{TEID: 0x01020304}}, inner...),
			"IP 10.0.0.1.5 > 10.0.0.2.6: UDP, length 1 [gtpu teid 16909060 172.31.0.5.2152 > 172.31.0.9.2152]"},
		{"mpls over ethernet", append([]packet.Layer{packet.Eth{}, packet.MPLS{Labels: []packet.MPLSLabel{{Label: 16001}, {Label: 24}}}}, inner...),
			"IP 10.0.0.1.5 > 10.0.0.2.6: UDP, length 1 [mpls labels 16001,24]"},
		{"mpls over gre", append([]packet.Layer{packet.Eth{}, packet.IPv4{Src: o1, Dst: o2}, packet.GRE{}, packet.MPLS{Labels: []packet.MPLSLabel{{Label: 7}}}}, inner...),
			"IP 10.0.0.1.5 > 10.0.0.2.6: UDP, length 1 [mpls labels 7 172.31.0.5 > 172.31.0.9]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p packet.Packet
			if err := packet.Decode(&p, packet.Build(c.layers...), packet.CaptureInfo{LinkType: packet.LinkEthernet, Timestamp: time.Unix(0, 0)}); err != nil {
				t.Fatal(err)
			}
			got := strings.TrimSpace(string(appendText(nil, &p)))
			if _, rest, ok := strings.Cut(got, " "); !ok || rest != c.want {
				t.Errorf("got  %q\nwant %q", got, "<time> "+c.want)
			}
		})
	}
}
