package mirror

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the controller's Prometheus metrics (docs/mirror.md), shared
// by every mirror entry of a process (label mirror). A nil *Metrics
// records nothing.
//
//	wirebridge_mirror_operations_total{mirror,kind,result}  kind create|delete; result created|already-present|deleted|failed
//	wirebridge_mirror_retries_total{mirror,kind}             tries that failed and were retried
//	wirebridge_mirror_dead_letters_total{mirror}             operations given up into the dead-letter stream
//	wirebridge_mirror_drift_repairs_total{mirror}            sessions repaired or removed behind the controller's back
//	wirebridge_mirror_setup_seconds{mirror}                  endpoint seen -> mirroring active (histogram)
//	wirebridge_mirror_scan_seconds{mirror}                   duration of a full reconcile (histogram)
//	wirebridge_mirror_scan_errors_total{mirror}              reconciles that could not read desired, actual or state
//	wirebridge_mirror_transitions_total{mirror,state}        state changes, by the state entered
type Metrics struct {
	ops, retries, transitions *prometheus.CounterVec
	dead, repairs, scanErrs   *prometheus.CounterVec
	setupH, scanH             *prometheus.HistogramVec
}

// NewMetrics returns the controller metrics; register them once.
func NewMetrics() *Metrics {
	buckets := []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}
	return &Metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wirebridge_mirror_operations_total",
			Help: "Mirror operations by kind (create, delete) and result (created, already-present, deleted, failed)."}, []string{"mirror", "kind", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wirebridge_mirror_retries_total",
			Help: "Tries of a mirror operation that failed and were retried."}, []string{"mirror", "kind"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wirebridge_mirror_transitions_total",
			Help: "Endpoint state changes, by the state entered."}, []string{"mirror", "state"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wirebridge_mirror_dead_letters_total",
			Help: "Mirror operations given up into the dead-letter stream."}, []string{"mirror"}),
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wirebridge_mirror_drift_repairs_total",
			Help: "Sessions repaired (incomplete or gone while recorded active) or removed (found without a record)."}, []string{"mirror"}),
		scanErrs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wirebridge_mirror_scan_errors_total",
			Help: "Reconciles that could not read the desired or actual sessions or the state."}, []string{"mirror"}),
		setupH: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "wirebridge_mirror_setup_seconds",
			Help: "Time from an endpoint seen (trigger or scan) to its mirroring active.", Buckets: buckets}, []string{"mirror"}),
		scanH: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "wirebridge_mirror_scan_seconds",
			Help: "Duration of a full reconcile (desired against actual).", Buckets: buckets}, []string{"mirror"}),
	}
}

func (m *Metrics) all() []prometheus.Collector {
	return []prometheus.Collector{m.ops, m.retries, m.transitions, m.dead, m.repairs, m.scanErrs, m.setupH, m.scanH}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.all() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.all() {
		c.Collect(ch)
	}
}

// Init reports the counters of the mirror entry name at zero.
func (m *Metrics) Init(name string) {
	if m == nil {
		return
	}
	for _, k := range []op{opCreate, opDelete} {
		m.retries.WithLabelValues(name, k.String())
	}
	for _, r := range []string{"created", "already-present", "failed"} {
		m.ops.WithLabelValues(name, "create", r)
	}
	for _, r := range []string{"deleted", "failed"} {
		m.ops.WithLabelValues(name, "delete", r)
	}
	m.dead.WithLabelValues(name)
	m.repairs.WithLabelValues(name)
	m.scanErrs.WithLabelValues(name)
	m.setupH.WithLabelValues(name)
	m.scanH.WithLabelValues(name)
}

func (m *Metrics) operation(name string, o op, result string) {
	if m != nil {
		m.ops.WithLabelValues(name, o.String(), result).Inc()
	}
}

func (m *Metrics) retried(name string, o op) {
	if m != nil {
		m.retries.WithLabelValues(name, o.String()).Inc()
	}
}

func (m *Metrics) transition(name string, s State) {
	if m != nil {
		m.transitions.WithLabelValues(name, string(s)).Inc()
	}
}

func (m *Metrics) deadLettered(name string) {
	if m != nil {
		m.dead.WithLabelValues(name).Inc()
	}
}

func (m *Metrics) repaired(name string) {
	if m != nil {
		m.repairs.WithLabelValues(name).Inc()
	}
}

func (m *Metrics) scanError(name string) {
	if m != nil {
		m.scanErrs.WithLabelValues(name).Inc()
	}
}

func (m *Metrics) setup(name string, d time.Duration) {
	if m != nil {
		m.setupH.WithLabelValues(name).Observe(d.Seconds())
	}
}

func (m *Metrics) scanned(name string, d time.Duration) {
	if m != nil {
		m.scanH.WithLabelValues(name).Observe(d.Seconds())
	}
}
