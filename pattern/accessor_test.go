package pattern

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"testing"
)

// typedEvent reports one field "v" through the typed Values methods an
// Event implementation uses on hot paths (Int, Uint, Addr), and "w" as a
// string, so they can be checked against the JSON of the same values.
type typedEvent struct {
	kind int // 0 Int, 1 Uint, 2 Addr
	i    int64
	u    uint64
	a    netip.Addr
	w    string
}

var (
	fieldV = PathID("v")
	fieldW = PathID("w")
)

func (e *typedEvent) VisitField(f Field, v *Values) {
	switch f.ID {
	case fieldV:
		switch e.kind {
		case 0:
			v.Int(e.i)
		case 1:
			v.Uint(e.u)
		case 2:
			v.Addr(e.a)
		}
	case fieldW:
		v.Str(e.w)
	}
}

func (e *typedEvent) json() string {
	var v string
	switch e.kind {
	case 0:
		v = strconv.FormatInt(e.i, 10)
	case 1:
		v = strconv.FormatUint(e.u, 10)
	case 2:
		v = strconv.Quote(e.a.String())
		if !e.a.IsValid() {
			v = `""`
		}
	}
	return `{"v":` + v + `,"w":` + strconv.Quote(e.w) + `}`
}

// accessorPatterns exercise every index path a number or an address string
// can take: exact values (as numbers, as text, not exactly representable),
// ranges, anything-but, CIDR, exact IPs, string operators on addresses.
func accessorPatterns(values []string) *Matcher {
	m := NewMatcher()
	add := func(p string) { m.Add(fmt.Sprintf("p%04d", m.Len()), MustCompile(p)) }
	for _, v := range values {
		add(`{"v":[` + v + `]}`)
		add(`{"v":[` + v + `.0]}`)
		add(`{"v":[{"numeric":["=",` + v + `]}]}`)
		add(`{"v":[{"numeric":[">=",` + v + `]}]}`)
		add(`{"v":[{"numeric":["<",` + v + `]}]}`)
		add(`{"v":[{"anything-but":[` + v + `]}]}`)
		add(`{"v":["` + v + `"]}`)
		add(`{"v":[` + v + `],"w":["x"]}`)
	}
	for _, p := range []string{
		`{"v":[{"cidr":"10.0.0.0/8"}]}`, `{"v":[{"cidr":"10.0.0.0/24"}]}`, `{"v":[{"cidr":"0.0.0.0/0"}]}`,
		`{"v":[{"cidr":"10.0.0.7/32"}]}`, `{"v":[{"cidr":"2001:db8::/32"}]}`, `{"v":[{"cidr":"::ffff:0:0/96"}]}`,
		`{"v":["10.0.0.7"]}`, `{"v":["10.0.0.007"]}`, `{"v":["2001:db8::1"]}`, `{"v":["2001:DB8::1"]}`, `{"v":["::ffff:10.0.0.7"]}`,
		`{"v":[{"exactly":"10.0.0.7"}]}`, `{"v":[{"prefix":"10.0."}]}`, `{"v":[{"suffix":".7"}]}`,
		`{"v":[{"equals-ignore-case":"2001:DB8::1"}]}`, `{"v":[{"wildcard":"10.*.7"}]}`, `{"v":[{"anything-but":"10.0.0.7"}]}`,
		`{"v":[{"anything-but":{"prefix":"10."}}]}`, `{"v":[""]}`, `{"v":[{"exists":true}]}`, `{"v":[{"exists":false}]}`,
		`{"v":[{"numeric":[">",-1e16,"<",1e16]}]}`, `{"v":[1e15]}`, `{"v":[999999999999999]}`, `{"v":[18446744073709551615]}`,
		`{"v":[9223372036854775807]}`, `{"v":[-9223372036854775808]}`, `{"v":[1e300]}`,
	} {
		add(p)
	}
	return m
}

var accessorInts = []int64{0, 1, -1, 7, 514, 65535, -40123, 999999999999999, 1000000000000000, -999999999999999,
	-1000000000000000, 1 << 53, 1<<53 + 1, math.MaxInt64, math.MinInt64}

var accessorUints = []uint64{0, 1, 514, 4294967295, 999999999999999, 1000000000000000, 1<<53 + 1, math.MaxUint64}

var accessorAddrs = []netip.Addr{
	netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("10.0.1.7"), netip.MustParseAddr("192.168.0.1"),
	netip.MustParseAddr("10.0.0.200"), netip.MustParseAddr("10.255.255.255"),
	netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::ffff:10.0.0.7"), netip.MustParseAddr("fe80::1%eth0"),
	netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("::"), {},
}

