package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/deliver"
	"github.com/wirebridge/wirebridge/internal/kinds"
	"github.com/wirebridge/wirebridge/internal/rule"
	"github.com/wirebridge/wirebridge/internal/source"
)

// The registry builds sources and targets from their kinds
// (internal/component), listed once, by type name, in internal/kinds: no code
// here names a type.

// buildEnv is what constructors may use besides their own configuration.
type buildEnv struct {
	cfg    *config.Config
	bus    *bus.Bus     // nil when the configuration needs no bus
	stdout io.Writer    // the stdout target's writer
	events *eventInputs // where targets publish events (ReplayDiff); nil in tools
	live   *liveState   // live channels (share_serve.go); nil in tools
	logger *slog.Logger // the process's logger; nil in tools
}

// component returns what target constructors see of the environment.
func (env *buildEnv) component() component.Env {
	ce := component.Env{Stdout: env.stdout}
	if env.bus != nil {
		ce.Bus = env.bus.Conn()
	}
	if env.live != nil {
		ce.Live = env.live.hub
	}
	if ev := env.events; ev != nil {
		ce.Producer = ev.producer
	}
	return ce
}

type registry struct {
	kinds *component.Registry
}

// Aliases of the component model's capability types, as the server uses them.
type (
	targetCaps = component.Caps
	frameNeed  = component.Frame
)

const (
	frameNone     = component.FrameNone
	frameWanted   = component.FrameWanted
	frameRequired = component.FrameRequired
)

// targetCapsOf returns a configured target's capabilities, from its kind.
func (r *registry) targetCapsOf(t *config.Target) targetCaps {
	if k, ok := r.kinds.Target(t.Type); ok && t.Spec != nil {
		return k.Caps(t.Spec)
	}
	return targetCaps{Body: true}
}

func defaultRegistry() *registry {
	return &registry{kinds: kinds.Default()}
}

// newSource builds the configured source from its kind; errors are placed at
// its YAML path.
func (r *registry) newSource(env *buildEnv, i int) (source.Source, error) {
	s := &env.cfg.Sources[i]
	path := fmt.Sprintf("sources[%d]", i)
	kind, ok := r.kinds.Source(s.Type)
	if !ok {
		return nil, env.cfg.ErrorAt(path+".type", fmt.Errorf("source type %q is not available in this build (available: %s)", s.Type, r.sourceTypes()))
	}
	if s.Spec == nil {
		return nil, env.cfg.ErrorAt(path, fmt.Errorf("source %s: no %s settings", s.Name, s.Type))
	}
	built, err := kind.New(env.component(), s.Common(), s.Spec)
	if err != nil {
		return nil, env.cfg.ErrorAt(path, fmt.Errorf("source %s: %w", s.Name, err))
	}
	src, ok := built.(source.Source)
	if !ok {
		built.Close()
		return nil, env.cfg.ErrorAt(path, fmt.Errorf("source %s: kind %s built a %T, not a source", s.Name, s.Type, built))
	}
	return src, nil
}

// newTarget builds the configured target from its kind; errors are placed at
// its YAML path.
func (r *registry) newTarget(env *buildEnv, i int) (deliver.Target, error) {
	t := &env.cfg.Targets[i]
	path := fmt.Sprintf("targets[%d]", i)
	kind, ok := r.kinds.Target(t.Type)
	if !ok {
		return nil, env.cfg.ErrorAt(path+".type", fmt.Errorf("target type %q is not available in this build (available: %s)", t.Type, r.targetTypes()))
	}
	if t.Spec == nil {
		return nil, env.cfg.ErrorAt(path, fmt.Errorf("target %s: no %s settings", t.Name, t.Type))
	}
	tg, err := kind.New(env.component(), t.Name, t.Spec)
	if err != nil {
		return nil, env.cfg.ErrorAt(path, fmt.Errorf("target %s: %w", t.Name, err))
	}
	return tg, nil
}

