package live

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wirebridge/wirebridge/pattern"
)

// DefaultQueueSize is HubConfig.QueueSize when it is 0.
const DefaultQueueSize = 1024

// HubConfig configures a Hub.
type HubConfig struct {
	// Conn carries the channels between processes: every Hub on the same
	// NATS sees every channel. Nil keeps the channels in this process.
	Conn *nats.Conn
	// Replay is how many recent events per channel a new subscription
	// receives first (0: none, as live.replay: 0 in the configuration, whose
	// default is 100).
	Replay int
	// QueueSize bounds each subscriber's queue (0: DefaultQueueSize).
	QueueSize int
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// Hub fans the events of live channels out to subscribers.
type Hub struct {
	cfg  HubConfig
	nc   *nats.Conn
	nsub *nats.Subscription

	mu       sync.Mutex
	channels map[string]*channel
	subs     map[*Subscriber]struct{}
	closed   bool
	nextID   atomic.Uint64

	published atomic.Uint64 // items published by this process
	received  atomic.Uint64 // items dispatched by this process (from NATS or local)
	invalid   atomic.Uint64 // lines that were not items
}

type channel struct {
	name     string
	replay   [][]byte // ring of the last items (encoded lines)
	head     int      // next slot
	n        int      // items in replay
	events   uint64
	lastSeen time.Time
}

// ErrHubClosed is returned by Publish and Subscribe after Close.
var ErrHubClosed = errors.New("live hub closed")

// NewHub starts a hub; with a NATS connection it subscribes to every live
// subject at once.
func NewHub(cfg HubConfig) (*Hub, error) {
	if cfg.Replay < 0 {
		return nil, fmt.Errorf("live: replay %d must not be negative (0: none)", cfg.Replay)
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Hub{cfg: cfg, nc: cfg.Conn, channels: map[string]*channel{}, subs: map[*Subscriber]struct{}{}}
	if h.nc != nil {
		sub, err := h.nc.Subscribe(SubjectPrefix+">", func(m *nats.Msg) {
			if ch := ChannelOf(m.Subject); ch != "" {
				h.dispatch(ch, m.Data)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("live: subscribe %s>: %w", SubjectPrefix, err)
		}
		// The fan-out is cheap (queue pushes); give NATS room for bursts.
		if err := sub.SetPendingLimits(1<<20, 512<<20); err != nil {
			sub.Unsubscribe()
			return nil, fmt.Errorf("live: pending limits: %w", err)
		}
		if err := h.nc.Flush(); err != nil {
			sub.Unsubscribe()
			return nil, fmt.Errorf("live: subscribe: %w", err)
		}
		h.nsub = sub
	}
	return h, nil
}

// Close stops the hub and ends every subscriber.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	subs := make([]*Subscriber, 0, len(h.subs))
	for s := range h.subs {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	for _, s := range subs {
		s.Close()
	}
	if h.nsub != nil {
		if err := h.nsub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			return fmt.Errorf("live: unsubscribe: %w", err)
		}
	}
	return nil
}

// Publish sends items to channel ch: over NATS when the hub has a
// connection (every hub on it, this one included, delivers them), otherwise
// straight to this hub's subscribers. It never waits for a subscriber.
func (h *Hub) Publish(ch string, items []Item) error {
	if err := CheckChannel(ch); err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	var body []byte
	for i := range items {
		if len(items[i].Event) == 0 {
			return fmt.Errorf("live: publish %s: item %d has no event", ch, i)
		}
		if i > 0 {
			body = append(body, '\n')
		}
		body = AppendItem(body, &items[i])
	}
	return h.PublishEncoded(ch, body, len(items))
}

// PublishEncoded sends a body of encoded item lines (n of them) to ch.
func (h *Hub) PublishEncoded(ch string, body []byte, n int) error {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return ErrHubClosed
	}
	h.published.Add(uint64(n))
	if h.nc != nil {
		if err := h.nc.Publish(Subject(ch), body); err != nil {
			return fmt.Errorf("live: publish %s: %w", ch, err)
		}
		return nil
	}
	h.dispatch(ch, body)
	return nil
}

// dispatch records a message's items in the channel's replay buffer and
// queues them for every subscription covering the channel.
func (h *Hub) dispatch(ch string, body []byte) {
	var lines [][]byte
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if EventOf(line) == nil {
			h.invalid.Add(1)
			continue
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return
	}
	h.received.Add(uint64(len(lines)))
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	c := h.channels[ch]
	if c == nil {
		c = &channel{name: ch, replay: make([][]byte, h.cfg.Replay)}
		h.channels[ch] = c
	}
	c.events += uint64(len(lines))
	c.lastSeen = h.cfg.Now()
	if len(c.replay) > 0 {
		for _, l := range lines {
			c.replay[c.head] = l
			c.head = (c.head + 1) % len(c.replay)
			if c.n < len(c.replay) {
				c.n++
			}
		}
	}
	for s := range h.subs {
		s.offer(ch, lines)
	}
}

// ChannelInfo describes a channel this hub has seen.
type ChannelInfo struct {
	Channel     string    `json:"channel"`
	Events      uint64    `json:"events"`
	LastEvent   time.Time `json:"lastEvent"`
	Subscribers int       `json:"subscribers"` // subscriptions in this process covering it
}

// Channels lists the channels seen since the hub started, sorted by name.
func (h *Hub) Channels() []ChannelInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]ChannelInfo, 0, len(h.channels))
	for _, c := range h.channels {
		n := 0
		for s := range h.subs {
			if s.covers(c.name) {
				n++
			}
		}
		out = append(out, ChannelInfo{Channel: c.name, Events: c.events, LastEvent: c.lastSeen, Subscribers: n})
	}
	slices.SortFunc(out, func(a, b ChannelInfo) int { return compareStrings(a.Channel, b.Channel) })
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Stats are a hub's counters.
type Stats struct {
	Published   uint64            `json:"published"`
	Received    uint64            `json:"received"`
	Invalid     uint64            `json:"invalid"`
	Subscribers []SubscriberStats `json:"subscribers"`
}

