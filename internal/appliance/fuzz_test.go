package appliance

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// fuzzSpec is the censor plus rules that rewrite IPv6 (growing, regex) and
// TCP (same length), so fuzzing reaches every rewrite.
func fuzzSpec() Spec {
	s := censorSpec()
	s.Rules = append(s.Rules,
		RuleSpec{Name: "v6", Pattern: `{"detail":{"Protocol":["udp"],"IP":{"Version":[6]}}}`, Action: ActionModify,
			Modify: &ModifySpec{Regex: `a+`, Replace: `\x00bb`}},
		RuleSpec{Name: "tcp", Pattern: `{"detail":{"Protocol":["tcp"]}}`, Action: ActionModify,
			Modify: &ModifySpec{Find: "GET", Replace: "PUT"}},
		RuleSpec{Name: "rate", Contains: "rate", Action: ActionRate, Rate: &RateSpec{PPS: 10, PerFlow: true, Flows: 4}},
	)
	return s
}

func fuzzSeeds() [][]byte {
	v4, v4b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	v6, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	return [][]byte{
		udp4("test"), udp4("drop me"), udp4("weakly typed weakly typed"), icmpEcho(5),
		geneve(packet.IPv6{Src: v6, Dst: v6b}, packet.UDP{Src: 1, Dst: 2}, packet.Payload("aaa b aaaa")),
		geneve(packet.IPv4{Src: v4, Dst: v4b}, packet.TCP{Src: 1, Dst: 80, Flags: packet.TCPAck}, packet.Payload("GET / HTTP/1.1\r\n")),
		geneve(packet.IPv4{Src: v4, Dst: v4b, MF: true}, packet.UDP{Src: 1, Dst: 3000}, packet.Payload("weakly typed")),
		geneve(packet.IPv4{Src: v4, Dst: v4b}, packet.UDP{Src: 9, Dst: 3000}, packet.Payload("rate")),
		packet.Build(packet.Geneve{}, packet.Eth{}, packet.IPv4{Src: v4, Dst: v4b}, packet.UDP{Src: 1, Dst: 3000}, packet.Payload("weakly typed")),
		udp4("test")[:20], {},
	}
}

// FuzzInline: any datagram in; no panic; either a reply that is a valid
// packet (outer headers right, Geneve header and options unchanged,
// unchanged bytes when not rewritten, inner lengths and checksums right
// when rewritten) or a drop that a counter accounts for.
func FuzzInline(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	a, err := build(fuzzSpec(), Options{})
	if err != nil {
		f.Fatal(err)
	}
	st := &readerStats{}
	st.init()
	w := newWorker(a, st)
	buf := make([]byte, a.mtu)
	f.Fuzz(func(t *testing.T, d []byte) {
		if outerLen+len(d) > len(buf) {
			return
		}
		before := a.Stats()
		copy(buf[outerLen:], d)
		n := w.process(buf, len(d), lbAddr, appAddr, time.Now(), false)
		after := a.Stats()
		modified := sumOutcome(after, OutcomeModify) - sumOutcome(before, OutcomeModify)
		if n == 0 {
			drops := sumOutcome(after, OutcomeDrop) - sumOutcome(before, OutcomeDrop) +
				after.OversizeModify - before.OversizeModify + after.OversizeReceived - before.OversizeReceived
			if drops != 1 {
				t.Fatalf("dropped without a count (%d counted)", drops)
			}
			return
		}
		reply := buf[:n]
		var p packet.Packet
		_ = packet.Decode(&p, reply, packet.CaptureInfo{LinkType: packet.LinkIPv4})
		o := p.Outer()
		if p.VerifyIPv4Checksum(0) != packet.ChecksumGood || p.VerifyTransportChecksum(0) != packet.ChecksumGood {
			t.Fatal("outer checksum wrong")
		}
		if o.Src != appAddr.Addr() || o.Dst != lbAddr.Addr() || o.SrcPort != lbAddr.Port() || o.DstPort != appAddr.Port() ||
			o.IPTotalLen != n || int(o.UDPLength) != n-20 {
			t.Fatalf("outer headers %v:%d -> %v:%d len %d/%d", o.Src, o.SrcPort, o.Dst, o.DstPort, o.IPTotalLen, o.UDPLength)
		}
		if modified == 0 {
			if !bytes.Equal(reply[outerLen:], d) {
				t.Fatal("datagram changed without a modify")
			}
			return
		}
		if modified != 1 {
			t.Fatalf("modify counted %d times", modified)
		}
		hl := 8 + p.Tunnels[0].GeneveOptsLen
		if p.NumFrames != 2 || !bytes.Equal(reply[outerLen:outerLen+hl], d[:hl]) {
			t.Fatal("geneve header or options changed")
		}
		in := p.Inner()
		if in.Layers.Has(packet.LayerIPv4) && p.VerifyIPv4Checksum(1) != packet.ChecksumGood {
			t.Fatal("inner ipv4 checksum wrong")
		}
		if s := p.VerifyTransportChecksum(1); s != packet.ChecksumGood && s != packet.ChecksumAbsent {
			t.Fatalf("inner transport checksum %v", s)
		}
	})
}

