package source

import (
	"net/netip"
	"sync"
	"time"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// DefaultMaxSenders bounds the per-sender token buckets one source keeps.
const DefaultMaxSenders = 1 << 16

// Common is the configuration every source shares.
type Common struct {
	Name        string
	EventSource string
	// Allow lists the sender networks accepted; empty accepts every sender.
	Allow []netip.Prefix
	// PerSource and Global are token buckets; a zero PPS means unlimited.
	PerSource spec.TokenBucket
	Global    spec.TokenBucket
	// MaxSenders bounds the per-sender bucket map (DefaultMaxSenders if 0).
	MaxSenders int
	// MaxDatagram is the largest packet read whole (spec.DefaultMaxDatagram if 0).
	MaxDatagram int
}

// CommonFrom takes the shared settings of a configured source.
func CommonFrom(s component.SourceCommon) Common {
	return Common{
		Name:        s.Name,
		EventSource: s.EventSource,
		Allow:       s.Allow,
		PerSource:   s.RateLimit.PerSource,
		Global:      s.RateLimit.Global,
		MaxDatagram: int(s.MaxDatagram),
	}
}

func (c *Common) maxDatagram() int {
	if c.MaxDatagram <= 0 {
		return spec.DefaultMaxDatagram
	}
	return c.MaxDatagram
}

// bucket is a token bucket; times are monotonic nanoseconds.
type bucket struct {
	tokens float64
	last   int64
}

func (b *bucket) take(now int64, pps, burst float64) bool {
	if now > b.last {
		b.tokens += float64(now-b.last) * pps / 1e9
		if b.tokens > burst {
			b.tokens = burst
		}
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// admitter applies the allow list and the rate limits. One admitter is shared
// by all readers of a source; it locks once per batch, and only when a rate
// limit is configured.
type admitter struct {
	allow []netip.Prefix
	stats *Stats

	mu              sync.Mutex
	globalOn, perOn bool
	gPPS, gBurst    float64
	pPPS, pBurst    float64
	global          bucket
	senders         map[netip.Addr]*bucket
	maxSenders      int
	fullRefill      int64 // ns for an empty per-sender bucket to refill
	epoch           time.Time
}

func burstOf(b spec.TokenBucket) float64 {
	if b.Burst > 0 {
		return float64(b.Burst)
	}
	if b.PPS < 1 {
		return 1
	}
	return float64(int64(b.PPS + 0.999999))
}

func newAdmitter(c *Common, st *Stats) *admitter {
	a := &admitter{allow: c.Allow, stats: st, epoch: time.Now()}
	if c.Global.PPS > 0 {
		a.globalOn, a.gPPS, a.gBurst = true, c.Global.PPS, burstOf(c.Global)
		a.global.tokens = a.gBurst
	}
	if c.PerSource.PPS > 0 {
		a.perOn, a.pPPS, a.pBurst = true, c.PerSource.PPS, burstOf(c.PerSource)
		a.maxSenders = c.MaxSenders
		if a.maxSenders <= 0 {
			a.maxSenders = DefaultMaxSenders
		}
		a.senders = make(map[netip.Addr]*bucket)
		a.fullRefill = int64(a.pBurst / a.pPPS * 1e9)
	}
	return a
}

// allowed reports whether addr passes the allow list. An invalid addr (a
// frame without an IP sender) passes only when the list is empty.
func (a *admitter) allowed(addr netip.Addr) bool {
	if len(a.allow) == 0 {
		return true
	}
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap()
	for _, p := range a.allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// filter keeps the frames that pass admission, in order, and counts the
// others. senders[i] is the sender of frames[i] (invalid when unknown).
func (a *admitter) filter(frames []Frame, senders []netip.Addr) []Frame {
	if len(a.allow) == 0 && !a.globalOn && !a.perOn {
		return frames
	}
	var notAllowed, limSrc, limGlobal uint64
	out := frames[:0]
	limited := a.globalOn || a.perOn
	var now int64
	if limited {
		a.mu.Lock()
		now = int64(time.Since(a.epoch))
	}
	for i := range frames {
		s := senders[i]
		if !a.allowed(s) {
			notAllowed++
			continue
		}
		if a.perOn && s.IsValid() && !a.takeSender(s.Unmap(), now) {
			limSrc++
			continue
		}
		if a.globalOn && !a.global.take(now, a.gPPS, a.gBurst) {
			limGlobal++
			continue
		}
		out = append(out, frames[i])
	}
	if limited {
		a.mu.Unlock()
	}
	a.stats.Drop(DropNotAllowed, notAllowed)
	a.stats.Drop(DropRateLimitedSource, limSrc)
	a.stats.Drop(DropRateLimitedGlobal, limGlobal)
	return out
}

// takeSender takes a token from addr's bucket, creating it (full) when new.
// Called with a.mu held.
func (a *admitter) takeSender(addr netip.Addr, now int64) bool {
	b := a.senders[addr]
	if b == nil {
		if len(a.senders) >= a.maxSenders {
			a.evict(now)
		}
		b = &bucket{tokens: a.pBurst, last: now}
		a.senders[addr] = b
	}
	return b.take(now, a.pPPS, a.pBurst)
}

// evict makes room in the sender map: first every bucket that has refilled
// completely (forgetting it changes nothing), then, if the map is still
// full, an arbitrary eighth of it (map order is random).
func (a *admitter) evict(now int64) {
	for k, b := range a.senders {
		if now-b.last >= a.fullRefill {
			delete(a.senders, k)
		}
	}
	if len(a.senders) < a.maxSenders {
		return
	}
	n := a.maxSenders/8 + 1
	for k := range a.senders {
		if n == 0 {
			break
		}
		delete(a.senders, k)
		n--
	}
}

// senderCount reports how many per-sender buckets are held (for tests).
func (a *admitter) senderCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.senders)
}
