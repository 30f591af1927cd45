// Package linux is the Linux mirror provider of the mirror controller
// (internal/mirror), beside the event path of wirebridge: it mirrors the
// traffic of selected network interfaces into a VXLAN tunnel toward a
// collector (usually a wirebridge `vxlan` source, where the mirrored frames
// enter the data path).
//
// For every selected interface it keeps a `clsact` qdisc and two u32
// match-all filters (ingress and egress) whose `mirred egress mirror` action
// copies each frame into one managed vxlan device per mirror entry. It owns
// only what it marks: its filters sit at a reserved priority with node ids
// (one per hook) derived from the entry name, and its vxlan device carries
// the alias "wirebridge-mirror:<entry>". Everything goes through netlink
// (vishvananda/netlink for requests, a raw NETLINK_ROUTE socket for tc
// deletions) inside one network namespace, the current one by default.
package linux

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"path"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wirebridge/wirebridge/internal/mirror"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// Defaults and marks of the provider (DefaultPort is in kind.go).
const (
	// DefaultPriority is the tc filter priority the provider reserves on
	// every interface it mirrors. It is low so the mirror sees each frame
	// before other tools' filters act on it; the action continues the
	// classification, so their filters still see every frame.
	DefaultPriority = 4789
	// DeviceAliasPrefix starts the alias (IFLA_IFALIAS) of every vxlan
	// device the provider creates; the entry name follows.
	DeviceAliasPrefix = "wirebridge-mirror:"
	// DevicePrefix starts the name of every vxlan device the provider
	// creates; such devices are never selected.
	DevicePrefix = "wbm-"
)

// Config is one mirror entry of the Linux provider: its name, its spec (the
// configuration keys, kind.go) and settings a program may change.
type Config struct {
	// Name names the mirror entry; it marks the provider's device and
	// filters, so two entries never touch each other's.
	Name string
	Spec
	// Device names the managed vxlan device (at most 15 bytes); empty means
	// DevicePrefix plus a hash of Name.
	Device string
	// Priority is the tc filter priority (default DefaultPriority).
	Priority uint16
}

// withDefaults returns c with its defaults filled in.
func (c Config) withDefaults() Config {
	if c.Collector.Port == 0 {
		c.Collector.Port = DefaultPort
	}
	if c.Priority == 0 {
		c.Priority = DefaultPriority
	}
	if c.Device == "" {
		c.Device = DeviceName(c.Name)
	}
	return c
}

// Validate reports every problem of c (after defaults), joined: the spec's
// (the same rules as the configuration's), then the name's and device's.
func (c Config) Validate() error {
	c = c.withDefaults()
	var ch spec.Checker
	c.Spec.Validate(&ch)
	var errs []error
	for _, p := range ch.Problems() {
		errs = append(errs, fmt.Errorf("%s: %s", p.Path, p.Msg))
	}
	if c.Name == "" {
		errs = append(errs, errors.New("name: required"))
	}
	if len(c.Device) > unix.IFNAMSIZ-1 || strings.ContainsAny(c.Device, "/ \t\n:") {
		errs = append(errs, fmt.Errorf("device: %q is not a valid interface name (at most 15 bytes, no '/', ':' or space)", c.Device))
	}
	return errors.Join(errs...)
}

// DeviceName is the default vxlan device name of the entry name.
func DeviceName(entry string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(entry))
	return fmt.Sprintf("%s%08x", DevicePrefix, h.Sum32())
}

// nodeIDs are the u32 node ids (the low 12 bits of the filter handles)
// that mark the entry's ingress and egress filters, derived from the entry
// name. They differ: ingress and egress filters of one clsact qdisc share
// the u32 hash tables of a priority, and a dump of either hook lists the
// nodes of both.
func nodeIDs(entry string) [2]uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte("node:" + entry))
	base := 1 + h.Sum32()%0x7ff // 1..0x7ff
	return [2]uint32{base, base | 0x800}
}

// Option configures a Provider.
type Option func(*Provider)

// WithNetns runs the provider in the network namespace ns (its handle stays
// owned by the caller and must stay open while the provider runs). Default:
// the namespace the process runs in.
func WithNetns(ns netns.NsHandle) Option {
	return func(p *Provider) { p.ns = ns }
}