func sumOutcome(s Stats, o Outcome) uint64 {
	var n uint64
	for _, c := range s.Rules {
		n += c[o]
	}
	return n
}

// BenchmarkInline is the per-packet inline path (decode, match, verdict,
// rewrite, reply headers and checksums): 0 allocs/op.
func BenchmarkInline(b *testing.B) {
	for _, bc := range []struct {
		name string
		d    []byte
	}{
		{"pass", udp4("test")},
		{"modify", udp4("weakly typed programming language")},
		{"drop", udp4("drop me")},
		{"icmp", icmpEcho(1)},
		{"pass-1400B", udp4(string(bytes.Repeat([]byte("p"), 1400)))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			_, w := testWorker(b, censorSpec(), Options{})
			buf := make([]byte, w.a.mtu)
			now := time.Now()
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.d)))
			for b.Loop() {
				copy(buf[outerLen:], bc.d)
				w.process(buf, len(bc.d), lbAddr, appAddr, now, false)
			}
		})
	}
}

// FuzzUnescape: any text in; no panic; text without a backslash is its own
// bytes, and an escape of every byte reads back as those bytes.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{"drop me", `\x00\n`, `\\`, `\`, `\x4`, `\xzz`, `a\tb\r\0`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Unescape(s)
		if !strings.Contains(s, `\`) && (err != nil || string(b) != s) {
			t.Fatalf("Unescape(%q) = %q, %v", s, b, err)
		}
		var esc strings.Builder
		for i := 0; i < len(s); i++ {
			fmt.Fprintf(&esc, `\x%02x`, s[i])
		}
		if b, err := Unescape(esc.String()); err != nil || string(b) != s {
			t.Fatalf("escaped %q reads back %q, %v", s, b, err)
		}
	})
}

// FuzzSpecYAML: any YAML in; no panic; a section that validates builds
// (Validate and the rule compiler agree).
func FuzzSpecYAML(f *testing.F) {
	for _, s := range []string{
		"rules: [{name: a, action: drop, contains: 'x\\x00'}]",
		"rules: [{name: a, action: modify, pattern: '{\"detail\":{\"Protocol\":[\"udp\"]}}', modify: {regex: 'a+', replace: b}}]",
		"rules: [{name: a, action: rate, rate: {pps: 0.5, per_flow: true}}]",
		"rules: [{name: a, action: every_nth, every_nth: 3, tee: [x]}]\noverload: fail-closed\nmtu: 1500",
		"rules: [{name: a, action: modify, modify: {find: '', replace: b}}]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var s Spec
		if yaml.Load([]byte(src), &s, yaml.WithKnownFields()) != nil {
			return
		}
		s.SetDefaults()
		if s.Err() != nil {
			return
		}
		if _, err := build(s, Options{}); err != nil {
			t.Fatalf("validates but does not build: %v\n%s", err, src)
		}
	})
}
