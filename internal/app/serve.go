package app

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/deliver"
	"github.com/wirebridge/wirebridge/internal/dissect"
	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/httpapi"
	"github.com/wirebridge/wirebridge/internal/kinds"
	"github.com/wirebridge/wirebridge/internal/mirror"
	"github.com/wirebridge/wirebridge/internal/pipeline"
	"github.com/wirebridge/wirebridge/internal/rule"
	"github.com/wirebridge/wirebridge/internal/source"
)

const serveHelp = `
Run the configured pipeline: sources capture packets, each packet becomes an
EventBridge-shaped event, rules with event patterns pick the events, and
targets receive them (durable targets through NATS JetStream, at least once).

Without -c, wirebridge runs its embedded default configuration: a UDP source
on 127.0.0.1:5514, HTTP on 127.0.0.1:8080, a catch-all rule archiving
every event as NDJSON and every packet as pcap under ./wirebridge-data, and
another sending every event to the live channel /packets/all; serve prints
a read-only share link to watch it in the browser when its output is a
terminal (elsewhere, such as journald, it prints the command that makes one:
wirebridge share /packets/all).
` + "`wirebridge validate -c FILE`" + ` checks a file without running it.

With an appliance: section, serve also runs the inline Geneve appliance for
AWS Gateway Load Balancer (Geneve on :6081, health check on :8080; the HTTP
API then defaults to 127.0.0.1:8081): docs/appliance.md.

With a mirror: list, serve also runs the mirror controllers, which keep
traffic mirroring set up for every selected interface: docs/mirror.md.

Signals:
  SIGHUP           re-read the configuration file and swap the rule set
                   (sources and targets need a restart; errors keep the old rules)
  SIGTERM, SIGINT  stop the sources, drain the pipeline, flush the targets
                   within shutdown_timeout, then exit (an appliance turns
                   unhealthy first and keeps forwarding for its drain_time);
                   a second SIGTERM or SIGINT ends the process at once

HTTP (http.listen):
  /metrics            Prometheus metrics
  /healthz, /readyz   liveness and readiness
  /api/dlq/TARGET     dead-letter queue: list (GET), /replay (POST)
  /api/mirror         mirror state (GET); /api/mirror/NAME/ensure/ENDPOINT (POST)
  /api/events         publish events to a live channel (POST, publish scope)
  /api/channels       live channels, their event and subscriber counts
  /api/share          create a read-only share link (POST)
  /api/subscribers    every live subscriber's counters (admin scope)
  /ws                 WebSocket: subscribe to live channels
  /                   the web UI (live table, filter, layers, hex, pcap export)
  Live channels need a share link or a live.api_keys key (docs/live.md).

Examples:
  wirebridge serve
  wirebridge serve -c examples/article.yaml
  wirebridge serve -c examples/censor.yaml`

func runServe(ctx context.Context, args []string, stdio Stdio) int {
	var (
		path       string
		statsEvery time.Duration
	)
	fs := newFlagSet("serve", "[-c FILE]", serveHelp, stdio)
	fs.StringVar(&path, "c", "", "the configuration `FILE` (default: the embedded default configuration)")
	fs.DurationVar(&statsEvery, "stats-interval", time.Minute, "how often to log the counters (0: never)")
	pos, code, done := parseFlags(fs, args, stdio)
	if done {
		return code
	}
	if len(pos) != 0 {
		fmt.Fprintf(stdio.Err, "wirebridge serve: unexpected argument %q\n", pos[0])
		fs.Usage()
		return exitUsage
	}
	cfg, err := loadConfig(path)
	if err != nil {
		fmt.Fprintln(stdio.Err, err)
		return exitFail
	}
	logger, level, err := newLogger(cfg.Log, stdio.Err)
	if err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge serve: %v\n", err)
		return exitFail
	}
	if limit, from := setMemoryLimit(os.Getenv); limit != math.MaxInt64 {
		logger.Debug("go memory limit", "bytes", limit, "from", from)
	}
	start := time.Now()
	s, err := newServer(ctx, cfg, path, stdio, logger, level)
	if err != nil {
		logger.Error("cannot start", "error", err)
		return exitFail
	}
	s.statsEvery = statsEvery
	s.start = start
	if err := s.run(ctx); err != nil {
		logger.Error("stopped with an error", "error", err)
		return exitFail
	}
	return exitOK
}

