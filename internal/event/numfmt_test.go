package event

import (
	"math"
	"net/netip"
	"strconv"
	"testing"
)

func TestAppendUintMatchesStrconv(t *testing.T) {
	for v := uint64(0); v <= 1<<17; v++ {
		if got, want := string(appendUint(nil, v)), strconv.FormatUint(v, 10); got != want {
			t.Fatalf("appendUint(%d) = %q, want %q", v, got, want)
		}
	}
	edges := []struct {
		name string
		v    uint64
	}{
		{"max uint16", math.MaxUint16},
		{"99999", 99999},
		{"100000", 100000},
		{"max uint32", math.MaxUint32},
		{"max uint64", math.MaxUint64},
	}
	for _, tc := range edges {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("x:")
			got := string(appendUint(prefix, tc.v))
			if want := "x:" + strconv.FormatUint(tc.v, 10); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

func TestAppendIPv4MatchesNetip(t *testing.T) {
	// Every value of every octet position, with the other octets at
	// 1-, 2- and 3-digit values.
	fill := []byte{0, 7, 42, 255}
	for pos := range 4 {
		for _, other := range fill {
			for v := range 256 {
				a := [4]byte{other, other, other, other}
				a[pos] = byte(v)
				want := netip.AddrFrom4(a).String()
				if got := string(appendIPv4([]byte("ip="), a)); got != "ip="+want {
					t.Fatalf("appendIPv4(%v) = %q, want %q", a, got, "ip="+want)
				}
				if got := string(appendAddr(nil, netip.AddrFrom4(a))); got != want {
					t.Fatalf("appendAddr(%v) = %q, want %q", a, got, want)
				}
			}
		}
	}
	for _, tc := range []struct {
		name string
		addr netip.Addr
		want string
	}{
		{"ipv6", netip.MustParseAddr("2001:db8::1"), "2001:db8::1"},
		{"ipv4-mapped ipv6", netip.MustParseAddr("::ffff:10.0.0.1"), "::ffff:10.0.0.1"},
		{"zero addr", netip.Addr{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(appendAddr(nil, tc.addr)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