// Provider is the Linux mirror.Provider of one mirror entry.
type Provider struct {
	cfg    Config
	remote net.IP
	nodes  [2]uint32 // ingress, egress: see nodeIDs
	ns     netns.NsHandle
	h      *netlink.Handle
}

var (
	_ mirror.Provider = (*Provider)(nil)
	_ mirror.Cleaner  = (*Provider)(nil)
)

// New validates cfg and opens a netlink handle in the provider's namespace.
func New(cfg Config, opts ...Option) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("linux mirror %q: %w", cfg.Name, err)
	}
	p := &Provider{cfg: cfg.withDefaults(), ns: netns.None()}
	for _, o := range opts {
		o(p)
	}
	p.remote = net.ParseIP(p.cfg.Collector.Address)
	p.nodes = nodeIDs(p.cfg.Name)
	var err error
	if p.ns.IsOpen() {
		p.h, err = netlink.NewHandleAt(p.ns, unix.NETLINK_ROUTE)
	} else {
		p.h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, fmt.Errorf("linux mirror %q: open netlink: %w", cfg.Name, err)
	}
	return p, nil
}

// Close releases the netlink handle. Sessions stay.
func (p *Provider) Close() error {
	p.h.Close()
	return nil
}

// Device is the name of the entry's vxlan device.
func (p *Provider) Device() string { return p.cfg.Device }

// selected reports whether the provider mirrors interface l: a selector
// glob matches its name, no exclude glob does, and it is neither loopback
// nor a mirror device of wirebridge.
func (p *Provider) selected(l netlink.Link) bool {
	a := l.Attrs()
	if a.Flags&net.FlagLoopback != 0 || isMirrorDevice(l) {
		return false
	}
	return Match(p.cfg.Interfaces, p.cfg.Exclude, a.Name)
}

// isMirrorDevice reports whether l is a vxlan device of any wirebridge
// mirror entry (by name prefix or alias).
func isMirrorDevice(l netlink.Link) bool {
	a := l.Attrs()
	return strings.HasPrefix(a.Name, DevicePrefix) || strings.HasPrefix(a.Alias, DeviceAliasPrefix)
}

