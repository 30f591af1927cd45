package deliver

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
)

func sameDelivery(a, b handoff.Delivery) bool {
	return a.ID == b.ID && a.Rule == b.Rule && bytes.Equal(a.Body, b.Body) && bytes.Equal(a.Frame, b.Frame) &&
		a.Accepted.Equal(b.Accepted) && a.Capture.Timestamp.Equal(b.Capture.Timestamp) &&
		a.Capture.CaptureLength == b.Capture.CaptureLength && a.Capture.Length == b.Capture.Length &&
		a.Capture.InterfaceIndex == b.Capture.InterfaceIndex && a.Capture.LinkType == b.Capture.LinkType
}

func TestEnvelopeRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 21, 20, 40, 15, 123456789, time.UTC)
	cases := []struct {
		name string
		d    handoff.Delivery
	}{
		{"empty", handoff.Delivery{}},
		{"event only", handoff.Delivery{ID: "0193a8c2-7d1e-7c3a-9f4e-2b6d1c0e5a77", Rule: "syslog",
			Body: []byte(`{"version":"0"}`), Accepted: ts}},
		{"with frame", handoff.Delivery{ID: "id", Rule: "pcap", Body: []byte("x"), Accepted: ts,
			Frame: []byte{0xff, 0, 1, 2}, Capture: packet.CaptureInfo{Timestamp: ts.Add(-time.Second),
				CaptureLength: 4, Length: 1500, InterfaceIndex: 3, LinkType: 0xffff}}},
		{"unicode, binary body", handoff.Delivery{ID: "ü", Rule: "règle", Body: []byte{0, 1, 'W', 'B'}}},
		{"negative capture fields", handoff.Delivery{ID: "n", Capture: packet.CaptureInfo{InterfaceIndex: -1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := appendEnvelope(nil, &c.d)
			if len(b) > envelopeSize(&c.d) {
				t.Errorf("size %d exceeds estimate %d", len(b), envelopeSize(&c.d))
			}
			got, err := decodeEnvelope(b)
			if err != nil {
				t.Fatal(err)
			}
			if !sameDelivery(got, c.d) {
				t.Fatalf("got %+v\nwant %+v", got, c.d)
			}
		})
	}
}

func TestEnvelopeMalformed(t *testing.T) {
	good := appendEnvelope(nil, &handoff.Delivery{ID: "abc", Rule: "r", Frame: []byte("frame"), Body: []byte("body")})
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad magic", []byte("XB\x01")},
		{"future version", []byte("WB\x03")},
		{"a batch is not one envelope", []byte("WB\x02\x01\x00")},
		{"header only", good[:3]},
		{"id length past end", []byte("WB\x01\x7f")},
		{"huge id length", []byte("WB\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")},
		{"truncated varint", []byte("WB\x01\x00\x00\x80")},
		{"link type out of range", binary.AppendUvarint(binary.AppendVarint([]byte("WB\x01\x00\x00\x00\x00\x00\x00\x00"), 70000), 0)},
		{"frame cut", good[:len(good)-len("body")-2]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if d, err := decodeEnvelope(c.b); err == nil {
				t.Fatalf("decoded %+v", d)
			} else if !errors.Is(err, errEnvelope) {
				t.Fatalf("error %v does not wrap errEnvelope", err)
			}
		})
	}
}