func (r *registry) sourceTypes() string {
	if r.kinds == nil {
		return ""
	}
	return strings.Join(r.kinds.SourceTypes(), ", ")
}

func (r *registry) targetTypes() string {
	if r.kinds == nil {
		return ""
	}
	return strings.Join(r.kinds.TargetTypes(), ", ")
}

// deliverConfig maps a target's delivery settings onto its worker's.
func deliverConfig(c *config.Config, t *config.Target) deliver.Config {
	d := t.Delivery
	dc := deliver.Config{
		Target:            t.Name,
		Mode:              deliver.Mode(d.Mode),
		MaxEvents:         d.BatchSize,
		MaxAttempts:       d.MaxAttempts,
		MaxAge:            d.MaxAge,
		BackoffMin:        d.Backoff.Initial,
		BackoffMax:        d.Backoff.Max,
		BackoffMultiplier: d.Backoff.Multiplier,
		BackoffJitter:     d.Backoff.Jitter,
		QueueSize:         d.QueueSize,
		QueueBytes:        int(d.QueueBytes),
		AckWait:           d.AckWait,
		ShutdownTimeout:   c.ShutdownTimeout,
	}
	if b, ok := t.Spec.(component.Batcher); ok {
		if events, bytes, on := b.DeliveryBatch(); on {
			dc.MaxEvents = events
			dc.MaxBytes = bytes
		}
	}
	return dc
}

// ruleSpecs maps the rules section onto the rule set's specs.
func ruleSpecs(rules []config.Rule) []rule.Spec {
	out := make([]rule.Spec, len(rules))
	for i, r := range rules {
		out[i] = rule.Spec{
			Name: r.Name, Pattern: r.Pattern, Targets: r.Targets,
			InputPath: r.InputPath, InputPaths: r.InputPaths, InputTemplate: r.InputTemplate,
			Enabled: r.Enabled,
		}
	}
	return out
}

// busConfig maps the nats section onto the bus. NATS credentials given as
// content (env: or literal) are written to a private temporary file, which
// cleanup removes.
func busConfig(c *config.Config) (bus.Config, func(), error) {
	n := c.NATS
	bc := bus.Config{
		MaxMemory:  int64(n.MaxMemory),
		MaxStorage: int64(n.MaxStorage),
		Replicas:   n.Replicas,
		Listen:     n.Listen,
	}
	if n.Token.IsSet() {
		bc.Token = n.Token.Value()
	}
	if n.Embedded {
		bc.DataDir = dataPath(c, "nats")
	} else {
		bc.URLs = n.URLs
		bc.CredsFile = n.Credentials.File()
		if n.Credentials.IsSet() && bc.CredsFile == "" {
			f, err := os.CreateTemp("", "wirebridge-*.creds") // mode 0600
			if err != nil {
				return bc, func() {}, fmt.Errorf("nats credentials: %w", err)
			}
			_, werr := f.WriteString(n.Credentials.Value())
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				os.Remove(f.Name())
				return bc, func() {}, fmt.Errorf("nats credentials: %w", werr)
			}
			bc.CredsFile = f.Name()
			return bc, func() { os.Remove(f.Name()) }, nil
		}
	}
	return bc, func() {}, nil
}

// needsBus reports whether the configuration uses the bus: a durable target,
// or a target that needs it whatever its mode (a nats target publishing on
// the bus).
func needsBus(c *config.Config) bool {
	if len(c.Mirror) > 0 {
		return true // the mirror controller's state (wirebridge_mirror) and dead letters
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.Delivery.Mode == config.Durable {
			return true
		}
		if b, ok := t.Spec.(component.BusUser); ok && b.NeedsBus() {
			return true
		}
	}
	return liveNeedsBus(c)
}

func dataPath(c *config.Config, elem string) string {
	return strings.TrimSuffix(c.DataDir, string(os.PathSeparator)) + string(os.PathSeparator) + elem
}