// Match reports whether name matches one of the include globs and none of
// the exclude globs. "lo" never matches.
func Match(include, exclude []string, name string) bool {
	if name == "lo" || name == "" {
		return false
	}
	for _, g := range exclude {
		if ok, _ := path.Match(g, name); ok {
			return false
		}
	}
	for _, g := range include {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// Desired lists the interfaces of the namespace the selectors select.
func (p *Provider) Desired(ctx context.Context) ([]mirror.Endpoint, error) {
	links, err := p.h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []mirror.Endpoint
	for _, l := range links {
		if !p.selected(l) {
			continue
		}
		a := l.Attrs()
		out = append(out, mirror.Endpoint{ID: a.Name, Attrs: map[string]string{
			"ifindex": strconv.Itoa(a.Index),
			"type":    l.Type(),
			"state":   a.OperState.String(),
		}})
	}
	return out, nil
}

// hooks are the two clsact attachment points, in the order Create sets
// them up.
var hooks = []struct {
	name   string
	parent uint32
}{
	{"ingress", netlink.HANDLE_MIN_INGRESS},
	{"egress", netlink.HANDLE_MIN_EGRESS},
}

// ourFilter returns the entry's filter of hook i among fs (nil when
// absent): a u32 node at the reserved priority whose node id is the
// entry's for that hook.
func (p *Provider) ourFilter(fs []netlink.Filter, i int) *netlink.U32 {
	for _, f := range fs {
		if u, ok := f.(*netlink.U32); ok && u.Priority == p.cfg.Priority && u.Handle&0xfff == p.nodes[i] {
			return u
		}
	}
	return nil
}

// ours reports whether f is one of the entry's filters (either hook) or a
// u32 hash table at the reserved priority.
func (p *Provider) ours(f netlink.Filter) bool {
	u, ok := f.(*netlink.U32)
	if !ok || u.Priority != p.cfg.Priority {
		return false
	}
	n := u.Handle & 0xfff
	return n == 0 || n == p.nodes[0] || n == p.nodes[1]
}

// mirrorsTo reports whether u's only action mirrors into ifindex and lets
// the classification continue.
func mirrorsTo(u *netlink.U32, ifindex int) bool {
	if len(u.Actions) != 1 {
		return false
	}
	m, ok := u.Actions[0].(*netlink.MirredAction)
	return ok && m.MirredAction == netlink.TCA_EGRESS_MIRROR && m.Ifindex == ifindex &&
		m.Attrs().Action == netlink.TC_ACT_UNSPEC
}

// state is what exists of one interface's session.
type state struct {
	clsact  bool
	ingress bool            // an ingress qdisc, which excludes clsact
	filters [2]*netlink.U32 // by hooks index
	others  int             // filters of other tools under clsact
}

func (p *Provider) inspect(l netlink.Link) (state, error) {
	var st state
	qs, err := p.h.QdiscList(l)
	if err != nil {
		return st, fmt.Errorf("list qdiscs of %s: %w", l.Attrs().Name, err)
	}
	for _, q := range qs {
		switch q.Type() {
		case "clsact":
			st.clsact = true
		case "ingress":
			st.ingress = true
		}
	}
	if !st.clsact {
		return st, nil
	}
	for i, hk := range hooks {
		fs, err := p.h.FilterList(l, hk.parent)
		if err != nil {
			return st, fmt.Errorf("list %s filters of %s: %w", hk.name, l.Attrs().Name, err)
		}
		st.filters[i] = p.ourFilter(fs, i)
		for _, f := range fs {
			if !p.ours(f) {
				st.others++
			}
		}
	}
	return st, nil
}

// device returns the entry's vxlan device, nil when absent. A device of that
// name that the provider did not create is a permanent error.
func (p *Provider) device() (*netlink.Vxlan, error) {
	l, err := p.h.LinkByName(p.cfg.Device)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, nil
		}
		return nil, fmt.Errorf("look up device %s: %w", p.cfg.Device, err)
	}
	v, ok := l.(*netlink.Vxlan)
	alias := DeviceAliasPrefix + p.cfg.Name
	switch {
	case ok && l.Attrs().Alias == alias:
		return v, nil
	case ok && l.Attrs().Alias == "" && p.deviceMatches(v):
		// Made by a provider that stopped before marking it (creating a
		// device and setting its alias are separate requests): the same
		// name and the same tunnel, so it is ours to finish and mark.
		if err := p.disableLocalBypass(v.Attrs().Index); err != nil {
			return nil, fmt.Errorf("device %s: %w", p.cfg.Device, err)
		}
		if err := p.makeSendOnly(v); err != nil {
			return nil, fmt.Errorf("device %s: %w", p.cfg.Device, err)
		}
		if err := p.h.LinkSetAlias(v, alias); err != nil {
			return nil, fmt.Errorf("mark device %s: %w", p.cfg.Device, err)
		}
		v.Alias = alias
		return v, nil
	}
	return nil, fmt.Errorf("device %s exists and is not this mirror's (type %s, alias %q): %w",
		p.cfg.Device, l.Type(), l.Attrs().Alias, mirror.ErrPermanent)
}

// deviceMatches reports whether v tunnels to the configured collector.
func (p *Provider) deviceMatches(v *netlink.Vxlan) bool {
	return v.VxlanId == p.cfg.Collector.VNI && v.Port == p.cfg.Collector.Port && v.Group.Equal(p.remote)
}

