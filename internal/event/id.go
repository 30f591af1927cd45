package event

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"sync"
	"time"
)

// ID is an event id: a UUID version 7 (RFC 9562), written in the canonical
// 8-4-4-4-12 lower-case hex form.
//
// Layout: a 48-bit Unix timestamp in milliseconds, the version nibble 7, a
// 26-bit counter (the 12 bits of rand_a and the first 14 bits of rand_b,
// RFC 9562 section 6.2 method 1), the variant bits 10, and 48 random bits.
type ID [16]byte

// String returns the canonical text form. It allocates once: the string.
func (id ID) String() string {
	b := id.text()
	return string(b[:])
}

// AppendText appends the canonical text form (36 bytes) to dst.
func (id ID) AppendText(dst []byte) []byte {
	b := id.text()
	return append(dst, b[:]...)
}

// idHexPos is where the two hex digits of each byte of an ID start in its
// text form (8-4-4-4-12, dashes at 8, 13, 18 and 23).
var idHexPos = [16]uint8{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// hexPairs maps a byte to its two lower-case hex digits (first in the high byte).
var hexPairs = func() (t [256]uint16) {
	for v := range t {
		t[v] = uint16(hexDigits[v>>4])<<8 | uint16(hexDigits[v&0xf])
	}
	return t
}()

func (id ID) text() (b [36]byte) {
	b[8], b[13], b[18], b[23] = '-', '-', '-', '-'
	for i, x := range id {
		binary.BigEndian.PutUint16(b[idHexPos[i]:], hexPairs[x])
	}
	return b
}

// Time returns the millisecond timestamp the id carries.
func (id ID) Time() time.Time {
	ms := int64(id[0])<<40 | int64(id[1])<<32 | int64(id[2])<<24 | int64(id[3])<<16 | int64(id[4])<<8 | int64(id[5])
	return time.UnixMilli(ms).UTC()
}

const (
	counterBits = 26
	counterMax  = 1<<counterBits - 1
	// A new millisecond starts the counter at a random value below half its
	// range, leaving at least 2^25 increments before it overflows.
	counterSeedMask = 1<<(counterBits-1) - 1
	randBufSize     = 4096
)

// IDGenerator produces UUIDv7 ids that strictly increase in the order they
// are generated, so they are unique for the generator's lifetime and sort by
// generation time. It is safe for concurrent use and does not allocate per id:
// randomness is read from its source in 4 KiB blocks.
//
// Within one millisecond the counter increments; if it would overflow, the
// generator moves its timestamp one millisecond ahead of the clock. A clock
// that steps backwards does not make ids go backwards: the last timestamp is
// kept until the clock passes it.
type IDGenerator struct {
	clock func() time.Time // nil: the monotonic fast path below
	rnd   io.Reader

	// Fast path for the real clock: one wall-clock reading (base) and the
	// monotonic time elapsed since, re-based every second so wall-clock
	// steps are followed. time.Since reads one clock, time.Now two.
	base     time.Time
	baseNano int64

	mu      sync.Mutex
	lastMS  int64
	counter uint32
	pos     int
	buf     [randBufSize]byte
}

// NewIDGenerator returns a generator reading the time from clock (time.Now
// when nil) and randomness from rnd (crypto/rand when nil). If rnd fails, the
// random bits are zero: ids stay unique within the generator because of the
// counter, but become guessable. Tests pass a fixed clock and a zero reader
// to get a deterministic sequence.
func NewIDGenerator(clock func() time.Time, rnd io.Reader) *IDGenerator {
	if rnd == nil {
		rnd = rand.Reader
	}
	return &IDGenerator{clock: clock, rnd: rnd, pos: randBufSize}
}

// defaultIDs is the process-wide generator every Encoder uses unless it is
// given another one: one generator per process makes ids unique across it.
var defaultIDs = NewIDGenerator(nil, nil)

// NewID returns an id from the process-wide generator.
func NewID() ID { return defaultIDs.Next() }

// nowMS returns the current Unix time in milliseconds; g.mu is held.
func (g *IDGenerator) nowMS() int64 {
	if g.clock != nil {
		return g.clock().UnixMilli()
	}
	if g.baseNano != 0 {
		if d := time.Since(g.base); d >= 0 && d < time.Second {
			return (g.baseNano + int64(d)) / 1e6
		}
	}
	g.base = time.Now()
	g.baseNano = g.base.UnixNano()
	return g.baseNano / 1e6
}

// Next returns the next id.
func (g *IDGenerator) Next() ID {
	g.mu.Lock()
	now := g.nowMS()
	switch {
	case now > g.lastMS:
		g.lastMS = now
		g.counter = g.random32() & counterSeedMask
	case g.counter >= counterMax:
		g.lastMS++
		g.counter = g.random32() & counterSeedMask
	default:
		g.counter++
	}
	ms, c := g.lastMS, g.counter
	if g.pos+6 > randBufSize {
		g.refill()
	}
	var id ID
	copy(id[10:], g.buf[g.pos:g.pos+6])
	g.pos += 6
	g.mu.Unlock()

	id[0] = byte(ms >> 40)
	id[1] = byte(ms >> 32)
	id[2] = byte(ms >> 24)
	id[3] = byte(ms >> 16)
	id[4] = byte(ms >> 8)
	id[5] = byte(ms)
	id[6] = 0x70 | byte(c>>22)&0x0f // version 7, counter bits 25..22
	id[7] = byte(c >> 14)           // counter bits 21..14
	id[8] = 0x80 | byte(c>>8)&0x3f  // variant 10, counter bits 13..8
	id[9] = byte(c)                 // counter bits 7..0
	return id
}

// random32 returns 32 random bits from the buffer; g.mu is held.
func (g *IDGenerator) random32() uint32 {
	if g.pos+4 > randBufSize {
		g.refill()
	}
	b := g.buf[g.pos : g.pos+4]
	g.pos += 4
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// refill reads a new block of randomness; g.mu is held.
func (g *IDGenerator) refill() {
	if _, err := io.ReadFull(g.rnd, g.buf[:]); err != nil {
		clear(g.buf[:])
	}
	g.pos = 0
}
