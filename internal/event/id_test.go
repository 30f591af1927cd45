package event

import (
	"bytes"
	"errors"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"
)

var uuidv7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestIDStringAllocatesOnce(t *testing.T) {
	id := ID{0x01, 0x93, 0xa8, 0xc2, 0x7d, 0x1e, 0x7c, 0x3a, 0x9f, 0x4e, 0x2b, 0x6d, 0x1c, 0x0e, 0x5a, 0x77}
	if got, want := id.String(), "0193a8c2-7d1e-7c3a-9f4e-2b6d1c0e5a77"; got != want {
		t.Fatalf("String() = %s, want %s", got, want)
	}
	if raceEnabled {
		return // the race detector changes allocation counts; the text is checked above
	}
	var s string
	if n := testing.AllocsPerRun(100, func() { s = id.String() }); n != 1 {
		t.Errorf("String() makes %v allocations, want 1", n)
	}
	_ = s
}

func TestIDFormatAndTime(t *testing.T) {
	now := time.Date(2026, 11, 21, 20, 40, 15, 987654321, time.UTC)
	g := NewIDGenerator(func() time.Time { return now }, nil)
	id := g.Next()
	if s := id.String(); !uuidv7.MatchString(s) {
		t.Fatalf("%s is not a UUIDv7", s)
	}
	if got, want := id.Time(), now.Truncate(time.Millisecond); !got.Equal(want) {
		t.Errorf("id time %v, want %v", got, want)
	}
	// crypto/rand fills the random tail; two ids in the same ms differ there.
	if a, b := g.Next(), g.Next(); bytes.Equal(a[10:], b[10:]) {
		t.Errorf("random bits repeat: %s %s", a, b)
	}
}

// Ids from one generator strictly increase (as bytes and as strings), even
// when the clock stands still, steps back, or the counter runs out.
func TestIDMonotonic(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		clock func(i int) time.Time
		n     int
	}{
		{"frozen clock", func(int) time.Time { return base }, 100000},
		{"advancing clock", func(i int) time.Time { return base.Add(time.Duration(i) * 100 * time.Microsecond) }, 10000},
		{"clock steps back", func(i int) time.Time {
			if i%100 < 50 {
				return base.Add(time.Second)
			}
			return base
		}, 10000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			i := 0
			g := NewIDGenerator(func() time.Time { return c.clock(i) }, nil)
			prev := g.Next()
			for i = 1; i < c.n; i++ {
				id := g.Next()
				if bytes.Compare(id[:], prev[:]) <= 0 || id.String() <= prev.String() {
					t.Fatalf("id %d %s not after %s", i, id, prev)
				}
				prev = id
			}
		})
	}
}

func TestIDCounterOverflowBorrowsAMillisecond(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	g := NewIDGenerator(func() time.Time { return now }, nil)
	first := g.Next()
	g.mu.Lock()
	g.counter = counterMax
	g.mu.Unlock()
	next := g.Next()
	if got := next.Time().Sub(first.Time()); got != time.Millisecond {
		t.Errorf("after overflow the id time moved by %v, want 1ms", got)
	}
	if bytes.Compare(next[:], first[:]) <= 0 {
		t.Errorf("%s not after %s", next, first)
	}
}

func TestIDDeterministicWithZeroReader(t *testing.T) {
	a, b := fixedEncoder().IDs, fixedEncoder().IDs
	for range 10 {
		if x, y := a.Next(), b.Next(); x != y {
			t.Fatalf("%s != %s", x, y)
		}
	}
	if got := fixedEncoder().IDs.Next().String(); got != "01a1ffd6-9413-7000-8000-000000000000" {
		t.Errorf("first fixed id %s", got)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestIDFailingRandomnessStaysUnique(t *testing.T) {
	g := NewIDGenerator(func() time.Time { return testTime }, failingReader{})
	seen := map[ID]bool{}
	for range 1000 {
		id := g.Next()
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		seen[id] = true
	}
}

// The process-wide generator hands out unique ids to concurrent callers, and
// each goroutine sees its own ids increase.
func TestIDConcurrentUnique(t *testing.T) {
	const workers, per = 4, 20000
	out := make([][]ID, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ids := make([]ID, per)
			for i := range ids {
				ids[i] = NewID()
			}
			out[w] = ids
		})
	}
	wg.Wait()
	seen := make(map[ID]struct{}, workers*per)
	for _, ids := range out {
		if !slices.IsSortedFunc(ids, func(a, b ID) int { return bytes.Compare(a[:], b[:]) }) {
			t.Error("a goroutine's ids are not increasing")
		}
		for _, id := range ids {
			if _, dup := seen[id]; dup {
				t.Fatalf("duplicate id %s", id)
			}
			seen[id] = struct{}{}
		}
	}
}

func BenchmarkIDNext(b *testing.B) {
	g := NewIDGenerator(nil, nil)
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		_ = g.Next()
	}
	reportCPU(b, cpu0)
}

// With the real clock, id times track time.Now, also after the generator
// re-bases its monotonic clock (every second).
func TestIDRealClock(t *testing.T) {
	g := NewIDGenerator(nil, nil)
	check := func(step string) {
		before := time.Now().Truncate(time.Millisecond)
		id := g.Next()
		after := time.Now()
		if got := id.Time(); got.Before(before) || got.After(after) {
			t.Errorf("%s: id time %v outside [%v, %v]", step, got, before, after)
		}
	}
	check("first")
	for range 1000 {
		check("fast path")
	}
	time.Sleep(1100 * time.Millisecond)
	check("after re-base")
}
