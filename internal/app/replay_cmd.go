package app

import (
	"context"
	"flag"
	"fmt"
	"math"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/deliver"
	"github.com/wirebridge/wirebridge/internal/httpstream"
	"github.com/wirebridge/wirebridge/internal/target/replay"
	"github.com/wirebridge/wirebridge/internal/tcpreasm"
)

const replayHelp = `Replay mirrored traffic to a shadow service: receive VXLAN mirror traffic
(AWS VPC Traffic Mirroring, Linux tc mirred), keep one VNI and one original
port, reassemble the TCP connections and forward them: HTTP requests to an
http:// URL, or the raw client byte stream to a tcp:// address. It is a short
form of 'wirebridge serve' with a vxlan source, one rule and one replay
target (see docs/replay.md); --print-config shows that configuration.

Examples:
  wirebridge replay --vni 42 --port 80 --to http://staging.internal:8080
  wirebridge replay --vni 42 --port 5432 --to tcp://127.0.0.1:6432 --interface eth0`

// replayConfigYAML is the configuration `wirebridge replay` runs.
func replayConfigYAML(vni uint, port uint, to, iface, listen, httpListen string) (string, error) {
	u, err := url.Parse(to)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--to %q: want http://host[:port][/prefix] or tcp://host:port", to)
	}
	var b strings.Builder
	b.WriteString("http: {listen: " + strconv.Quote(httpListen) + "}\nsources:\n  - name: mirror\n    type: vxlan\n")
	if iface != "" {
		b.WriteString("    interface: " + strconv.Quote(iface) + "\n")
	} else {
		b.WriteString("    listen: [" + strconv.Quote(listen) + "]\n")
	}
	fmt.Fprintf(&b, "    vni: [%d]\nrules:\n  - name: replay\n", vni)
	fmt.Fprintf(&b, "    pattern: {\"detail\": {\"Tunnel\": {\"VNI\": [%d]}, \"Protocol\": [\"tcp\"], \"$or\": [{\"Destination\": {\"Port\": [%d]}}, {\"Source\": {\"Port\": [%d]}}]}}\n", vni, port, port)
	b.WriteString("    targets: [shadow]\ntargets:\n  - name: shadow\n    type: replay\n")
	switch u.Scheme {
	case "http":
		b.WriteString("    protocol: http\n    url: " + strconv.Quote(to) + "\n")
	case "tcp":
		b.WriteString("    protocol: tcp\n    address: " + strconv.Quote(u.Host) + "\n")
	default:
		return "", fmt.Errorf("--to %q: scheme must be http or tcp", to)
	}
	fmt.Fprintf(&b, "    server_ports: [%d]\n", port)
	// delivery.queue_size: a replay target's default (16,384) fits mirror traffic.
	return b.String(), nil
}

