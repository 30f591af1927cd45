package linux

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wirebridge/wirebridge/internal/mirror"
)

// inNetns runs fn on a thread switched into ns (the current namespace when
// ns is not open). Sockets fn opens stay in ns for their whole life.
func inNetns(ns netns.NsHandle, fn func() error) error {
	if !ns.IsOpen() {
		return fn()
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get current namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter namespace: %w", err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// The thread stays locked: the runtime discards it when the
		// goroutine ends.
		return errors.Join(ferr, fmt.Errorf("leave namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// openTCSocket opens a netlink socket subscribed to RTNLGRP_TC in ns, in
// non-blocking mode so reads go through the runtime poller and Close ends a
// pending read.
func openTCSocket(ns netns.NsHandle) (*os.File, error) {
	var fd int
	err := inNetns(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("netlink socket: %w", err)
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (unix.RTNLGRP_TC - 1)}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("bind netlink RTNLGRP_TC: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "netlink-tc"), nil
}

// linkInfo is what Watch remembers of an interface between events.
type linkInfo struct {
	name string
	up   bool
}

// Watch reports triggers from netlink until ctx ends: interfaces added,
// brought up, renamed or removed (RTNLGRP_LINK), and qdisc or filter
// deletions that may have taken a part of a session (RTNLGRP_TC), so a
// hand-deleted filter is put back at once. Trigger.Seen is when the
// notification was read. Its first trigger, "watch-started" for every
// endpoint, comes once both subscriptions are open.
func (p *Provider) Watch(ctx context.Context, triggers chan<- mirror.Trigger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Subscribe before listing, so nothing between the two is missed.
	links := make(chan netlink.LinkUpdate, 256)
	linkErr := make(chan error, 1)
	opts := netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) {
			select {
			case linkErr <- err:
			default:
			}
		},
		ReceiveBufferSize: 1 << 20,
	}
	if p.ns.IsOpen() {
		ns := p.ns
		opts.Namespace = &ns
	}
	if err := netlink.LinkSubscribeWithOptions(links, ctx.Done(), opts); err != nil {
		return fmt.Errorf("watch links: %w", err)
	}
	tc, err := openTCSocket(p.ns)
	if err != nil {
		return fmt.Errorf("watch tc: %w", err)
	}
	defer tc.Close()
	tcEvents := make(chan tcRead, 64)
	go readTC(ctx, tc, tcEvents)

	known := map[int]linkInfo{}
	ls, err := p.h.LinkList()
	if err != nil {
		return fmt.Errorf("watch: list links: %w", err)
	}
	for _, l := range ls {
		known[l.Attrs().Index] = linkInfo{l.Attrs().Name, l.Attrs().Flags&net.FlagUp != 0}
	}

	send := func(t mirror.Trigger) bool {
		select {
		case triggers <- t:
			return true
		case <-ctx.Done():
			return false
		}
	}
	// Everything from here on is seen: a reconcile now covers what changed
	// before the subscriptions existed.
	if !send(mirror.Trigger{Reason: "watch-started", Seen: time.Now()}) {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-links:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				select {
				case err := <-linkErr:
					return fmt.Errorf("watch links: %w", err)
				default:
					return errors.New("watch links: subscription ended")
				}
			}
			if t, ok := p.linkTrigger(known, u, time.Now()); ok && !send(t) {
				return nil
			}
		case r := <-tcEvents:
			if r.err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("watch tc: %w", r.err)
			}
			for _, t := range p.tcTriggers(known, r.events, r.overrun, r.seen) {
				if !send(t) {
					return nil
				}
			}
		}
	}
}