// ensureDevice creates the vxlan device when absent (or recreates it when
// its tunnel parameters differ from the configuration) and sets it up.
func (p *Provider) ensureDevice() (netlink.Link, bool, error) {
	v, err := p.device()
	if err != nil {
		return nil, false, err
	}
	changed := false
	if v != nil && !p.deviceMatches(v) {
		if err := p.h.LinkDel(v); err != nil {
			return nil, false, fmt.Errorf("replace device %s: %w", p.cfg.Device, err)
		}
		v = nil
	}
	if v == nil {
		nv := &netlink.Vxlan{
			LinkAttrs: netlink.LinkAttrs{Name: p.cfg.Device},
			VxlanId:   p.cfg.Collector.VNI,
			Group:     p.remote,
			Port:      p.cfg.Collector.Port,
		}
		if err := p.h.LinkAdd(nv); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, false, fmt.Errorf("create vxlan device %s: %w", p.cfg.Device, err)
		}
		l, err := p.h.LinkByName(p.cfg.Device)
		if err != nil {
			return nil, false, fmt.Errorf("look up new device %s: %w", p.cfg.Device, err)
		}
		// The kernel ignores an alias in the creating request: the mark
		// takes a request of its own, the last one, so a marked device is
		// a finished one. A crash before it leaves an unmarked device that
		// device() finishes and adopts (same name, same tunnel).
		if err := p.disableLocalBypass(l.Attrs().Index); err != nil {
			_ = p.h.LinkDel(l)
			return nil, false, fmt.Errorf("device %s: %w", p.cfg.Device, err)
		}
		if err := p.makeSendOnly(l); err != nil {
			_ = p.h.LinkDel(l)
			return nil, false, fmt.Errorf("device %s: %w", p.cfg.Device, err)
		}
		if err := p.h.LinkSetAlias(l, DeviceAliasPrefix+p.cfg.Name); err != nil {
			_ = p.h.LinkDel(l)
			return nil, false, fmt.Errorf("mark device %s: %w", p.cfg.Device, err)
		}
		v2, ok := l.(*netlink.Vxlan)
		if !ok {
			return nil, false, fmt.Errorf("device %s is a %s, not vxlan: %w", p.cfg.Device, l.Type(), mirror.ErrPermanent)
		}
		v, changed = v2, true
	}
	if v.Attrs().Flags&net.FlagUp == 0 {
		if err := p.h.LinkSetUp(v); err != nil {
			if errors.Is(err, unix.EADDRINUSE) {
				return nil, false, fmt.Errorf("set device %s up: the kernel's vxlan device listens on UDP port %d itself, and a socket of this namespace holds it (a collector in this namespace captures on lo instead of binding the port): %w: %v",
					p.cfg.Device, p.cfg.Collector.Port, mirror.ErrPermanent, err)
			}
			return nil, false, fmt.Errorf("set device %s up: %w", p.cfg.Device, err)
		}
		changed = true
	}
	return v, changed, nil
}

// Create sets up (or completes) the session of interface e.ID.
func (p *Provider) Create(ctx context.Context, e mirror.Endpoint) (mirror.Session, bool, error) {
	if err := ctx.Err(); err != nil {
		return mirror.Session{}, false, err
	}
	l, err := p.h.LinkByName(e.ID)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			// An interface that is gone is an invalid id: retrying cannot
			// help, and its link-removed trigger settles the rest.
			return mirror.Session{}, false, fmt.Errorf("create session for %s: no such interface: %w", e.ID, mirror.ErrPermanent)
		}
		return mirror.Session{}, false, fmt.Errorf("create session for %s: %w", e.ID, err)
	}
	if !p.selected(l) {
		return mirror.Session{}, false, fmt.Errorf("create session for %s: not selected by mirror %q: %w", e.ID, p.cfg.Name, mirror.ErrPermanent)
	}
	if err := p.checkRoute(l); err != nil {
		return mirror.Session{}, false, fmt.Errorf("create session for %s: %w", e.ID, err)
	}
	dev, created, err := p.ensureDevice()
	if err != nil {
		return mirror.Session{}, false, fmt.Errorf("create session for %s: %w", e.ID, err)
	}
	st, err := p.inspect(l)
	if err != nil {
		return mirror.Session{}, false, fmt.Errorf("create session for %s: %w", e.ID, err)
	}
	if !st.clsact && st.ingress {
		return mirror.Session{}, false, fmt.Errorf("create session for %s: the interface has an ingress qdisc, which excludes the clsact qdisc mirroring needs: %w", e.ID, mirror.ErrPermanent)
	}
	if !st.clsact {
		q := &netlink.GenericQdisc{
			QdiscAttrs: netlink.QdiscAttrs{
				LinkIndex: l.Attrs().Index,
				Handle:    netlink.MakeHandle(0xffff, 0),
				Parent:    netlink.HANDLE_CLSACT,
			},
			QdiscType: "clsact",
		}
		if err := p.h.QdiscAdd(q); err != nil && !errors.Is(err, unix.EEXIST) {
			if errors.Is(err, unix.ENODEV) {
				return mirror.Session{}, false, fmt.Errorf("create session for %s: no such interface: %w", e.ID, mirror.ErrPermanent)
			}
			return mirror.Session{}, false, fmt.Errorf("create session for %s: add clsact qdisc: %w", e.ID, err)
		}
		created = true
	}
	for i, hk := range hooks {
		f := st.filters[i]
		if f != nil && mirrorsTo(f, dev.Attrs().Index) {
			continue
		}
		if f != nil { // ours, but stale (the device was recreated)
			if err := p.h.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) {
				return mirror.Session{}, false, fmt.Errorf("create session for %s: replace %s filter: %w", e.ID, hk.name, err)
			}
		}
		if err := p.h.FilterAdd(p.filter(l.Attrs().Index, hk.parent, p.nodes[i], dev.Attrs().Index)); err != nil && !p.addedMeanwhile(l, i, err) {
			return mirror.Session{}, false, fmt.Errorf("create session for %s: add %s filter: %w", e.ID, hk.name, err)
		}
		created = true
	}
	st, err = p.inspect(l)
	if err != nil {
		return mirror.Session{}, false, fmt.Errorf("create session for %s: %w", e.ID, err)
	}
	return p.session(l, dev.Attrs().Index, st), created, nil
}

