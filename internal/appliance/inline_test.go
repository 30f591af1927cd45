package appliance

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

func TestCensorRules(t *testing.T) {
	_, w := testWorker(t, censorSpec(), Options{})
	tests := []struct {
		name    string
		payload string
		drop    bool
		want    string
	}{
		{name: "plain text passes", payload: "test", want: "test"},
		{name: "drop me is dropped", payload: "please drop me now", drop: true},
		{name: "weakly typed rewritten", payload: "weakly typed programming language", want: "strongly typed programming language"},
		{name: "every occurrence rewritten", payload: "weakly typed, weakly typed", want: "strongly typed, strongly typed"},
		{name: "drop me wins over modify (first match)", payload: "weakly typed drop me", drop: true},
		{name: "empty payload passes", payload: "", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sent := udp4(tc.payload)
			reply := inline(w, sent, time.Now())
			if tc.drop {
				if reply != nil {
					t.Fatalf("returned %d bytes, want dropped", len(reply))
				}
				return
			}
			if reply == nil {
				t.Fatal("dropped, want returned")
			}
			p := checkReply(t, sent, reply, lbAddr, appAddr)
			if got := string(p.Payload()); got != tc.want {
				t.Errorf("payload %q, want %q", got, tc.want)
			}
			if int(p.Inner().UDPLength) != 8+len(tc.want) {
				t.Errorf("inner udp length %d, want %d", p.Inner().UDPLength, 8+len(tc.want))
			}
		})
	}
	st := w.a.Stats()
	if got := st.Rules["drop-me"][OutcomeDrop]; got != 2 {
		t.Errorf("drop-me drops %d, want 2", got)
	}
	if got := st.Rules["weakly-typed"][OutcomeModify]; got != 2 {
		t.Errorf("weakly-typed modifies %d, want 2", got)
	}
	if got := st.Rules[DefaultRuleName][OutcomePass]; got != 2 {
		t.Errorf("default passes %d, want 2", got)
	}
}

func TestCensorPort3000Only(t *testing.T) {
	_, w := testWorker(t, censorSpec(), Options{})
	sent := geneve(
		packet.IPv4{Src: netip.MustParseAddr("192.168.1.10"), Dst: netip.MustParseAddr("192.168.2.20")},
		packet.UDP{Src: 40000, Dst: 3001},
		packet.Payload("drop me, weakly typed"))
	reply := inline(w, sent, time.Now())
	if reply == nil {
		t.Fatal("dropped a packet to port 3001")
	}
	if !bytes.Equal(reply[outerLen:], sent) {
		t.Error("a packet to port 3001 was changed")
	}
	checkReply(t, sent, reply, lbAddr, appAddr)
}

func TestEveryFifthICMPDropped(t *testing.T) {
	_, w := testWorker(t, censorSpec(), Options{})
	var lost []uint16
	for seq := uint16(1); seq <= 10; seq++ {
		sent := icmpEcho(seq)
		reply := inline(w, sent, time.Now())
		if reply == nil {
			lost = append(lost, seq)
			continue
		}
		checkReply(t, sent, reply, lbAddr, appAddr)
	}
	if len(lost) != 2 || lost[0] != 5 || lost[1] != 10 {
		t.Errorf("lost icmp_seq %v, want [5 10]", lost)
	}
}

