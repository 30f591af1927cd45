package appliance

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirebridge/wirebridge/pattern"
)

// DefaultRuleName is the rule name the default action is counted under.
const DefaultRuleName = "default"

// Outcome is what an inline rule did to a packet.
type Outcome uint8

// Outcomes, the action label of the per-rule counters.
const (
	OutcomePass   Outcome = iota // returned unchanged
	OutcomeDrop                  // not returned
	OutcomeModify                // returned with its payload rewritten
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"pass", "drop", "modify"}

// String returns the action label of the per-rule counters.
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

type actionKind uint8

const (
	actPass actionKind = iota
	actDrop
	actModify
	actEveryNth
	actRate
)

// rule is one compiled inline rule. Its counters are shared by every
// reader (atomics); its rate state has its own locks.
type rule struct {
	name     string
	pat      *pattern.Pattern // nil: every packet
	contains []byte
	re       *regexp.Regexp
	action   actionKind

	find, repl []byte         // modify: literal
	modRe      *regexp.Regexp // modify: regex

	nth  uint64
	seen atomic.Uint64 // every_nth: matching packets so far

	bucket *bucket    // rate, per rule
	flows  *flowTable // rate, per flow
	tee    []string

	outcomes [numOutcomes]atomic.Uint64
	tees     atomic.Uint64
}

// compileRules builds the rules of a validated Spec.
func compileRules(specs []RuleSpec, defaultAction string) ([]*rule, *rule, *pattern.Matcher, error) {
	rules := make([]*rule, len(specs))
	var m *pattern.Matcher
	for i := range specs {
		s := &specs[i]
		r := &rule{name: s.Name, tee: append([]string(nil), s.Tee...)}
		var err error
		if s.Pattern != "" {
			if r.pat, err = pattern.Compile([]byte(s.Pattern)); err != nil {
				return nil, nil, nil, fmt.Errorf("rules[%d].pattern: %w", i, err)
			}
			if m == nil {
				m = pattern.NewMatcher()
			}
			m.Add(strconv.Itoa(i), r.pat)
		}
		if s.Contains != "" {
			if r.contains, err = Unescape(s.Contains); err != nil {
				return nil, nil, nil, fmt.Errorf("rules[%d].contains: %w", i, err)
			}
		}
		if s.Regex != "" {
			if r.re, err = regexp.Compile(s.Regex); err != nil {
				return nil, nil, nil, fmt.Errorf("rules[%d].regex: %w", i, err)
			}
		}
		switch s.Action {
		case ActionPass:
			r.action = actPass
		case ActionDrop:
			r.action = actDrop
		case ActionModify:
			r.action = actModify
			if s.Modify == nil {
				return nil, nil, nil, fmt.Errorf("rules[%d].modify: required", i)
			}
			if r.repl, err = Unescape(s.Modify.Replace); err != nil {
				return nil, nil, nil, fmt.Errorf("rules[%d].modify.replace: %w", i, err)
			}
			if s.Modify.Regex != "" {
				if r.modRe, err = regexp.Compile(s.Modify.Regex); err != nil {
					return nil, nil, nil, fmt.Errorf("rules[%d].modify.regex: %w", i, err)
				}
			} else if r.find, err = Unescape(s.Modify.Find); err != nil {
				return nil, nil, nil, fmt.Errorf("rules[%d].modify.find: %w", i, err)
			} else if len(r.find) == 0 {
				return nil, nil, nil, fmt.Errorf("rules[%d].modify.find: empty", i)
			}
		case ActionEveryNth:
			r.action = actEveryNth
			r.nth = uint64(max(s.EveryNth, 1))
		case ActionRate:
			r.action = actRate
			if s.Rate == nil || !(s.Rate.PPS > 0) {
				return nil, nil, nil, fmt.Errorf("rules[%d].rate: pps required", i)
			}
			burst := float64(s.Rate.Burst)
			if burst == 0 {
				burst = math.Max(math.Ceil(s.Rate.PPS), 1) // the default: one second's worth
			}
			if s.Rate.PerFlow {
				flows := s.Rate.Flows
				if flows == 0 {
					flows = DefaultFlows
				}
				r.flows = newFlowTable(flows, s.Rate.PPS, burst)
			} else {
				r.bucket = &bucket{rate: s.Rate.PPS, burst: burst, tokens: burst}
			}
		default:
			return nil, nil, nil, fmt.Errorf("rules[%d].action: unknown action %q", i, s.Action)
		}
		rules[i] = r
	}
	def := &rule{name: DefaultRuleName, action: actPass}
	if defaultAction == ActionDrop {
		def.action = actDrop
	}
	return rules, def, m, nil
}

// matches reports whether r's payload conditions hold (its pattern was
// matched already).
func (r *rule) payloadMatches(payload []byte) bool {
	if r.contains != nil && !bytes.Contains(payload, r.contains) {
		return false
	}
	if r.re != nil && !r.re.Match(payload) {
		return false
	}
	return true
}

// decide returns the verdict of r's action for one matching packet, before
// any payload rewrite: drop or not, and whether to modify.
func (r *rule) decide(now int64, flowKey uint64) (drop, modify bool) {
	switch r.action {
	case actDrop:
		return true, false
	case actModify:
		return false, true
	case actEveryNth:
		return r.seen.Add(1)%r.nth == 0, false
	case actRate:
		if r.flows != nil {
			return !r.flows.take(flowKey, now), false
		}
		return !r.bucket.take(now), false
	}
	return false, false
}

// bucket is a token bucket: rate tokens per second up to burst.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   int64 // nanoseconds, monotonic
}

func (b *bucket) take(now int64) bool {
	b.mu.Lock()
	ok := takeToken(&b.tokens, &b.last, now, b.rate, b.burst)
	b.mu.Unlock()
	return ok
}

// takeToken refills tokens for the time since last and takes one if there is one.
func takeToken(tokens *float64, last *int64, now int64, rate, burst float64) bool {
	if *last != 0 && now > *last {
		*tokens = math.Min(burst, *tokens+float64(now-*last)*rate/1e9)
	}
	if now > *last {
		*last = now
	}
	if *tokens >= 1 {
		*tokens--
		return true
	}
	return false
}

// flowTable is a bounded, direct-mapped table of per-flow token buckets:
// a flow hashes to one slot; a different flow found there is evicted
// (counted) and the slot starts a full bucket for the new one.
type flowTable struct {
	rate, burst float64
	mask        uint64
	slots       []flowSlot
	locks       [64]sync.Mutex
	evictions   atomic.Uint64
}

type flowSlot struct {
	key    uint64 // 0: empty
	tokens float64
	last   int64
}

func newFlowTable(size int, rate, burst float64) *flowTable {
	n := 1
	for n < size {
		n <<= 1
	}
	return &flowTable{rate: rate, burst: burst, mask: uint64(n - 1), slots: make([]flowSlot, n)}
}

func (t *flowTable) take(key uint64, now int64) bool {
	if key == 0 {
		key = 1
	}
	i := key & t.mask
	mu := &t.locks[i%uint64(len(t.locks))]
	mu.Lock()
	s := &t.slots[i]
	if s.key != key {
		if s.key != 0 {
			t.evictions.Add(1)
		}
		*s = flowSlot{key: key, tokens: t.burst}
	}
	ok := takeToken(&s.tokens, &s.last, now, t.rate, t.burst)
	mu.Unlock()
	return ok
}

// monoNow returns a monotonic clock reading in nanoseconds.
// Readings before start are 1: the clock only moves forward.
func monoNow(start time.Time, now time.Time) int64 { return max(int64(now.Sub(start)), 0) + 1 }