func runReplay(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("replay", "--vni N --port P --to URL [--interface IF | --listen ADDR]", replayHelp, stdio)
	vni := fs.Uint("vni", 0, "the mirror session's `VNI` (required)")
	port := fs.Uint("port", 0, "the original server `PORT` (both directions are tracked)")
	to := fs.String("to", "", "the shadow: http://host[:port][/prefix] or tcp://host:port")
	iface := fs.String("interface", "", "read the VXLAN packets with AF_PACKET on this interface instead of listening")
	listen := fs.String("listen", ":4789", "the VXLAN UDP listener `ADDR`")
	httpListen := fs.String("http", "127.0.0.1:8080", "the metrics/health HTTP listener")
	printCfg := fs.Bool("print-config", false, "print the equivalent configuration file and exit")
	pos, code, done := parseFlags(fs, args, stdio)
	if done {
		return code
	}
	vniSet := false
	fs.Visit(func(f *flag.Flag) { vniSet = vniSet || f.Name == "vni" })
	if len(pos) != 0 || !vniSet || *to == "" || *port == 0 || *port > 65535 || *vni >= 1<<24 {
		// No default VNI: a mirror session's VNI is never guessed (VNI 0
		// would replay nothing, or another session's traffic).
		fmt.Fprintln(stdio.Err, "wirebridge replay: --vni (0..16777215, the mirror session's), --port (1..65535) and --to are required")
		fs.Usage()
		return exitUsage
	}
	y, err := replayConfigYAML(*vni, *port, *to, *iface, *listen, *httpListen)
	if err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge replay: %v\n", err)
		return exitUsage
	}
	if *printCfg {
		fmt.Fprint(stdio.Out, y)
		return exitOK
	}
	cfg, err := config.Parse("wirebridge replay", []byte(y))
	if err != nil {
		fmt.Fprintln(stdio.Err, err)
		return exitFail
	}
	logger, level, err := newLogger(cfg.Log, stdio.Err)
	if err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge replay: %v\n", err)
		return exitFail
	}
	if limit, from := setMemoryLimit(os.Getenv); limit != math.MaxInt64 {
		logger.Debug("go memory limit", "bytes", limit, "from", from)
	}
	s, err := newServer(ctx, cfg, "", stdio, logger, level)
	if err != nil {
		logger.Error("cannot start", "error", err)
		return exitFail
	}
	s.what = "the configuration of wirebridge replay (--print-config shows it)"
	if err := s.run(ctx); err != nil {
		logger.Error("stopped with an error", "error", err)
		return exitFail
	}
	return exitOK
}

// newReplayTarget builds a replay target (for the registry's
// config.TargetReplay entry).
// Differences found by compare are published as ReplayDiff events (source
// wirebridge.replay) into the server's rules.
func newReplayTarget(env *buildEnv, t *config.Target) (deliver.Target, error) {
	c, err := replayConfig(t)
	if err != nil {
		return nil, err
	}
	if env != nil && env.events != nil {
		publish := env.events.producer(t.Name, replayEventSource)
		c.OnDiff = func(d replay.Diff) { publish(d.Event(replayEventSource)) }
	}
	return replay.New(c)
}

// replayConfig maps a configured replay target to the target's own Config.
// OnDiff is left for the caller (newReplayTarget routes ReplayDiff events).
func replayConfig(t *config.Target) (replay.Config, error) {
	r := t.Replay
	if r == nil {
		return replay.Config{}, fmt.Errorf("replay target %q: no replay settings", t.Name)
	}
	c := replay.Config{
		Name: t.Name, Protocol: r.Protocol, Address: r.Address, URL: r.URL, KeepHost: r.Host == "keep",
		Timeout: r.Timeout,
		Limits: tcpreasm.Limits{
			MaxFlows: r.MaxFlows, FlowBuffer: int(r.FlowBuffer), TotalBuffer: int(r.MaxBuffer),
			GapWait: r.Gap.Wait, GapBytes: int(r.Gap.Bytes), IdleTimeout: r.IdleTimeout, ServerPorts: r.ServerPorts,
		},
		MaxBody: int(r.MaxBody), Pool: r.Pool, QueueBytes: int(r.QueueBytes),
		Methods: r.Filter.Methods, Sample: r.Sample, Rate: r.Rate, Burst: r.Burst, Compare: r.Compare,
		ResyncOnParseError: r.OnParseError == "resync",
	}
	if r.Gap.Policy == "abort" {
		c.Limits.Policy = tcpreasm.GapAbort
	}
	if r.Filter.Path != "" {
		re, err := regexp.Compile(r.Filter.Path)
		if err != nil {
			return c, fmt.Errorf("replay target %q: filter path: %w", t.Name, err)
		}
		c.Path = re
	}
	for name, expr := range r.Filter.Headers {
		re, err := regexp.Compile(expr)
		if err != nil {
			return c, fmt.Errorf("replay target %q: filter header %s: %w", t.Name, name, err)
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
		c.SetHeaders = append(c.SetHeaders, httpstream.Header{Name: n, Value: r.SetHeaders[n]})
	}
	return c, nil
}