// linkTrigger turns one link notification into a trigger (ok false: none
// needed) and updates known.
func (p *Provider) linkTrigger(known map[int]linkInfo, u netlink.LinkUpdate, seen time.Time) (mirror.Trigger, bool) {
	a := u.Link.Attrs()
	prev, had := known[a.Index]
	if u.Header.Type == unix.RTM_DELLINK {
		delete(known, a.Index)
		if a.Name == p.cfg.Device {
			return mirror.Trigger{Reason: "device-removed", Seen: seen}, true
		}
		if p.selected(u.Link) {
			return mirror.Trigger{EndpointID: a.Name, Reason: "link-removed", Seen: seen}, true
		}
		return mirror.Trigger{}, false
	}
	up := a.Flags&net.FlagUp != 0
	known[a.Index] = linkInfo{a.Name, up}
	if a.Name == p.cfg.Device {
		if had && prev.up && !up {
			return mirror.Trigger{Reason: "device-down", Seen: seen}, true
		}
		return mirror.Trigger{}, false
	}
	switch {
	case !p.selected(u.Link):
		if had && prev.name != a.Name && Match(p.cfg.Interfaces, p.cfg.Exclude, prev.name) {
			// Renamed away from the selectors: its session must go.
			return mirror.Trigger{EndpointID: a.Name, Reason: "link-renamed", Seen: seen}, true
		}
		return mirror.Trigger{}, false
	case !had:
		return mirror.Trigger{EndpointID: a.Name, Reason: "link-added", Seen: seen}, true
	case prev.name != a.Name:
		return mirror.Trigger{EndpointID: a.Name, Reason: "link-renamed", Seen: seen}, true
	case !prev.up && up:
		return mirror.Trigger{EndpointID: a.Name, Reason: "link-up", Seen: seen}, true
	}
	return mirror.Trigger{}, false
}

// tcTriggers turns tc deletions into triggers for the selected interfaces
// they touched: a clsact qdisc, or a filter at the provider's priority (or
// at every priority).
func (p *Provider) tcTriggers(known map[int]linkInfo, evs []tcEvent, overrun bool, seen time.Time) []mirror.Trigger {
	if overrun {
		// Notifications were lost: look at everything.
		return []mirror.Trigger{{Reason: "tc-overrun", Seen: seen}}
	}
	var out []mirror.Trigger
	done := map[string]bool{}
	for _, ev := range evs {
		var reason string
		switch {
		case ev.Type == unix.RTM_DELQDISC && (ev.Kind == "clsact" || ev.Parent == netlink.HANDLE_CLSACT):
			reason = "qdisc-deleted"
		case ev.Type == unix.RTM_DELTFILTER && (ev.Prio == p.cfg.Priority || ev.Prio == 0) &&
			(ev.Parent == netlink.HANDLE_MIN_INGRESS || ev.Parent == netlink.HANDLE_MIN_EGRESS):
			reason = "filter-deleted"
		default:
			continue
		}
		name := known[int(ev.Ifindex)].name
		if name == "" || !Match(p.cfg.Interfaces, p.cfg.Exclude, name) || done[name] {
			continue
		}
		// An interface being removed is set down and loses its qdiscs
		// before it leaves the link list (a Create then would fail); its
		// link-removed trigger covers it. A down interface carries no
		// traffic: its link-up trigger repairs it.
		if !p.upNow(int(ev.Ifindex)) {
			continue
		}
		done[name] = true
		out = append(out, mirror.Trigger{EndpointID: name, Reason: reason, Seen: seen})
	}
	return out
}

// upNow reports whether interface ifindex exists and is up. A provider
// without a handle (tests) sees every interface up.
func (p *Provider) upNow(ifindex int) bool {
	if p.h == nil {
		return true
	}
	l, err := p.h.LinkByIndex(ifindex)
	return err == nil && l.Attrs().Flags&net.FlagUp != 0
}

// tcRead is one datagram's worth of tc notifications.
type tcRead struct {
	events  []tcEvent
	overrun bool
	seen    time.Time
	err     error
}

// readTC reads the tc socket until ctx ends or the socket fails.
func readTC(ctx context.Context, f *os.File, out chan<- tcRead) {
	go func() {
		<-ctx.Done()
		_ = f.SetReadDeadline(time.Unix(1, 0))
	}()
	buf := make([]byte, 1<<16)
	for {
		n, err := f.Read(buf)
		seen := time.Now()
		var r tcRead
		switch {
		case errors.Is(err, unix.ENOBUFS):
			r = tcRead{overrun: true, seen: seen}
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			r = tcRead{err: err}
		default:
			evs, perr := parseTC(buf[:n])
			// A malformed message is skipped; those decoded before it count.
			_ = perr
			if len(evs) == 0 {
				continue
			}
			r = tcRead{events: evs, seen: seen}
		}
		select {
		case out <- r:
		case <-ctx.Done():
			return
		}
		if r.err != nil {
			return
		}
	}
}
