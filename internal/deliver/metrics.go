package deliver

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the per-target delivery collectors. Create one per process
// (or per test) with NewMetrics and pass it to every New.
//
//	wirebridge_deliver_enqueued_total{target}        deliveries accepted: direct: queued by Enqueue;
//	                                                 durable: stored in JetStream (the server acked it)
//	wirebridge_deliver_delivered_total{target}       deliveries a Send succeeded for
//	wirebridge_deliver_failed_total{target}          failed delivery attempts (retried or not)
//	wirebridge_deliver_retried_total{target}         failed attempts scheduled for a retry
//	wirebridge_deliver_dead_lettered_total{target}   deliveries moved to the dead-letter stream
//	wirebridge_deliver_dropped_total{target,reason}  deliveries lost: queue_full, shutdown, refused,
//	                                                 canceled, and in direct mode permanent,
//	                                                 max_attempts, max_age
//	wirebridge_deliver_queue_depth{target}           direct: queued; durable: stored, not yet delivered
//	wirebridge_deliver_store_pending{target}         durable: taken by Enqueue, not yet stored or refused
//	                                                 (in memory only: a kill -9 loses these)
//	wirebridge_deliver_latency_seconds{target}       acceptance to successful Send
type Metrics struct {
	enqueued, delivered, failed, retried, deadLettered *prometheus.CounterVec
	dropped                                            *prometheus.CounterVec
	depth, storePending                                *prometheus.GaugeVec
	latency                                            *prometheus.HistogramVec
}

// NewMetrics creates the collectors and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "wirebridge", Subsystem: "deliver", Name: name, Help: help,
		}, labels)
	}
	m := &Metrics{
		enqueued:     counter("enqueued_total", "Deliveries accepted for a target.", "target"),
		delivered:    counter("delivered_total", "Deliveries sent successfully.", "target"),
		failed:       counter("failed_total", "Failed delivery attempts, retried or not.", "target"),
		retried:      counter("retried_total", "Failed delivery attempts scheduled for a retry.", "target"),
		deadLettered: counter("dead_lettered_total", "Deliveries moved to the dead-letter stream.", "target"),
		dropped:      counter("dropped_total", "Deliveries lost, by reason.", "target", "reason"),
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "wirebridge", Subsystem: "deliver", Name: "queue_depth",
			Help: "Deliveries waiting: queued (direct) or stored and not yet delivered (durable).",
		}, []string{"target"}),
		storePending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "wirebridge", Subsystem: "deliver", Name: "store_pending",
			Help: "Durable: deliveries taken for the target and not yet stored in JetStream or refused.",
		}, []string{"target"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "wirebridge", Subsystem: "deliver", Name: "latency_seconds",
			Help:    "Time from acceptance to successful delivery.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 12), // 0.5ms .. ~35min
		}, []string{"target"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.enqueued, m.delivered, m.failed, m.retried,
			m.deadLettered, m.dropped, m.depth, m.storePending, m.latency} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("deliver: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// Stats is a snapshot of one worker's counters (see Metrics for meanings).
type Stats struct {
	Enqueued, Delivered, Failed, Retried, DeadLettered uint64
	Dropped                                            map[string]uint64 // by reason; only non-zero reasons
	QueueDepth                                         int64
	StorePending                                       int64 // durable: taken, not yet stored or refused
}

// DroppedTotal is the sum of Dropped.
func (s Stats) DroppedTotal() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

var dropReasons = [...]string{ReasonQueueFull, ReasonShutdown, ReasonRefused, ReasonCanceled,
	ReasonPermanent, ReasonMaxAttempts, ReasonMaxAge, ReasonDecode}

// meter is one target's counters: atomics for Stats, curried collectors for Prometheus.
type meter struct {
	enqueued, delivered, failed, retried, deadLettered atomic.Uint64
	dropped                                            [len(dropReasons)]atomic.Uint64
	depth, storePending                                atomic.Int64

	pEnqueued, pDelivered, pFailed, pRetried, pDeadLettered prometheus.Counter
	pDropped                                                [len(dropReasons)]prometheus.Counter
	pDepth, pStorePending                                   prometheus.Gauge
	pLatency                                                prometheus.Observer
}

func (m *Metrics) forTarget(target string) *meter {
	if m == nil {
		m, _ = NewMetrics(nil)
	}
	mt := &meter{
		pEnqueued:     m.enqueued.WithLabelValues(target),
		pDelivered:    m.delivered.WithLabelValues(target),
		pFailed:       m.failed.WithLabelValues(target),
		pRetried:      m.retried.WithLabelValues(target),
		pDeadLettered: m.deadLettered.WithLabelValues(target),
		pDepth:        m.depth.WithLabelValues(target),
		pStorePending: m.storePending.WithLabelValues(target),
		pLatency:      m.latency.WithLabelValues(target),
	}
	for i, r := range dropReasons {
		mt.pDropped[i] = m.dropped.WithLabelValues(target, r)
	}
	return mt
}

func (m *meter) addEnqueued(n int) {
	m.enqueued.Add(uint64(n))
	m.pEnqueued.Add(float64(n))
}

func (m *meter) addDelivered(n int) {
	m.delivered.Add(uint64(n))
	m.pDelivered.Add(float64(n))
}

func (m *meter) addFailed(n int) {
	m.failed.Add(uint64(n))
	m.pFailed.Add(float64(n))
}

func (m *meter) addRetried(n int) {
	m.retried.Add(uint64(n))
	m.pRetried.Add(float64(n))
}

func (m *meter) addDeadLettered(n int) {
	m.deadLettered.Add(uint64(n))
	m.pDeadLettered.Add(float64(n))
}

func (m *meter) addDropped(reason string, n int) {
	if n <= 0 {
		return
	}
	for i, r := range dropReasons {
		if r == reason {
			m.dropped[i].Add(uint64(n))
			m.pDropped[i].Add(float64(n))
			return
		}
	}
}

func (m *meter) setDepth(n int64) {
	m.depth.Store(n)
	m.pDepth.Set(float64(n))
}

func (m *meter) setStorePending(n int64) {
	m.storePending.Store(n)
	m.pStorePending.Set(float64(n))
}

func (m *meter) observeLatency(accepted, now time.Time) {
	if !accepted.IsZero() {
		m.pLatency.Observe(now.Sub(accepted).Seconds())
	}
}

func (m *meter) stats() Stats {
	s := Stats{
		Enqueued:     m.enqueued.Load(),
		Delivered:    m.delivered.Load(),
		Failed:       m.failed.Load(),
		Retried:      m.retried.Load(),
		DeadLettered: m.deadLettered.Load(),
		QueueDepth:   m.depth.Load(),
		StorePending: m.storePending.Load(),
		Dropped:      map[string]uint64{},
	}
	for i, r := range dropReasons {
		if v := m.dropped[i].Load(); v > 0 {
			s.Dropped[r] = v
		}
	}
	return s
}
