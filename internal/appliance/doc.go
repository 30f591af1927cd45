// Package appliance is the inline Geneve appliance for AWS Gateway Load
// Balancer. It sits beside the event path, not on it:
//
//	source ──► packet ──► event ──► rule match ──► deliver ──► target
//	                ▲        ▲          ▲
//	GWLB ──Geneve──► appliance (decode, inline rules, verdict, reply) ──Geneve──► GWLB
//	                              └── tee ──► the pipeline's event ingress
//
// It reuses packet (decoding the Geneve datagram and the inner packet, test
// packet builder, checksums), event (the inner packet's View, so rules match
// exactly the fields an event carries) and pattern (EventBridge patterns).
//
// An Appliance listens for Geneve on UDP (several readers on SO_REUSEPORT
// sockets, recvmmsg), runs an ordered list of inline rules over each inner
// packet (first match wins: pass, drop, modify, drop every Nth, rate limit;
// optionally tee the packet to targets through a callback), edits the packet
// in place and sends it back to the load balancer with the outer IPv4
// addresses swapped and the UDP ports, Geneve header and options unchanged
// (sendmmsg on a raw IPv4 socket, every length and checksum right). A
// periodic self-probe through that path drives the TCP/HTTP health check.
//
// Spec is the configuration section; New builds an Appliance from it, Run
// forwards until its context ends or Drain finishes, Collector exports the
// counters to Prometheus.
package appliance
