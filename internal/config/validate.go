package config

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/names"
	"github.com/wirebridge/wirebridge/internal/spec"
	"github.com/wirebridge/wirebridge/internal/transform"
	"github.com/wirebridge/wirebridge/pattern"
)

var ()

// Validate checks the configuration and returns every problem found as an Errors, or nil.
// Parse and Load already call it; call it again after changing a Config in code.
func (c *Config) Validate() error { return c.validate(nil).asError() }

type validator struct {
	c    *Config
	errs Errors
	skip map[string]bool // paths that already failed to decode
}

func (c *Config) validate(decodeErrs Errors) Errors {
	v := &validator{c: c, skip: map[string]bool{}}
	for _, e := range decodeErrs {
		if e.Path != "" {
			v.skip[e.Path] = true
		}
	}
	v.top()
	v.dataDir()
	v.nats()
	v.live()
	v.dissect()
	v.sources()
	targets := v.targets()
	v.rules(targets)
	v.appliance(targets)
	v.mirrors()
	return v.errs
}

func (v *validator) errorf(path, format string, args ...any) *Error {
	for p := path; p != ""; p = parentPath(p) {
		if v.skip[p] {
			return nil
		}
	}
	e := &Error{File: v.c.File, Path: path, Msg: fmt.Sprintf(format, args...)}
	if pos, ok := v.c.Position(path); ok {
		e.Line, e.Column = pos.Line, pos.Column
	}
	v.errs = append(v.errs, e)
	return e
}

func (v *validator) oneOf(path, value string, allowed ...string) {
	v.reportErr(path, spec.OneOf(value, allowed...))
}

func (v *validator) positive(path string, d time.Duration) { v.reportErr(path, spec.Positive(d)) }

func (v *validator) intRange(path string, n, lo, hi int) { v.reportErr(path, spec.IntRange(n, lo, hi)) }

// reportErr reports err (when not nil) at path.
func (v *validator) reportErr(path string, err error) {
	if err != nil {
		v.errorf(path, "%s", err)
	}
}

func (v *validator) name(path, name, what string) {
	if name == "" {
		v.errorf(path, "required: every %s needs a name", what)
	} else if err := names.Name(name); err != nil {
		v.errorf(path, "%v", err)
	}
}

func (v *validator) top() {
	c := v.c
	if strings.TrimSpace(c.DataDir) == "" {
		v.errorf("data_dir", "must not be empty")
	}
	v.positive("shutdown_timeout", c.ShutdownTimeout)
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "auto", "text", "json")
	if err := names.Listen(c.HTTP.Listen); err != nil {
		v.errorf("http.listen", "%v", err)
	}
}

func (v *validator) live() {
	l := &v.c.Live
	v.intRange("live.replay", l.Replay, 0, 100_000)
	v.intRange("live.subscriber_queue", l.SubscriberQueue, 0, 1_000_000)
	if l.ShareTTL < 0 {
		v.errorf("live.share_ttl", "must not be negative")
	}
	_, written := v.c.pos["live.share_max_ttl"]
	switch {
	case l.ShareMaxTTL < 0 || written && l.ShareMaxTTL == 0:
		v.errorf("live.share_max_ttl", "must be a positive duration")
	case l.ShareTTL > l.ShareMaxTTL && l.ShareMaxTTL > 0:
		v.errorf("live.share_ttl", "%s is longer than live.share_max_ttl (%s)", l.ShareTTL, l.ShareMaxTTL)
	}
	if l.ShareKey.IsSet() && len(l.ShareKey.Value()) < 16 {
		v.errorf("live.share_key", "too short: use at least 16 bytes (32 random bytes recommended)")
	}
	keyNames := map[string]bool{}
	keys := map[string]string{}
	for i, k := range l.APIKeys {
		p := fmt.Sprintf("live.api_keys[%d]", i)
		v.name(p+".name", k.Name, "API key")
		if keyNames[k.Name] && k.Name != "" {
			v.errorf(p+".name", "duplicate API key name %q", k.Name)
		}
		keyNames[k.Name] = true
		switch {
		case !k.Key.IsSet():
			v.errorf(p+".key", "required: the key (a secret: env:NAME or file:PATH)")
		case len(k.Key.Value()) < 16:
			v.errorf(p+".key", "too short: use at least 16 characters")
		case keys[k.Key.Value()] != "":
			v.errorf(p+".key", "same key as API key %q", keys[k.Key.Value()])
		default:
			keys[k.Key.Value()] = k.Name
		}
		if len(k.Scopes) == 0 {
			v.errorf(p+".scopes", "required: at least one of publish, subscribe, admin")
		}
		for j, sc := range k.Scopes {
			if err := names.Scope(sc); err != nil {
				v.errorf(fmt.Sprintf("%s.scopes[%d]", p, j), "%v", err)
			}
		}
	}
}

