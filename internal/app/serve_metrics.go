package app

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/pipeline"
	"github.com/wirebridge/wirebridge/internal/rule"
	"github.com/wirebridge/wirebridge/internal/source"
)

// Metrics exposed by `wirebridge serve` besides internal/deliver's per-target
// collectors. They are read from the components' own atomic counters at
// scrape time, so the hot path pays nothing for them:
//
//	wirebridge_source_received_total{source}          packets read from the kernel or file
//	wirebridge_source_bytes_total{source}             their bytes on the wire
//	wirebridge_source_emitted_total{source}           packets handed to the pipeline
//	wirebridge_source_truncated_total{source}         packets longer than max_datagram
//	wirebridge_source_dropped_total{source,reason}    not_allowed, rate_limited_source,
//	                                                  rate_limited_global, kernel, queue_full,
//	                                                  malformed
//	wirebridge_source_decode_errors_total{source,kind} packets whose decoding stopped early
//	                                                  (truncated, bad length, ...); still matched
//	wirebridge_pipeline_processed_total{source}       packets decoded and matched
//	wirebridge_pipeline_matched_total{source}         packets matching at least one rule
//	wirebridge_pipeline_dropped_total{source,reason}  queue_full, shutdown
//	wirebridge_pipeline_refused_total{target}         deliveries the target's deliverer refused
//	wirebridge_pipeline_queued_packets                packets waiting for a pipeline worker
//	wirebridge_pipeline_queued_bytes                  their bytes
//	wirebridge_rule_matched_total{rule}               events each rule matched
//	wirebridge_internal_events_total{source}          events not from packets (ReplayDiff) published
//	wirebridge_internal_events_matched_total{source}  those matching at least one rule
//	wirebridge_internal_deliveries_total{source}      their deliveries accepted by a deliverer
//	wirebridge_internal_events_dropped_total{source,reason} queue_full, encode, no_frame,
//	                                                  unknown_target, refused, shutdown
var (
	descReceived  = prometheus.NewDesc("wirebridge_source_received_total", "Packets read by the source (before admission checks).", []string{"source"}, nil)
	descBytes     = prometheus.NewDesc("wirebridge_source_bytes_total", "Bytes on the wire of the packets read.", []string{"source"}, nil)
	descEmitted   = prometheus.NewDesc("wirebridge_source_emitted_total", "Packets handed to the pipeline.", []string{"source"}, nil)
	descTruncated = prometheus.NewDesc("wirebridge_source_truncated_total", "Packets longer than max_datagram, emitted truncated.", []string{"source"}, nil)
	descDropped   = prometheus.NewDesc("wirebridge_source_dropped_total", "Packets dropped, by reason.", []string{"source", "reason"}, nil)
	descDecodeErr = prometheus.NewDesc("wirebridge_source_decode_errors_total", "Packets whose decoding stopped early, by kind; they are still matched.", []string{"source", "kind"}, nil)
	descProcessed = prometheus.NewDesc("wirebridge_pipeline_processed_total", "Packets decoded and matched.", []string{"source"}, nil)
	descPMatched  = prometheus.NewDesc("wirebridge_pipeline_matched_total", "Packets matching at least one rule.", []string{"source"}, nil)
	descPDropped  = prometheus.NewDesc("wirebridge_pipeline_dropped_total", "Packets the pipeline dropped, by reason.", []string{"source", "reason"}, nil)
	descRefused   = prometheus.NewDesc("wirebridge_pipeline_refused_total", "Deliveries a target's deliverer refused (queue full, store down).", []string{"target"}, nil)
	descQPackets  = prometheus.NewDesc("wirebridge_pipeline_queued_packets", "Packets waiting for a pipeline worker.", nil, nil)
	descQBytes    = prometheus.NewDesc("wirebridge_pipeline_queued_bytes", "Bytes of the packets waiting for a pipeline worker.", nil, nil)
	descMatched   = prometheus.NewDesc("wirebridge_rule_matched_total", "Events matched, per rule.", []string{"rule"}, nil)
	descEvents    = prometheus.NewDesc("wirebridge_internal_events_total", "Events not built from packets (ReplayDiff) published.", []string{"source"}, nil)
	descEvMatched = prometheus.NewDesc("wirebridge_internal_events_matched_total", "Internal events matching at least one rule.", []string{"source"}, nil)
	descEvDeliv   = prometheus.NewDesc("wirebridge_internal_deliveries_total", "Deliveries of internal events accepted by a target's deliverer.", []string{"source"}, nil)
	descEvDropped = prometheus.NewDesc("wirebridge_internal_events_dropped_total", "Internal events, or their deliveries, not delivered, by reason.", []string{"source", "reason"}, nil)
)

