package linux

import (
	"encoding/binary"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		iface            string
		want             bool
	}{
		{"glob", []string{"eth*"}, nil, "eth0", true},
		{"no glob matches", []string{"eth*"}, nil, "veth0", false},
		{"second glob", []string{"eth*", "veth*"}, nil, "veth3", true},
		{"excluded", []string{"veth*"}, []string{"veth9*"}, "veth91", false},
		{"not excluded", []string{"veth*"}, []string{"veth9*"}, "veth81", true},
		{"loopback never", []string{"*"}, nil, "lo", false},
		{"character class", []string{"tap[0-3]"}, nil, "tap2", true},
		{"character class miss", []string{"tap[0-3]"}, nil, "tap7", false},
		{"exact", []string{"ens5"}, nil, "ens5", true},
		{"empty name", []string{"*"}, nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Match(tt.include, tt.exclude, tt.iface); got != tt.want {
				t.Errorf("Match(%q, %q, %q) = %v, want %v", tt.include, tt.exclude, tt.iface, got, tt.want)
			}
		})
	}
}

func TestSelected(t *testing.T) {
	p := testProvider()
	p.cfg.Interfaces = []string{"*"}
	tests := []struct {
		name string
		link netlink.Link
		want bool
	}{
		{"any interface", &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}}, true},
		{"loopback by flag", &netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: "lo0", Flags: net.FlagLoopback}}, false},
		{"loopback by name", &netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: "lo"}}, false},
		{"our device", &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: p.cfg.Device}}, false},
		{"another entry's device", &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "wbm-00000001"}}, false},
		{"a renamed mirror device", &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "vx0", Alias: DeviceAliasPrefix + "other"}}, false},
		{"another vxlan device", &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "vx0"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.selected(tt.link); got != tt.want {
				t.Errorf("selected(%s) = %v, want %v", tt.link.Attrs().Name, got, tt.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	good := func() Config {
		return Config{Name: "m", Spec: Spec{Interfaces: []string{"eth*"}, Collector: Collector{Address: "10.0.0.9", VNI: 42}}}
	}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string // substring; empty: valid
	}{
		{"valid", func(*Config) {}, ""},
		{"valid v6 collector", func(c *Config) { c.Collector.Address = "fd00::9" }, ""},
		{"no name", func(c *Config) { c.Name = "" }, "name: required"},
		{"no interfaces", func(c *Config) { c.Interfaces = nil }, "interfaces: required"},
		{"bad glob", func(c *Config) { c.Interfaces = []string{"eth["} }, "interfaces[0]: invalid glob"},
		{"bad exclude", func(c *Config) { c.Exclude = []string{"a/b"} }, "exclude[0]:"},
		{"no collector", func(c *Config) { c.Collector.Address = "" }, "collector.address: required"},
		{"collector not an address", func(c *Config) { c.Collector.Address = "collector.example" }, "collector.address: invalid IP address"},
		{"multicast collector", func(c *Config) { c.Collector.Address = "239.1.1.1" }, "collector.address: 239.1.1.1 cannot be a collector"},
		{"port", func(c *Config) { c.Collector.Port = 70000 }, "collector.port:"},
		{"vni", func(c *Config) { c.Collector.VNI = 1 << 24 }, "collector.vni:"},
		{"device too long", func(c *Config) { c.Device = "wbm-0123456789ab" }, "device:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestMarks(t *testing.T) {
	// docs/mirror-linux.md shows the marks of entry "lan".
	if d, n := DeviceName("lan"), nodeIDs("lan"); d != "wbm-56608010" || n != [2]uint32{0x6d2, 0xed2} {
		t.Errorf("entry lan: device %s, nodes %#x; docs/mirror-linux.md shows wbm-56608010, ::6d2 and ::ed2", d, n)
	}
	seen := map[string]string{}
	for _, name := range []string{"a", "b", "lan", "lan2", strings.Repeat("x", 200)} {
		d := DeviceName(name)
		if len(d) > unix.IFNAMSIZ-1 || !strings.HasPrefix(d, DevicePrefix) {
			t.Errorf("DeviceName(%q) = %q: too long or unmarked", name, d)
		}
		if o, dup := seen[d]; dup {
			t.Errorf("DeviceName(%q) = DeviceName(%q) = %q", name, o, d)
		}
		seen[d] = name
		n := nodeIDs(name)
		for _, id := range n {
			if id == 0 || id > 0xfff {
				t.Errorf("nodeIDs(%q) = %#x: not a u32 node id", name, n)
			}
		}
		if n[0] == n[1] {
			t.Errorf("nodeIDs(%q) = %#x: ingress and egress must differ", name, n)
		}
	}
}

// nlmsg builds one netlink message of type typ: a tcmsg and a TCA_KIND
// attribute (kind empty: none).
func nlmsg(typ uint16, ifindex int32, handle, parent, info uint32, kind string) []byte {
	body := make([]byte, tcmsgLen)
	binary.NativeEndian.PutUint32(body[4:], uint32(ifindex))
	binary.NativeEndian.PutUint32(body[8:], handle)
	binary.NativeEndian.PutUint32(body[12:], parent)
	binary.NativeEndian.PutUint32(body[16:], info)
	if kind != "" {
		v := append([]byte(kind), 0)
		a := make([]byte, rtaHdrLen, align4(rtaHdrLen+len(v)))
		binary.NativeEndian.PutUint16(a[0:], uint16(rtaHdrLen+len(v)))
		binary.NativeEndian.PutUint16(a[2:], tcaKind)
		a = append(a, v...)
		for len(a)%4 != 0 {
			a = append(a, 0)
		}
		body = append(body, a...)
	}
	h := make([]byte, nlmsgHdrLen)
	binary.NativeEndian.PutUint32(h[0:], uint32(nlmsgHdrLen+len(body)))
	binary.NativeEndian.PutUint16(h[4:], typ)
	return append(h, body...)
}

func TestParseTC(t *testing.T) {
	delFilter := nlmsg(unix.RTM_DELTFILTER, 7, 0x800ed0, netlink.HANDLE_MIN_INGRESS, 4789<<16|0x0300, "u32")
	delQdisc := nlmsg(unix.RTM_DELQDISC, 7, 0xffff0000, netlink.HANDLE_CLSACT, 0, "clsact")
	newFilter := nlmsg(unix.RTM_NEWTFILTER, 7, 0x800ed0, netlink.HANDLE_MIN_INGRESS, 4789<<16|0x0300, "u32")
	tests := []struct {
		name    string
		in      []byte
		want    []tcEvent
		wantErr bool
	}{
		{"filter deleted", delFilter, []tcEvent{{Type: unix.RTM_DELTFILTER, Ifindex: 7, Handle: 0x800ed0, Parent: netlink.HANDLE_MIN_INGRESS, Prio: 4789, Kind: "u32"}}, false},
		{"qdisc deleted", delQdisc, []tcEvent{{Type: unix.RTM_DELQDISC, Ifindex: 7, Handle: 0xffff0000, Parent: netlink.HANDLE_CLSACT, Kind: "clsact"}}, false},
		{"new filter skipped", newFilter, nil, false},
		{"several in one datagram", append(append(append([]byte{}, newFilter...), delQdisc...), delFilter...),
			[]tcEvent{
				{Type: unix.RTM_DELQDISC, Ifindex: 7, Handle: 0xffff0000, Parent: netlink.HANDLE_CLSACT, Kind: "clsact"},
				{Type: unix.RTM_DELTFILTER, Ifindex: 7, Handle: 0x800ed0, Parent: netlink.HANDLE_MIN_INGRESS, Prio: 4789, Kind: "u32"},
			}, false},
		{"no kind", nlmsg(unix.RTM_DELTFILTER, 3, 0, netlink.HANDLE_MIN_EGRESS, 0, ""), []tcEvent{{Type: unix.RTM_DELTFILTER, Ifindex: 3, Parent: netlink.HANDLE_MIN_EGRESS}}, false},
		{"empty", nil, nil, false},
		{"short header", delFilter[:10], nil, true},
		{"length past the end", delFilter[:len(delFilter)-4], nil, true},
		{"short tcmsg", func() []byte {
			b := append([]byte{}, delFilter[:nlmsgHdrLen+8]...)
			binary.NativeEndian.PutUint32(b, uint32(len(b)))
			return b
		}(), nil, true},
		{"bad attribute length", func() []byte {
			b := append([]byte{}, delQdisc...)
			binary.NativeEndian.PutUint16(b[nlmsgHdrLen+tcmsgLen:], 200)
			return b
		}(), nil, true},
		{"good then truncated", append(append([]byte{}, delQdisc...), delFilter[:20]...),
			[]tcEvent{{Type: unix.RTM_DELQDISC, Ifindex: 7, Handle: 0xffff0000, Parent: netlink.HANDLE_CLSACT, Kind: "clsact"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTC(tt.in)
			if (err != nil) != tt.wantErr {
				t.Errorf("err %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errShort) {
				t.Errorf("err %v is not errShort", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseTC(f *testing.F) {
	f.Add(nlmsg(unix.RTM_DELTFILTER, 7, 0x800ed0, netlink.HANDLE_MIN_INGRESS, 4789<<16|0x0300, "u32"))
	f.Add(nlmsg(unix.RTM_DELQDISC, 7, 0xffff0000, netlink.HANDLE_CLSACT, 0, "clsact"))
	f.Add(append(nlmsg(unix.RTM_NEWQDISC, 1, 0, 0, 0, "noqueue"), nlmsg(unix.RTM_DELTFILTER, 2, 1, 2, 3, "")...))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := parseTC(b)
		if err != nil && !errors.Is(err, errShort) {
			t.Fatalf("error %v is not errShort", err)
		}
		for _, ev := range evs {
			if ev.Type != unix.RTM_DELQDISC && ev.Type != unix.RTM_DELTFILTER {
				t.Fatalf("event of type %d", ev.Type)
			}
			if len(ev.Kind) > len(b) {
				t.Fatalf("kind longer than the input")
			}
		}
	})
}

// testProvider is a provider without a netlink handle, for the trigger
// logic (which needs one only for interfaces it has not seen).
func testProvider() *Provider {
	cfg := Config{Name: "m", Spec: Spec{Interfaces: []string{"tap*"}, Exclude: []string{"tapx*"}, Collector: Collector{Address: "10.0.0.9"}}}.withDefaults()
	return &Provider{cfg: cfg, nodes: nodeIDs(cfg.Name)}
}

func linkUpdate(typ uint16, index int, name string, up bool) netlink.LinkUpdate {
	var u netlink.LinkUpdate
	u.Header.Type = typ
	attrs := netlink.LinkAttrs{Index: index, Name: name}
	if up {
		attrs.Flags = net.FlagUp
	}
	u.Link = &netlink.Veth{LinkAttrs: attrs}
	return u
}

func TestLinkTrigger(t *testing.T) {
	p := testProvider()
	now := time.Unix(100, 0)
	tests := []struct {
		name   string
		known  map[int]linkInfo
		update netlink.LinkUpdate
		want   string // "reason:endpoint"; empty: no trigger
	}{
		{"added", nil, linkUpdate(unix.RTM_NEWLINK, 5, "tap0", false), "link-added:tap0"},
		{"added unselected", nil, linkUpdate(unix.RTM_NEWLINK, 5, "eth0", true), ""},
		{"added excluded", nil, linkUpdate(unix.RTM_NEWLINK, 5, "tapx1", true), ""},
		{"came up", map[int]linkInfo{5: {"tap0", false}}, linkUpdate(unix.RTM_NEWLINK, 5, "tap0", true), "link-up:tap0"},
		{"other change", map[int]linkInfo{5: {"tap0", true}}, linkUpdate(unix.RTM_NEWLINK, 5, "tap0", true), ""},
		{"went down", map[int]linkInfo{5: {"tap0", true}}, linkUpdate(unix.RTM_NEWLINK, 5, "tap0", false), ""},
		{"renamed into the selectors", map[int]linkInfo{5: {"eth9", true}}, linkUpdate(unix.RTM_NEWLINK, 5, "tap9", true), "link-renamed:tap9"},
		{"renamed out of the selectors", map[int]linkInfo{5: {"tap9", true}}, linkUpdate(unix.RTM_NEWLINK, 5, "eth9", true), "link-renamed:eth9"},
		{"removed", map[int]linkInfo{5: {"tap0", true}}, linkUpdate(unix.RTM_DELLINK, 5, "tap0", false), "link-removed:tap0"},
		{"removed unselected", map[int]linkInfo{5: {"eth0", true}}, linkUpdate(unix.RTM_DELLINK, 5, "eth0", false), ""},
		{"device removed", map[int]linkInfo{9: {p.cfg.Device, true}}, linkUpdate(unix.RTM_DELLINK, 9, p.cfg.Device, false), "device-removed:"},
		{"device down", map[int]linkInfo{9: {p.cfg.Device, true}}, linkUpdate(unix.RTM_NEWLINK, 9, p.cfg.Device, false), "device-down:"},
		{"device added", nil, linkUpdate(unix.RTM_NEWLINK, 9, p.cfg.Device, true), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			known := map[int]linkInfo{}
			for k, v := range tt.known {
				known[k] = v
			}
			tr, ok := p.linkTrigger(known, tt.update, now)
			got := ""
			if ok {
				got = tr.Reason + ":" + tr.EndpointID
				if !tr.Seen.Equal(now) {
					t.Errorf("Seen %v, want %v", tr.Seen, now)
				}
			}
			if got != tt.want {
				t.Errorf("trigger %q, want %q", got, tt.want)
			}
			a := tt.update.Link.Attrs()
			if _, present := known[a.Index]; present != (tt.update.Header.Type == unix.RTM_NEWLINK) {
				t.Errorf("known[%d] present %v after %d", a.Index, present, tt.update.Header.Type)
			}
		})
	}
}

func TestTCTriggers(t *testing.T) {
	p := testProvider()
	known := map[int]linkInfo{5: {"tap0", true}, 6: {"eth0", true}, 7: {"tap1", true}}
	now := time.Unix(100, 0)
	del := func(typ uint16, ifindex int32, parent uint32, prio uint16, kind string) tcEvent {
		return tcEvent{Type: typ, Ifindex: ifindex, Parent: parent, Prio: prio, Kind: kind}
	}
	tests := []struct {
		name    string
		evs     []tcEvent
		overrun bool
		want    []string
	}{
		{"our ingress filter", []tcEvent{del(unix.RTM_DELTFILTER, 5, netlink.HANDLE_MIN_INGRESS, DefaultPriority, "u32")}, false, []string{"filter-deleted:tap0"}},
		{"our egress filter", []tcEvent{del(unix.RTM_DELTFILTER, 5, netlink.HANDLE_MIN_EGRESS, DefaultPriority, "u32")}, false, []string{"filter-deleted:tap0"}},
		{"every priority", []tcEvent{del(unix.RTM_DELTFILTER, 5, netlink.HANDLE_MIN_EGRESS, 0, "")}, false, []string{"filter-deleted:tap0"}},
		{"another priority", []tcEvent{del(unix.RTM_DELTFILTER, 5, netlink.HANDLE_MIN_INGRESS, 100, "u32")}, false, nil},
		{"another parent", []tcEvent{del(unix.RTM_DELTFILTER, 5, 0x10000, DefaultPriority, "u32")}, false, nil},
		{"clsact", []tcEvent{del(unix.RTM_DELQDISC, 5, netlink.HANDLE_CLSACT, 0, "clsact")}, false, []string{"qdisc-deleted:tap0"}},
		{"root qdisc", []tcEvent{del(unix.RTM_DELQDISC, 5, netlink.HANDLE_ROOT, 0, "fq_codel")}, false, nil},
		{"unselected interface", []tcEvent{del(unix.RTM_DELQDISC, 6, netlink.HANDLE_CLSACT, 0, "clsact")}, false, nil},
		{"one trigger per interface", []tcEvent{
			del(unix.RTM_DELTFILTER, 5, netlink.HANDLE_MIN_INGRESS, DefaultPriority, "u32"),
			del(unix.RTM_DELTFILTER, 5, netlink.HANDLE_MIN_EGRESS, DefaultPriority, "u32"),
			del(unix.RTM_DELQDISC, 7, netlink.HANDLE_CLSACT, 0, "clsact"),
		}, false, []string{"filter-deleted:tap0", "qdisc-deleted:tap1"}},
		{"overrun", nil, true, []string{"tc-overrun:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, tr := range p.tcTriggers(known, tt.evs, tt.overrun, now) {
				got = append(got, tr.Reason+":"+tr.EndpointID)
				if !tr.Seen.Equal(now) {
					t.Errorf("Seen %v, want %v", tr.Seen, now)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("triggers %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSessionCompleteness(t *testing.T) {
	p := testProvider()
	l := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Index: 5, Name: "tap0"}}
	good := func(i int) *netlink.U32 { return p.filter(5, hooks[i].parent, p.nodes[i], 9) }
	stale := p.filter(5, hooks[0].parent, p.nodes[0], 8) // mirrors into an old device
	tests := []struct {
		name        string
		st          state
		dev         int
		complete    bool
		wantMissing string
	}{
		{"complete", state{clsact: true, filters: [2]*netlink.U32{good(0), good(1)}}, 9, true, ""},
		{"egress missing", state{clsact: true, filters: [2]*netlink.U32{good(0), nil}}, 9, false, "egress"},
		{"stale action", state{clsact: true, filters: [2]*netlink.U32{stale, good(1)}}, 9, false, "ingress-action"},
		{"device missing", state{clsact: true, filters: [2]*netlink.U32{good(0), good(1)}}, 0, false, "device,ingress-action,egress-action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := p.session(l, tt.dev, tt.st)
			if s.Complete != tt.complete || s.Attrs["missing"] != tt.wantMissing || s.EndpointID != "tap0" {
				t.Errorf("session %+v, want complete %v missing %q", s, tt.complete, tt.wantMissing)
			}
		})
	}
}
