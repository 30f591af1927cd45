package app

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"testing"
)

func TestSetMemoryLimit(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(orig) })
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GOMEMLIMIT" {
				return v
			}
			return ""
		}
	}
	cases := []struct {
		name      string
		before    int64 // the limit in force before
		gomem     string
		wantLimit int64
		wantFrom  string
	}{
		{"none set: the default", math.MaxInt64, "", defaultMemoryLimit, "default"},
		{"GOMEMLIMIT wins", 1 << 30, "1GiB", 1 << 30, "GOMEMLIMIT"},
		{"GOMEMLIMIT=off is respected", math.MaxInt64, "off", math.MaxInt64, "GOMEMLIMIT"},
		{"set by the embedding program", 300 << 20, "", 300 << 20, "already set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			debug.SetMemoryLimit(c.before)
			limit, from := setMemoryLimit(env(c.gomem))
			if limit != c.wantLimit || from != c.wantFrom {
				t.Errorf("got %d from %s, want %d from %s", limit, from, c.wantLimit, c.wantFrom)
			}
			if got := debug.SetMemoryLimit(-1); got != c.wantLimit {
				t.Errorf("runtime limit %d, want %d", got, c.wantLimit)
			}
		})
	}
}

// TestPProfOnlyWhenEnabled: /debug/pprof/ answers with http.pprof: true,
// and is not there by default.
func TestPProfOnlyWhenEnabled(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint("pprof=", on), func(t *testing.T) {
			dir := t.TempDir()
			yaml := strings.Replace(serveConfig(t, dir, "udp"), `http: {listen: "127.0.0.1:0"}`,
				fmt.Sprintf(`http: {listen: "127.0.0.1:0", pprof: %v}`, on), 1)
			if !strings.Contains(yaml, "pprof") {
				t.Fatal("the test config has no http line to extend")
			}
			s, _, _ := newTestServer(t, dir, yaml)
			defer s.release()
			rec := httptest.NewRecorder()
			s.http.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pprof/heap?debug=1", nil))
			switch {
			case on && (rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "heap profile")):
				t.Errorf("enabled: %d %.100q", rec.Code, rec.Body.String())
			case !on && rec.Code == http.StatusOK:
				t.Errorf("disabled, yet /debug/pprof/heap answered 200")
			}
		})
	}
}
