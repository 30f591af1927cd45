// Package kinds is the registry of component kinds: the one place where a source or target type
// name ("udp", "http", "file", ...) or a mirror provider name ("linux", "aws") is mapped to its
// kind, and where the appliance: section's kind is named. internal/config parses a file against it and
// internal/app builds every source and target from it.
//
// It sits beside the data path, above the components it lists. It is explicit — a list built
// here, no init() registration — so that what a binary can run is read in one place, one line
// per kind, in documentation order.
package kinds

import (
	"github.com/wirebridge/wirebridge/internal/appliance"
	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/mirror/aws"
	"github.com/wirebridge/wirebridge/internal/mirror/linux"
	"github.com/wirebridge/wirebridge/internal/source"
	"github.com/wirebridge/wirebridge/internal/target/eventbridge"
	"github.com/wirebridge/wirebridge/internal/target/file"
	"github.com/wirebridge/wirebridge/internal/target/http"
	"github.com/wirebridge/wirebridge/internal/target/live"
	"github.com/wirebridge/wirebridge/internal/target/nats"
	"github.com/wirebridge/wirebridge/internal/target/pcap"
	"github.com/wirebridge/wirebridge/internal/target/replay"
	"github.com/wirebridge/wirebridge/internal/target/stdout"
)

// Default returns the registry of every kind this binary has.
func Default() *component.Registry {
	return &component.Registry{
		Sources: []component.SourceEntry{
			{Type: "udp", Kind: source.UDPKind},
			{Type: "raw", Kind: source.RawKind},
			{Type: "afpacket", Kind: source.AFPacketKind},
			{Type: "pcap", Kind: source.PCAPKind},
			{Type: "vxlan", Kind: source.VXLANKind},
		},
		Targets: []component.TargetEntry{
			{Type: "http", Kind: http.Kind},
			{Type: "file", Kind: file.Kind},
			{Type: "pcap", Kind: pcap.Kind},
			{Type: "stdout", Kind: stdout.Kind},
			{Type: "nats", Kind: nats.Kind},
			{Type: "eventbridge", Kind: eventbridge.Kind},
			{Type: "live", Kind: live.Kind},
			{Type: "replay", Kind: replay.Kind},
		},
		Appliance: appliance.Kind,
		Mirrors: []component.MirrorEntry{
			{Provider: "linux", Kind: linux.Kind},
			{Provider: "aws", Kind: aws.Kind},
		},
	}
}
