package appliance

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wirebridge/wirebridge/internal/names"
	"github.com/wirebridge/wirebridge/internal/spec"
	"github.com/wirebridge/wirebridge/pattern"
)

// Spec is the appliance's configuration section, as users write it in YAML.
type Spec struct {
	// Listen is the UDP address Geneve arrives on (IPv4: GWLB sends Geneve
	// over IPv4). Default ":6081".
	Listen string `yaml:"listen"`
	// Readers is how many SO_REUSEPORT sockets (one goroutine each) share
	// the address; the kernel spreads flows over them by the outer 4-tuple.
	Readers int `yaml:"readers"`
	// Batch is how many datagrams one recvmmsg/sendmmsg call moves.
	Batch int `yaml:"batch"`
	// BusyPoll is how long a reader keeps polling its socket (recvmmsg
	// without waiting) after a batch before it sleeps until the next
	// datagram; 0 never polls. Polling saves the wakeup of a sleeping
	// thread (and CPU) per batch, at the cost of a CPU busy while traffic
	// arrives more often than every BusyPoll; an idle appliance polls once
	// after its last batch, then sleeps.
	BusyPoll time.Duration `yaml:"busy_poll"`
	// RecvBuffer and SendBuffer are SO_RCVBUF/SO_SNDBUF per socket.
	RecvBuffer spec.ByteSize `yaml:"recv_buffer"`
	SendBuffer spec.ByteSize `yaml:"send_buffer"`
	// MTU is the largest outer IPv4 packet received whole and sent back
	// (GWLB: 8,500 bytes of inner packet in a 9,001-byte MTU).
	MTU int `yaml:"mtu"`
	// DefaultAction applies when no rule matches: pass or drop.
	DefaultAction string `yaml:"default_action"`
	// Overload is what happens to packets read while a reader is behind
	// (its socket queue more than half full): fail-open returns them
	// unmodified without inspection, fail-closed drops them.
	Overload string `yaml:"overload"`
	// Oversize is what happens when a modify would make the packet larger
	// than MTU: pass returns it unmodified, drop drops it. A datagram larger
	// than MTU on arrival cannot be returned whole and is always dropped.
	Oversize string `yaml:"oversize"`
	// Undecodable is what happens to a datagram whose Geneve header or inner
	// packet does not decode: pass returns it unmodified, drop drops it.
	Undecodable string `yaml:"undecodable"`
	// Health is the load balancer's health check endpoint.
	Health HealthSpec `yaml:"health"`
	// DrainTime is how long the appliance keeps forwarding after Drain
	// turns it unhealthy: the target group's deregistration delay.
	DrainTime time.Duration `yaml:"drain_time"`
	// Rules are the inline rules, in order: the first that matches decides.
	Rules []RuleSpec `yaml:"rules"`
}

// HealthSpec configures the TCP and HTTP health check.
type HealthSpec struct {
	// Listen is the TCP address of the health check (TCP connect and HTTP
	// GET on the same port). Default ":8080".
	Listen string `yaml:"listen"`
	// Path is the HTTP health check path. Default "/healthz".
	Path string `yaml:"path"`
	// ProbeInterval is how often a probe is sent through the data path.
	ProbeInterval time.Duration `yaml:"probe_interval"`
	// UnhealthyThreshold is how many probe intervals may pass without a
	// probe coming back before the appliance reports unhealthy.
	UnhealthyThreshold int `yaml:"unhealthy_threshold"`
}

// RuleSpec is one inline rule.
type RuleSpec struct {
	// Name identifies the rule in metrics, tee events and errors.
	Name string `yaml:"name"`
	// Pattern is an EventBridge event pattern (JSON text) over the inner
	// packet's event; empty matches every packet.
	Pattern string `yaml:"pattern"`
	// Contains is bytes the transport payload must contain (escapes \xHH,
	// \n, \r, \t, \0, \\).
	Contains string `yaml:"contains"`
	// Regex is a regular expression (RE2) the transport payload must match.
	Regex string `yaml:"regex"`
	// Action is pass, drop, modify, every_nth or rate.
	Action string `yaml:"action"`
	// Modify is the payload rewrite of action modify.
	Modify *ModifySpec `yaml:"modify"`
	// EveryNth: action every_nth drops every Nth matching packet.
	EveryNth int `yaml:"every_nth"`
	// Rate is the token bucket of action rate: packets over it are dropped.
	Rate *RateSpec `yaml:"rate"`
	// Tee names targets that receive every matching packet as an event,
	// whatever the inline action does with it.
	Tee []string `yaml:"tee"`
}