func TestStoredBatch(t *testing.T) {
	envs := [][]byte{
		appendEnvelope(nil, &handoff.Delivery{ID: "a", Body: []byte("1")}),
		appendEnvelope(nil, &handoff.Delivery{ID: "b", Rule: "r", Frame: []byte{1, 2}, Body: bytes.Repeat([]byte("x"), 300)}),
		appendEnvelope(nil, &handoff.Delivery{}),
	}
	batch := appendBatch(nil, envs)
	packed := compressBatch(batch)
	if packed[2] != envBatchS2Version || len(packed) >= len(batch) {
		t.Fatalf("a batch with a 300-byte run of x did not compress: %d -> %d bytes", len(batch), len(packed))
	}
	random := make([]byte, 600)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	noisy := appendBatch(nil, [][]byte{random[:300], random[300:]})
	if got := compressBatch(noisy); &got[0] != &noisy[0] {
		t.Errorf("an incompressible batch was not left as it is")
	}
	cut := append([]byte(nil), packed...)
	cut = cut[:len(cut)-1]
	wrongCount := append([]byte(nil), packed...)
	wrongCount[3] = 4 // the header says 4, the block holds 3
	hugeLen := append([]byte("WB\x03\x01"), binary.AppendUvarint(nil, 1<<40)...)
	one := envs[1]
	cases := []struct {
		name  string
		b     []byte
		items [][]byte // nil: an error
		count int
	}{
		{"plain envelope", one, [][]byte{one}, 1},
		{"batch of three", batch, envs, 3},
		{"batch of one", appendBatch(nil, envs[:1]), envs[:1], 1},
		{"empty", nil, nil, 1},
		{"bad magic", []byte("XB\x02\x01\x00"), nil, 1},
		{"count missing", []byte("WB\x02"), nil, 1},
		{"count zero", []byte("WB\x02\x00"), nil, 1},
		{"count beyond the data", []byte("WB\x02\x05\x00\x00"), nil, 1},
		{"huge count", []byte("WB\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"), nil, 1},
		{"item cut", batch[:len(batch)-1], nil, 3},
		{"bytes after the last item", append(append([]byte(nil), batch...), 0), nil, 3},
		{"compressed batch", packed, envs, 3},
		{"compressed, cut", cut, nil, 3},
		{"compressed, count too large", wrongCount, nil, 4},
		{"compressed, huge decoded length", hugeLen, nil, 1},
		{"compressed, no block", []byte("WB\x03\x01"), nil, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items, err := storedItems(c.b)
			if c.items == nil {
				if err == nil || !errors.Is(err, errEnvelope) {
					t.Fatalf("items %q, error %v: want an envelope error", items, err)
				}
			} else if err != nil || fmt.Sprint(items) != fmt.Sprint(c.items) {
				t.Fatalf("items %q, error %v: want %q", items, err, c.items)
			}
			if n := storedCount(c.b); n != c.count {
				t.Errorf("storedCount = %d, want %d", n, c.count)
			}
			if c.items != nil && len(c.b) > 0 && c.b[2] == envBatchS2Version && storedSize(c.b) != len(batch) {
				t.Errorf("storedSize = %d, want the uncompressed %d", storedSize(c.b), len(batch))
			}
		})
	}
	for i, it := range mustItems(t, batch) {
		d, err := decodeEnvelope(it)
		if err != nil || d.ID != []string{"a", "b", ""}[i] {
			t.Errorf("item %d: %+v, %v", i, d, err)
		}
	}
}

func mustItems(t *testing.T, b []byte) [][]byte {
	t.Helper()
	items, err := storedItems(b)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func FuzzDecodeEnvelope(f *testing.F) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	f.Add(appendEnvelope(nil, &handoff.Delivery{}))
	f.Add(appendEnvelope(nil, &handoff.Delivery{ID: "id", Rule: "r", Body: []byte("{}"), Accepted: ts,
		Frame: []byte{1, 2, 3}, Capture: packet.CaptureInfo{Timestamp: ts, CaptureLength: 3, Length: 60, LinkType: 1}}))
	f.Add([]byte("WB\x01\xff\xff"))
	f.Add(appendBatch(nil, [][]byte{appendEnvelope(nil, &handoff.Delivery{ID: "x"}), []byte("WB\x01\x00")}))
	f.Add(compressBatch(appendBatch(nil, [][]byte{appendEnvelope(nil, &handoff.Delivery{ID: "x", Body: bytes.Repeat([]byte("ab"), 40)}),
		appendEnvelope(nil, &handoff.Delivery{ID: "y", Body: bytes.Repeat([]byte("ab"), 40)})})))
	f.Fuzz(func(t *testing.T, b []byte) {
		// A stored message: its items, if it splits, each decode or fail
		// alone, and written again as a batch they split the same way.
		if items, err := storedItems(b); err == nil {
			if len(items) != storedCount(b) {
				t.Fatalf("%d items, storedCount %d", len(items), storedCount(b))
			}
			for _, it := range items {
				_, _ = decodeEnvelope(it)
			}
			if again, err := storedItems(appendBatch(nil, items)); err != nil || fmt.Sprint(again) != fmt.Sprint(items) {
				t.Fatalf("batch of %q split into %q, %v", items, again, err)
			}
			if again, err := storedItems(compressBatch(appendBatch(nil, items))); err != nil || fmt.Sprint(again) != fmt.Sprint(items) {
				t.Fatalf("compressed batch of %q split into %q, %v", items, again, err)
			}
		}
		d, err := decodeEnvelope(b)
		if err != nil {
			return
		}
		again, err := decodeEnvelope(appendEnvelope(nil, &d))
		if err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v", err)
		}
		if !sameDelivery(d, again) {
			t.Fatalf("round trip changed %+v into %+v", d, again)
		}
	})
}

