package app

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/deliver"
	"github.com/wirebridge/wirebridge/internal/source"
	"github.com/wirebridge/wirebridge/internal/target/eventbridge"
	"github.com/wirebridge/wirebridge/internal/target/file"
	httptarget "github.com/wirebridge/wirebridge/internal/target/http"
	natstarget "github.com/wirebridge/wirebridge/internal/target/nats"
	"github.com/wirebridge/wirebridge/internal/target/pcap"
	"github.com/wirebridge/wirebridge/internal/target/stdout"
)

// The registry maps the source and target types of the configuration to the
// constructors that build them. It is explicit — a map literal built here,
// no init() registration — so that what a binary can run is read in one place.

// buildEnv is what constructors may use besides their own configuration.
type buildEnv struct {
	cfg    *config.Config
	bus    *bus.Bus     // nil when the configuration needs no bus
	stdout io.Writer    // the stdout target's writer
	events *eventInputs // where targets publish events (ReplayDiff); nil in tools
	live   *liveState   // live channels (share_serve.go); nil in tools
}

type sourceCtor func(env *buildEnv, s *config.Source) (source.Source, error)

type targetCtor func(env *buildEnv, t *config.Target) (deliver.Target, error)

type registry struct {
	sources map[config.SourceType]sourceCtor
	targets map[config.TargetType]targetCtor
	// caps says what a target of each type needs from the data path, given
	// its configuration. The server wires targets from these, never from
	// type names.
	caps map[config.TargetType]func(*config.Target) targetCaps
}

// frameNeed is how a target uses the captured frame.
type frameNeed int

const (
	frameNone     frameNeed = iota // never
	frameWanted                    // when the event has one (live with frames: true); events without a frame are sent without
	frameRequired                  // nothing to send without one (pcap archives frames, replay reassembles them)
)

// targetCaps is what a target needs from the data path.
type targetCaps struct {
	Body     bool      // sends Delivery.Body (the event JSON or the rule's transformed input)
	Frame    frameNeed // the captured frame
	Ordered  bool      // needs packets in arrival order (replay reassembles TCP streams)
	Produces bool      // publishes events into the server (replay: ReplayDiff); stops before the event ingress
}

// takesEventsWithoutFrame reports whether the target can send an event that
// did not come from a packet (a ReplayDiff event).
func (c targetCaps) takesEventsWithoutFrame() bool { return c.Body && c.Frame != frameRequired }

// targetCapsOf returns a configured target's capabilities.
func (r *registry) targetCapsOf(t *config.Target) targetCaps {
	if f, ok := r.caps[t.Type]; ok {
		return f(t)
	}
	return targetCaps{Body: true}
}

func bodyOnly(*config.Target) targetCaps { return targetCaps{Body: true} }

func defaultRegistry() *registry {
	return &registry{
		sources: map[config.SourceType]sourceCtor{
			config.SourceUDP: func(_ *buildEnv, s *config.Source) (source.Source, error) {
				return source.NewUDP(source.UDPConfigFrom(s))
			},
			config.SourceRaw: func(_ *buildEnv, s *config.Source) (source.Source, error) {
				return source.NewRaw(source.RawConfigFrom(s))
			},
			config.SourceAFPacket: func(_ *buildEnv, s *config.Source) (source.Source, error) {
				c, err := source.AFPacketConfigFrom(s)
				if err != nil {
					return nil, err
				}
				return source.NewAFPacket(c)
			},
			config.SourcePCAP: func(_ *buildEnv, s *config.Source) (source.Source, error) {
				return source.NewPCAP(source.PCAPConfigFrom(s))
			},
			config.SourceVXLAN: func(_ *buildEnv, s *config.Source) (source.Source, error) {
				return source.NewVXLAN(source.VXLANConfigFrom(s))
			},
		},
		targets: map[config.TargetType]targetCtor{
			config.TargetHTTP:        newHTTPTarget,
			config.TargetFile:        newFileTarget,
			config.TargetPCAP:        newPCAPTarget,
			config.TargetStdout:      newStdoutTarget,
			config.TargetNATS:        newNATSTarget,
			config.TargetEventBridge: newEventBridgeTarget,
			config.TargetLive:        newLiveTarget,
			config.TargetReplay:      newReplayTarget, // replay_cmd.go
		},
		caps: map[config.TargetType]func(*config.Target) targetCaps{
			config.TargetHTTP:        bodyOnly,
			config.TargetFile:        bodyOnly,
			config.TargetStdout:      bodyOnly,
			config.TargetNATS:        bodyOnly,
			config.TargetEventBridge: bodyOnly,
			config.TargetPCAP:        func(*config.Target) targetCaps { return targetCaps{Frame: frameRequired} },
			config.TargetLive: func(t *config.Target) targetCaps {
				c := targetCaps{Body: true}
				if t.Live != nil && t.Live.Frames {
					c.Frame = frameWanted
				}
				return c
			},
			config.TargetReplay: func(*config.Target) targetCaps {
				return targetCaps{Frame: frameRequired, Ordered: true, Produces: true}
			},
		},
	}
}