// Stats returns the hub's counters and every subscriber's.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	subs := make([]*Subscriber, 0, len(h.subs))
	for s := range h.subs {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	st := Stats{Published: h.published.Load(), Received: h.received.Load(), Invalid: h.invalid.Load()}
	for _, s := range subs {
		st.Subscribers = append(st.Subscribers, s.Stats())
	}
	slices.SortFunc(st.Subscribers, func(a, b SubscriberStats) int { return int(a.ID) - int(b.ID) })
	return st
}

// NewSubscriber registers a subscriber (one WebSocket connection, say) with
// an empty set of subscriptions; Close it when done.
func (h *Hub) NewSubscriber(name string) (*Subscriber, error) {
	return h.NewSubscriberQueue(name, h.cfg.QueueSize)
}

// NewSubscriberQueue is NewSubscriber with its own queue size.
func (h *Hub) NewSubscriberQueue(name string, size int) (*Subscriber, error) {
	if size <= 0 {
		size = h.cfg.QueueSize
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHubClosed
	}
	s := &Subscriber{
		hub:   h,
		id:    h.nextID.Add(1),
		name:  name,
		queue: make([]Entry, size),
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	h.subs[s] = struct{}{}
	return s, nil
}

// subscribe adds sub to s, queueing the replay of every channel it covers
// before any later event (the hub lock orders the two).
func (h *Hub) subscribe(s *Subscriber, sub *Subscription) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrHubClosed
	}
	if _, ok := h.subs[s]; !ok {
		return ErrSubscriberClosed
	}
	if !s.add(sub) {
		return fmt.Errorf("live: subscription id %q is in use", sub.ID)
	}
	if len(h.channels) == 0 {
		return nil
	}
	names := make([]string, 0, len(h.channels))
	for n := range h.channels {
		if Covers(sub.Channel, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		c := h.channels[n]
		if c.n == 0 {
			continue
		}
		lines := make([][]byte, 0, c.n)
		start := (c.head - c.n + len(c.replay)) % len(c.replay)
		for i := 0; i < c.n; i++ {
			lines = append(lines, c.replay[(start+i)%len(c.replay)])
		}
		s.offerTo(sub, n, lines)
	}
	return nil
}

func (h *Hub) remove(s *Subscriber) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

// Subscription is one channel (or wildcard) a subscriber receives, with an
// optional filter; Bound is a filter imposed on it (a share token's), which
// the subscriber cannot remove.
type Subscription struct {
	ID      string
	Channel string
	Filter  *pattern.Pattern
	Bound   *pattern.Pattern

	matched  atomic.Uint64
	filtered atomic.Uint64
}

// accepts reports whether an event passes the subscription's filters.
func (s *Subscription) accepts(ev []byte) bool {
	for _, p := range []*pattern.Pattern{s.Bound, s.Filter} {
		if p == nil {
			continue
		}
		if ok, err := p.MatchJSON(ev); err != nil || !ok {
			return false
		}
	}
	return true
}
