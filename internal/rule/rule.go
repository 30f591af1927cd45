// Package rule is the rule-match stage of the wirebridge data path: it turns
// the configured rules into a Set (every enabled rule's EventBridge pattern
// compiled into one pattern.Matcher, each rule's targets and input
// transformer) and tells, for one event, which rules match it.
//
//	source ──► packet ──► event ──► rule match ──► deliver ──► target
//	                                internal/rule (+ pattern)
//
// A Set is immutable. A Table holds the current Set behind an atomic pointer
// and replaces it whole on reload (SIGHUP): a matching goroutine loads the
// pointer once per event (or batch) and uses that Set to the end, so it never
// sees a half-built set and every event is matched by exactly one set, old or
// new. Per-rule matched counters survive reloads for rules that keep their
// name.
package rule

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/wirebridge/wirebridge/pattern"
)

// Rule is one compiled rule.
type Rule struct {
	Name    string
	Index   int // position in the Set (config order)
	Targets []string
	Enabled bool
	Pattern *pattern.Pattern
	// Transform is the input transformer; nil delivers the event JSON.
	Transform *Transformer

	matched *atomic.Uint64
}

// Matched is how many events this rule (under this name) has matched since
// the process started, across reloads.
func (r *Rule) Matched() uint64 { return r.matched.Load() }

// Error is a rule that failed to load. Path names the config key, such as
// "rules[2].pattern" or "rules[0].input_paths.ip".
type Error struct {
	Path   string
	Reason string
	Err    error // the underlying error, when there is one
}

func (e *Error) Error() string { return e.Path + ": " + e.Reason }
func (e *Error) Unwrap() error { return e.Err }

// Set is an immutable set of rules. Its methods are safe for concurrent use.
type Set struct {
	rules   []*Rule
	byName  map[string]*Rule
	matcher *pattern.Matcher // enabled rules only
	enabled int
}

// Matches receives the rules matching one event. Reuse one per goroutine:
// matching then allocates nothing.
type Matches struct {
	Rules []*Rule
	names []string
	st    pattern.State // the matcher's working memory for this Matches' goroutine
}

// Spec is one rule as a Set takes it: internal/config's rules section, mapped by internal/app.
type Spec struct {
	Name string
	// Pattern is the EventBridge event pattern (a JSON object).
	Pattern []byte
	Targets []string
	// InputPath delivers only the part of the event it selects (EventBridge InputPath).
	InputPath string
	// InputPaths and InputTemplate form an EventBridge input transformer.
	InputPaths    map[string]string
	InputTemplate string
	Enabled       bool
}