// busAvailable reports whether the configuration has a NATS bus for durable delivery.
func (c *Config) busAvailable() bool { return c.NATS.Embedded || len(c.NATS.URLs) > 0 }

func (v *validator) nats() {
	n := &v.c.NATS
	if n.Embedded && len(n.URLs) > 0 {
		v.errorf("nats.embedded", "embedded: true and urls are exclusive: use the embedded server or an external cluster")
	}
	v.natsURLs("nats.urls", n.URLs)
	if n.Credentials.IsSet() && len(n.URLs) == 0 {
		v.errorf("nats.credentials", "credentials are for an external cluster: set nats.urls")
	}
	if n.Credentials.IsSet() && n.Token.IsSet() {
		v.errorf("nats.token", "give either credentials or token, not both")
	}
	if n.TLS != nil {
		if len(n.URLs) == 0 {
			v.errorf("nats.tls", "tls is for an external cluster: set nats.urls")
		}
		v.tls("nats.tls", n.TLS)
	}
	if n.Listen != "" {
		if !n.Embedded {
			v.errorf("nats.listen", "listen applies to the embedded server only")
		} else if err := names.Listen(n.Listen); err != nil {
			v.errorf("nats.listen", "%v", err)
		} else if names.Listen(v.c.HTTP.Listen) == nil {
			switch same, wildcard := tcpOverlap(n.Listen, v.c.HTTP.Listen); {
			case same:
				v.errorf("nats.listen", "%s is also http.listen", n.Listen)
			case wildcard:
				v.errorf("nats.listen", "%s overlaps http.listen (%s): a wildcard address holds its port on every address, IPv4 and IPv6", n.Listen, v.c.HTTP.Listen)
			}
		}
	}
	if n.MaxMemory < 0 {
		v.errorf("nats.max_memory", "must not be negative")
	}
	switch {
	case n.Embedded && n.MaxStorage < MinMaxStorage:
		v.errorf("nats.max_storage", "%s is below the minimum %s (the delivery and dead-letter streams need room for their largest messages)", n.MaxStorage, MinMaxStorage)
	case n.MaxStorage < 0:
		v.errorf("nats.max_storage", "must not be negative")
	}
	v.intRange("nats.replicas", n.Replicas, 1, 5)
	if n.Replicas > 1 && len(n.URLs) == 0 {
		v.errorf("nats.replicas", "replicas above 1 need an external cluster (nats.urls)")
	}
}

func (v *validator) natsURLs(path string, urls []string) {
	ck := &spec.Checker{}
	spec.CheckNATSURLs(ck, path, urls)
	v.report("", ck)
}

func (v *validator) tls(path string, t *TLS) {
	ck := &spec.Checker{}
	t.Check(ck, path)
	v.report("", ck)
}

