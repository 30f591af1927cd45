package event

import (
	"encoding/base64"
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendBase64 compares appendBase64 with encoding/base64 on every length
// 0..200 (all three remainders), on random bytes and on all-0xFF bytes, after
// a non-empty prefix.
func TestAppendBase64(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 200; n++ {
		for _, fill := range []string{"random", "ff"} {
			src := make([]byte, n)
			for i := range src {
				if fill == "ff" {
					src[i] = 0xFF
				} else {
					src[i] = byte(r.Uint32())
				}
			}
			want := base64.StdEncoding.AppendEncode([]byte("pre"), src)
			got := appendBase64([]byte("pre"), src)
			if string(got) != string(want) {
				t.Fatalf("len %d %s: got %q, want %q", n, fill, got, want)
			}
		}
	}
}

// TestMakeStampFraction checks the fraction against time.RFC3339Nano.
func TestMakeStampFraction(t *testing.T) {
	for _, ns := range []int{0, 1, 9, 10, 100, 999, 1000, 123456789, 100000000, 999999999, 5000, 120000, 7} {
		tm := time.Date(2024, 2, 29, 23, 59, 58, ns, time.UTC)
		s := makeStamp(tm)
		got := string(s.appendNano(nil))
		if want := tm.Format(time.RFC3339Nano); got != want {
			t.Errorf("ns %d: got %q, want %q", ns, got, want)
		}
	}
}
