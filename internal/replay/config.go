package replay

import (
	"fmt"
	"regexp"
	"sort"
)

// ConfigFrom converts a configured replay target. OnDiff is left for the
// caller (the app routes ReplayDiff events).
func ConfigFrom(name string, r *Spec) (Config, error) {
	if r == nil {
		return Config{}, fmt.Errorf("replay target %q: no replay settings", name)
	}
	c := Config{
		Name: name, Protocol: r.Protocol, Address: r.Address, URL: r.URL, KeepHost: r.Host == "keep",
		Timeout: r.Timeout,
		Limits: Limits{
			MaxFlows: r.MaxFlows, FlowBuffer: int(r.FlowBuffer), TotalBuffer: int(r.MaxBuffer),
			GapWait: r.Gap.Wait, GapBytes: int(r.Gap.Bytes), IdleTimeout: r.IdleTimeout, ServerPorts: r.ServerPorts,
		},
		MaxBody: int(r.MaxBody), Pool: r.Pool, QueueBytes: int(r.QueueBytes),
		Methods: r.Filter.Methods, Sample: r.Sample, Rate: r.Rate, Burst: r.Burst, Compare: r.Compare,
		ResyncOnParseError: r.OnParseError == "resync",
	}
	if r.Gap.Policy == "abort" {
		c.Limits.Policy = GapAbort
	}
	if r.Filter.Path != "" {
		re, err := regexp.Compile(r.Filter.Path)
		if err != nil {
			return c, fmt.Errorf("replay target %q: filter path: %w", name, err)
		}
		c.Path = re
	}
	for name, expr := range r.Filter.Headers {
		re, err := regexp.Compile(expr)
		if err != nil {
			return c, fmt.Errorf("replay target %q: filter header %s: %w", name, name, err)
		}
		if c.Headers == nil {
			c.Headers = map[string]*regexp.Regexp{}
		}
		c.Headers[name] = re
	}
	names := make([]string, 0, len(r.SetHeaders))
	for n := range r.SetHeaders {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c.SetHeaders = append(c.SetHeaders, Header{Name: n, Value: r.SetHeaders[n]})
	}
	return c, nil
}
