package live

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrSubscriberClosed is returned by a closed subscriber.
var ErrSubscriberClosed = errors.New("live subscriber closed")

// Entry is one queued event for a subscription.
type Entry struct {
	Sub     *Subscription
	Channel string
	Line    []byte // the encoded item (see AppendItem)
}

// Subscriber is one consumer of a hub (a WebSocket connection): a set of
// subscriptions and one bounded queue. When the queue is full the oldest
// entries are overwritten and counted as dropped; the hub never waits.
type Subscriber struct {
	hub  *Hub
	id   uint64
	name string

	mu      sync.Mutex
	subs    []*Subscription
	queue   []Entry
	head, n int // ring: entries queue[head .. head+n)
	dropped uint64
	closed  bool

	wake chan struct{}
	done chan struct{}

	sent     atomic.Uint64
	filtered atomic.Uint64
	created  time.Time
}

// ID is the subscriber's number in its hub.
func (s *Subscriber) ID() uint64 { return s.id }

// Subscribe adds a subscription; the replay of the channels it covers is
// queued first.
func (s *Subscriber) Subscribe(sub *Subscription) error {
	if err := CheckSubscription(sub.Channel); err != nil {
		return err
	}
	return s.hub.subscribe(s, sub)
}

func (s *Subscriber) add(sub *Subscription) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.subs {
		if o.ID == sub.ID {
			return false
		}
	}
	s.subs = append(s.subs, sub)
	return true
}

// Unsubscribe removes the subscription with this id; entries already queued
// for it are discarded. It reports whether there was one.
func (s *Subscriber) Unsubscribe(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, o := range s.subs {
		if o.ID == id {
			s.subs = append(s.subs[:i], s.subs[i+1:]...)
			return true
		}
	}
	return false
}

func (s *Subscriber) covers(ch string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.subs {
		if Covers(o.Channel, ch) {
			return true
		}
	}
	return false
}

// offer queues lines of channel ch for every subscription covering it.
func (s *Subscriber) offer(ch string, lines [][]byte) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	pushed := false
	for _, sub := range s.subs {
		if Covers(sub.Channel, ch) {
			s.push(sub, ch, lines)
			pushed = true
		}
	}
	s.mu.Unlock()
	if pushed {
		s.signal()
	}
}

func (s *Subscriber) offerTo(sub *Subscription, ch string, lines [][]byte) {
	s.mu.Lock()
	s.push(sub, ch, lines)
	s.mu.Unlock()
	s.signal()
}

// push appends to the ring, overwriting the oldest entries when full.
// Called with s.mu held.
func (s *Subscriber) push(sub *Subscription, ch string, lines [][]byte) {
	size := len(s.queue)
	for _, l := range lines {
		e := Entry{Sub: sub, Channel: ch, Line: l}
		if s.n == size {
			s.queue[s.head] = e
			s.head = (s.head + 1) % size
			s.dropped++
			continue
		}
		s.queue[(s.head+s.n)%size] = e
		s.n++
	}
}

func (s *Subscriber) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Next waits until events are queued (or ctx ends, or the subscriber is
// closed) and appends up to max of them to dst, dropping those that the
// filters of their subscription reject, or whose subscription was removed.
// It also returns how many events this subscriber has lost so far because
// its queue was full.
func (s *Subscriber) Next(ctx context.Context, dst []Entry, max int) ([]Entry, uint64, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return dst, s.Dropped(), ErrSubscriberClosed
		}
		if s.n > 0 {
			batch := make([]Entry, 0, min(max, s.n))
			for s.n > 0 && len(batch) < max {
				batch = append(batch, s.queue[s.head])
				s.queue[s.head] = Entry{}
				s.head = (s.head + 1) % len(s.queue)
				s.n--
			}
			active := make(map[*Subscription]bool, len(s.subs))
			for _, o := range s.subs {
				active[o] = true
			}
			dropped := s.dropped
			s.mu.Unlock()
			n0 := len(dst)
			for _, e := range batch {
				if !active[e.Sub] {
					continue
				}
				if e.Sub.Bound != nil || e.Sub.Filter != nil {
					if !e.Sub.accepts(EventOf(e.Line)) {
						e.Sub.filtered.Add(1)
						s.filtered.Add(1)
						continue
					}
				}
				e.Sub.matched.Add(1)
				dst = append(dst, e)
			}
			s.sent.Add(uint64(len(dst) - n0))
			if len(dst) > n0 {
				return dst, dropped, nil
			}
			continue
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return dst, s.Dropped(), ctx.Err()
		case <-s.done:
		case <-s.wake:
		}
	}
}

// Dropped is how many events this subscriber lost to a full queue.
func (s *Subscriber) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Close removes the subscriber from its hub.
func (s *Subscriber) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.subs = nil
	s.queue = nil
	s.n = 0
	s.mu.Unlock()
	close(s.done)
	s.hub.remove(s)
}

// SubscriberStats are one subscriber's counters.
type SubscriberStats struct {
	ID            uint64   `json:"id"`
	Name          string   `json:"name"`
	Subscriptions []string `json:"subscriptions"`
	Queued        int      `json:"queued"`
	Sent          uint64   `json:"sent"`
	Filtered      uint64   `json:"filtered"`
	Dropped       uint64   `json:"dropped"`
}

// Stats returns the subscriber's counters.
func (s *Subscriber) Stats() SubscriberStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SubscriberStats{ID: s.id, Name: s.name, Queued: s.n, Sent: s.sent.Load(), Filtered: s.filtered.Load(), Dropped: s.dropped}
	for _, o := range s.subs {
		st.Subscriptions = append(st.Subscriptions, o.Channel)
	}
	return st
}