// New compiles rules. Rules of prev (may be nil) with the same name lend
// their matched counters to the new ones. Every problem is reported as an
// *Error, joined; on error no Set is returned.
func New(rules []Spec, prev *Set) (*Set, error) {
	s := &Set{
		rules:   make([]*Rule, 0, len(rules)),
		byName:  make(map[string]*Rule, len(rules)),
		matcher: pattern.NewMatcher(),
	}
	var errs []error
	for i := range rules {
		cr := &rules[i]
		p := fmt.Sprintf("rules[%d]", i)
		bad := func(path, reason string, err error) {
			errs = append(errs, &Error{Path: path, Reason: reason, Err: err})
		}
		ok := true
		if cr.Name == "" {
			bad(p+".name", "required", nil)
			ok = false
		} else if _, dup := s.byName[cr.Name]; dup {
			bad(p+".name", fmt.Sprintf("duplicate rule name %q", cr.Name), nil)
			ok = false
		}
		if len(cr.Targets) == 0 {
			bad(p+".targets", "required: at least one target name", nil)
			ok = false
		}
		pat, err := pattern.Compile(cr.Pattern)
		if err != nil {
			reason := err.Error()
			var ce *pattern.CompileError
			if errors.As(err, &ce) {
				reason = ce.Detail()
			}
			bad(p+".pattern", reason, err)
			ok = false
		}
		tr, err := NewTransformer(cr.InputPath, cr.InputPaths, cr.InputTemplate)
		if err != nil {
			for _, e := range unjoin(err) {
				var te *TransformError
				if errors.As(e, &te) {
					bad(p+"."+te.Field, te.Reason, e)
				} else {
					bad(p, e.Error(), e)
				}
			}
			ok = false
		}
		if !ok {
			continue
		}
		r := &Rule{
			Name:      cr.Name,
			Index:     len(s.rules),
			Targets:   append([]string(nil), cr.Targets...),
			Enabled:   cr.Enabled,
			Pattern:   pat,
			Transform: tr,
		}
		if old := prev.Rule(cr.Name); old != nil {
			r.matched = old.matched
		} else {
			r.matched = new(atomic.Uint64)
		}
		s.rules = append(s.rules, r)
		s.byName[r.Name] = r
		if r.Enabled {
			s.matcher.Add(r.Name, pat)
			s.enabled++
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// The Matcher builds its automaton on first use; do it now, so the first
	// event after a reload does not pay for it.
	var m Matches
	_ = s.MatchJSONUncounted([]byte(`{}`), &m)
	return s, nil
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Rules returns the rules in config order (enabled and disabled). The slice
// must not be modified.
func (s *Set) Rules() []*Rule {
	if s == nil {
		return nil
	}
	return s.rules
}

// Rule returns the rule called name, or nil.
func (s *Set) Rule(name string) *Rule {
	if s == nil {
		return nil
	}
	return s.byName[name]
}

// Len is the number of rules; Enabled the number that take part in matching.
func (s *Set) Len() int { return len(s.rules) }

// Enabled is the number of enabled rules.
func (s *Set) Enabled() int { return s.enabled }

// Match sets m.Rules to the enabled rules matching the in-memory event e, in
// name order, and counts a match for each.
func (s *Set) Match(e pattern.Event, m *Matches) {
	m.names = s.matcher.MatchState(&m.st, e, m.names[:0])
	s.resolve(m, true)
}

// MatchJSON is Match for a JSON event. It returns an error, and no rules,
// when the event is not valid JSON.
func (s *Set) MatchJSON(event []byte, m *Matches) error {
	var err error
	m.names, err = s.matcher.MatchJSON(event, m.names[:0])
	if err != nil {
		m.Rules = m.Rules[:0]
		return fmt.Errorf("match event: %w", err)
	}
	s.resolve(m, true)
	return nil
}

// MatchJSONUncounted is MatchJSON without counting matches (tools, tests).
func (s *Set) MatchJSONUncounted(event []byte, m *Matches) error {
	var err error
	m.names, err = s.matcher.MatchJSON(event, m.names[:0])
	if err != nil {
		m.Rules = m.Rules[:0]
		return fmt.Errorf("match event: %w", err)
	}
	s.resolve(m, false)
	return nil
}

func (s *Set) resolve(m *Matches, count bool) {
	m.Rules = m.Rules[:0]
	for _, n := range m.names {
		r := s.byName[n]
		if r == nil {
			continue
		}
		if count {
			r.matched.Add(1)
		}
		m.Rules = append(m.Rules, r)
	}
}

// Counts returns the matched counter of every rule of the set, by name.
func (s *Set) Counts() map[string]uint64 {
	out := make(map[string]uint64, len(s.rules))
	for _, r := range s.rules {
		out[r.Name] = r.matched.Load()
	}
	return out
}

// Table holds the current Set and swaps it atomically on reload.
type Table struct {
	mu  sync.Mutex // serialises reloads
	cur atomic.Pointer[Set]
}

// NewTable compiles rules into the table's first Set.
func NewTable(rules []Spec) (*Table, error) {
	s, err := New(rules, nil)
	if err != nil {
		return nil, err
	}
	t := &Table{}
	t.cur.Store(s)
	return t, nil
}

// Current returns the Set in force. Load it once per event or batch and use
// that value throughout: it never changes.
func (t *Table) Current() *Set { return t.cur.Load() }

// Reload compiles rules and, when every rule is valid, makes them current in
// one atomic step; otherwise the current Set stays and the errors are
// returned. Rules keeping their name keep their matched counters.
func (t *Table) Reload(rules []Spec) (*Set, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := New(rules, t.cur.Load())
	if err != nil {
		return nil, fmt.Errorf("reload rules: %w", err)
	}
	t.cur.Store(s)
	return s, nil
}