// ModifySpec replaces bytes in the transport payload: every occurrence of
// Find (literal, with escapes) or every match of Regex, by Replace (literal,
// with escapes).
type ModifySpec struct {
	Find    string `yaml:"find"`
	Regex   string `yaml:"regex"`
	Replace string `yaml:"replace"`
}

// RateSpec is a token bucket.
type RateSpec struct {
	// PPS is the sustained rate in packets per second.
	PPS float64 `yaml:"pps"`
	// Burst is the bucket size in packets. Default: PPS rounded up, at least 1.
	Burst int `yaml:"burst"`
	// PerFlow gives every flow (inner 5-tuple) its own bucket.
	PerFlow bool `yaml:"per_flow"`
	// Flows bounds the per-flow table (rounded up to a power of two);
	// a flow displacing another is counted as an eviction. Default 65536.
	Flows int `yaml:"flows"`
}

// Action names.
const (
	ActionPass     = "pass"
	ActionDrop     = "drop"
	ActionModify   = "modify"
	ActionEveryNth = "every_nth"
	ActionRate     = "rate"
)

// Policy names.
const (
	PolicyFailOpen   = "fail-open"
	PolicyFailClosed = "fail-closed"
)

// Defaults.
const (
	DefaultListen       = ":6081"
	DefaultHealthListen = ":8080"
	DefaultHealthPath   = "/healthz"
	DefaultMTU          = 9001
	DefaultBatch        = 64
	DefaultReaders      = 2
	DefaultBuffer       = 8 * spec.MiB
	DefaultFlows        = 65536
	DefaultDrainTime    = 30 * time.Second
	DefaultProbe        = time.Second
	DefaultThreshold    = 3

	minMTU   = 576
	maxMTU   = 65535
	maxFlows = 1 << 20
	maxBatch = 1024
	// maxBusyPoll bounds busy_poll: polling longer than a millisecond
	// after a batch saves nothing a sleep would not.
	maxBusyPoll = time.Millisecond
	outerLen    = 20 + 8 // outer IPv4 (no options) + UDP header the kernel strips
	geneveMin   = 8
)

// SetDefaults fills every unset (zero) field with its default: on a new
// Spec before the YAML is decoded into it, as the configuration does, or
// after. A rate's zero burst and flows take their defaults when the rules
// are compiled.
func (s *Spec) SetDefaults() {
	if s.Listen == "" {
		s.Listen = DefaultListen
	}
	if s.Readers == 0 {
		s.Readers = DefaultReaders
	}
	if s.Batch == 0 {
		s.Batch = DefaultBatch
	}
	if s.RecvBuffer == 0 {
		s.RecvBuffer = DefaultBuffer
	}
	if s.SendBuffer == 0 {
		s.SendBuffer = DefaultBuffer
	}
	if s.MTU == 0 {
		s.MTU = DefaultMTU
	}
	if s.DefaultAction == "" {
		s.DefaultAction = ActionPass
	}
	if s.Overload == "" {
		s.Overload = PolicyFailOpen
	}
	if s.Oversize == "" {
		s.Oversize = ActionDrop
	}
	if s.Undecodable == "" {
		s.Undecodable = ActionPass
	}
	if s.Health.Listen == "" {
		s.Health.Listen = DefaultHealthListen
	}
	if s.Health.Path == "" {
		s.Health.Path = DefaultHealthPath
	}
	if s.Health.ProbeInterval == 0 {
		s.Health.ProbeInterval = DefaultProbe
	}
	if s.Health.UnhealthyThreshold == 0 {
		s.Health.UnhealthyThreshold = DefaultThreshold
	}
	if s.DrainTime == 0 {
		s.DrainTime = DefaultDrainTime
	}
}