// addedMeanwhile reports whether a failed add of hook i's filter failed
// because another Create of the entry (another controller's provider) added
// it in the meantime: u32 answers a taken node id with ENOSPC (not EEXIST),
// and the filter is there now.
func (p *Provider) addedMeanwhile(l netlink.Link, i int, err error) bool {
	if !errors.Is(err, unix.ENOSPC) && !errors.Is(err, unix.EEXIST) {
		return false
	}
	fs, lerr := p.h.FilterList(l, hooks[i].parent)
	return lerr == nil && p.ourFilter(fs, i) != nil
}

// filter is the entry's match-all mirror filter on one hook of ifindex.
func (p *Provider) filter(ifindex int, parent, node uint32, dev int) *netlink.U32 {
	m := netlink.NewMirredAction(dev)
	m.MirredAction = netlink.TCA_EGRESS_MIRROR
	// TC_ACT_UNSPEC ("continue"), not TC_ACT_PIPE: a u32 filter whose
	// actions end in PIPE ends the classification, so other tools' filters
	// at later priorities would no longer see any frame. With continue the
	// frame is copied and classification goes on unchanged.
	m.Attrs().Action = netlink.TC_ACT_UNSPEC
	return &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: ifindex,
			Parent:    parent,
			Priority:  p.cfg.Priority,
			Protocol:  unix.ETH_P_ALL,
			Handle:    node, // the kernel prefixes the root hash table id
		},
		Sel: &netlink.TcU32Sel{
			Flags: netlink.TC_U32_TERMINAL,
			Nkeys: 1,
			Keys:  []netlink.TcU32Key{{Mask: 0, Val: 0, Off: 0}},
		},
		Actions: []netlink.Action{m},
	}
}

// checkRoute refuses a collector the tunnel cannot reach: one of the
// namespace's own addresses (the kernel's vxlan device listens on the
// collector's UDP port itself, so no collector can bind it, and the device
// would decapsulate its own packets back into the namespace), and the
// interface the tunnel leaves through (its egress filter would mirror the
// mirror's own packets).
func (p *Provider) checkRoute(l netlink.Link) error {
	rs, err := p.h.RouteGet(p.remote)
	if err != nil {
		return fmt.Errorf("no route to collector %s: %w: %v", p.remote, mirror.ErrPermanent, err)
	}
	for _, r := range rs {
		// A collector on an address of this namespace gets the packets over
		// lo (localbypass.go): a capture there reads them, since the vxlan
		// device holds the UDP port.
		if r.LinkIndex == l.Attrs().Index {
			return fmt.Errorf("the collector %s is reached through %s itself, which would mirror the tunnel's own packets: %w",
				p.remote, l.Attrs().Name, mirror.ErrPermanent)
		}
	}
	return nil
}