func TestClassify(t *testing.T) {
	perm := permErr{"400"}
	ra := retryAfterErr{3 * time.Second}
	cases := []struct {
		name string
		err  error
		n    int
		want []outcome
	}{
		{"success", nil, 2, []outcome{{}, {}}},
		{"transient", errUnavailable, 2, []outcome{{err: errUnavailable}, {err: errUnavailable}}},
		{"permanent wrapped", fmt.Errorf("post: %w", perm), 1, []outcome{{err: fmt.Errorf("post: %w", perm), permanent: true}}},
		{"retry after", ra, 1, []outcome{{err: ra, after: 3 * time.Second}}},
		{"batch", fmt.Errorf("put: %w", &handoff.BatchError{Failed: map[int]error{1: perm, 2: ra, 7: errUnavailable}}), 3,
			[]outcome{{}, {err: perm, permanent: true}, {err: ra, after: 3 * time.Second}}},
		{"empty batch error", &handoff.BatchError{}, 2, []outcome{{}, {}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := make([]outcome, c.n)
			out[0].permanent = true // stale data must be cleared
			classify(c.err, out)
			for i := range out {
				g, w := out[i], c.want[i]
				if (g.err == nil) != (w.err == nil) || (g.err != nil && g.err.Error() != w.err.Error()) ||
					g.permanent != w.permanent || g.after != w.after {
					t.Errorf("[%d] = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	const ms = time.Millisecond
	cases := []struct {
		name           string
		attempt        int
		lo, hi         time.Duration
		mult, jitter   float64
		center         time.Duration // the delay before jitter
		wantSpreadOver time.Duration // samples must differ by more than this (0: all equal)
	}{
		{"attempt 0 is the first", 0, 100 * ms, 2 * time.Second, 2, 0, 100 * ms, 0},
		{"first retry", 1, 100 * ms, 2 * time.Second, 2, 0, 100 * ms, 0},
		{"doubling", 3, 100 * ms, 2 * time.Second, 2, 0, 400 * ms, 0},
		{"tripling", 3, 100 * ms, 2 * time.Second, 3, 0, 900 * ms, 0},
		{"multiplier 1 is constant", 30, 100 * ms, 2 * time.Second, 1, 0, 100 * ms, 0},
		{"fractional multiplier", 3, 100 * ms, 2 * time.Second, 1.5, 0, 225 * ms, 0},
		{"capped", 6, 100 * ms, 2 * time.Second, 2, 0, 2 * time.Second, 0},
		{"huge attempt does not overflow", 1 << 20, 100 * ms, 2 * time.Second, 100, 0, 2 * time.Second, 0},
		{"jitter 0.2", 2, 100 * ms, 2 * time.Second, 2, 0.2, 200 * ms, 20 * ms},
		{"jitter 1", 2, 100 * ms, 2 * time.Second, 2, 1, 200 * ms, 200 * ms},
		{"jitter on the cap", 64, 100 * ms, 2 * time.Second, 2, 0.5, 2 * time.Second, 1 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lo := c.center - time.Duration(float64(c.center)*c.jitter)
			hi := c.center + time.Duration(float64(c.center)*c.jitter)
			minSeen, maxSeen := time.Duration(math.MaxInt64), time.Duration(0)
			for range 2000 {
				d := backoff(c.attempt, c.lo, c.hi, c.mult, c.jitter)
				if d < lo || d > hi {
					t.Fatalf("backoff = %v, want within [%v, %v]", d, lo, hi)
				}
				minSeen, maxSeen = min(minSeen, d), max(maxSeen, d)
			}
			if c.wantSpreadOver == 0 && minSeen != maxSeen {
				t.Errorf("without jitter delays vary from %v to %v", minSeen, maxSeen)
			}
			if c.wantSpreadOver > 0 && maxSeen-minSeen <= c.wantSpreadOver {
				t.Errorf("2000 jittered delays span only %v to %v", minSeen, maxSeen)
			}
		})
	}
}

func TestConfigBackoffDefaults(t *testing.T) {
	cases := []struct {
		name               string
		mult, jitter       float64
		wantMult, wantJitt float64
		wantErr            bool
	}{
		{"zero multiplier takes the default, zero jitter means none", 0, 0, 2, 0, false},
		{"given values kept", 1.5, 0.5, 1.5, 0.5, false},
		{"whole jitter", 1, 1, 1, 1, false},
		{"negative jitter", 3, -1, 0, 0, true},
		{"multiplier below 1", 0.5, 0, 0, 0, true},
		{"multiplier above 100", 101, 0, 0, 0, true},
		{"multiplier NaN", math.NaN(), 0, 0, 0, true},
		{"jitter above 1", 2, 1.5, 0, 0, true},
		{"jitter NaN", 2, math.NaN(), 0, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{Target: "t", BackoffMultiplier: c.mult, BackoffJitter: c.jitter}
			err := cfg.defaults()
			if (err != nil) != c.wantErr {
				t.Fatalf("defaults: %v, want error %v", err, c.wantErr)
			}
			if err == nil && (cfg.BackoffMultiplier != c.wantMult || cfg.BackoffJitter != c.wantJitt) {
				t.Errorf("multiplier %g jitter %g, want %g and %g", cfg.BackoffMultiplier, cfg.BackoffJitter, c.wantMult, c.wantJitt)
			}
			if err == nil && cfg.AckWait != 10*time.Second {
				t.Errorf("default AckWait %v, want 10s (a crashed process's batch comes back within it)", cfg.AckWait)
			}
		})
	}
}

// TestZeroMeansNone: MaxAge 0 and BackoffJitter 0 mean what they mean in
// the configuration file (no age limit, no jitter), so internal/app passes
// them through unchanged; negative values are refused as config refuses them.
func TestZeroMeansNone(t *testing.T) {
	cfg := Config{Target: "t", MaxAttempts: 1000, BackoffMin: time.Second, BackoffMax: time.Minute, BackoffMultiplier: 2}
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if reason, stop := cfg.giveUp(outcome{err: errUnavailable}, 1, now.Add(-10_000*time.Hour), time.Hour, now); stop {
		t.Errorf("MaxAge 0 gave up a delivery accepted 10,000h ago: %s", reason)
	}
	for attempt, want := range []time.Duration{time.Second, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		for range 20 {
			if got := cfg.retryDelay(outcome{err: errUnavailable}, attempt); got != want {
				t.Fatalf("attempt %d: delay %v, want exactly %v (jitter 0)", attempt, got, want)
			}
		}
	}
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative max age", Config{Target: "t", MaxAge: -time.Second}, "max age -1s must not be negative"},
		{"negative jitter", Config{Target: "t", BackoffJitter: -0.1}, "backoff jitter -0.1 out of range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.cfg.defaults(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("defaults: %v, want %q", err, c.want)
			}
		})
	}
}

func TestGiveUp(t *testing.T) {
	cfg := Config{Target: "t", MaxAttempts: 3, MaxAge: time.Hour}
	now := time.Now()
	cases := []struct {
		name     string
		o        outcome
		attempt  int
		accepted time.Time
		delay    time.Duration
		want     string
	}{
		{"retry", outcome{err: errUnavailable}, 1, now, time.Second, ""},
		{"permanent", outcome{err: errUnavailable, permanent: true}, 1, now, 0, ReasonPermanent},
		{"attempts", outcome{err: errUnavailable}, 3, now, 0, ReasonMaxAttempts},
		{"age", outcome{err: errUnavailable}, 1, now.Add(-59 * time.Minute), 2 * time.Minute, ReasonMaxAge},
		{"no acceptance time", outcome{err: errUnavailable}, 1, time.Time{}, time.Second, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, stop := cfg.giveUp(c.o, c.attempt, c.accepted, c.delay, now)
			if got != c.want || stop != (c.want != "") {
				t.Errorf("giveUp = %q %v, want %q", got, stop, c.want)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		tg   Target
	}{
		{"empty name", Config{Mode: Direct}, newRecorder()},
		{"dot in name", Config{Target: "a.b", Mode: Direct}, newRecorder()},
		{"wildcard", Config{Target: "a>", Mode: Direct}, newRecorder()},
		{"unknown mode", Config{Target: "a", Mode: "sometimes"}, newRecorder()},
		{"nil target", Config{Target: "a", Mode: Direct}, nil},
		{"durable without bus", Config{Target: "a"}, newRecorder()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := New(context.Background(), c.cfg, c.tg, nil, nil); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Fatal("registering twice on one registry succeeded")
	}
	if _, err := NewMetrics(nil); err != nil {
		t.Fatal(err)
	}
}
