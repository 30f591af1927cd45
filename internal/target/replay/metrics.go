package replay

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("wirebridge_replay_"+name, help, append([]string{"target"}, labels...), nil)
}

var (
	descFlowsOpen    = desc("flows_open", "TCP flows being reassembled.")
	descFlows        = desc("flows_total", "TCP flows opened.")
	descFlowsEnded   = desc("flows_ended_total", "TCP flows ended, by reason.", "reason")
	descBytes        = desc("bytes_forwarded_total", "Bytes written to the shadow.")
	descReqParsed    = desc("requests_parsed_total", "HTTP requests parsed from client streams.")
	descReqForwarded = desc("requests_forwarded_total", "HTTP requests replayed that got a response.")
	descReqDropped   = desc("requests_dropped_total", "HTTP requests (or tcp flows) not replayed, by reason (docs/replay.md lists them).", "reason")
	descGaps         = desc("gaps_total", "Holes in a stream resolved by the gap policy.")
	descGapBytes     = desc("gap_bytes_total", "Bytes missing in the gaps.")
	descEvictions    = desc("evictions_total", "Flows or buffers given up to the flow and memory limits.", "reason")
	descRetrans      = desc("retransmitted_bytes_total", "Payload bytes seen again (retransmissions, overlaps), not forwarded twice.")
	descOOO          = desc("out_of_order_segments_total", "Segments buffered ahead of a hole.")
	descBuffered     = desc("buffered_bytes", "Memory held for out-of-order segments (their bytes plus 96 bytes each), bounded by max_buffer.")
	descDiscarded    = desc("discarded_bytes_total", "Bytes never delivered: held behind a hole by a flow that ended with the abort gap policy (by its end reason), or sent after a FIN (after_fin).", "reason")
	descErrors       = desc("target_errors_total", "Failures talking to the shadow, by kind.", "kind")
	descResponses    = desc("responses_total", "Replayed responses, by status code.", "code")
	descParseErrors  = desc("parse_errors_total", "HTTP parse errors, by reason.", "reason")
	descDiffs        = desc("diffs_total", "Replayed responses that differ from the mirrored original.")
	descNotTCP       = desc("packets_not_tcp_total", "Delivered packets without a complete inner TCP header.")
	descPackets      = desc("packets_total", "Packets delivered to the target.")
)

// Describe implements prometheus.Collector.
func (t *Target) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFlowsOpen, descFlows, descFlowsEnded, descBytes, descReqParsed, descReqForwarded,
		descReqDropped, descGaps, descGapBytes, descEvictions, descRetrans, descOOO, descBuffered, descDiscarded, descErrors, descResponses,
		descParseErrors, descDiffs, descNotTCP, descPackets} {
		ch <- d
	}
	t.latency.Describe(ch)
}

// Collect implements prometheus.Collector.
func (t *Target) Collect(ch chan<- prometheus.Metric) {
	s := t.Stats()
	n := t.cfg.Name
	g := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{n}, l...)...)
	}
	c := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{n}, l...)...)
	}
	g(descFlowsOpen, float64(s.Reasm.Open))
	c(descFlows, s.Reasm.FlowsOpened)
	for k, v := range s.Reasm.Ended {
		c(descFlowsEnded, v, k)
	}
	c(descBytes, s.BytesForwarded)
	c(descReqParsed, s.RequestsParsed)
	c(descReqForwarded, s.RequestsForwarded)
	for k, v := range s.Dropped {
		c(descReqDropped, v, k)
	}
	c(descGaps, s.Reasm.Gaps)
	c(descGapBytes, s.Reasm.GapBytes)
	for k, v := range s.Reasm.Evictions {
		c(descEvictions, v, k)
	}
	c(descRetrans, s.Reasm.Retransmitted)
	c(descOOO, s.Reasm.OutOfOrder)
	g(descBuffered, float64(s.Reasm.Buffered))
	for k, v := range s.Reasm.Discarded {
		c(descDiscarded, v, k)
	}
	for k, v := range s.Errors {
		c(descErrors, v, k)
	}
	for k, v := range s.Responses {
		c(descResponses, v, strconv.Itoa(k))
	}
	for k, v := range s.ParseErrors {
		c(descParseErrors, v, k)
	}
	c(descDiffs, s.Diffs)
	c(descNotTCP, s.NotTCP)
	c(descPackets, s.Packets)
	t.latency.Collect(ch)
}
