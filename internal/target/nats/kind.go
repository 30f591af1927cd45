package nats

import (
	"fmt"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/names"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// Kind is the nats target kind: a subject on the wirebridge bus or on another NATS.
var Kind = &component.TargetKind{
	Description: "publish each event to a subject on the bus, or on an external NATS",
	NewSpec:     func() component.TargetSpec { return new(Spec) },
	Caps: func(component.TargetSpec) component.Caps {
		return component.Caps{Body: true, DurableByDefault: true}
	},
	New: newFromSpec,
}

// Spec is the configuration of a nats target.
type Spec struct {
	Subject     string      `yaml:"subject"`
	URLs        []string    `yaml:"urls"` // empty: the wirebridge bus
	Credentials spec.Secret `yaml:"credentials"`
	Token       spec.Secret `yaml:"token"`
}

// SetDefaults implements component.TargetSpec.
func (t *Spec) SetDefaults() {}

// Validate implements component.TargetSpec.
func (t *Spec) Validate(c *spec.Checker) {
	if err := names.Subject(t.Subject); err != nil {
		c.Errorf("subject", "%v", err)
	} else if len(t.URLs) == 0 && strings.HasPrefix(t.Subject, "wirebridge.") {
		c.Errorf("subject", "subjects under wirebridge. are reserved on the wirebridge bus")
	}
	spec.CheckNATSURLs(c, "urls", t.URLs)
	if len(t.URLs) == 0 {
		if !c.Bus {
			c.Errorf("urls", "no urls and no wirebridge bus (nats.embedded is false and nats.urls is empty)")
		}
		if t.Credentials.IsSet() || t.Token.IsSet() {
			c.Errorf("urls", "credentials/token are for an external NATS: set urls")
		}
	}
	if t.Credentials.IsSet() && t.Token.IsSet() {
		c.Errorf("token", "give either credentials or token, not both")
	}
}

// Where implements component.Wherer.
func (t *Spec) Where() string {
	if len(t.URLs) > 0 {
		return "subject " + t.Subject + " on " + strings.Join(t.URLs, ",")
	}
	return "subject " + t.Subject + " on the wirebridge bus"
}

// NeedsBus implements component.BusUser: without urls the target publishes on the bus.
func (t *Spec) NeedsBus() bool { return len(t.URLs) == 0 }

func newFromSpec(env component.Env, name string, s component.TargetSpec) (component.Target, error) {
	n := s.(*Spec)
	c := Config{Subject: n.Subject, Name: "wirebridge-target-" + name}
	if len(n.URLs) == 0 {
		if env.Bus == nil {
			return nil, fmt.Errorf("nats target without urls needs the wirebridge bus")
		}
		c.Conn = env.Bus
		return New(c)
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
	return New(c)
}

// credsOption authenticates with the content of a NATS .creds file: from its
// path when the secret is a file: reference, otherwise from the value.
func credsOption(s spec.Secret) (nats.Option, error) {
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
