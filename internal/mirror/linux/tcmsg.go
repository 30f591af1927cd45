package linux

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// tcEvent is one traffic-control change the kernel announced on the
// RTNLGRP_TC multicast group: a qdisc or filter that went away.
type tcEvent struct {
	// Type is unix.RTM_DELQDISC or unix.RTM_DELTFILTER.
	Type uint16
	// Ifindex is the interface the qdisc or filter was on.
	Ifindex int32
	// Handle and Parent are the tcmsg's tcm_handle and tcm_parent.
	Handle, Parent uint32
	// Prio is a filter's priority (the high 16 bits of tcm_info); 0 for a
	// qdisc, or for a filter deletion that took every priority.
	Prio uint16
	// Kind is the TCA_KIND attribute ("clsact", "u32", ...), empty when
	// absent.
	Kind string
}

const (
	nlmsgHdrLen = 16 // struct nlmsghdr
	tcmsgLen    = 20 // struct tcmsg
	rtaHdrLen   = 4  // struct rtattr
	tcaKind     = 1  // TCA_KIND
)

var errShort = errors.New("truncated netlink message")

// align4 rounds n up to the netlink alignment (4 bytes).
func align4(n int) int { return (n + 3) &^ 3 }

// parseTC decodes the RTM_DELQDISC and RTM_DELTFILTER messages in one
// datagram read from a NETLINK_ROUTE socket; other message types are
// skipped. It returns the events decoded before the first malformed message
// together with an error describing it; it never reads past b.
func parseTC(b []byte) ([]tcEvent, error) {
	var out []tcEvent
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return out, fmt.Errorf("%w: %d bytes left for a %d-byte header", errShort, len(b), nlmsgHdrLen)
		}
		n := int(binary.NativeEndian.Uint32(b[0:4]))
		typ := binary.NativeEndian.Uint16(b[4:6])
		if n < nlmsgHdrLen || n > len(b) {
			return out, fmt.Errorf("%w: message length %d, %d bytes left", errShort, n, len(b))
		}
		body := b[nlmsgHdrLen:n]
		if typ == unix.RTM_DELQDISC || typ == unix.RTM_DELTFILTER {
			ev, err := parseTcmsg(typ, body)
			if err != nil {
				return out, err
			}
			out = append(out, ev)
		}
		if next := align4(n); next < len(b) {
			b = b[next:]
		} else {
			b = nil
		}
	}
	return out, nil
}

// parseTcmsg decodes a struct tcmsg and the TCA_KIND attribute after it.
func parseTcmsg(typ uint16, b []byte) (tcEvent, error) {
	if len(b) < tcmsgLen {
		return tcEvent{}, fmt.Errorf("%w: tcmsg of %d bytes", errShort, len(b))
	}
	ev := tcEvent{
		Type:    typ,
		Ifindex: int32(binary.NativeEndian.Uint32(b[4:8])),
		Handle:  binary.NativeEndian.Uint32(b[8:12]),
		Parent:  binary.NativeEndian.Uint32(b[12:16]),
	}
	if typ == unix.RTM_DELTFILTER {
		ev.Prio = uint16(binary.NativeEndian.Uint32(b[16:20]) >> 16)
	}
	attrs := b[tcmsgLen:]
	for len(attrs) >= rtaHdrLen {
		n := int(binary.NativeEndian.Uint16(attrs[0:2]))
		at := binary.NativeEndian.Uint16(attrs[2:4])
		if n < rtaHdrLen || n > len(attrs) {
			return ev, fmt.Errorf("%w: attribute length %d, %d bytes left", errShort, n, len(attrs))
		}
		if at&^unix.NLA_F_NESTED == tcaKind {
			v := attrs[rtaHdrLen:n]
			for i, c := range v {
				if c == 0 {
					v = v[:i]
					break
				}
			}
			ev.Kind = string(v)
		}
		next := align4(n)
		if next >= len(attrs) {
			break
		}
		attrs = attrs[next:]
	}
	return ev, nil
}
