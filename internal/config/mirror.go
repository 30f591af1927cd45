package config

import (
	"fmt"
	"reflect"
	"time"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// Mirror defaults.
const (
	DefaultMirrorScanInterval = 60 * time.Second
	DefaultMirrorMaxAttempts  = 5
	// MinMirrorScanInterval keeps the periodic scan from hammering a provider's API.
	MinMirrorScanInterval = time.Second
)

// Mirror is one entry of the top-level mirror: list: a mirror controller keeping traffic
// mirroring set up for every endpoint its provider's selectors select. Provider names a mirror
// provider kind in the registry the configuration was parsed with; Spec is that kind's settings
// (its keys sit flat beside the common keys in YAML).
type Mirror struct {
	// Name names the entry (its state in the wirebridge_mirror KV bucket, its events' resources).
	Name     string `yaml:"name"`
	Provider string `yaml:"provider" selects:"kind"`
	// ScanInterval is the period of the full reconcile that backs up the provider's triggers.
	ScanInterval time.Duration `yaml:"scan_interval"`
	// MaxAttempts bounds the tries of one create or delete before it is given up into the
	// dead-letter stream.
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff spaces the retries of one operation.
	Backoff Backoff `yaml:"backoff"`
	// RemoveOnExit removes every session of the entry when wirebridge stops.
	RemoveOnExit bool `yaml:"remove_on_exit"`

	Spec component.MirrorSpec `yaml:"-" kind:"mirror"`
}

func (m *Mirror) setDefaults() {
	m.ScanInterval = DefaultMirrorScanInterval
	m.MaxAttempts = DefaultMirrorMaxAttempts
	m.Backoff = Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, Multiplier: 2, Jitter: 0.2}
}

// Common returns the settings every mirror entry shares, as its kind's constructor takes them.
func (m *Mirror) Common() component.MirrorCommon {
	return component.MirrorCommon{Name: m.Name, ScanInterval: m.ScanInterval}
}

// mirrorKind returns the kind of a mirror entry whose spec is set and of its provider, or nil.
func (c *Config) mirrorKind(m *Mirror) *component.MirrorKind {
	if m.Spec == nil || c.kinds == nil {
		return nil
	}
	k, ok := c.kinds.Mirror(m.Provider)
	if !ok || reflect.TypeOf(k.NewSpec()) != reflect.TypeOf(m.Spec) {
		return nil
	}
	return k
}

// MirrorKind returns the kind of mirror provider m names (nil when m's spec is not that kind's).
func (c *Config) MirrorKind(m *Mirror) *component.MirrorKind { return c.mirrorKind(m) }

// mirrors validates the mirror: entries.
func (v *validator) mirrors() {
	if len(v.c.Mirror) > 0 && !v.c.busAvailable() {
		v.errorf("mirror", "the mirror controller keeps its state in NATS, but nats.embedded is false and nats.urls is empty (set one)")
	}
	seen := map[string]string{}
	for i := range v.c.Mirror {
		m := &v.c.Mirror[i]
		p := fmt.Sprintf("mirror[%d]", i)
		v.name(p+".name", m.Name, "mirror entry")
		if prev, dup := seen[m.Name]; dup && m.Name != "" {
			v.errorf(p+".name", "duplicate mirror name %q (also %s)", m.Name, prev)
		} else {
			seen[m.Name] = p
		}
		if m.ScanInterval < MinMirrorScanInterval {
			v.errorf(p+".scan_interval", "%s is too short (want at least %s)", m.ScanInterval, MinMirrorScanInterval)
		}
		v.intRange(p+".max_attempts", m.MaxAttempts, 1, 1000)
		v.backoff(p+".backoff", m.Backoff)
		_, known := v.c.kinds.Mirror(m.Provider)
		kind := v.c.mirrorKind(m)
		switch {
		case m.Provider == "":
			v.errorf(p+".provider", "required")
			continue
		case !known:
			v.errorf(p+".provider", "unknown provider %q", m.Provider)
			continue
		case kind == nil:
			var set []string
			if m.Spec != nil {
				set = append(set, v.c.kinds.MirrorProvider(m.Spec))
			}
			v.errorf(p+".provider", "provider %s needs exactly its own settings, but %v are set", m.Provider, set)
			continue
		}
		ck := &spec.Checker{Bus: v.c.busAvailable()}
		m.Spec.Validate(ck)
		v.report(p, ck)
	}
}
