// Package live is wirebridge's live channels: the end of the data path where
// matched events are watched as they happen, in the browser or by any
// WebSocket client.
//
//	source ──► packet ──► event ──► rule match ──► deliver ──► target live ──► Hub ──► NATS wirebridge.live.<channel>
//	                                                                                         │
//	                                     browser /ws ◄── Subscriber queue ◄── Hub (every wirebridge on the NATS)
//
// Channels are paths (/packets/capture); subscriptions may end in a wildcard
// (/packets/* matches every channel below /packets). Each Hub subscribes to
// every live subject, keeps a replay buffer of the last events of each
// channel for late joiners, and fans events out to per-subscriber bounded
// queues: a slow subscriber loses its oldest events (counted and reported to
// it) and never slows the publisher.
//
// Access is by API key (scopes publish, subscribe, admin; compared in
// constant time) or by share token (HMAC-signed, expiring, read-only, bound to
// a channel and an optional filter pattern). Server exposes the HTTP API
// (POST /api/events, GET /api/channels, POST /api/share, GET /api/subscribers),
// the /ws WebSocket protocol and the embedded UI.
package live

import (
	"strings"

	"github.com/wirebridge/wirebridge/internal/names"
)

// SubjectPrefix prefixes the NATS subject of every channel.
const SubjectPrefix = "wirebridge.live."

// MaxSegments bounds the depth of a channel path.
const MaxSegments = names.MaxSegments

// ErrBadChannel is wrapped by the errors of CheckChannel and CheckSubscription.
var ErrBadChannel = names.ErrBadChannel

// CheckChannel reports whether ch is a channel one can publish to: a path of
// 1 to 8 segments of letters, digits, '-' and '_', such as /packets/all
// (names.Channel, the rule internal/config checks too).
func CheckChannel(ch string) error { return names.Channel(ch) }

// CheckSubscription is CheckChannel, also accepting a last segment "*" that
// matches every channel below the rest (/packets/* or /*).
func CheckSubscription(ch string) error { return names.Subscription(ch) }

// Subject is the NATS subject of a channel: /packets/all -> wirebridge.live.packets.all.
func Subject(ch string) string {
	return SubjectPrefix + strings.ReplaceAll(strings.TrimPrefix(ch, "/"), "/", ".")
}

// ChannelOf is the channel of a live subject, or "" when it is not one.
func ChannelOf(subject string) string {
	rest, ok := strings.CutPrefix(subject, SubjectPrefix)
	if !ok || rest == "" {
		return ""
	}
	ch := "/" + strings.ReplaceAll(rest, ".", "/")
	if CheckChannel(ch) != nil {
		return ""
	}
	return ch
}

// Covers reports whether the subscription sub (a channel or a wildcard path)
// receives the events of channel ch. A wildcard also covers the wildcards
// below it: /packets/* covers /packets/tcp/* (used to check that a share
// token's scope contains a subscription).
func Covers(sub, ch string) bool {
	if sub == ch {
		return true
	}
	prefix, ok := strings.CutSuffix(sub, "*")
	if !ok {
		return false
	}
	return strings.HasPrefix(ch, prefix) && len(ch) > len(prefix)
}
