package rule

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wirebridge/wirebridge/pattern"
)

func cfgRule(name, pat string, targets ...string) Spec {
	return Spec{Name: name, Pattern: []byte(pat), Targets: targets, Enabled: true}
}

const seedPattern = `{"source":["udp.raw"],"detail":{"Destination":{"Port":[514]}}}`

func names(rs []*Rule) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}

func TestSetMatch(t *testing.T) {
	disabled := cfgRule("disabled", `{"source":["udp.raw"]}`, "archive")
	disabled.Enabled = false
	s, err := New([]Spec{
		cfgRule("syslog", seedPattern, "archive", "hook"),
		cfgRule("any-udp", `{"detail-type":["UdpPacket"]}`, "archive"),
		cfgRule("dns", `{"detail":{"Destination":{"Port":[53]}}}`, "hook"),
		disabled,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 4 || s.Enabled() != 3 {
		t.Fatalf("Len %d Enabled %d, want 4 and 3", s.Len(), s.Enabled())
	}
	if got := s.Rule("syslog").Targets; strings.Join(got, ",") != "archive,hook" {
		t.Errorf("targets %v", got)
	}
	cases := []struct {
		name  string
		event string
		want  string
	}{
		{"syslog", `{"source":"udp.raw","detail-type":"UdpPacket","detail":{"Destination":{"Port":514}}}`, "any-udp,syslog"},
		{"other source", `{"source":"wirebridge.udp","detail-type":"UdpPacket","detail":{"Destination":{"Port":514}}}`, "any-udp"},
		{"dns", `{"source":"udp.raw","detail-type":"UdpPacket","detail":{"Destination":{"Port":53}}}`, "any-udp,dns"},
		{"tcp to 514", `{"source":"udp.raw","detail-type":"TcpSegment","detail":{"Destination":{"Port":514}}}`, "syslog"},
		{"nothing", `{"source":"x","detail-type":"Frame","detail":{}}`, ""},
	}
	var m Matches
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := s.MatchJSON([]byte(c.event), &m); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(names(m.Rules), ","); got != c.want {
				t.Errorf("MatchJSON = %q, want %q", got, c.want)
			}
			var root any
			if err := json.Unmarshal([]byte(c.event), &root); err != nil {
				t.Fatal(err)
			}
			s.Match(pattern.NewMapEvent(root), &m)
			if got := strings.Join(names(m.Rules), ","); got != c.want {
				t.Errorf("Match = %q, want %q", got, c.want)
			}
		})
	}
	// Each case was matched twice (JSON and in memory).
	want := map[string]uint64{"syslog": 4, "any-udp": 6, "dns": 2, "disabled": 0}
	for n, w := range want {
		if got := s.Counts()[n]; got != w {
			t.Errorf("count %s = %d, want %d", n, got, w)
		}
	}
	if err := s.MatchJSON([]byte(`{"source":`), &m); err == nil || len(m.Rules) != 0 {
		t.Errorf("invalid JSON: err %v, rules %v", err, m.Rules)
	}
	if err := s.MatchJSONUncounted([]byte(cases[0].event), &m); err != nil || len(m.Rules) != 2 {
		t.Fatalf("uncounted: %v %v", err, m.Rules)
	}
	if got := s.Rule("syslog").Matched(); got != 4 {
		t.Errorf("MatchJSONUncounted counted: %d", got)
	}
}

func TestSetErrors(t *testing.T) {
	withTpl := cfgRule("tpl", `{"source":["a"]}`, "t")
	withTpl.InputPaths = map[string]string{"ip": "$.detail.Source.IP", "bad": "detail"}
	withTpl.InputTemplate = `{"ip": <ip>, "x": <nope>}`
	_, err := New([]Spec{
		cfgRule("ok", `{"source":["a"]}`, "t"),
		cfgRule("ok", `{"source":["a"]}`, "t"),
		cfgRule("badpat", `{"detail":{"Destination":{"Port":[{"numeric":[">", "x"]}]}}}`, "t"),
		cfgRule("", `{"source":["a"]}`),
		withTpl,
		cfgRule("notjson", `{"source":`, "t"),
	}, nil)
	if err == nil {
		t.Fatal("no error")
	}
	var got []string
	for _, e := range unjoin(err) {
		var re *Error
		if !errors.As(e, &re) {
			t.Fatalf("error %v is not a *rule.Error", e)
		}
		got = append(got, re.Path)
	}
	want := []string{
		"rules[1].name",
		"rules[2].pattern",
		"rules[3].name",
		"rules[3].targets",
		"rules[4].input_paths.bad",
		"rules[4].input_template",
		"rules[5].pattern",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("error paths\n%v\nwant\n%v\n(%v)", got, want, err)
	}
	if !strings.Contains(err.Error(), "rules[2].pattern: detail.Destination.Port[0].numeric") {
		t.Errorf("pattern error lacks the JSON path: %v", err)
	}
	var ce *pattern.CompileError
	if !errors.As(err, &ce) {
		t.Errorf("pattern error does not wrap *pattern.CompileError")
	}
}

