package rotate

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct{ name, pattern, want string }{
		{"no directives", "events.ndjson", "events.ndjson"},
		{"all directives", "%Y-%m-%d/%H%M%S.ndjson", "2026-03-04/050607.ndjson"},
		{"percent escape", "100%%-%Y", "100%-2026"},
		{"trailing percent kept", "a%", "a%"},
		{"unknown directive kept", "a%q", "a%q"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Expand(tt.pattern, at); got != tt.want {
				t.Fatalf("Expand(%q) = %q, want %q", tt.pattern, got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		pattern string
		ok      bool
	}{
		{"a/%Y/%m/%d/events-%H.ndjson", true},
		{"100%%.log", true},
		{"", false},
		{"a%", false},
		{"a%q.log", false},
		{"dir/", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			if err := Validate(tt.pattern); (err == nil) != tt.ok {
				t.Fatalf("Validate(%q) = %v, want ok=%v", tt.pattern, err, tt.ok)
			}
		})
	}
}

func TestHasTime(t *testing.T) {
	for p, want := range map[string]bool{"a.log": false, "a-%H.log": true, "100%%.log": false} {
		if got := HasTime(p); got != want {
			t.Errorf("HasTime(%q) = %v", p, got)
		}
	}
}

func TestWithSuffix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"events.ndjson", "events-3.ndjson"},
		{"dir.d/events.ndjson.zst", "dir.d/events-3.ndjson.zst"},
		{"events", "events-3"},
		{".hidden", ".hidden-3"},
		{".hidden.gz", ".hidden-3.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := WithSuffix(tt.in, 3); got != tt.want {
				t.Fatalf("WithSuffix(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCreateNeverReusesAFile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "a", "b", "events.ndjson")
	var got []string
	for i := 0; i < 3; i++ {
		f, n, err := Create(name, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		got = append(got, filepath.Base(n))
	}
	want := []string{"events.ndjson", "events-1.ndjson", "events-2.ndjson"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("names %v, want %v", got, want)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Create(filepath.Join(dir, "x", "y"), 0o644); err == nil {
		t.Fatal("Create under a regular file succeeded")
	}
}

func TestNextBoundary(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	if got := NextBoundary(at, time.Hour); !got.Equal(time.Date(2026, 3, 4, 6, 0, 0, 0, time.UTC)) {
		t.Fatalf("hourly boundary %v", got)
	}
	if got := NextBoundary(at, 0); !got.IsZero() {
		t.Fatalf("no interval gives %v", got)
	}
}

func TestCheckLimits(t *testing.T) {
	tests := []struct {
		name     string
		maxSize  int64
		interval time.Duration
		want     string // "" for no error
	}{
		{"unset", 0, 0, ""},
		{"size and hourly", 1 << 20, time.Hour, ""},
		{"one second", 0, time.Second, ""},
		{"negative size", -1, 0, "max size and interval must not be negative"},
		{"negative interval", 0, -time.Second, "max size and interval must not be negative"},
		{"sub-second interval", 0, 999 * time.Millisecond, "interval 999ms is shorter than a second"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckLimits(tt.maxSize, tt.interval)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckLimits: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("CheckLimits: %v, want %s", err, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Run("unset", func(t *testing.T) {
		perm, loc, now := Defaults(0, nil, nil)
		if perm != 0o644 || loc != time.UTC || now == nil {
			t.Fatalf("Defaults(0, nil, nil) = %v, %v, clock set %v", perm, loc, now != nil)
		}
		if d := time.Since(now()); d < 0 || d > time.Minute {
			t.Fatalf("default clock is %v off time.Now", d)
		}
	})
	t.Run("set values are kept", func(t *testing.T) {
		fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		berlin := time.FixedZone("CET", 3600)
		perm, loc, now := Defaults(0o600, berlin, func() time.Time { return fixed })
		if perm != 0o600 || loc != berlin || !now().Equal(fixed) {
			t.Fatalf("Defaults kept %v, %v, %v", perm, loc, now())
		}
	})
}