// report adds the problems a spec.Checker collected, their paths under prefix.
func (v *validator) report(prefix string, ck *spec.Checker) {
	for _, pr := range ck.Problems() {
		p := pr.Path
		if prefix != "" {
			p = prefix + "." + p
		}
		v.errorf(p, "%s", pr.Msg)
	}
}

func (v *validator) sources() {
	c := v.c
	if len(c.Sources) == 0 && c.Appliance == nil && len(c.Mirror) == 0 {
		v.errorf("sources", "at least one source is required")
	}
	names := map[string]string{}
	var listens []listenBind
	for i := range c.Sources {
		s := &c.Sources[i]
		p := fmt.Sprintf("sources[%d]", i)
		v.name(p+".name", s.Name, "source")
		if prev, dup := names[s.Name]; dup && s.Name != "" {
			v.errorf(p+".name", "duplicate source name %q (also %s)", s.Name, prev)
		} else {
			names[s.Name] = p
		}
		if s.EventSource == "" {
			v.errorf(p+".event_source", "must not be empty")
		} else if len(s.EventSource) > 256 {
			v.errorf(p+".event_source", "longer than 256 characters")
		}
		v.bucket(p+".rate_limit.per_source", s.RateLimit.PerSource)
		v.bucket(p+".rate_limit.global", s.RateLimit.Global)
		maxDG := ByteSize(65536)
		if k, ok := c.kinds.Source(s.Type); ok && k.MaxDatagram > 0 {
			maxDG = k.MaxDatagram
		}
		if s.MaxDatagram < MinMaxDatagram || s.MaxDatagram > maxDG {
			v.errorf(p+".max_datagram", "%d is out of range (want %d to %d bytes)", s.MaxDatagram, MinMaxDatagram, maxDG)
		}
		v.intRange(p+".queue_size", s.QueueSize, 1, 1<<20)
		kind := v.sourceKind(p, s)
		if kind == nil {
			continue
		}
		if l, ok := s.Spec.(component.UDPListener); ok {
			if addrs, on := l.UDPListen(); on {
				v.listenList(p, addrs, &listens)
			}
		}
		ck := &spec.Checker{Bus: c.busAvailable()}
		s.Spec.Validate(ck)
		if d, ok := s.Spec.(component.DatagramChecker); ok {
			d.CheckMaxDatagram(ck, s.MaxDatagram)
		}
		v.report(p, ck)
	}
}

// sourceKind checks that the source's type names a kind and that its spec is that kind's (a
// Config built in code can get this wrong; a parsed one cannot), and returns the kind.
func (v *validator) sourceKind(p string, s *Source) *component.SourceKind {
	_, known := v.c.kinds.Source(s.Type)
	kind := v.c.sourceKind(s)
	switch {
	case s.Type == "":
		v.errorf(p+".type", "required")
	case !known:
		v.errorf(p+".type", "unknown type %q", s.Type)
	case kind == nil:
		var set []string
		if s.Spec != nil {
			set = append(set, v.c.kinds.SourceType(s.Spec))
		}
		v.errorf(p+".type", "type %s needs exactly its own settings, but %v are set", s.Type, set)
	}
	return kind
}

func (v *validator) bucket(path string, b TokenBucket) {
	if b.PPS < 0 {
		v.errorf(path+".pps", "must not be negative")
	}
	if b.Burst < 0 {
		v.errorf(path+".burst", "must not be negative")
	}
	if b.PPS == 0 && b.Burst > 0 {
		v.errorf(path+".burst", "burst without pps: set pps too (0 means unlimited)")
	}
}