// Validate reports every problem of a Spec (after SetDefaults and the
// YAML) to c, with paths relative to the section ("rules[2].modify").
func (s *Spec) Validate(c *spec.Checker) {
	add := c.Errorf
	if _, err := listenAddr(s.Listen); err != nil {
		add("listen", "%v", err)
	}
	c.IntRange("readers", s.Readers, 1, 256)
	c.IntRange("batch", s.Batch, 1, maxBatch)
	if s.BusyPoll < 0 || s.BusyPoll > maxBusyPoll {
		add("busy_poll", "must be between 0s and %s, not %s", maxBusyPoll, s.BusyPoll)
	}
	if s.RecvBuffer < 0 || s.RecvBuffer > spec.GiB {
		add("recv_buffer", "must be between 0 and 1GiB, not %s", s.RecvBuffer)
	}
	if s.SendBuffer < 0 || s.SendBuffer > spec.GiB {
		add("send_buffer", "must be between 0 and 1GiB, not %s", s.SendBuffer)
	}
	c.IntRange("mtu", s.MTU, minMTU, maxMTU)
	c.OneOf("default_action", s.DefaultAction, ActionPass, ActionDrop)
	c.OneOf("overload", s.Overload, PolicyFailOpen, PolicyFailClosed)
	c.OneOf("oversize", s.Oversize, ActionDrop, ActionPass)
	c.OneOf("undecodable", s.Undecodable, ActionPass, ActionDrop)
	if err := names.Listen(s.Health.Listen); err != nil {
		add("health.listen", "%v", err)
	}
	if !strings.HasPrefix(s.Health.Path, "/") {
		add("health.path", "must start with /, not %q", s.Health.Path)
	}
	if s.Health.ProbeInterval < 10*time.Millisecond {
		add("health.probe_interval", "must be at least 10ms, not %s", s.Health.ProbeInterval)
	}
	if s.Health.UnhealthyThreshold < 1 {
		add("health.unhealthy_threshold", "must be at least 1, not %d", s.Health.UnhealthyThreshold)
	}
	if s.DrainTime < 0 {
		add("drain_time", "must not be negative, not %s", s.DrainTime)
	}
	seen := map[string]int{}
	for i := range s.Rules {
		p := fmt.Sprintf("rules[%d]", i)
		r := &s.Rules[i]
		if err := names.Name(r.Name); err != nil {
			add(p+".name", "%v", err)
		}
		switch {
		case r.Name == "":
		case r.Name == DefaultRuleName:
			add(p+".name", "%q names the default action in metrics; choose another name", r.Name)
		default:
			if j, dup := seen[r.Name]; dup {
				add(p+".name", "%q is already the name of rules[%d]", r.Name, j)
			} else {
				seen[r.Name] = i
			}
		}
		validateRule(c, p, r)
	}
}

// Err validates s and returns its problems as one error, one "path:
// reason" line each (nil when there is none): for callers without a
// configuration file to place them in.
func (s *Spec) Err() error {
	var c spec.Checker
	s.Validate(&c)
	var errs []error
	for _, p := range c.Problems() {
		errs = append(errs, errors.New(p.Path+": "+p.Msg))
	}
	return errors.Join(errs...)
}

type addFunc func(path, format string, args ...any)

func validateRule(c *spec.Checker, p string, r *RuleSpec) {
	add := addFunc(c.Errorf)
	patternOK := true
	if r.Pattern != "" {
		if _, err := pattern.Compile([]byte(r.Pattern)); err != nil {
			add(p+".pattern", "%v", err)
			patternOK = false
		}
	}
	if r.Contains != "" {
		if _, err := Unescape(r.Contains); err != nil {
			add(p+".contains", "%v", err)
		}
	}
	if r.Regex != "" {
		if _, err := regexp.Compile(r.Regex); err != nil {
			add(p+".regex", "%v", err)
		}
	}
	c.OneOf(p+".action", r.Action, ActionPass, ActionDrop, ActionModify, ActionEveryNth, ActionRate)
	if r.Action != ActionModify && r.Modify != nil {
		add(p+".modify", "only for action modify")
	}
	if r.Action != ActionEveryNth && r.EveryNth != 0 {
		add(p+".every_nth", "only for action every_nth")
	}
	if r.Action != ActionRate && r.Rate != nil {
		add(p+".rate", "only for action rate")
	}
	switch r.Action {
	case ActionModify:
		validateModify(add, p, r, patternOK)
	case ActionEveryNth:
		if r.EveryNth < 1 {
			add(p+".every_nth", "action every_nth needs every_nth of at least 1, not %d", r.EveryNth)
		}
	case ActionRate:
		switch {
		case r.Rate == nil:
			add(p+".rate", "action rate needs rate (pps, burst, per_flow)")
		default:
			if !(r.Rate.PPS > 0) || r.Rate.PPS > 1e9 {
				add(p+".rate.pps", "must be above 0 and at most 1e9, not %v", r.Rate.PPS)
			}
			if r.Rate.Burst < 0 {
				add(p+".rate.burst", "must be at least 1 (0: the default), not %d", r.Rate.Burst)
			}
			if r.Rate.Flows < 0 || r.Rate.Flows > maxFlows || (r.Rate.Flows != 0 && !r.Rate.PerFlow) {
				add(p+".rate.flows", "must be between 1 and %d, and only with per_flow, not %d", maxFlows, r.Rate.Flows)
			}
		}
	}
	seen := map[string]bool{}
	for j, t := range r.Tee {
		switch err := names.Name(t); {
		case err != nil:
			add(fmt.Sprintf("%s.tee[%d]", p, j), "%v", err)
		case seen[t]:
			add(fmt.Sprintf("%s.tee[%d]", p, j), "target %q listed twice", t)
		}
		seen[t] = true
	}
}

