package app

import (
	"context"
	"fmt"
	"time"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/rule"
)

// The inline Geneve appliance (the appliance: section) runs inside serve,
// built from the registry's appliance kind:
//
//	GWLB ──Geneve──► appliance ──Geneve──► GWLB
//	                    └── tee ──events──► event ingress ──► rules ──► targets
//
// It is a producer of events (teed packets, source wirebridge.appliance), so
// the lifecycle stops it first, with the sources: Drain turns its health
// check unhealthy, keeps forwarding for drain_time (the load balancer's
// deregistration delay), then stops it; the event ingress, the pipeline and
// the targets stop after it. A rule's tee list is routed by one rule per
// named target (allRuleSpecs), beside the rules of the file.

// newAppliance builds the appliance of cfg (nil when it has none); errors
// are placed at the section.
func (r *registry) newAppliance(env *buildEnv) (component.Appliance, error) {
	a := env.cfg.Appliance
	if a == nil {
		return nil, nil
	}
	kind := r.kinds.Appliance
	if kind == nil || a.Spec == nil {
		return nil, env.cfg.ErrorAt("appliance", fmt.Errorf("this build has no appliance"))
	}
	ce := env.component()
	ce.Logger = env.logger
	built, err := kind.New(ce, a.Spec)
	if err != nil {
		return nil, env.cfg.ErrorAt("appliance", err)
	}
	return built, nil
}

// allRuleSpecs is rules, then one rule per target the appliance app (the
// running one: a reload keeps it) tees to: events of the appliance whose
// detail.Appliance.Tee lists the target go to it.
func allRuleSpecs(reg *registry, rules []config.Rule, app *config.Appliance) []rule.Spec {
	specs := ruleSpecs(rules)
	if app == nil || app.Spec == nil || reg.kinds.Appliance == nil {
		return specs
	}
	seen := map[string]bool{}
	for _, t := range app.Spec.TeeTargets() {
		if seen[t.Target] {
			continue
		}
		seen[t.Target] = true
		specs = append(specs, rule.Spec{Name: config.TeeRulePrefix + t.Target, Pattern: reg.kinds.Appliance.TeeRule(t.Target),
			Targets: []string{t.Target}, Enabled: true})
	}
	return specs
}

// applianceUnit is the appliance as the lifecycle runs it: a producer of
// events, stopped by Drain.
func (s *server) applianceUnit(fatal chan<- error) unit {
	a := s.appliance
	c := unit{name: "appliance", produces: []string{streamEvents}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c.start = func() {
		go func() {
			defer close(done)
			if err := a.Run(ctx); err != nil {
				fatal <- fmt.Errorf("appliance: %w", err)
			}
		}()
	}
	c.stop = func() <-chan struct{} {
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			dctx, dcancel := context.WithTimeout(context.Background(), a.DrainTime()+s.cfg.ShutdownTimeout)
			defer dcancel()
			if err := a.Drain(dctx); err != nil {
				s.log.Warn("appliance drain cut short", "error", err)
			}
			cancel()
			<-done
		}()
		return stopped
	}
	return c
}

// stopTimeout bounds the whole stop: shutdown_timeout, after the
// appliance's drain time.
func (s *server) stopTimeout() time.Duration {
	if s.appliance != nil {
		return s.cfg.ShutdownTimeout + s.appliance.DrainTime()
	}
	return s.cfg.ShutdownTimeout
}