func (v *validator) listenList(p string, addrs []string, seen *[]listenBind) {
	if len(addrs) == 0 {
		v.errorf(p+".listen", "required: at least one address such as 127.0.0.1:5514")
	}
	var mine []listenBind
	for j, a := range addrs {
		ap := fmt.Sprintf("%s.listen[%d]", p, j)
		if err := names.Listen(a); err != nil {
			v.errorf(ap, "%v", err)
			continue
		}
		if b, ok := parseBind(ap, a); ok {
			mine = append(mine, b)
		}
	}
	// The udp source binds an IPv6 wildcard dual-stack unless the same source lists an IPv4
	// address with that port (internal/source: v6Only).
	for i := range mine {
		if b := &mine[i]; b.addr.Is6() && b.addr.IsUnspecified() {
			b.dual = !slices.ContainsFunc(mine, func(o listenBind) bool { return o.port == b.port && o.addr.Is4() })
		}
	}
	for _, b := range mine {
		for _, o := range *seen {
			if msg := udpOverlap(b, o); msg != "" {
				v.errorf(b.path, "%s", msg)
				break
			}
		}
		*seen = append(*seen, b)
	}
}

// listenBind is a udp listen address as the socket binding it sees it. Each is bound
// exclusively (no SO_REUSEADDR or SO_REUSEPORT), so two of them may not cover one address.
type listenBind struct {
	path, text string     // where it was written, and how
	addr       netip.Addr // unmapped; "::" for an empty host, 127.0.0.1 for localhost
	port       uint16
	dual       bool // an IPv6 wildcard that holds the port for IPv4 too
}

// parseBind reads a checked listen address; port 0 (any free port) never collides.
func parseBind(path, text string) (listenBind, bool) {
	host, port, _ := net.SplitHostPort(text)
	n, _ := strconv.ParseUint(port, 10, 16)
	var a netip.Addr
	switch host {
	case "":
		a = netip.IPv6Unspecified()
	case "localhost":
		a = netip.AddrFrom4([4]byte{127, 0, 0, 1}) // what the source resolves it to
	default:
		a, _ = netip.ParseAddr(host)
	}
	return listenBind{path: path, text: text, addr: a.Unmap().WithZone(""), port: uint16(n)}, n != 0
}

// udpOverlap says why the kernel would refuse to bind b beside o, or "".
func udpOverlap(b, o listenBind) string {
	if b.port != o.port {
		return ""
	}
	switch {
	case b.addr == o.addr:
		if b.text != o.text {
			return fmt.Sprintf("address %s is also listened on by %s (as %s)", b.text, o.path, o.text)
		}
		return fmt.Sprintf("address %s is also listened on by %s", b.text, o.path)
	case b.addr.Is4() == o.addr.Is4() && (b.addr.IsUnspecified() || o.addr.IsUnspecified()):
		return fmt.Sprintf("address %s overlaps %s (%s): a wildcard address holds its port on every address of its family", b.text, o.path, o.text)
	case b.dual && o.addr.Is4(), o.dual && b.addr.Is4():
		return fmt.Sprintf("address %s overlaps %s (%s): an IPv6 wildcard is dual-stack and holds its port for IPv4 too, unless the same source also lists an IPv4 address with that port", b.text, o.path, o.text)
	}
	return ""
}

// tcpOverlap reports whether a TCP listener on b cannot listen beside one on o: the same
// address, or a wildcard on either side (Go listens on an empty host, 0.0.0.0 or :: dual-stack,
// holding the port on every address).
func tcpOverlap(b, o string) (same, wildcard bool) {
	bb, ok1 := parseBind("", b)
	ob, ok2 := parseBind("", o)
	if !ok1 || !ok2 || bb.port != ob.port {
		return false, false
	}
	if bb.addr == ob.addr {
		return true, false
	}
	return false, bb.addr.IsUnspecified() || ob.addr.IsUnspecified()
}