// server is one running `wirebridge serve`: every component built from the
// configuration, in data order.
type server struct {
	cfg        *config.Config
	path       string // "" when running the embedded default
	what       string // what the banner says runs, when not a file or the embedded default (replay)
	log        *slog.Logger
	level      *slog.LevelVar
	stdio      Stdio
	statsEvery time.Duration
	start      time.Time

	lock       *dataLock // data_dir's lock, nil when the configuration keeps nothing there
	reg        *prometheus.Registry
	http       *httpapi.Server
	bus        *bus.Bus
	busCleanup func()
	workers    []deliver.Worker
	caps       []targetCaps     // per target, what it needs (registry.go)
	targets    []deliver.Target // built, owned by their workers once running
	table      *rule.Table
	pipe       *pipeline.Pipeline
	sources    []source.Source
	emits      []source.Emit       // per source, into pipe
	events     *eventInputs        // events not from packets (ReplayDiff): their ingresses into pipe
	appliance  component.Appliance // the inline Geneve appliance (serve_appliance.go); nil: none
	mirrors    *mirrorSet          // the mirror controllers (serve_mirror.go); nil: none
	live       *liveState          // live channels, /api, /ws and the UI (share_serve.go)
	lc         *lifecycle          // start and stop order of the running components (lifecycle.go)
	fatal      chan error          // a component failed while running

	srcStarted  atomic.Bool // sources started and not stopping (a finished capture file counts as started)
	workRunning atomic.Int32
	pipeRunning atomic.Bool
}

// newServer builds every component; on error it releases what it built.
func newServer(ctx context.Context, cfg *config.Config, path string, stdio Stdio, logger *slog.Logger, level *slog.LevelVar) (_ *server, err error) {
	s := &server{cfg: cfg, path: path, log: logger, level: level, stdio: stdio, busCleanup: func() {}, start: time.Now()}
	defer func() {
		if err != nil {
			s.release()
		}
	}()
	reg := defaultRegistry()
	s.reg = newRegistry()

	// One data_dir, one process: the lock comes before anything opens the
	// store or writes under data_dir (datalock.go).
	if usesDataDir(cfg) {
		if s.lock, err = lockDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
	}

	s.http = httpapi.New(httpapi.Config{
		Listen:   cfg.HTTP.Listen,
		Gatherer: s.reg,
		ErrorLog: log.New(slogWriter{logger.With("component", "http")}, "", 0),
	})
	if err := s.http.Listen(); err != nil {
		return nil, cfg.ErrorAt("http.listen", err)
	}
	if s.lock != nil {
		// `wirebridge dlq` finds this process's API in the lock file.
		if err := s.lock.setHTTP(s.http.Addr().String()); err != nil {
			return nil, err
		}
	}
	if cfg.HTTP.PProf {
		mountPProf(s.http)
	}

	if needsBus(cfg) {
		bc, cleanup, err := busConfig(cfg)
		if err != nil {
			return nil, err
		}
		s.busCleanup = cleanup
		// Once per episode, not per refused event (the bus reports changes).
		bc.OnStoreChange = func(err error) {
			if err != nil {
				logger.Warn("the delivery store takes no writes: new durable deliveries are refused (counted in wirebridge_deliver_dropped_total, reason refused) until space is freed (see the error for why)", "error", err)
				return
			}
			logger.Info("the delivery store takes writes again")
		}
		if bc.DataDir != "" {
			if err := os.MkdirAll(bc.DataDir, 0o750); err != nil {
				return nil, fmt.Errorf("data directory: %w", err)
			}
		}
		if s.bus, err = bus.Open(ctx, bc); err != nil {
			return nil, fmt.Errorf("nats: %w", err)
		}
	}

	s.events = &eventInputs{}
	if s.live, err = newLive(cfg, s.bus); err != nil {
		return nil, err
	}
	if err := s.live.mount(s.http); err != nil {
		return nil, err
	}
	env := &buildEnv{cfg: cfg, bus: s.bus, stdout: stdio.Out, events: s.events, live: s.live, logger: logger}
	metrics, err := deliver.NewMetrics(s.reg)
	if err != nil {
		return nil, err
	}
	for i := range cfg.Targets {
		t, err := reg.newTarget(env, i)
		if err != nil {
			return nil, err
		}
		s.targets = append(s.targets, t)
		if c, ok := t.(prometheus.Collector); ok {
			// Targets with their own metrics (replay) label them by target
			// name; several of one type share descriptors, so they are
			// registered unchecked.
			s.reg.MustRegister(uncheckedCollector{c})
		}
		w, err := deliver.New(ctx, deliverConfig(cfg, &cfg.Targets[i]), t, s.bus, metrics)
		if err != nil {
			return nil, cfg.ErrorAt(fmt.Sprintf("targets[%d]", i), err)
		}
		s.workers = append(s.workers, w)
	}

	// The appliance opens its sockets and registers its events' producer
	// before the pipeline binds the producers.
	if s.appliance, err = reg.newAppliance(env); err != nil {
		return nil, err
	}
	if c, ok := s.appliance.(prometheus.Collector); ok {
		s.reg.MustRegister(c)
	}
	// The mirror controllers register their events' producers before the
	// pipeline binds them too.
	if len(cfg.Mirror) > 0 {
		mm := mirror.NewMetrics()
		s.reg.MustRegister(mm)
		if s.mirrors, err = reg.newMirrors(ctx, env, mm, s.http.Handle, s.lock != nil); err != nil {
			return nil, err
		}
		for _, p := range s.mirrors.providers {
			if c, ok := p.(prometheus.Collector); ok { // a provider's own counters (aws: events read)
				s.reg.MustRegister(c)
			}
		}
		s.http.Handle("/api/mirror", s.mirrors.handler())
		s.http.Handle("/api/mirror/", s.mirrors.handler())
	}

	if s.table, err = rule.NewTable(allRuleSpecs(reg, cfg.Rules, cfg.Appliance)); err != nil {
		return nil, ruleErrors(cfg, err)
	}
	var pts []pipeline.Target
	for i, w := range s.workers {
		t := &cfg.Targets[i]
		c := reg.targetCapsOf(t)
		s.caps = append(s.caps, c)
		pts = append(pts, pipeline.Target{
			Name: t.Name, Deliverer: w,
			NeedsBody:  c.Body,
			NeedsFrame: c.Frame != frameNone,
			// An event without a frame (ReplayDiff) has nothing for it.
			RequiresFrame: !c.TakesEventsWithoutFrame(),
		})
	}
	// Targets that need arrival order (replay reassembles TCP streams) get
	// it with any number of workers: the pipeline hands batches over in
	// queue order (see its package comment).
	dtab, err := dissect.NewTable(cfg.DissectConfig())
	if err != nil {
		return nil, fmt.Errorf("dissect: %w", err)
	}
	pcfg := pipeline.Config{Rules: s.table, Targets: pts, DrainTimeout: cfg.ShutdownTimeout / 2, Encoder: &event.Encoder{Dissect: dtab}}
	s.pipe, err = pipeline.New(pcfg)
	if err != nil {
		return nil, err
	}
	if err := s.events.bind(s.pipe); err != nil {
		return nil, err
	}

	for i := range cfg.Sources {
		c := &cfg.Sources[i]
		src, err := reg.newSource(env, i)
		if err != nil {
			return nil, err
		}
		s.sources = append(s.sources, src)
		emit, err := s.pipe.Emitter(pipeline.SourceInfo{
			Name: c.Name, Type: string(c.Type), EventSource: c.EventSource, QueueSize: c.QueueSize, Stats: src.Stats(),
		})
		if err != nil {
			return nil, cfg.ErrorAt(fmt.Sprintf("sources[%d]", i), err)
		}
		s.emits = append(s.emits, emit)
	}

	s.fatal = make(chan error, len(s.sources)+len(s.workers)+2)
	if s.lc, err = newLifecycle(s.units(s.fatal), logger); err != nil {
		return nil, err
	}

	s.reg.MustRegister(sourceCollector{s.sources}, ruleCollector{s.table}, pipelineCollector{s.pipe}, eventCollector{s.pipe})
	s.readiness()
	if s.bus != nil {
		s.http.Handle("/api/dlq/", dlqHandler(deliver.NewDLQ(s.bus), s.isDurable))
	}
	return s, nil
}

