package gwlb

import (
	"crypto/rand"
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// flowKey is a flow's 5-tuple in canonical order: the (address, port) pair
// that sorts lower is A, so both directions of a flow have the same key.
// Fragments and protocols without ports have zero ports (a 3-tuple flow).
type flowKey struct {
	A, B         [16]byte
	PortA, PortB uint16
	Proto        uint8
	V6           bool
}

// keyOf returns the canonical flow key of the decoded inner packet p, and
// whether p is an IP packet at all.
func keyOf(p *packet.Packet) (flowKey, bool) {
	f := p.Outer()
	if f.IPOff < 0 || !f.Src.IsValid() || !f.Dst.IsValid() {
		return flowKey{}, false
	}
	var sp, dp uint16
	if !f.Fragment && f.Layers&(packet.LayerUDP|packet.LayerTCP) != 0 {
		sp, dp = f.SrcPort, f.DstPort
	}
	return makeKey(f.Src, sp, f.Dst, dp, f.Protocol), true
}

// makeKey orders the two endpoints of a flow.
func makeKey(src netip.Addr, sp uint16, dst netip.Addr, dp uint16, proto uint8) flowKey {
	k := flowKey{Proto: proto, V6: !src.Is4()}
	s, d := src.As16(), dst.As16()
	c := src.Compare(dst)
	if c < 0 || (c == 0 && sp <= dp) {
		k.A, k.B, k.PortA, k.PortB = s, d, sp, dp
	} else {
		k.A, k.B, k.PortA, k.PortB = d, s, dp, sp
	}
	return k
}

// flow is one tracked flow: its cookie, outer source port and appliance are
// fixed for both directions.
type flow struct {
	key       flowKey
	hash      uint64
	cookie    uint32
	port      uint16       // outer UDP source port
	appliance atomic.Int32 // index into the appliances; -1 until chosen
	lastSeen  atomic.Int64 // unix nanoseconds
}

// flowTable maps flow keys and flow cookies to flows.
type flowTable struct {
	seed     maphash.Seed
	max      int
	mu       sync.RWMutex
	byKey    map[flowKey]*flow
	byCookie map[uint32]*flow
}

func newFlowTable(max int) *flowTable {
	return &flowTable{seed: maphash.MakeSeed(), max: max, byKey: map[flowKey]*flow{}, byCookie: map[uint32]*flow{}}
}

// hash is the symmetric flow hash of k (k is canonical, so both directions agree).
func (t *flowTable) hash(k flowKey) uint64 { return maphash.Comparable(t.seed, k) }

// get returns the flow of k, creating it (with a fresh random cookie and the
// outer source port ports[hash % len(ports)]) when it is new; nil when the
// table is full.
func (t *flowTable) get(k flowKey, ports []uint16, now time.Time) *flow {
	t.mu.RLock()
	f := t.byKey[k]
	t.mu.RUnlock()
	if f != nil {
		f.lastSeen.Store(now.UnixNano())
		return f
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if f = t.byKey[k]; f != nil {
		f.lastSeen.Store(now.UnixNano())
		return f
	}
	if len(t.byKey) >= t.max {
		return nil
	}
	f = &flow{key: k, hash: t.hash(k)}
	f.port = ports[f.hash%uint64(len(ports))]
	f.appliance.Store(-1)
	f.lastSeen.Store(now.UnixNano())
	for {
		f.cookie = randomCookie()
		if _, taken := t.byCookie[f.cookie]; !taken && f.cookie != 0 {
			break
		}
	}
	t.byKey[k] = f
	t.byCookie[f.cookie] = f
	return f
}

// lookup returns the flow with cookie c, or nil.
func (t *flowTable) lookup(c uint32) *flow {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.byCookie[c]
}

// expire forgets flows idle since before cutoff and returns how many it forgot.
func (t *flowTable) expire(cutoff time.Time) int {
	c := cutoff.UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, f := range t.byKey {
		if f.lastSeen.Load() < c {
			delete(t.byKey, k)
			delete(t.byCookie, f.cookie)
			n++
		}
	}
	return n
}

// len returns the number of tracked flows.
func (t *flowTable) len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byKey)
}

func randomCookie() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program irrecoverably instead)
	return binary.BigEndian.Uint32(b[:])
}
