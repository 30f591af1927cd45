package aws

import "github.com/prometheus/client_golang/prometheus"

var (
	descEvents = prometheus.NewDesc("wirebridge_mirror_aws_events_total",
		"EventBridge events read from SQS or posted to the events endpoint, by result: accepted (an instance or task state change, handed to the controller), ignored (another kind of event), malformed (not an EventBridge event, or missing its kind's fields).",
		[]string{"mirror", "result"}, nil)
	descUnauthorized = prometheus.NewDesc("wirebridge_mirror_aws_unauthorized_total",
		"Requests to the events endpoint refused for a missing or wrong API key.", []string{"mirror"}, nil)
	descReceiveErrors = prometheus.NewDesc("wirebridge_mirror_aws_receive_errors_total",
		"SQS ReceiveMessage calls that failed.", []string{"mirror"}, nil)
	descTriggers = prometheus.NewDesc("wirebridge_mirror_aws_triggers_total",
		"Triggers the events gave the controller.", []string{"mirror"}, nil)
)

// Describe implements prometheus.Collector: serve registers a provider that
// is one, so its counters are on /metrics.
func (p *Provider) Describe(ch chan<- *prometheus.Desc) {
	ch <- descEvents
	ch <- descUnauthorized
	ch <- descReceiveErrors
	ch <- descTriggers
}

// Collect implements prometheus.Collector.
func (p *Provider) Collect(ch chan<- prometheus.Metric) {
	s, name := p.Stats(), p.cfg.Name
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{name}, labels...)...)
	}
	counter(descEvents, s.Received, "accepted")
	counter(descEvents, s.Ignored, "ignored")
	counter(descEvents, s.Malformed, "malformed")
	counter(descUnauthorized, s.Unauthorized)
	counter(descReceiveErrors, s.ReceiveErrors)
	counter(descTriggers, s.Triggers)
}
