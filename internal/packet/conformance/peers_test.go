package conformance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
)

// Checks against what other tools' test suites expect from the same captures
// (testdata/pcaps/SOURCES.md). They need no tshark, so they run in every
// `go test`.

// capturedEvent is one packet of a capture: its bytes and the ev.* fields of
// the event wirebridge builds for it.
type capturedEvent struct {
	data []byte
	ev   fields
}

// readEvents decodes every packet of a shared capture and reads back its event JSON.
func readEvents(t *testing.T, name string) []capturedEvent {
	t.Helper()
	f, err := os.Open(pcapDir + "/" + name)
	if err != nil {
		t.Fatalf("shared capture: %v", err)
	}
	defer f.Close()
	r, err := capfile.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []capturedEvent
	var p packet.Packet
	var enc event.Encoder
	var buf []byte
	for {
		data, info, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: packet %d: %v", name, len(out)+1, err)
		}
		_ = packet.Decode(&p, data, info) // decode errors show up as missing fields below
		buf = enc.AppendJSON(buf[:0], &p, event.Meta{SourceType: "pcap"})
		ev, err := eventFields(buf)
		if err != nil {
			t.Fatalf("%s: packet %d: %v", name, len(out)+1, err)
		}
		out = append(out, capturedEvent{data: append([]byte(nil), data...), ev: ev})
	}
}

// outerUDPSrcPort reads the UDP source port of an Ethernet/IPv4/UDP frame
// straight from the bytes, independently of the decoder.
func outerUDPSrcPort(b []byte) (uint16, error) {
	if len(b) < 14+20+8 || binary.BigEndian.Uint16(b[12:14]) != 0x0800 {
		return 0, fmt.Errorf("not Ethernet/IPv4")
	}
	ihl := int(b[14]&0x0f) * 4
	if b[14+9] != 17 || len(b) < 14+ihl+8 {
		return 0, fmt.Errorf("not UDP")
	}
	return binary.BigEndian.Uint16(b[14+ihl : 14+ihl+2]), nil
}

// Suricata's vxlan-aws-traffic-mirror test: an AWS VPC Traffic Mirroring
// session, VNI 5569041, every packet VXLAN over UDP/4789. AWS puts a hash of
// the inner flow in the outer UDP source port, which the event exposes as
// Tunnel.FlowHash.
func TestPeerVXLANAWSTrafficMirror(t *testing.T) {
	evs := readEvents(t, "suricata-verify_vxlan-aws-traffic-mirror.pcap")
	if len(evs) != 100 {
		t.Fatalf("read %d packets, the capture holds 100", len(evs))
	}
	for i, e := range evs {
		port, err := outerUDPSrcPort(e.data)
		if err != nil {
			t.Fatalf("packet %d: %v", i+1, err)
		}
		want := map[string]string{
			"ev.Tunnel.Type":             "vxlan",
			"ev.Tunnel.VNI":              "5569041",
			"ev.Tunnel.FlowHash":         fmt.Sprint(port),
			"ev.Tunnel.Source.Port":      fmt.Sprint(port),
			"ev.Tunnel.Destination.Port": "4789",
		}
		for k, v := range want {
			if e.ev[k] != v {
				t.Errorf("packet %d: %s = %q, want %q", i+1, k, e.ev[k], v)
			}
		}
		if e.ev["ev.Source.IP"] == "" {
			t.Errorf("packet %d: the event has no inner Source.IP", i+1)
		}
	}
}

// Suricata's ipv6-covert-dstopts test expects its rule on IPv6 Destination
// Options to fire 18 times: 18 of the 37 packets carry that header.
func TestPeerIPv6DestinationOptions(t *testing.T) {
	evs := readEvents(t, "suricata-verify_ipv6-covert-dstopts.pcap")
	if len(evs) != 37 {
		t.Fatalf("read %d packets, the capture holds 37", len(evs))
	}
	n := 0
	for _, e := range evs {
		if e.ev["ev.IP.Version"] != "6" {
			t.Errorf("an event has IP.Version %q, want 6", e.ev["ev.IP.Version"])
		}
		if strings.Contains(e.ev["ev.IP.Extensions"], "dstopts") {
			n++
		}
	}
	if n != 18 {
		t.Errorf("%d events list destination-options in IP.Extensions, want 18", n)
	}
}

// Zeek's http-vlan-0 baseline reports vlan 0 for the connection: a tag with
// VLAN id 0 (priority tagging) is a tag, reported as 0, not dropped.
func TestPeerVLANZero(t *testing.T) {
	evs := readEvents(t, "zeek_http-vlan-0.pcap")
	if len(evs) != 14 {
		t.Fatalf("read %d packets, the capture holds 14", len(evs))
	}
	for i, e := range evs {
		if v, ok := e.ev["ev.VLAN"]; !ok || v != "0" {
			t.Errorf("packet %d: VLAN = %q (present %v), want [0]", i+1, v, ok)
		}
	}
}