// validateModify checks a modify rule; whether it may change TCP lengths
// is only judged on a pattern that compiles.
func validateModify(add addFunc, p string, r *RuleSpec, patternOK bool) {
	m := r.Modify
	if m == nil {
		add(p+".modify", "action modify needs modify (find or regex, and replace)")
		return
	}
	if (m.Find == "") == (m.Regex == "") {
		add(p+".modify", "exactly one of find and regex is required")
		return
	}
	repl, err := Unescape(m.Replace)
	if err != nil {
		add(p+".modify.replace", "%v", err)
		return
	}
	tcp := patternOK && mayMatchTCP(r.Pattern)
	if m.Find != "" {
		find, err := Unescape(m.Find)
		if err != nil {
			add(p+".modify.find", "%v", err)
			return
		}
		if d := len(repl) - len(find); d != 0 && tcp {
			add(p+".modify", "TCP payload length must not change (%s → %s changes it by %d byte%s)",
				quote(find), quote(repl), abs(d), plural(abs(d)))
		}
		return
	}
	if _, err := regexp.Compile(m.Regex); err != nil {
		add(p+".modify.regex", "%v", err)
		return
	}
	if tcp {
		add(p+".modify", "TCP payload length must not change (a regex replacement can change it); "+
			`restrict the pattern to UDP, e.g. {"detail":{"Protocol":["udp"]}}`)
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// quote writes b as a double-quoted string, escaping what is not printable.
func quote(b []byte) string {
	if utf8.Valid(b) {
		return strconv.Quote(string(b))
	}
	return fmt.Sprintf("%q", b)
}

// mayMatchTCP reports whether a rule with pattern src can match a TCP
// segment: false only when the pattern lists detail.Protocol or
// detail-type values none of which is TCP's ("tcp", "TcpSegment").
func mayMatchTCP(src string) bool {
	if src == "" {
		return true
	}
	var doc map[string]any
	if json.Unmarshal([]byte(src), &doc) != nil {
		return true
	}
	if excludes(doc["detail-type"], "TcpSegment") {
		return false
	}
	if d, ok := doc["detail"].(map[string]any); ok && excludes(d["Protocol"], "tcp") {
		return false
	}
	return true
}

// excludes reports whether v is a non-empty list of plain strings (exact
// values) that does not contain want.
func excludes(v any, want string) bool {
	l, ok := v.([]any)
	if !ok || len(l) == 0 {
		return false
	}
	for _, e := range l {
		s, ok := e.(string)
		if !ok || s == want {
			return false
		}
	}
	return true
}

// Unescape turns the escapes of payload strings into bytes: \xHH, \n, \r,
// \t, \0 and \\. Any other backslash sequence is an error.
func Unescape(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("escape at offset %d: trailing backslash (write \\\\ for a backslash)", i)
		}
		i++
		switch s[i] {
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case '0':
			out = append(out, 0)
		case '\\':
			out = append(out, '\\')
		case 'x':
			if i+3 > len(s) {
				return nil, fmt.Errorf("escape at offset %d: \\x needs two hex digits", i-1)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("escape at offset %d: \\x needs two hex digits, not %q", i-1, s[i+1:i+3])
			}
			out = append(out, byte(v))
			i += 2
		default:
			return nil, fmt.Errorf("escape at offset %d: unknown escape \\%c (use \\xHH, \\n, \\r, \\t, \\0 or \\\\)", i-1, s[i])
		}
	}
	return out, nil
}

// listenAddr parses the appliance's listen address: IPv4 (or an empty
// host: every IPv4 address).
func listenAddr(s string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("want host:port, not %q", s)
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q: want a number from 0 to 65535", port)
	}
	if host == "" {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(pn)), nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("host %q: want an IPv4 address", host)
	}
	a = a.Unmap()
	if !a.Is4() {
		return netip.AddrPort{}, fmt.Errorf("host %q: GWLB sends Geneve over IPv4; want an IPv4 address", host)
	}
	return netip.AddrPortFrom(a, uint16(pn)), nil
}