func TestModifyInnerPackets(t *testing.T) {
	v4s, v4d := netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("192.168.2.20")
	v6s, v6d := netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8:2::20")
	udp6 := `{"detail":{"Protocol":["udp"]}}`
	tests := []struct {
		name    string
		rule    RuleSpec
		inner   []packet.Layer
		want    string
		outcome Outcome
	}{
		{
			name:  "ipv6 udp grows",
			rule:  RuleSpec{Name: "r", Pattern: udp6, Action: ActionModify, Modify: &ModifySpec{Find: "weakly", Replace: "strongly"}},
			inner: []packet.Layer{packet.IPv6{Src: v6s, Dst: v6d}, packet.UDP{Src: 5000, Dst: 3000}, packet.Payload("weakly typed")},
			want:  "strongly typed", outcome: OutcomeModify,
		},
		{
			name:  "ipv6 udp shrinks",
			rule:  RuleSpec{Name: "r", Pattern: udp6, Action: ActionModify, Modify: &ModifySpec{Find: "strongly", Replace: "weakly"}},
			inner: []packet.Layer{packet.IPv6{Src: v6s, Dst: v6d}, packet.UDP{Src: 5000, Dst: 3000}, packet.Payload("strongly typed, strongly")},
			want:  "weakly typed, weakly", outcome: OutcomeModify,
		},
		{
			name:  "ipv4 udp regex with escapes",
			rule:  RuleSpec{Name: "r", Pattern: udp6, Action: ActionModify, Modify: &ModifySpec{Regex: `pass(word)?=\w+`, Replace: `pass=\x2a\x2a\x2a\n`}},
			inner: []packet.Layer{packet.IPv4{Src: v4s, Dst: v4d}, packet.UDP{Src: 5000, Dst: 3000}, packet.Payload("user=a password=hunter2 x")},
			want:  "user=a pass=***\n x", outcome: OutcomeModify,
		},
		{
			name:  "ipv4 udp without checksum keeps none",
			rule:  RuleSpec{Name: "r", Pattern: udp6, Action: ActionModify, Modify: &ModifySpec{Find: "a", Replace: "bb"}},
			inner: []packet.Layer{packet.IPv4{Src: v4s, Dst: v4d}, packet.UDP{Src: 5000, Dst: 3000, NoChecksum: true}, packet.Payload("aaa")},
			want:  "bbbbbb", outcome: OutcomeModify,
		},
		{
			name:  "tcp same length",
			rule:  RuleSpec{Name: "r", Action: ActionModify, Modify: &ModifySpec{Find: "weakly", Replace: "WEAKLY"}},
			inner: []packet.Layer{packet.IPv4{Src: v4s, Dst: v4d}, packet.TCP{Src: 5000, Dst: 80, Seq: 1, Flags: packet.TCPAck | packet.TCPPsh}, packet.Payload("GET /weakly HTTP/1.1\r\n\r\n")},
			want:  "GET /WEAKLY HTTP/1.1\r\n\r\n", outcome: OutcomeModify,
		},
		{
			name:  "ipv6 tcp same length",
			rule:  RuleSpec{Name: "r", Action: ActionModify, Modify: &ModifySpec{Find: `\x00\x01`, Replace: `\xff\xfe`}},
			inner: []packet.Layer{packet.IPv6{Src: v6s, Dst: v6d}, packet.TCP{Src: 5000, Dst: 80, Flags: packet.TCPAck}, packet.Payload("\x00\x01\x02\x00\x01")},
			want:  "\xff\xfe\x02\xff\xfe", outcome: OutcomeModify,
		},
		{
			name:  "no occurrence passes unchanged",
			rule:  RuleSpec{Name: "r", Pattern: udp6, Action: ActionModify, Modify: &ModifySpec{Find: "zzz", Replace: "y"}},
			inner: []packet.Layer{packet.IPv4{Src: v4s, Dst: v4d}, packet.UDP{Src: 5000, Dst: 3000}, packet.Payload("abc")},
			want:  "abc", outcome: OutcomePass,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, w := testWorker(t, Spec{Rules: []RuleSpec{tc.rule}}, Options{})
			sent := geneve(tc.inner...)
			reply := inline(w, sent, time.Now())
			if reply == nil {
				t.Fatal("dropped")
			}
			p := checkReply(t, sent, reply, lbAddr, appAddr)
			if got := string(p.Payload()); got != tc.want {
				t.Errorf("payload %q, want %q", got, tc.want)
			}
			if got := w.a.Stats().Rules["r"][tc.outcome]; got != 1 {
				t.Errorf("outcome %v counted %d times, want 1", tc.outcome, got)
			}
		})
	}
}

