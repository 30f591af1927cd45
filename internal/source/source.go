// Package source is the start of the wirebridge data path: it reads packets
// from the network or a capture file, in batches, and hands them to the
// pipeline.
//
//	source ──► packet (decode) ──► event ──► rule match ──► deliver ──► target
//	udp        recvmmsg on one exclusively bound socket per address, IP_PKTINFO destination
//	raw        SOCK_RAW/IPPROTO_UDP: every UDP datagram arriving at the host
//	afpacket   TPACKET_V3 ring on an interface, classic BPF filter, fanout
//	pcap       capture file replay at recorded, scaled or maximum speed
//
// Every source implements Source: Run reads until its context is cancelled
// and calls emit with a Batch of Frames. A batch's buffers belong to the
// source and are valid only until emit returns; a consumer that keeps a
// frame copies it. Frames are complete packets with their CaptureInfo, so
// the decoder and the pcap archive see the same bytes: the udp source, which
// receives only payloads, writes a synthesised IPv4 or IPv6 + UDP header in
// front of each payload in its own buffer (LinkRaw), with the sender's address
// and port, the real destination address (IP_PKTINFO / IPV6_PKTINFO) and the
// TTL / hop limit the kernel reports.
//
// Every frame carries its own capture time: the kernel's per-packet receive
// timestamp (udp, raw: SO_TIMESTAMPNS on each message of a recvmmsg batch),
// the ring's per-packet time (afpacket) or the file's (pcap). A source emits
// its frames in arrival order, and the pipeline keeps that order to every
// target (docs/events.md, "Capture time and order").
//
// Before a frame is emitted it passes the source's admission checks, in this
// order: the allow list of sender networks, the per-sender token bucket and
// the global token bucket. Every packet a source reads is counted in Stats:
// received, emitted, dropped by reason (not_allowed, rate_limited_source,
// rate_limited_global, kernel, queue_full, malformed), and truncated (read but longer
// than the buffer; such frames are still emitted, flagged by
// CaptureInfo.Length > CaptureLength). The pipeline adds queue_full drops with
// Stats.Drop. A source never blocks on a slow consumer: emit must return
// quickly, and the pipeline drops (and counts) what it cannot queue.
//
// Nothing here logs; errors are returned wrapped with context.
package source

import (
	"context"
	"sync/atomic"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// Frame is one captured packet. Data starts with the header named by
// Info.LinkType and is valid only until the emit call that carried it returns.
type Frame struct {
	Data []byte
	Info packet.CaptureInfo
}

// Batch is what a source hands to the pipeline in one emit call.
type Batch struct {
	Source      string // the source's configured name (the event's Listener)
	EventSource string // the event's "source" field
	Frames      []Frame
}

// Emit receives batches. It must not block for long and must not keep
// Batch.Frames or any Frame.Data after it returns.
type Emit func(Batch)

// Source is a packet source.
type Source interface {
	// Name is the source's configured name.
	Name() string
	// Run reads packets and calls emit with batches until ctx is cancelled
	// (then it returns nil) or reading fails. Run releases the source's
	// sockets or files when it returns; a Source runs once.
	Run(ctx context.Context, emit Emit) error
	// Stats are the source's counters, safe to read while Run runs.
	Stats() *Stats
	// Close releases the source without running it. It is safe to call
	// after Run has returned.
	Close() error
}

// DropReason says why a packet was dropped.
type DropReason uint8

// Drop reasons. Their String values are the metric label values.
const (
	DropNotAllowed        DropReason = iota // sender not in the allow list (or non-IP frame with an allow list)
	DropRateLimitedSource                   // the sender's token bucket was empty
	DropRateLimitedGlobal                   // the source's token bucket was empty
	DropKernel                              // dropped by the kernel before we read it (socket buffer / ring full)
	DropQueueFull                           // the pipeline's queue was full (counted by the pipeline)
	DropMalformed                           // not a packet of the source's kind (vxlan: no VXLAN header, too short)
	numDropReasons
)

var dropNames = [numDropReasons]string{"not_allowed", "rate_limited_source", "rate_limited_global", "kernel", "queue_full", "malformed"}

func (r DropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// DropReasons lists every drop reason, for metrics.
func DropReasons() []DropReason {
	out := make([]DropReason, numDropReasons)
	for i := range out {
		out[i] = DropReason(i)
	}
	return out
}

// Stats are a source's counters. All fields are updated atomically.
type Stats struct {
	Received  atomic.Uint64 // packets read from the kernel or file (before admission)
	Bytes     atomic.Uint64 // bytes on the wire of the received packets
	Emitted   atomic.Uint64 // packets handed to emit
	Truncated atomic.Uint64 // packets longer than the buffer, emitted truncated
	dropped   [numDropReasons]atomic.Uint64
}

// Drop adds n drops for reason r. The pipeline calls it with DropQueueFull.
func (s *Stats) Drop(r DropReason, n uint64) {
	if r < numDropReasons && n > 0 {
		s.dropped[r].Add(n)
	}
}

// Dropped returns the drops counted for reason r.
func (s *Stats) Dropped(r DropReason) uint64 {
	if r < numDropReasons {
		return s.dropped[r].Load()
	}
	return 0
}

// Snapshot is a copy of Stats at one moment.
type Snapshot struct {
	Received, Bytes, Emitted, Truncated uint64
	Dropped                             map[string]uint64 // by DropReason.String()
}

// DroppedTotal sums the drops of every reason.
func (s Snapshot) DroppedTotal() uint64 {
	var t uint64
	for _, v := range s.Dropped {
		t += v
	}
	return t
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() Snapshot {
	out := Snapshot{
		Received:  s.Received.Load(),
		Bytes:     s.Bytes.Load(),
		Emitted:   s.Emitted.Load(),
		Truncated: s.Truncated.Load(),
		Dropped:   make(map[string]uint64, numDropReasons),
	}
	for i := range s.dropped {
		out.Dropped[DropReason(i).String()] = s.dropped[i].Load()
	}
	return out
}