// newSource builds the configured source; errors are placed at its YAML path.
func (r *registry) newSource(env *buildEnv, i int) (source.Source, error) {
	s := &env.cfg.Sources[i]
	path := fmt.Sprintf("sources[%d]", i)
	ctor, ok := r.sources[s.Type]
	if !ok {
		return nil, env.cfg.ErrorAt(path+".type", fmt.Errorf("source type %q is not available in this build (available: %s)", s.Type, r.sourceTypes()))
	}
	src, err := ctor(env, s)
	if err != nil {
		return nil, env.cfg.ErrorAt(path, fmt.Errorf("source %s: %w", s.Name, err))
	}
	return src, nil
}

// newTarget builds the configured target; errors are placed at its YAML path.
func (r *registry) newTarget(env *buildEnv, i int) (deliver.Target, error) {
	t := &env.cfg.Targets[i]
	path := fmt.Sprintf("targets[%d]", i)
	ctor, ok := r.targets[t.Type]
	if !ok {
		return nil, env.cfg.ErrorAt(path+".type", fmt.Errorf("target type %q is not available in this build (available: %s)", t.Type, r.targetTypes()))
	}
	tg, err := ctor(env, t)
	if err != nil {
		return nil, env.cfg.ErrorAt(path, fmt.Errorf("target %s: %w", t.Name, err))
	}
	return tg, nil
}

func (r *registry) sourceTypes() string {
	var names []string
	for _, t := range config.SourceTypes {
		if _, ok := r.sources[t]; ok {
			names = append(names, string(t))
		}
	}
	return strings.Join(names, ", ")
}

func (r *registry) targetTypes() string {
	var names []string
	for _, t := range config.TargetTypes {
		if _, ok := r.targets[t]; ok {
			names = append(names, string(t))
		}
	}
	return strings.Join(names, ", ")
}

func newHTTPTarget(_ *buildEnv, t *config.Target) (deliver.Target, error) {
	h := t.HTTP
	c := httptarget.Config{
		URL:     h.URL,
		Method:  h.Method,
		Headers: map[string]string{},
		Timeout: h.Timeout,
		Format:  httptarget.FormatSingle,
	}
	for k, v := range h.Headers {
		c.Headers[k] = v
	}
	for k, v := range h.SecretHeaders {
		c.Headers[k] = v.Value()
	}
	if h.BearerToken.IsSet() {
		c.BearerToken = h.BearerToken.Value()
	}
	if h.HMAC != nil {
		c.SigningSecret = []byte(h.HMAC.Secret.Value())
		c.SignatureHeader = h.HMAC.Header
		c.TimestampHeader = h.HMAC.TimestampHeader
	}
	if h.TLS != nil {
		c.TLS = httptarget.TLSConfig{
			CAFile: h.TLS.CAFile, CertFile: h.TLS.CertFile, KeyFile: h.TLS.KeyFile,
			ServerName: h.TLS.ServerName, InsecureSkipVerify: h.TLS.InsecureSkipVerify,
		}
	}
	if h.Batch != nil {
		c.Format = h.Batch.Format
	}
	return httptarget.New(c)
}