func (v *validator) targets() map[string]*Target {
	c := v.c
	byName := map[string]*Target{}
	paths := map[string]string{}
	for i := range c.Targets {
		t := &c.Targets[i]
		p := fmt.Sprintf("targets[%d]", i)
		v.name(p+".name", t.Name, "target")
		if prev, dup := byName[t.Name]; dup && t.Name != "" {
			v.errorf(p+".name", "duplicate target name %q (also %s)", t.Name, targetPath(c, prev))
		} else if t.Name != "" {
			byName[t.Name] = t
		}
		kind := v.targetKind(p, t)
		v.delivery(p, t, kind)
		if kind == nil {
			continue
		}
		if o, ok := t.Spec.(component.Output); ok {
			v.outputPath(p, *o.OutputPath(), paths)
			v.outputFile(p, *o.OutputPath(), t.Type, o)
		}
		ck := &spec.Checker{Bus: c.busAvailable()}
		t.Spec.Validate(ck)
		v.report(p, ck)
	}
	return byName
}

// targetKind checks that the target's type names a kind and that its spec is that kind's (a
// Config built in code can get this wrong; a parsed one cannot), and returns the kind.
func (v *validator) targetKind(p string, t *Target) *component.TargetKind {
	_, known := v.c.kinds.Target(t.Type)
	kind := v.c.targetKind(t)
	switch {
	case t.Type == "":
		v.errorf(p+".type", "required")
	case !known:
		v.errorf(p+".type", "unknown type %q", t.Type)
	case kind == nil:
		var set []string
		if t.Spec != nil {
			set = append(set, v.c.kinds.TargetType(t.Spec))
		}
		v.errorf(p+".type", "type %s needs exactly its own settings, but %v are set", t.Type, set)
	}
	return kind
}

func targetPath(c *Config, t *Target) string {
	for i := range c.Targets {
		if &c.Targets[i] == t {
			return fmt.Sprintf("targets[%d]", i)
		}
	}
	return t.Name
}

func (v *validator) delivery(p string, t *Target, kind *component.TargetKind) {
	d := &t.Delivery
	dp := p + ".delivery"
	switch d.Mode {
	case Durable:
		if kind != nil && kind.Caps(t.Spec).BestEffort {
			v.errorf(dp+".mode", "%s targets are best-effort: durable delivery is not supported", t.Type)
		} else if !v.c.busAvailable() {
			v.errorf(dp+".mode", "durable delivery needs NATS, but nats.embedded is false and nats.urls is empty (set one, or mode: direct)")
		}
	case Direct:
	default:
		v.errorf(dp+".mode", "invalid value %q (want durable or direct)", d.Mode)
	}
	v.intRange(dp+".max_attempts", d.MaxAttempts, 1, 1_000_000)
	v.backoff(dp+".backoff", d.Backoff)
	v.intRange(dp+".batch_size", d.BatchSize, 1, 10000)
	v.intRange(dp+".queue_size", d.QueueSize, 1, 1<<20)
	if _, written := v.c.pos[dp+".queue_bytes"]; (written || d.QueueBytes != 0) && (d.QueueBytes < 64*KiB || d.QueueBytes > GiB) {
		v.errorf(dp+".queue_bytes", "%s is out of range (want 64KiB to 1GiB)", d.QueueBytes)
	}
	// 0 left unset in a configuration built in Go means internal/deliver's default; written in
	// the file, it is out of range like any other value.
	_, written := v.c.pos[dp+".ack_wait"]
	if (written || d.AckWait != 0) && (d.AckWait < time.Second || d.AckWait > time.Hour) {
		v.errorf(dp+".ack_wait", "%s is out of range (want 1s to 1h)", d.AckWait)
	}
}

func (v *validator) outputPath(p string, tp TimePattern, seen map[string]string) {
	switch {
	case tp == "":
		v.errorf(p+".path", "required: the file name pattern, such as events/%%Y-%%m-%%d/events-%%H.ndjson")
		return
	case strings.HasSuffix(string(tp), "/"):
		v.errorf(p+".path", "%q names a directory, not a file", string(tp))
		return
	}
	if err := tp.Check(); err != nil {
		v.errorf(p+".path", "%v", err)
		return
	}
	if prev, dup := seen[string(tp)]; dup {
		v.errorf(p+".path", "same path as %s: two targets would write the same files", prev)
	} else {
		seen[string(tp)] = p + ".path"
	}
}