func accessorEvents() []*typedEvent {
	var evs []*typedEvent
	for _, w := range []string{"x", "y"} {
		for _, i := range accessorInts {
			evs = append(evs, &typedEvent{kind: 0, i: i, w: w})
		}
		for _, u := range accessorUints {
			evs = append(evs, &typedEvent{kind: 1, u: u, w: w})
		}
		for _, a := range accessorAddrs {
			evs = append(evs, &typedEvent{kind: 2, a: a, w: w})
		}
	}
	return evs
}

// TestTypedValuesMatchJSON checks that Int, Uint and Addr (which keep small
// integers and addresses without formatting them) answer as the JSON of the
// same values does.
func TestTypedValuesMatchJSON(t *testing.T) {
	var values []string
	for _, i := range accessorInts {
		values = append(values, strconv.FormatInt(i, 10))
	}
	for _, u := range accessorUints {
		values = append(values, strconv.FormatUint(u, 10))
	}
	m := accessorPatterns(values)
	pairs, matches := 0, 0
	for _, e := range accessorEvents() {
		got := m.Match(e, nil)
		want, err := m.MatchJSON([]byte(e.json()), nil)
		if err != nil {
			t.Fatalf("%s: %v", e.json(), err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: typed accessor matches %v, JSON %v", e.json(), got, want)
		}
		pairs += m.Len()
		matches += len(want)
	}
	if matches == 0 || matches == pairs {
		t.Fatalf("degenerate: %d of %d pairs match", matches, pairs)
	}
}

func FuzzTypedValues(f *testing.F) {
	f.Add(int64(514), uint64(514), []byte{10, 0, 0, 7}, int64(514))
	f.Add(int64(-1), uint64(math.MaxUint64), []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, int64(1e15))
	f.Fuzz(func(t *testing.T, i int64, u uint64, ip []byte, lit int64) {
		a, _ := netip.AddrFromSlice(ip)
		m := accessorPatterns([]string{strconv.FormatInt(lit, 10), strconv.FormatInt(i, 10), strconv.FormatUint(u, 10)})
		for _, e := range []*typedEvent{{kind: 0, i: i}, {kind: 1, u: u}, {kind: 2, a: a}} {
			got := m.Match(e, nil)
			want, err := m.MatchJSON([]byte(e.json()), nil)
			if err != nil {
				t.Fatalf("%s: %v", e.json(), err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s: typed accessor matches %v, JSON %v", e.json(), got, want)
			}
		}
	})
}

// TestCIDRIndex checks the CIDR index (per-length lookups of the masked
// address) against netip.Prefix.Contains, for addresses reported typed and
// in JSON.
func TestCIDRIndex(t *testing.T) {
	var prefixes []netip.Prefix
	for _, s := range []string{"0.0.0.0/0", "10.0.0.0/8", "10.0.0.0/24", "10.0.0.128/25", "10.0.0.0/25", "10.0.0.200/32",
		"10.0.0.192/26", "10.128.0.0/9", "192.168.0.0/16", "::/0", "2001:db8::/32", "2001:db8::/127", "::ffff:0:0/96"} {
		prefixes = append(prefixes, netip.MustParsePrefix(s))
	}
	m := NewMatcher()
	for i, p := range prefixes {
		m.Add(fmt.Sprintf("c%02d", i), MustCompile(`{"v":[{"cidr":"`+p.String()+`"}]}`))
	}
	var addrs []netip.Addr
	for _, s := range []string{"10.0.0.0", "10.0.0.127", "10.0.0.128", "10.0.0.200", "10.0.0.201", "10.0.0.255", "10.0.1.0",
		"10.127.255.255", "10.128.0.0", "10.255.255.255", "11.0.0.0", "192.168.7.7", "2001:db8::", "2001:db8::1", "2001:db8::2",
		"2001:db9::", "::ffff:10.0.0.200"} {
		addrs = append(addrs, netip.MustParseAddr(s))
	}
	for _, a := range addrs {
		var want []string
		for i, p := range prefixes {
			if p.Contains(a) {
				want = append(want, fmt.Sprintf("c%02d", i))
			}
		}
		e := &typedEvent{kind: 2, a: a}
		if got := m.Match(e, nil); !slices.Equal(got, want) {
			t.Errorf("%s typed: matches %v, want %v", a, got, want)
		}
		if got, _ := m.MatchJSON([]byte(e.json()), nil); !slices.Equal(got, want) {
			t.Errorf("%s JSON: matches %v, want %v", a, got, want)
		}
	}
}
