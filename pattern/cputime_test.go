package pattern

import (
	"syscall"
	"testing"
	"time"
)

// cpuTimer measures the process CPU time a benchmark uses, so figures stay
// meaningful on a loaded machine where wall time includes waiting for a CPU.
type cpuTimer struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuTimer { return cpuTimer{processCPU()} }

// report adds a "cpu-ns/op" metric.
func (c cpuTimer) report(b *testing.B) {
	b.ReportMetric(float64((processCPU()-c.start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