// session describes st of interface l; dev is the device's ifindex (0 when
// the device is absent).
func (p *Provider) session(l netlink.Link, dev int, st state) mirror.Session {
	a := l.Attrs()
	complete := st.clsact && dev != 0
	var missing []string
	if !st.clsact {
		missing = append(missing, "clsact")
	}
	if dev == 0 {
		missing = append(missing, "device")
	}
	for i, hk := range hooks {
		f := st.filters[i]
		switch {
		case f == nil:
			complete = false
			missing = append(missing, hk.name)
		case !mirrorsTo(f, dev):
			complete = false
			missing = append(missing, hk.name+"-action")
		}
	}
	attrs := map[string]string{
		"ifindex":   strconv.Itoa(a.Index),
		"device":    p.cfg.Device,
		"collector": net.JoinHostPort(p.cfg.Collector.Address, strconv.Itoa(p.cfg.Collector.Port)),
		"vni":       strconv.Itoa(p.cfg.Collector.VNI),
		"filters":   fmt.Sprintf("pref %d handles ::%x (ingress) ::%x (egress)", p.cfg.Priority, p.nodes[0], p.nodes[1]),
	}
	if len(missing) > 0 {
		attrs["missing"] = strings.Join(missing, ",")
	}
	return mirror.Session{
		EndpointID: a.Name,
		ID:         fmt.Sprintf("%s/%s", p.cfg.Device, a.Name),
		Complete:   complete,
		Attrs:      attrs,
	}
}

// Actual lists the sessions of this entry: every interface carrying at least
// one of its filters.
func (p *Provider) Actual(ctx context.Context) ([]mirror.Session, error) {
	dev, err := p.device()
	if err != nil && !errors.Is(err, mirror.ErrPermanent) {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	devIndex := 0
	if dev != nil {
		devIndex = dev.Attrs().Index
		if dev.Attrs().Flags&net.FlagUp == 0 {
			devIndex = 0 // down: nothing is mirrored, Create sets it up
		}
	}
	links, err := p.h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list sessions: list links: %w", err)
	}
	var out []mirror.Session
	for _, l := range links {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if isMirrorDevice(l) || l.Attrs().Flags&net.FlagLoopback != 0 {
			continue
		}
		st, err := p.inspect(l)
		if err != nil {
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
				continue // gone while listing
			}
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		if st.filters[0] == nil && st.filters[1] == nil {
			continue
		}
		out = append(out, p.session(l, devIndex, st))
	}
	return out, nil
}

// Delete removes the session's filters, and the clsact qdisc when no other
// filter is left under it. A missing interface or filter is not an error.
func (p *Provider) Delete(ctx context.Context, s mirror.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l, err := p.h.LinkByName(s.EndpointID)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("delete session %s: %w", s.ID, err)
	}
	return p.deleteOn(l)
}

func (p *Provider) deleteOn(l netlink.Link) error {
	name := l.Attrs().Name
	st, err := p.inspect(l)
	if err != nil {
		return fmt.Errorf("delete session on %s: %w", name, err)
	}
	for i, hk := range hooks {
		if f := st.filters[i]; f != nil {
			if err := p.h.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("delete session on %s: delete %s filter: %w", name, hk.name, err)
			}
		}
	}
	if st.clsact && st.others == 0 {
		// Nothing but ours was there: the qdisc goes too. (It cannot be
		// told apart from an empty clsact another tool added; an empty
		// clsact does nothing, and the other tool's next filter add would
		// fail loudly rather than silently.)
		again, err := p.inspect(l)
		if err != nil {
			return fmt.Errorf("delete session on %s: %w", name, err)
		}
		if again.clsact && again.others == 0 && again.filters[0] == nil && again.filters[1] == nil {
			q := &netlink.GenericQdisc{
				QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT},
				QdiscType:  "clsact",
			}
			if err := p.h.QdiscDel(q); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("delete session on %s: delete clsact qdisc: %w", name, err)
			}
		}
	}
	return nil
}

// Cleanup removes the entry's vxlan device when the provider created it
// (by its alias); absent is not an error. Filters still pointing at it stop
// mirroring: the controller calls it (mirror.Cleaner) once every session is
// deleted, for `mirror remove` and remove_on_exit.
func (p *Provider) Cleanup(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v, err := p.device()
	if err != nil || v == nil {
		return err
	}
	if err := p.h.LinkDel(v); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete device %s: %w", p.cfg.Device, err)
	}
	return nil
}

// RemoveAll deletes every session of the entry and then its vxlan device,
// without a controller (mirror.Controller.RemoveAll is the same with its
// state records).
func (p *Provider) RemoveAll(ctx context.Context) error {
	ss, err := p.Actual(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range ss {
		if err := p.Delete(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return p.Cleanup(ctx)
}
