package appliance

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// numKinds sizes the per-decode-error-kind counters (packet.Kind values).
const numKinds = int(packet.ErrUnsupported) + 1

// latencyBounds are the latency histogram's bucket upper bounds in
// seconds: kernel receive time to the reply's sendmmsg returning.
var latencyBounds = [...]float64{5e-6, 10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 50e-3, 0.1, 1}

// histogram is a fixed-bucket latency histogram updated with atomics.
type histogram struct {
	bounds []int64 // ns
	counts []atomic.Uint64
	sumNs  atomic.Int64
	n      atomic.Uint64
}

func (h *histogram) init() {
	h.bounds = make([]int64, len(latencyBounds))
	for i, b := range latencyBounds {
		h.bounds[i] = int64(b * 1e9)
	}
	h.counts = make([]atomic.Uint64, len(latencyBounds)+1)
}

// observeSince observes done - t for every t of ts: counted locally, then
// one atomic add per bucket used (a batch of replies mostly lands in one or
// two buckets).
func (h *histogram) observeSince(done int64, ts []int64) {
	var counts [len(latencyBounds) + 1]uint64
	var sum int64
	for _, t := range ts {
		ns := max(done-t, 0)
		counts[h.bucket(ns)]++
		sum += ns
	}
	for i, c := range counts {
		if c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.sumNs.Add(sum)
	h.n.Add(uint64(len(ts)))
}

func (h *histogram) bucket(ns int64) int {
	i := 0
	for i < len(h.bounds) && ns > h.bounds[i] {
		i++
	}
	return i
}

// readerStats are one reader's counters; only its goroutine writes them.
type readerStats struct {
	received, returned, dropped atomic.Uint64
	sendErrors                  atomic.Uint64
	overload                    atomic.Uint64
	oversizeRecv                atomic.Uint64
	oversizeModify              atomic.Uint64
	undecodable                 [numKinds]atomic.Uint64
	probes                      atomic.Uint64
	lat                         histogram
	// busySince is when the reader started on its current batch (monoNow),
	// 0 while it waits for datagrams: a reader busy for longer than the
	// health window is stuck (a tee callback or sendmmsg that blocks).
	busySince atomic.Int64
	// kernelDrops is the socket's drop count (SO_MEMINFO) last read.
	kernelDrops atomic.Uint64
}

func (s *readerStats) init() { s.lat.init() }

// Stats is a snapshot of the appliance's counters, summed over readers.
type Stats struct {
	Received, Returned, Dropped uint64
	SendErrors                  uint64
	Overload                    uint64
	OversizeReceived            uint64
	OversizeModify              uint64
	Undecodable                 uint64
	Probes                      uint64
	// Rules counts outcomes per rule name (and DefaultRuleName).
	Rules map[string][numOutcomes]uint64
	// FlowEvictions counts per-flow rate table evictions per rule name.
	FlowEvictions map[string]uint64
	// Teed counts packets handed to the tee callback per rule name.
	Teed map[string]uint64
}

// Stats returns the counters now.
func (a *Appliance) Stats() Stats {
	s := Stats{Rules: map[string][numOutcomes]uint64{}, FlowEvictions: map[string]uint64{}, Teed: map[string]uint64{}}
	for _, r := range a.readers {
		st := &r.st
		s.Received += st.received.Load()
		s.Returned += st.returned.Load()
		s.Dropped += st.dropped.Load()
		s.SendErrors += st.sendErrors.Load()
		s.Overload += st.overload.Load()
		s.OversizeReceived += st.oversizeRecv.Load()
		s.OversizeModify += st.oversizeModify.Load()
		for k := range st.undecodable {
			s.Undecodable += st.undecodable[k].Load()
		}
		s.Probes += st.probes.Load()
	}
	for _, r := range append(append([]*rule(nil), a.rules...), a.def) {
		var o [numOutcomes]uint64
		for i := range o {
			o[i] = r.outcomes[i].Load()
		}
		s.Rules[r.name] = o
		if r.flows != nil {
			s.FlowEvictions[r.name] = r.flows.evictions.Load()
		}
		if len(r.tee) > 0 {
			s.Teed[r.name] = r.tees.Load()
		}
	}
	return s
}

// Collector exports the appliance's counters to Prometheus. serve
// registers it next to the pipeline's (on /metrics).
type Collector struct {
	a *Appliance

	rulePackets, readerPackets, overload, decodeErrors, oversize, sendErrors,
	evictions, teed, kernelDrops, probes, healthy, latency *prometheus.Desc
}

// Collector returns the appliance's Prometheus collector.
func (a *Appliance) Collector() *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("wirebridge_appliance_"+name, help, labels, nil)
	}
	return &Collector{
		a:             a,
		rulePackets:   d("rule_packets_total", "Packets each inline rule (or the default action, rule \"default\") decided, by what was done: pass, drop, modify.", "rule", "action"),
		readerPackets: d("reader_packets_total", "Geneve datagrams per reader: received, returned (sent back), dropped (not sent back, for any reason).", "reader", "direction"),
		overload:      d("overload_total", "Packets read while a reader was behind (socket queue over half full), handled by the overload policy.", "policy"),
		decodeErrors:  d("decode_errors_total", "Datagrams whose Geneve header or inner packet did not decode, by error kind, handled by the undecodable policy.", "kind"),
		oversize:      d("oversize_total", "Packets larger than the MTU: on arrival (dropped) or after a modify (oversize policy).", "stage"),
		sendErrors:    d("send_errors_total", "Replies the kernel refused to send.", "reader"),
		evictions:     d("flow_evictions_total", "Per-flow rate limiter entries displaced by another flow.", "rule"),
		teed:          d("tee_total", "Packets handed to tee targets.", "rule"),
		kernelDrops:   d("kernel_drops_total", "Datagrams the kernel dropped on a reader's socket (receive buffer full).", "reader"),
		probes:        d("probes_total", "Health self-probes sent through the data path, and returned.", "result"),
		healthy:       d("healthy", "1 while the health check reports healthy (probes return and not draining).", nil...),
		latency:       d("latency_seconds", "Time from the kernel receiving a datagram to its reply being sent.", nil...),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rulePackets, c.readerPackets, c.overload, c.decodeErrors, c.oversize,
		c.sendErrors, c.evictions, c.teed, c.kernelDrops, c.probes, c.healthy, c.latency} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, r := range append(append([]*rule(nil), a.rules...), a.def) {
		for o := Outcome(0); o < numOutcomes; o++ {
			counter(c.rulePackets, r.outcomes[o].Load(), r.name, o.String())
		}
		if r.flows != nil {
			counter(c.evictions, r.flows.evictions.Load(), r.name)
		}
		if len(r.tee) > 0 {
			counter(c.teed, r.tees.Load(), r.name)
		}
	}
	var overload, oversizeRecv, oversizeMod uint64
	var kinds [numKinds]uint64
	buckets := make([]uint64, len(latencyBounds)+1)
	var sum float64
	var n uint64
	for _, r := range a.readers {
		st := &r.st
		id := strconv.Itoa(r.id)
		counter(c.readerPackets, st.received.Load(), id, "received")
		counter(c.readerPackets, st.returned.Load(), id, "returned")
		counter(c.readerPackets, st.dropped.Load(), id, "dropped")
		counter(c.sendErrors, st.sendErrors.Load(), id)
		_, _, drops := r.meminfo()
		counter(c.kernelDrops, uint64(drops), id)
		overload += st.overload.Load()
		oversizeRecv += st.oversizeRecv.Load()
		oversizeMod += st.oversizeModify.Load()
		for k := range kinds {
			kinds[k] += st.undecodable[k].Load()
		}
		for i := range buckets {
			buckets[i] += st.lat.counts[i].Load()
		}
		sum += float64(st.lat.sumNs.Load()) / 1e9
		n += st.lat.n.Load()
	}
	counter(c.overload, overload, a.spec.Overload)
	for _, k := range packet.Kinds {
		counter(c.decodeErrors, kinds[k], k.String())
	}
	counter(c.oversize, oversizeRecv, "received")
	counter(c.oversize, oversizeMod, "modify")
	counter(c.probes, a.probesSent.Load(), "sent")
	counter(c.probes, a.probesBack.Load(), "returned")
	h := 0.0
	if a.Healthy() {
		h = 1
	}
	ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, h)
	cum := map[float64]uint64{}
	var acc uint64
	for i, b := range latencyBounds {
		acc += buckets[i]
		cum[b] = acc
	}
	ch <- prometheus.MustNewConstHistogram(c.latency, n, sum, cum)
}