// TestJumboReturnedWhole: an 8,500-byte inner packet (GWLB's 9,001-byte MTU)
// comes back whole, rewritten or not; growing past the MTU follows the
// oversize policy and is counted.
func TestJumboReturnedWhole(t *testing.T) {
	payload := strings.Repeat("x", 8500-20-8-12) + "weakly typed"
	mk := func() []byte {
		return geneve(packet.IPv4{Src: netip.MustParseAddr("192.168.1.10"), Dst: netip.MustParseAddr("192.168.2.20")},
			packet.UDP{Src: 40000, Dst: 3000}, packet.Payload(payload))
	}
	t.Run("rewritten", func(t *testing.T) {
		_, w := testWorker(t, censorSpec(), Options{})
		sent := mk()
		reply := inline(w, sent, time.Now())
		if reply == nil {
			t.Fatal("dropped")
		}
		p := checkReply(t, sent, reply, lbAddr, appAddr)
		if p.Inner().IPTotalLen != 8502 || !strings.HasSuffix(string(p.Payload()), "strongly typed") {
			t.Errorf("inner ip length %d, want 8502 with the rewrite", p.Inner().IPTotalLen)
		}
	})
	for _, tc := range []struct {
		name   string
		policy string
		want   bool // returned (unmodified)
	}{{"grows past mtu dropped", ActionDrop, false}, {"grows past mtu passed unmodified", ActionPass, true}} {
		t.Run(tc.name, func(t *testing.T) {
			spec := censorSpec()
			spec.MTU = 8500 + 8 + 32 + outerLen // exactly the packet (Geneve 8 + GWLB options 32): a 2-byte growth does not fit
			spec.Oversize = tc.policy
			_, w := testWorker(t, spec, Options{})
			sent := mk()
			reply := inline(w, sent, time.Now())
			if (reply != nil) != tc.want {
				t.Fatalf("returned %v, want %v", reply != nil, tc.want)
			}
			if reply != nil {
				checkReply(t, sent, reply, lbAddr, appAddr)
				if !bytes.Equal(reply[outerLen:], sent) {
					t.Error("oversize pass changed the packet")
				}
			}
			if got := w.st.oversizeModify.Load(); got != 1 {
				t.Errorf("oversize counted %d, want 1", got)
			}
		})
	}
}

func TestUndecodablePolicy(t *testing.T) {
	good := udp4("test")
	tests := []struct {
		name string
		d    []byte
		kind packet.Kind
	}{
		{name: "shorter than a geneve header", d: good[:5], kind: packet.ErrBadLength},
		{name: "geneve version 1", d: append([]byte{0x40 | good[0]&0x3f}, good[1:]...), kind: packet.ErrBadVersion},
		{name: "options longer than the datagram", d: append([]byte{0x3f}, good[1:20]...), kind: packet.ErrBadLength},
		{name: "inner ipv4 cut short", d: good[:8+32+10], kind: packet.ErrTruncated},
	}
	for _, policy := range []string{ActionPass, ActionDrop} {
		for _, tc := range tests {
			t.Run(policy+"/"+tc.name, func(t *testing.T) {
				spec := censorSpec()
				spec.Undecodable = policy
				_, w := testWorker(t, spec, Options{})
				reply := inline(w, tc.d, time.Now())
				if got := w.st.undecodable[tc.kind].Load(); got != 1 {
					t.Errorf("%v counted %d, want 1", tc.kind, got)
				}
				if policy == ActionDrop {
					if reply != nil {
						t.Error("returned, want dropped")
					}
					return
				}
				if reply == nil {
					t.Fatal("dropped, want returned unmodified")
				}
				if !bytes.Equal(reply[outerLen:], tc.d) {
					t.Error("datagram changed")
				}
				var p packet.Packet
				_ = packet.Decode(&p, reply, packet.CaptureInfo{LinkType: packet.LinkIPv4})
				if p.VerifyIPv4Checksum(0) != packet.ChecksumGood || p.VerifyTransportChecksum(0) != packet.ChecksumGood {
					t.Error("outer checksums wrong")
				}
			})
		}
	}
}