// TestReloadConcurrent swaps rule sets while goroutines match: every event
// is matched by exactly one whole set, so the rule present in every set
// matches every event exactly once and its counter is exact; the rules that
// come and go are never seen half-built (each set's rules arrive together).
func TestReloadConcurrent(t *testing.T) {
	setA := []Spec{
		cfgRule("always", `{"source":["udp.raw"]}`, "t"),
		cfgRule("a1", `{"detail":{"Destination":{"Port":[514]}}}`, "t"),
		cfgRule("a2", `{"detail-type":["UdpPacket"]}`, "t"),
	}
	setB := []Spec{
		cfgRule("always", `{"source":[{"prefix":"udp."}]}`, "t"),
		cfgRule("b1", `{"detail":{"Destination":{"Port":[{"numeric":[">",500]}]}}}`, "t"),
		cfgRule("b2", `{"detail":{"Protocol":["udp"]}}`, "t"),
	}
	for i := range 100 { // make a set large enough to take a while to build
		setB = append(setB, cfgRule(fmt.Sprintf("pad%03d", i), fmt.Sprintf(`{"detail":{"Destination":{"Port":[%d]}}}`, 10000+i), "t"))
	}
	bad := append([]Spec{cfgRule("always", `{"source":[`, "t")}, setA[1:]...)

	tab, err := NewTable(setA)
	if err != nil {
		t.Fatal(err)
	}
	event := []byte(`{"source":"udp.raw","detail-type":"UdpPacket","detail":{"Destination":{"Port":514},"Protocol":"udp"}}`)
	const workers, perWorker = 4, 20000
	var seenA, seenB atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var m Matches
			for range perWorker {
				s := tab.Current()
				if err := s.MatchJSON(event, &m); err != nil {
					errc <- err
					return
				}
				switch got := strings.Join(names(m.Rules), ","); got {
				case "a1,a2,always":
					seenA.Add(1)
				case "always,b1,b2":
					seenB.Add(1)
				default:
					errc <- fmt.Errorf("matched %q: a mix of sets or a lost rule", got)
					return
				}
			}
		}()
	}
	var reloads, failed int
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
loop:
	for i := 0; ; i++ {
		select {
		case <-done:
			break loop
		default:
		}
		next := setB
		if i%2 == 1 {
			next = setA
		}
		if i%5 == 4 {
			if _, err := tab.Reload(bad); err == nil {
				t.Fatal("invalid set accepted")
			}
			failed++
			continue
		}
		if _, err := tab.Reload(next); err != nil {
			t.Fatal(err)
		}
		reloads++
	}
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	total := int64(workers * perWorker)
	if seenA.Load()+seenB.Load() != total {
		t.Fatalf("matched %d+%d events, want %d", seenA.Load(), seenB.Load(), total)
	}
	if got := tab.Current().Rule("always").Matched(); got != uint64(total) {
		t.Errorf("always counter = %d, want %d (counters must survive reloads)", got, total)
	}
	t.Logf("%d reloads, %d rejected; %d events on set A, %d on set B", reloads, failed, seenA.Load(), seenB.Load())
	if reloads < 2 {
		t.Errorf("only %d reloads happened during matching", reloads)
	}
}

func TestReloadKeepsCurrentOnError(t *testing.T) {
	tab, err := NewTable([]Spec{cfgRule("r", `{"source":["a"]}`, "t")})
	if err != nil {
		t.Fatal(err)
	}
	before := tab.Current()
	_, err = tab.Reload([]Spec{cfgRule("r", `{"source":"a"}`, "t")})
	if err == nil || !strings.Contains(err.Error(), "rules[0].pattern") {
		t.Fatalf("err = %v", err)
	}
	if tab.Current() != before {
		t.Error("a failed reload replaced the set")
	}
	var m Matches
	_ = tab.Current().MatchJSON([]byte(`{"source":"a"}`), &m)
	s, err := tab.Reload([]Spec{cfgRule("r", `{"source":["b"]}`, "t"), cfgRule("new", `{"source":["a"]}`, "t")})
	if err != nil {
		t.Fatal(err)
	}
	if s.Rule("r").Matched() != 1 || s.Rule("new").Matched() != 0 {
		t.Errorf("counters after reload: r=%d new=%d, want 1 and 0", s.Rule("r").Matched(), s.Rule("new").Matched())
	}
}

func TestMatchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	rules := []Spec{cfgRule("syslog", seedPattern, "t")}
	for i := range 99 {
		rules = append(rules, cfgRule(fmt.Sprintf("r%02d", i), fmt.Sprintf(`{"detail":{"Destination":{"Port":[%d]}}}`, 1000+i), "t"))
	}
	s, err := New(rules, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := []byte(`{"source":"udp.raw","detail-type":"UdpPacket","detail":{"Destination":{"Port":514}}}`)
	var m Matches
	_ = s.MatchJSON(ev, &m)
	if allocs := testing.AllocsPerRun(100, func() { _ = s.MatchJSON(ev, &m) }); allocs != 0 {
		t.Errorf("MatchJSON allocates %v per event", allocs)
	}
	if len(m.Rules) != 1 || m.Rules[0].Name != "syslog" {
		t.Errorf("matched %v", names(m.Rules))
	}
}
