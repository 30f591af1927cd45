package pattern

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestPlainRun: the eight-bytes-at-a-time scan stops where the byte-by-byte
// one does, for every special byte ('"', '\\', each control character) at
// every position of inputs of every length up to 24, on plain ASCII and on
// UTF-8 backgrounds, and on random bytes.
func TestPlainRun(t *testing.T) {
	slow := func(b []byte, i int) int {
		for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
			i++
		}
		return i
	}
	check := func(b []byte, from int) {
		t.Helper()
		if got, want := plainRun(b, from), slow(b, from); got != want {
			t.Fatalf("plainRun(%q, %d) = %d, want %d", b, from, got, want)
		}
	}
	specials := []byte{'"', '\\', 0x00, 0x01, 0x09, 0x0a, 0x1f}
	for _, bg := range []byte{'a', ' ', '!', 0x7f, 0x80, 0xc3, 0xff, '#', '[', ']'} {
		for n := 0; n <= 24; n++ {
			b := bytes.Repeat([]byte{bg}, n)
			for from := 0; from <= n; from++ {
				check(b, from)
			}
			for pos := 0; pos < n; pos++ {
				for _, sp := range specials {
					b[pos] = sp
					for from := 0; from <= n; from++ {
						check(b, from)
					}
					b[pos] = bg
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	b := make([]byte, 64)
	for range 20000 {
		for i := range b {
			b[i] = byte(r.UintN(256))
			if r.UintN(4) != 0 {
				b[i] = byte(0x20 + r.UintN(0x60)) // mostly printable, so runs are long
			}
		}
		check(b, int(r.UintN(64)))
	}
}
