package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"

	"go.yaml.in/yaml/v4"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// DefaultApplianceHTTPListen is http.listen's default when the file has an
// appliance: section: the appliance's health check takes port 8080 (the
// port AWS GWLB target groups check by default), so wirebridge's own HTTP
// listener moves to 8081.
const DefaultApplianceHTTPListen = "127.0.0.1:8081"

// TeeRulePrefix starts the names of the rules serve adds to route the
// appliance's tee to its targets (one per target: appliance-tee-<target>);
// a rule of the file may not take one of them.
const TeeRulePrefix = "appliance-tee-"

// Appliance is the top-level appliance: section: the inline Geneve
// appliance, its keys those of the appliance kind's spec.
type Appliance struct {
	// Spec is the appliance kind's spec.
	Spec component.ApplianceSpec
}

// decodeNode reads the section into a new spec of the registry's appliance kind.
func (a *Appliance) decodeNode(d *decoder, n *yaml.Node, path string) {
	if d.kinds == nil || d.kinds.Appliance == nil {
		d.errorf(n, path, "this binary has no appliance")
		return
	}
	s := d.kinds.Appliance.NewSpec()
	s.SetDefaults()
	d.decode(n, reflect.ValueOf(s).Elem(), path)
	a.Spec = s
}

// finishAppliance moves http.listen's default off the health check's port.
func (c *Config) finishAppliance() {
	if c.Appliance == nil {
		return
	}
	if _, set := c.pos["http.listen"]; !set && c.HTTP.Listen == DefaultHTTPListen {
		c.HTTP.Listen = DefaultApplianceHTTPListen
	}
}

// appliance validates the appliance: section: the kind's own checks, the
// targets its rules tee to, and its health check against http.listen.
func (v *validator) appliance(targets map[string]*Target) {
	a := v.c.Appliance
	if a == nil || a.Spec == nil {
		return
	}
	ck := &spec.Checker{}
	a.Spec.Validate(ck)
	v.report("appliance", ck)
	ruleAt := map[string]int{}
	for i, r := range v.c.Rules {
		ruleAt[r.Name] = i
	}
	for _, tt := range a.Spec.TeeTargets() {
		p := "appliance." + tt.Path
		if i, clash := ruleAt[TeeRulePrefix+tt.Target]; clash {
			v.errorf(fmt.Sprintf("rules[%d].name", i), "%q is the name of the rule that routes the appliance's tee to target %q; choose another name", TeeRulePrefix+tt.Target, tt.Target)
		}
		t := targets[tt.Target]
		switch {
		case tt.Target == "":
		case t == nil:
			msg := fmt.Sprintf("unknown target %q", tt.Target)
			if s := suggest(tt.Target, slices.Sorted(maps.Keys(targets))); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			v.errorf(p, "%s", msg)
		default:
			if kind := v.c.targetKind(t); kind != nil && !kind.Caps(t.Spec).TakesEventsWithoutFrame() {
				v.errorf(p, "target %q (type %s) cannot send a teed packet's event: it sends only captured frames", tt.Target, t.Type)
			}
		}
	}
	same, wildcard := tcpOverlap(a.Spec.HealthListen(), v.c.HTTP.Listen)
	if same || wildcard {
		v.errorf("appliance.health.listen", "%s collides with http.listen %s: both listen on TCP port %s; move one (without http.listen, the HTTP API is on %s when there is an appliance)",
			a.Spec.HealthListen(), v.c.HTTP.Listen, portOf(v.c.HTTP.Listen), DefaultApplianceHTTPListen)
	}
}

func portOf(listen string) string {
	b, _ := parseBind("", listen)
	return fmt.Sprint(b.port)
}