func TestRateLimit(t *testing.T) {
	flow := func(sport uint16) []byte {
		return geneve(packet.IPv4{Src: netip.MustParseAddr("192.168.1.10"), Dst: netip.MustParseAddr("192.168.2.20")},
			packet.UDP{Src: sport, Dst: 53}, packet.Payload("q"))
	}
	t.Run("per rule", func(t *testing.T) {
		_, w := testWorker(t, Spec{Rules: []RuleSpec{{Name: "r", Action: ActionRate, Rate: &RateSpec{PPS: 1, Burst: 3}}}}, Options{})
		now := time.Now() // the packets' capture time: after the appliance started
		passed := 0
		for i := range 10 {
			if inline(w, flow(uint16(1000+i)), now) != nil {
				passed++
			}
		}
		if passed != 3 {
			t.Errorf("passed %d of 10 at one instant, want the burst of 3", passed)
		}
		// One second later, one more token.
		if inline(w, flow(1), now.Add(time.Second)) == nil {
			t.Error("no token after one second at 1 pps")
		}
	})
	t.Run("per flow", func(t *testing.T) {
		a, w := testWorker(t, Spec{Rules: []RuleSpec{{Name: "r", Action: ActionRate, Rate: &RateSpec{PPS: 1, Burst: 2, PerFlow: true}}}}, Options{})
		now := time.Now()
		passed := map[uint16]int{}
		for range 5 {
			for _, sp := range []uint16{1000, 2000} {
				if inline(w, flow(sp), now) != nil {
					passed[sp]++
				}
			}
		}
		if passed[1000] != 2 || passed[2000] != 2 {
			t.Errorf("passed per flow %v, want 2 each", passed)
		}
		if ev := a.Stats().FlowEvictions["r"]; ev != 0 {
			t.Errorf("evictions %d in a 65536-flow table, want 0", ev)
		}
	})
	t.Run("bounded table evicts", func(t *testing.T) {
		a, w := testWorker(t, Spec{Rules: []RuleSpec{{Name: "r", Action: ActionRate, Rate: &RateSpec{PPS: 1, Burst: 1, PerFlow: true, Flows: 1}}}}, Options{})
		now := time.Now()
		for range 3 {
			for _, sp := range []uint16{1000, 2000} {
				if inline(w, flow(sp), now) == nil {
					t.Error("dropped: each flow evicts the other and starts a full bucket")
				}
			}
		}
		if ev := a.Stats().FlowEvictions["r"]; ev != 5 {
			t.Errorf("evictions %d, want 5", ev)
		}
	})
}

func TestTeeGetsOriginalPacket(t *testing.T) {
	var got []Tee
	spec := censorSpec()
	spec.Rules[0].Tee = []string{"live-drops", "archive"}
	spec.Rules[1].Tee = []string{"live-drops"}
	_, w := testWorker(t, spec, Options{Tee: func(tee *Tee) {
		c := *tee
		c.Frame = append([]byte(nil), tee.Frame...)
		got = append(got, c)
	}})
	inline(w, udp4("test"), time.Now())
	inline(w, udp4("drop me"), time.Now())
	inline(w, udp4("weakly typed"), time.Now())
	if len(got) != 2 {
		t.Fatalf("tee called %d times, want 2", len(got))
	}
	for i, want := range []struct {
		rule    string
		targets int
		outcome Outcome
		payload string
	}{{"drop-me", 2, OutcomeDrop, "drop me"}, {"weakly-typed", 1, OutcomeModify, "weakly typed"}} {
		g := got[i]
		if g.Rule != want.rule || len(g.Targets) != want.targets || g.Outcome != want.outcome {
			t.Errorf("tee %d: rule %q targets %v outcome %v", i, g.Rule, g.Targets, g.Outcome)
		}
		var p packet.Packet
		if err := packet.Decode(&p, g.Frame, packet.CaptureInfo{LinkType: g.LinkType}); err != nil {
			t.Fatalf("tee frame: %v", err)
		}
		if string(p.Payload()) != want.payload || p.Tunnel() == nil || p.Tunnel().GWLB.FlowCookie != testCookie {
			t.Errorf("tee %d frame payload %q, want the original %q with its GWLB options", i, p.Payload(), want.payload)
		}
	}
}

