package appliance

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/packet"
)

// The appliance inside `wirebridge serve`: the top-level appliance: section
// is a Spec; app builds it through Kind and runs it in the lifecycle, its
// tee connected to the pipeline's event ingress.
const (
	// Name is the appliance's name: detail.Listener and resources[0] of
	// the events it publishes, and of the inner packets' events its rule
	// patterns see.
	Name = "appliance"
	// EventSource is the "source" of the events of teed packets.
	EventSource = "wirebridge.appliance"
	// DetailType is the detail-type of the events of teed packets.
	DetailType = "ApplianceVerdict"
)

// Kind is the inline appliance's component kind.
var Kind = &component.ApplianceKind{
	Description: "inline Geneve appliance for AWS Gateway Load Balancer (Geneve in on UDP 6081, inline rules, Geneve back; health check on 8080)",
	Name:        Name,
	EventSource: EventSource,
	TeeRule:     teeRule,
	NewSpec:     func() component.ApplianceSpec { return new(Spec) },
	New:         newComponent,
}

// TeeTargets lists the targets the rules tee to, with the path naming each.
func (s *Spec) TeeTargets() []component.TeeTarget {
	var out []component.TeeTarget
	for i := range s.Rules {
		for j, t := range s.Rules[i].Tee {
			out = append(out, component.TeeTarget{Path: fmt.Sprintf("rules[%d].tee[%d]", i, j), Target: t})
		}
	}
	return out
}

// HealthListen is the health check's TCP address.
func (s *Spec) HealthListen() string { return s.Health.Listen }

var _ component.ApplianceSpec = (*Spec)(nil)

// teeRule is the pattern of the rule routing the events teed to target:
// events of this appliance whose detail.Appliance.Tee lists target.
func teeRule(target string) []byte {
	return fmt.Appendf(nil, `{"source":[%q],"detail-type":[%q],"detail":{"Appliance":{"Tee":[%q]}}}`, EventSource, DetailType, target)
}

// built is an Appliance as the component model runs it.
type built struct {
	*Appliance
	metrics *Collector
}

// Describe and Collect export the appliance's metrics (Collector).
func (b built) Describe(ch chan<- *prometheus.Desc) { b.metrics.Describe(ch) }

// Collect exports the appliance's metrics.
func (b built) Collect(ch chan<- prometheus.Metric) { b.metrics.Collect(ch) }

func (b built) DrainTime() time.Duration { return b.spec.DrainTime }

// Where says what listens where: the Geneve address and the health check.
func (b built) Where() string {
	return fmt.Sprintf("Geneve on udp %s (%d readers), health check on tcp %s (TCP and HTTP GET %s)",
		b.Addr(), len(b.readers), b.HealthAddr(), b.spec.Health.Path)
}

func newComponent(env component.Env, s component.ApplianceSpec) (component.Appliance, error) {
	sp, ok := s.(*Spec)
	if !ok {
		return nil, fmt.Errorf("appliance: spec %T is not an appliance spec", s)
	}
	opts := Options{Name: Name, Logger: env.Logger, Defaulted: true} // the configuration applied the defaults
	if env.Producer != nil {
		opts.Tee = TeeToEvents(env.Producer(Name, EventSource))
	}
	a, err := New(*sp, opts)
	if err != nil {
		return nil, err
	}
	return built{a, a.Collector()}, nil
}

// VerdictDetail is the detail of an ApplianceVerdict event: every field of
// the inner packet's event (as a packet event's detail: Source,
// Destination, Protocol, Payload, Tunnel with the Geneve options and GWLB
// ids, ...) and Appliance, what the inline rules did with it.
type VerdictDetail struct {
	*event.PacketDetail
	Appliance Verdict `json:"Appliance"`
}

// Verdict is what the appliance did with a teed packet.
type Verdict struct {
	// Rule is the inline rule that matched (DefaultRuleName: none did).
	Rule string `json:"Rule"`
	// Action is what happened to the packet: pass, drop or modify.
	Action string `json:"Action"`
	// Tee lists the targets the rule tees to.
	Tee []string `json:"Tee"`
}

// TeeToEvents returns a tee callback that publishes every teed packet as
// an ApplianceVerdict event. It decodes and builds the event on the
// reader's goroutine (allocating, only for packets of tee rules); publish
// must not block (the pipeline's event ingress drops and counts instead).
func TeeToEvents(publish func(event.Event)) TeeFunc {
	var enc event.Encoder
	return func(t *Tee) {
		var p packet.Packet
		if err := packet.Decode(&p, t.Frame, packet.CaptureInfo{LinkType: t.LinkType, Timestamp: t.Time,
			CaptureLength: len(t.Frame), Length: len(t.Frame)}); err != nil && p.Outer().IPOff < 0 {
			return
		}
		ev := enc.Build(&p, event.Meta{Listener: Name, SourceType: Name, Source: EventSource})
		pd, _ := ev.Detail.(*event.PacketDetail)
		ev.DetailType = DetailType
		ev.Detail = &VerdictDetail{PacketDetail: pd, Appliance: Verdict{
			Rule: t.Rule, Action: t.Outcome.String(), Tee: append([]string(nil), t.Targets...),
		}}
		publish(ev)
	}
}