func (v *validator) rules(targets map[string]*Target) {
	c := v.c
	names := map[string]string{}
	for i := range c.Rules {
		r := &c.Rules[i]
		p := fmt.Sprintf("rules[%d]", i)
		v.name(p+".name", r.Name, "rule")
		if prev, dup := names[r.Name]; dup && r.Name != "" {
			v.errorf(p+".name", "duplicate rule name %q (also %s)", r.Name, prev)
		} else {
			names[r.Name] = p
		}
		v.pattern(p, r)
		if len(r.Targets) == 0 {
			v.errorf(p+".targets", "required: at least one target name")
		}
		inRule := map[string]bool{}
		for j, name := range r.Targets {
			tp := fmt.Sprintf("%s.targets[%d]", p, j)
			switch {
			case inRule[name]:
				v.errorf(tp, "target %q is listed twice", name)
			case targets[name] == nil:
				msg := fmt.Sprintf("unknown target %q", name)
				if s := suggest(name, slices.Sorted(maps.Keys(targets))); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				v.errorf(tp, "%s", msg)
			}
			inRule[name] = true
		}
		v.transformer(p, r)
	}
}

func (v *validator) pattern(p string, r *Rule) {
	pp := p + ".pattern"
	at := v.c.patterns[pp]
	if at != nil && !bytes.Equal(at.json, r.Pattern) {
		at = nil // changed in code since it was parsed
	}
	if at != nil && at.jsonErr != nil {
		v.errorf(pp, "%v", at.jsonErr)
		return
	}
	if len(r.Pattern) == 0 {
		v.errorf(pp, "required: an event pattern such as {\"source\": [\"wirebridge.udp\"]}")
		return
	}
	if at == nil {
		// Set in code rather than parsed: check it is a JSON object.
		if err := checkJSONObject(r.Pattern); err != nil {
			v.errorf(pp, "%v", err)
			return
		}
	}
	_, err := pattern.Compile(r.Pattern)
	if err == nil {
		return
	}
	msg := err.Error()
	var ce *pattern.CompileError
	if errors.As(err, &ce) {
		msg = ce.Detail()
		if at != nil {
			if pos, ok := patternPos(at.node, ce.Path); ok && !v.skip[pp] && !v.skip[p] {
				v.errs = append(v.errs, &Error{File: v.c.File, Line: pos.Line, Column: pos.Column, Path: pp, Msg: msg, Err: err})
				return
			}
		}
	}
	if e := v.errorf(pp, "%s", msg); e != nil {
		e.Err = err
	}
}

func (v *validator) transformer(p string, r *Rule) {
	// The transformer internal/rule builds: what it refuses, validate refuses.
	_, err := transform.NewTransformer(r.InputPath, r.InputPaths, r.InputTemplate)
	for _, te := range transform.Errors(err) {
		path := p + "." + te.Field
		if k, ok := strings.CutPrefix(te.Field, "input_paths."); ok {
			path = joinKey(p+".input_paths", k)
		}
		v.errorf(path, "%s", te.Reason)
	}
}

// backoff checks retry backoff settings at path (delivery.backoff, mirror[i].backoff).
func (v *validator) backoff(path string, b Backoff) {
	v.positive(path+".initial", b.Initial)
	if b.Max < b.Initial {
		v.errorf(path+".max", "%s is less than backoff.initial %s", b.Max, b.Initial)
	}
	if b.Multiplier < 1 || b.Multiplier > 100 {
		v.errorf(path+".multiplier", "%g is out of range (want 1 to 100)", b.Multiplier)
	}
	if b.Jitter < 0 || b.Jitter > 1 {
		v.errorf(path+".jitter", "%g is out of range (want a fraction from 0 to 1)", b.Jitter)
	}
}
