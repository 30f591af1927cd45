// Package names holds the syntax rules that the configuration and the
// components of the wirebridge data path share, each written once:
//
//	config (file:line:col: path: reason) ──┐
//	                                         ├──► names ◄── deliver (target names), live (channels),
//	component constructors (reason) ────────┘              transform (JSON paths), target/nats
//	                                                        (subjects), bus (listen address)
//
// internal/config reports a violation with the file position and YAML path;
// a component built in code without config reports the same reason. The
// package imports only the standard library so that config can use it
// without importing the components.
package names

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// MaxName is the longest name of a source, target, rule or API key.
const MaxName = 64

// Name checks the name of a source, target, rule or API key: 1 to MaxName
// letters, digits, '-' and '_', starting with a letter or digit. A target's
// name becomes a NATS subject token and a JetStream consumer name, which is
// why the set is this small.
func Name(s string) error {
	if s == "" {
		return errors.New("required: a name")
	}
	ok := len(s) <= MaxName && isAlnum(s[0])
	for i := 1; ok && i < len(s); i++ {
		ok = isNameByte(s[i])
	}
	if !ok {
		return fmt.Errorf("invalid name %q: use letters, digits, '-' and '_' (at most %d, starting with a letter or digit)", s, MaxName)
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isNameByte(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

// Live channel paths.
const (
	MaxSegments   = 8  // segments of a channel path
	MaxSegmentLen = 64 // bytes of one segment
)

// ErrBadChannel is wrapped by the errors of Channel and Subscription.
var ErrBadChannel = errors.New("invalid channel")

// Channel checks a live channel one can publish to: a path of 1 to
// MaxSegments segments of letters, digits, '-' and '_' (1 to MaxSegmentLen
// each), such as /packets/all.
func Channel(ch string) error { return checkChannel(ch, false) }

// Subscription is Channel, also accepting a last segment "*" that matches
// every channel below the rest (/packets/* or /*).
func Subscription(ch string) error { return checkChannel(ch, true) }

func checkChannel(ch string, wildcard bool) error {
	if !strings.HasPrefix(ch, "/") {
		return fmt.Errorf("%w %q: must start with / (a path such as /packets/all)", ErrBadChannel, ch)
	}
	segs := strings.Split(ch[1:], "/")
	if len(segs) > MaxSegments {
		return fmt.Errorf("%w %q: more than %d segments", ErrBadChannel, ch, MaxSegments)
	}
	for i, s := range segs {
		if wildcard && s == "*" && i == len(segs)-1 {
			continue
		}
		ok := s != "" && len(s) <= MaxSegmentLen
		for j := 0; ok && j < len(s); j++ {
			ok = isNameByte(s[j])
		}
		switch {
		case ok:
		case wildcard:
			return fmt.Errorf("%w %q: segment %q (1 to %d letters, digits, '-' and '_'; '*' only last)", ErrBadChannel, ch, s, MaxSegmentLen)
		default:
			return fmt.Errorf("%w %q: segment %q (1 to %d letters, digits, '-' and '_')", ErrBadChannel, ch, s, MaxSegmentLen)
		}
	}
	return nil
}

// Subject checks a NATS subject that events are published to: dot-separated
// tokens, none empty, none holding whitespace or the wildcards '*' and '>'.
func Subject(s string) error {
	if s == "" {
		return errors.New("required: the subject to publish to")
	}
	for _, tok := range strings.Split(s, ".") {
		switch {
		case tok == "":
			return fmt.Errorf("invalid subject %q: empty token", s)
		case tok == "*" || tok == ">":
			return fmt.Errorf("invalid subject %q: wildcards cannot be published to", s)
		case strings.ContainsAny(tok, " \t\r\n*>"):
			return fmt.Errorf("invalid subject %q: whitespace or wildcard characters", s)
		}
	}
	return nil
}

// The scopes of a live API key.
const (
	ScopePublish   = "publish"
	ScopeSubscribe = "subscribe"
	ScopeAdmin     = "admin"
)

// Scope checks the name of a live API key's scope.
func Scope(s string) error {
	switch s {
	case ScopePublish, ScopeSubscribe, ScopeAdmin:
		return nil
	}
	return fmt.Errorf("invalid value %q (want one of %s, %s, %s)", s, ScopePublish, ScopeSubscribe, ScopeAdmin)
}

// Listen checks a local listen address: host:port with an IP address,
// "localhost" or an empty host (all interfaces), and a numeric port (0 picks
// a free port).
func Listen(addr string) error {
	if addr == "" {
		return errors.New("required: an address such as 127.0.0.1:8080")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q: want host:port, such as 127.0.0.1:5514 or [::1]:5514", addr)
	}
	if host != "" && host != "localhost" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("invalid address %q: host must be an IP address, localhost or empty", addr)
		}
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("invalid address %q: port must be a number from 0 to 65535", addr)
	}
	return nil
}

// PathStep is one step of a JSON path: a member Key, or, when Key is empty,
// the array element Index.
type PathStep struct {
	Key   string
	Index int
}

// ParsePath parses an EventBridge input-transformer JSON path: "$" followed
// by any number of ".key" and "[index]" steps, such as "$.detail.Source.IP"
// or "$.resources[0]". Keys are letters, digits, '_', '@' and '-'. An index
// too large for an int is kept as math.MaxInt: it selects nothing.
func ParsePath(s string) ([]PathStep, error) {
	if s == "" || s[0] != '$' {
		return nil, fmt.Errorf("invalid path %q: must start with $ (a JSON path such as $.detail.Source.IP)", s)
	}
	var steps []PathStep
	for i := 1; i < len(s); {
		switch s[i] {
		case '.':
			j := i + 1
			for j < len(s) && isKeyByte(s[j]) {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("invalid path %q: empty or invalid key at offset %d (keys are letters, digits, '_', '@' and '-')", s, i+1)
			}
			steps = append(steps, PathStep{Key: s[i+1 : j]})
			i = j
		case '[':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i+1 || j >= len(s) || s[j] != ']' {
				return nil, fmt.Errorf("invalid path %q: want [index] at offset %d", s, i)
			}
			n, err := strconv.Atoi(s[i+1 : j])
			if err != nil { // only digits: too large
				n = math.MaxInt
			}
			steps = append(steps, PathStep{Index: n})
			i = j + 1
		default:
			return nil, fmt.Errorf("invalid path %q: unexpected %q at offset %d (want .key or [index])", s, s[i], i)
		}
	}
	return steps, nil
}

func isKeyByte(c byte) bool { return isNameByte(c) || c == '@' }