func TestPatternsSeeGWLBAndFirstMatchWins(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		drop bool
		rule string
	}{
		{
			name: "flow cookie matches",
			spec: Spec{Rules: []RuleSpec{{Name: "cookie", Pattern: `{"detail":{"Tunnel":{"GWLB":{"FlowCookie":["0xcafef00d"]}}}}`, Action: ActionDrop}}},
			drop: true, rule: "cookie",
		},
		{
			name: "other endpoint does not match",
			spec: Spec{Rules: []RuleSpec{{Name: "ep", Pattern: `{"detail":{"Tunnel":{"GWLB":{"EndpointID":["0x0000000000000001"]}}}}`, Action: ActionDrop}}},
			rule: DefaultRuleName,
		},
		{
			name: "geneve option class",
			spec: Spec{Rules: []RuleSpec{{Name: "opt", Pattern: `{"detail":{"Tunnel":{"Type":["geneve"],"Options":{"Class":[264],"Type":[3]}}}}`, Action: ActionDrop}}},
			drop: true, rule: "opt",
		},
		{
			name: "first match wins",
			spec: Spec{Rules: []RuleSpec{
				{Name: "pass-first", Pattern: `{"detail":{"Protocol":["udp"]}}`, Action: ActionPass},
				{Name: "drop-second", Action: ActionDrop},
			}},
			rule: "pass-first",
		},
		{
			name: "payload condition fails, next rule",
			spec: Spec{Rules: []RuleSpec{
				{Name: "needs-regex", Regex: `^zzz`, Action: ActionPass},
				{Name: "drop-rest", Contains: `\x74est`, Action: ActionDrop},
			}},
			drop: true, rule: "drop-rest",
		},
		{
			name: "default drop",
			spec: Spec{DefaultAction: ActionDrop, Rules: []RuleSpec{{Name: "tcp", Pattern: `{"detail":{"Protocol":["tcp"]}}`, Action: ActionPass}}},
			drop: true, rule: DefaultRuleName,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, w := testWorker(t, tc.spec, Options{})
			reply := inline(w, udp4("test"), time.Now())
			if (reply == nil) != tc.drop {
				t.Errorf("dropped %v, want %v", reply == nil, tc.drop)
			}
			o := OutcomePass
			if tc.drop {
				o = OutcomeDrop
			}
			if got := a.Stats().Rules[tc.rule][o]; got != 1 {
				t.Errorf("rule %q %v count %d, want 1", tc.rule, o, got)
			}
		})
	}
}

// TestProbeRecognised: the appliance's own probe goes back to the prober's
// port (not through the rules); a probe with another key is an ordinary packet.
func TestProbeRecognised(t *testing.T) {
	a, w := testWorker(t, Spec{DefaultAction: ActionDrop}, Options{})
	data := make([]byte, probeDataLen)
	copy(data, a.probeKey[:])
	mk := func(d []byte) []byte {
		return packet.Build(packet.Geneve{Options: []packet.GeneveOpt{{Class: probeClass, Type: probeType, Data: d}}},
			packet.IPv4{Src: netip.MustParseAddr("127.0.0.1"), Dst: netip.MustParseAddr("127.0.0.1")},
			packet.UDP{Src: 9, Dst: 9}, packet.Payload("probe"))
	}
	reply := inline(w, mk(data), time.Now())
	if reply == nil {
		t.Fatal("own probe dropped by the default action")
	}
	if sp, dp := be.Uint16(reply[20:]), be.Uint16(reply[22:]); sp != appAddr.Port() || dp != lbAddr.Port() {
		t.Errorf("probe reply ports %d -> %d, want %d -> %d", sp, dp, appAddr.Port(), lbAddr.Port())
	}
	if inline(w, mk(make([]byte, probeDataLen)), time.Now()) != nil {
		t.Error("a foreign probe bypassed the rules")
	}
}

func TestInlineAllocatesNothing(t *testing.T) {
	_, w := testWorker(t, censorSpec(), Options{})
	for _, tc := range []struct {
		name string
		d    []byte
	}{{"pass", udp4("test")}, {"modify", udp4("weakly typed programming language")}, {"drop", udp4("drop me")}, {"icmp", icmpEcho(1)}} {
		buf := make([]byte, w.a.mtu)
		now := time.Now()
		allocs := testing.AllocsPerRun(200, func() {
			copy(buf[outerLen:], tc.d)
			w.process(buf, len(tc.d), lbAddr, appAddr, now, false)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per packet, want 0", tc.name, allocs)
		}
	}
}