type sourceCollector struct{ sources []source.Source }

func (c sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReceived, descBytes, descEmitted, descTruncated, descDropped} {
		ch <- d
	}
}

func (c sourceCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.sources {
		n := s.Name()
		st := s.Stats().Snapshot()
		ch <- prometheus.MustNewConstMetric(descReceived, prometheus.CounterValue, float64(st.Received), n)
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(st.Bytes), n)
		ch <- prometheus.MustNewConstMetric(descEmitted, prometheus.CounterValue, float64(st.Emitted), n)
		ch <- prometheus.MustNewConstMetric(descTruncated, prometheus.CounterValue, float64(st.Truncated), n)
		for _, r := range source.DropReasons() {
			ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.Dropped[r.String()]), n, r.String())
		}
	}
}

// ruleCollector reports the matched counters of the rule set in force; the
// counters survive reloads for rules that keep their name.
type ruleCollector struct{ table *rule.Table }

func (c ruleCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descMatched }

func (c ruleCollector) Collect(ch chan<- prometheus.Metric) {
	for name, n := range c.table.Current().Counts() {
		ch <- prometheus.MustNewConstMetric(descMatched, prometheus.CounterValue, float64(n), name)
	}
}

type pipelineCollector struct{ p *pipeline.Pipeline }

func (c pipelineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDecodeErr, descProcessed, descPMatched, descPDropped, descRefused, descQPackets, descQBytes} {
		ch <- d
	}
}

func (c pipelineCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.p.Stats()
	for name, s := range st.Sources {
		for _, k := range packet.Kinds {
			ch <- prometheus.MustNewConstMetric(descDecodeErr, prometheus.CounterValue, float64(s.DecodeErrors[k.String()]), name, k.String())
		}
		ch <- prometheus.MustNewConstMetric(descProcessed, prometheus.CounterValue, float64(s.Processed), name)
		ch <- prometheus.MustNewConstMetric(descPMatched, prometheus.CounterValue, float64(s.Matched), name)
		for _, r := range []string{pipeline.DropQueueFull, pipeline.DropShutdown} {
			ch <- prometheus.MustNewConstMetric(descPDropped, prometheus.CounterValue, float64(s.Dropped[r]), name, r)
		}
	}
	for name, t := range st.Targets {
		ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(t.Refused), name)
	}
	ch <- prometheus.MustNewConstMetric(descQPackets, prometheus.GaugeValue, float64(st.QueuedPackets))
	ch <- prometheus.MustNewConstMetric(descQBytes, prometheus.GaugeValue, float64(st.QueuedBytes))
}

// eventCollector reports the pipeline's event ingresses' counters, summed
// by event source (every replay target publishes as wirebridge.replay).
type eventCollector struct{ p *pipeline.Pipeline }

func (c eventCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEvents, descEvMatched, descEvDeliv, descEvDropped} {
		ch <- d
	}
}

func (c eventCollector) Collect(ch chan<- prometheus.Metric) {
	sum := map[string]*pipeline.EventStats{}
	for _, src := range internalEventSources {
		sum[src] = &pipeline.EventStats{Dropped: map[string]uint64{}}
	}
	for _, st := range c.p.Stats().Events {
		t := sum[st.EventSource]
		if t == nil {
			t = &pipeline.EventStats{Dropped: map[string]uint64{}}
			sum[st.EventSource] = t
		}
		t.Published += st.Published
		t.Matched += st.Matched
		t.Delivered += st.Delivered
		for r, n := range st.Dropped {
			t.Dropped[r] += n
		}
	}
	for src, st := range sum {
		ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(st.Published), src)
		ch <- prometheus.MustNewConstMetric(descEvMatched, prometheus.CounterValue, float64(st.Matched), src)
		ch <- prometheus.MustNewConstMetric(descEvDeliv, prometheus.CounterValue, float64(st.Delivered), src)
		for _, r := range pipeline.EventDropReasons {
			ch <- prometheus.MustNewConstMetric(descEvDropped, prometheus.CounterValue, float64(st.Dropped[r]), src, r)
		}
	}
}

// newRegistry returns the registry /metrics serves, with the Go runtime and
// process collectors (RSS, open files, CPU) in it.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// uncheckedCollector collects c without describing it, so that collectors
// sharing descriptors (one per target of a type) can all be registered.
type uncheckedCollector struct{ c prometheus.Collector }

func (uncheckedCollector) Describe(chan<- *prometheus.Desc) {}

func (u uncheckedCollector) Collect(ch chan<- prometheus.Metric) { u.c.Collect(ch) }