func (s *server) isDurable(name string) bool {
	for i := range s.cfg.Targets {
		if t := &s.cfg.Targets[i]; t.Name == name {
			return t.Delivery.Mode == config.Durable
		}
	}
	return false
}

// release closes what newServer built when the server never ran.
func (s *server) release() {
	for _, src := range s.sources {
		src.Close()
	}
	for _, t := range s.targets {
		t.Close()
	}
	if s.appliance != nil {
		s.appliance.Close()
	}
	s.mirrors.close()
	if s.bus != nil {
		s.bus.Close()
	}
	s.live.close()
	s.busCleanup()
	s.lock.release()
	if s.http != nil && s.http.Addr() != nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.http.Run(ctx) // closes the listener
	}
}

// readiness registers the /readyz checks.
func (s *server) readiness() {
	if s.bus != nil {
		// Not connected, or the store takes no writes (its file system is
		// full), with the reason.
		s.http.SetCheck("bus", s.bus.Health)
	}
	s.http.SetCheck("sources", func() error {
		if !s.srcStarted.Load() {
			return errors.New("not running")
		}
		return nil
	})
	s.http.SetCheck("pipeline", func() error {
		if !s.pipeRunning.Load() {
			return errors.New("not running")
		}
		return nil
	})
	s.http.SetCheck("targets", func() error {
		if n, want := int(s.workRunning.Load()), len(s.workers); n != want {
			return fmt.Errorf("%d of %d deliverers running", n, want)
		}
		return nil
	})
}

