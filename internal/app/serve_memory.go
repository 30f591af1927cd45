package app

import (
	"math"
	"net/http"
	"net/http/pprof"
	"runtime/debug"

	"github.com/wirebridge/wirebridge/internal/httpapi"
)

// defaultMemoryLimit is the Go runtime's soft memory limit for serve when
// GOMEMLIMIT is not set: the flood budget is 256 MB resident, and the
// binary's code and the runtime's own overhead come on top of the limit.
const defaultMemoryLimit = 192 << 20

// setMemoryLimit applies defaultMemoryLimit unless GOMEMLIMIT (read by the
// runtime at start) or a caller already set one. It returns the limit in
// force (math.MaxInt64: none) and where it came from.
func setMemoryLimit(getenv func(string) string) (limit int64, from string) {
	cur := debug.SetMemoryLimit(-1) // -1: read without changing
	switch {
	case getenv("GOMEMLIMIT") != "":
		return cur, "GOMEMLIMIT"
	case cur != math.MaxInt64:
		return cur, "already set"
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
	return defaultMemoryLimit, "default"
}

// mountPProf serves the runtime profiles under /debug/pprof/ (http.pprof).
func mountPProf(s *httpapi.Server) {
	s.Handle("/debug/pprof/", http.HandlerFunc(pprof.Index))
	s.Handle("/debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline))
	s.Handle("/debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	s.Handle("/debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
	s.Handle("/debug/pprof/trace", http.HandlerFunc(pprof.Trace))
}