func newFileTarget(_ *buildEnv, t *config.Target) (deliver.Target, error) {
	f := t.File
	return file.New(file.Config{
		Path:          string(f.Path),
		MaxSize:       int64(f.Rotate.Size),
		Interval:      f.Rotate.Interval,
		Compression:   f.Compress,
		Fsync:         f.Fsync,
		FsyncInterval: f.FsyncInterval,
	})
}

func newPCAPTarget(_ *buildEnv, t *config.Target) (deliver.Target, error) {
	p := t.PCAP
	return pcap.New(pcap.Config{
		Path:     string(p.Path),
		MaxSize:  int64(p.Rotate.Size),
		Interval: p.Rotate.Interval,
		Snaplen:  p.Snaplen,
	})
}

func newStdoutTarget(env *buildEnv, t *config.Target) (deliver.Target, error) {
	c := stdout.Config{Writer: env.stdout}
	if t.Stdout != nil {
		c.Pretty = t.Stdout.Pretty
	}
	return stdout.New(c)
}

func newNATSTarget(env *buildEnv, t *config.Target) (deliver.Target, error) {
	n := t.NATS
	c := natstarget.Config{Subject: n.Subject, Name: "wirebridge-target-" + t.Name}
	if len(n.URLs) == 0 {
		if env.bus == nil {
			return nil, fmt.Errorf("nats target without urls needs the wirebridge bus")
		}
		c.Conn = env.bus.Conn()
		return natstarget.New(c)
	}
	c.URL = strings.Join(n.URLs, ",")
	if n.Token.IsSet() {
		c.Options = append(c.Options, nats.Token(n.Token.Value()))
	}
	if n.Credentials.IsSet() {
		opt, err := credsOption(n.Credentials)
		if err != nil {
			return nil, err
		}
		c.Options = append(c.Options, opt)
	}
	return natstarget.New(c)
}

// credsOption authenticates with the content of a NATS .creds file: from its
// path when the secret is a file: reference, otherwise from the value.
func credsOption(s config.Secret) (nats.Option, error) {
	if f := s.File(); f != "" {
		return nats.UserCredentials(f), nil
	}
	creds := []byte(s.Value())
	token, err := jwt.ParseDecoratedJWT(creds)
	if err != nil {
		return nil, fmt.Errorf("nats credentials: %w", err)
	}
	kp, err := nkeys.ParseDecoratedNKey(creds)
	if err != nil {
		return nil, fmt.Errorf("nats credentials: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("nats credentials: %w", err)
	}
	return nats.UserJWTAndSeed(token, string(seed)), nil
}

func newEventBridgeTarget(_ *buildEnv, t *config.Target) (deliver.Target, error) {
	e := t.EventBridge
	return eventbridge.New(eventbridge.Config{
		Region:       e.Region,
		Endpoint:     e.Endpoint,
		EventBusName: e.EventBusName,
		DetailType:   e.DetailType,
		Source:       e.Source,
	})
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
	if t.HTTP != nil && t.HTTP.Batch != nil {
		dc.MaxEvents = t.HTTP.Batch.MaxEvents
		dc.MaxBytes = int(t.HTTP.Batch.MaxBytes)
	}
	return dc
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
// or a nats target publishing on the bus.
func needsBus(c *config.Config) bool {
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.Delivery.Mode == config.Durable || (t.NATS != nil && len(t.NATS.URLs) == 0) {
			return true
		}
	}
	return liveNeedsBus(c)
}

func dataPath(c *config.Config, elem string) string {
	return strings.TrimSuffix(c.DataDir, string(os.PathSeparator)) + string(os.PathSeparator) + elem
}