// run starts the components in reverse data order (consumers first: see
// lifecycle.go), serves until ctx ends or a component fails, and stops them
// in data order: sources, pipeline (drained), event producers (flushed),
// event ingress (drained), the other deliverers (flushed); then bus, HTTP.
func (s *server) run(ctx context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	httpCtx, httpStop := context.WithCancel(context.Background())
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.http.Run(httpCtx) }()

	s.lc.startAll()

	// The banner first: when /readyz answers 200, what is listening where
	// has been printed (scripts and tests wait for /readyz, then read it).
	s.banner(time.Since(s.start))
	s.srcStarted.Store(true)

	var tick <-chan time.Time
	if s.statsEvery > 0 {
		t := time.NewTicker(s.statsEvery)
		defer t.Stop()
		tick = t.C
	}
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout.String())
			break loop
		case err := <-s.fatal:
			runErr = err
			s.log.Error("shutting down after a failure", "error", err)
			break loop
		case <-hup:
			s.reload()
		case <-tick:
			s.logStats()
		}
	}

	// Shutdown, in data order (lifecycle.go), bounded by shutdown_timeout
	// as a whole.
	s.srcStarted.Store(false) // /readyz fails from now on
	err := s.lc.stopAll(s.stopTimeout())
	ok := err == nil
	runErr = errors.Join(runErr, err)
	s.live.close()
	s.logStats()
	if s.bus != nil && ok {
		if err := s.bus.Close(); err != nil {
			s.log.Error("closing the bus", "error", err)
		}
	}
	s.busCleanup()
	if ok {
		// Released only when everything using data_dir has stopped; after a
		// shutdown timeout the process exits (and the kernel releases it).
		s.lock.release()
	}
	httpStop()
	if err := <-httpDone; err != nil {
		s.log.Error("http server", "error", err)
	}
	s.log.Info("stopped", "ok", runErr == nil)
	return runErr
}

// reload re-reads the configuration file and swaps the rule set. Anything
// wrong keeps the current rules; the error is logged.
func (s *server) reload() {
	if s.path == "" {
		s.log.Warn("SIGHUP: running the embedded default configuration, nothing to reload")
		return
	}
	cfg, err := config.Load(s.path, kinds.Default())
	if err != nil {
		s.log.Error("reload failed, keeping the current rules", "file", s.path, "error", err)
		return
	}
	running := map[string]bool{}
	for _, w := range s.workers {
		running[w.Target()] = true
	}
	var missing []string
	for i, r := range cfg.Rules {
		for j, t := range r.Targets {
			if !running[t] {
				missing = append(missing, cfg.ErrorAt(fmt.Sprintf("rules[%d].targets[%d]", i, j),
					fmt.Errorf("target %q is not running (new targets need a restart)", t)).Error())
			}
		}
	}
	if len(missing) > 0 {
		s.log.Error("reload failed, keeping the current rules", "file", s.path, "error", strings.Join(missing, "\n"))
		return
	}
	set, err := s.table.Reload(allRuleSpecs(defaultRegistry(), cfg.Rules, s.cfg.Appliance))
	if err != nil {
		s.log.Error("reload failed, keeping the current rules", "file", s.path, "error", ruleErrors(cfg, err))
		return
	}
	if err := setLevel(s.level, cfg.Log.Level); err == nil {
		s.cfg.Log.Level = cfg.Log.Level
	}
	s.log.Info("rules reloaded", "file", s.path, "rules", set.Len(), "enabled", set.Enabled())
	if !reflect.DeepEqual(cfg.Sources, s.cfg.Sources) || !reflect.DeepEqual(cfg.Targets, s.cfg.Targets) ||
		!reflect.DeepEqual(cfg.NATS, s.cfg.NATS) || cfg.HTTP != s.cfg.HTTP || cfg.DataDir != s.cfg.DataDir ||
		!reflect.DeepEqual(cfg.Appliance, s.cfg.Appliance) || !reflect.DeepEqual(cfg.Mirror, s.cfg.Mirror) {
		s.log.Warn("the file also changes sources, targets, appliance, mirror, nats, http or data_dir: those take effect on restart")
	}
}

// ruleErrors places rule-set errors in the file: *rule.Error carries the
// YAML path of the offending rule key.
func ruleErrors(cfg *config.Config, err error) error {
	var out []error
	for _, e := range unjoin(err) {
		var re *rule.Error
		if errors.As(e, &re) {
			out = append(out, cfg.ErrorAt(re.Path, errors.New(re.Reason)))
			continue
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// slogWriter turns the HTTP server's log.Logger lines into slog records.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn(strings.TrimSpace(string(p)))
	return len(p), nil
}
