package gwlb

import "sync/atomic"

// Drop is why the GWLB dropped a packet it read from the TUN.
type Drop uint8

// Reasons for dropping a packet on the way out (TUN → appliance).
const (
	DropOversize    Drop = iota // the Geneve datagram would exceed the path MTU or an IPv4 datagram
	DropNoHealthy               // no appliance is healthy and the policy is drop
	DropUndecodable             // not an IPv4/IPv6 packet
	DropFlowTable               // the flow table is full
	DropSendError               // sending to the appliance failed otherwise
	DropTUNWrite                // writing a returned packet to the TUN failed
	DropLinkLocal               // link-scoped, never routed (the kernel's own IPv6 multicast listener reports on the TUN)
	numDrops
)

var dropNames = [...]string{"oversize", "no_healthy_appliance", "undecodable", "flow_table_full", "send_error", "tun_write_error", "link_local"}

func (d Drop) String() string {
	if int(d) < len(dropNames) {
		return dropNames[d]
	}
	return "unknown"
}

// applianceStats are one appliance's counters.
type applianceStats struct {
	out, back atomic.Uint64
}

// Stats is a snapshot of the GWLB's counters.
type Stats struct {
	// FromTUN counts packets read from the TUN; ToTUN packets written back.
	FromTUN, ToTUN uint64
	// Appliances holds per appliance (in configuration order) packets sent
	// (Out) and valid packets received back (Back), and its health.
	Appliances []ApplianceStats
	// Returns counts returned datagrams by outcome (Return.String()).
	Returns map[string]uint64
	// Drops counts packets dropped on the way out by reason (Drop.String()).
	Drops map[string]uint64
	// AllUnhealthyFailOpen counts packets sent to an unhealthy appliance
	// because none was healthy and the policy is fail-open.
	AllUnhealthyFailOpen uint64
	// HealthTransitions counts health state changes, all appliances together.
	HealthTransitions uint64
	// Flows is the number of flows tracked now.
	Flows int
}

// ApplianceStats are one appliance's counters and health.
type ApplianceStats struct {
	Address   string
	Out, Back uint64
	Health    string // "initial", "healthy" or "unhealthy"
}

// counters are the GWLB's live counters.
type counters struct {
	fromTUN, toTUN    atomic.Uint64
	drops             [numDrops]atomic.Uint64
	returns           [numReturns]atomic.Uint64
	failOpen          atomic.Uint64
	healthTransitions atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (g *GWLB) Stats() Stats {
	s := Stats{
		FromTUN:              g.c.fromTUN.Load(),
		ToTUN:                g.c.toTUN.Load(),
		Returns:              map[string]uint64{},
		Drops:                map[string]uint64{},
		AllUnhealthyFailOpen: g.c.failOpen.Load(),
		HealthTransitions:    g.c.healthTransitions.Load(),
		Flows:                g.flows.len(),
	}
	for i := range g.apps {
		a := &g.apps[i]
		s.Appliances = append(s.Appliances, ApplianceStats{
			Address: a.addr.String(), Out: a.stats.out.Load(), Back: a.stats.back.Load(), Health: a.health.state().String(),
		})
	}
	for r := Return(0); r < numReturns; r++ {
		s.Returns[r.String()] = g.c.returns[r].Load()
	}
	for d := Drop(0); d < numDrops; d++ {
		s.Drops[d.String()] = g.c.drops[d].Load()
	}
	return s
}
