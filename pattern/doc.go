// Package pattern compiles Amazon EventBridge event patterns and matches
// events against many of them at once, with the semantics of AWS's
// event-ruler: number and IP normalisation, exactly, prefix, suffix,
// equals-ignore-case, wildcard, every anything-but form, numeric, cidr,
// exists, $or, and array-consistent matching.
//
// In the wirebridge data path it is the rule-match stage:
//
//	source ──► packet ──► event ──► rule match ──► deliver ──► target
//	                                  pattern (via internal/rule)
//
// Packets are matched on their in-memory view through the Event interface,
// so no JSON is built for packets that match nothing; JSON events (files,
// the test-pattern command) go through Matcher.MatchJSON, whose streaming
// reader materialises only the fields patterns use. Both give the same
// answer for the same event.
//
// The package imports only the standard library. The language, its limits
// and the API are documented in docs/patterns.md.
package pattern
