// Package event is the stage after packet in the wirebridge data path: it
// turns a decoded packet view into an event shaped like an Amazon EventBridge
// event, and encodes events as JSON (append-style, no reflection) or as
// CloudEvents 1.0 structured JSON.
//
//	source ──► packet ──► event ──► rule match ──► deliver ──► target
//
// Rules match on the packet view, so JSON is encoded only for events that
// matched and only when a target needs it. The field names are a public
// contract documented in docs/events.md and docs/event.schema.json. They are
// defined once, in internal/event/schema, from which `go generate` writes
// the Key constants and the View's field table (fields_gen.go), the JSON
// Schema and the docs' field tables.
//
// Three ways to get an event:
//   - Encoder.AppendJSON / Encoder.AppendCloudEvent: the hot path, from a
//     *packet.Packet straight to bytes, allocating nothing but dst's growth;
//   - Encoder.Build: the same event as an Event value (API, tests);
//   - NewEvent + AppendEvent / AppendCloudEventJSON: events that do not come
//     from a packet (replay diffs, ...), encoded with encoding/json.
package event

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event is an event in EventBridge shape. Detail is any JSON-encodable value;
// for packet events (detail-type UdpPacket, TcpSegment, IcmpMessage, IpPacket,
// Frame) it is a *PacketDetail, and UnmarshalJSON produces one. For other
// detail-types UnmarshalJSON leaves a json.RawMessage.
type Event struct {
	Version    string    // always "0"
	ID         string    // UUIDv7
	Source     string    // "wirebridge.<source type>" or the source's event_source
	DetailType string    // TypeUDP, TypeTCP, ... for packet events
	Time       time.Time // UTC; encoded in whole seconds (RFC 3339)
	Resources  []string  // the listener name for packet events; encoded as [] when empty
	Detail     any
}

// PacketDetail and the structs of its blocks (Endpoint, IPInfo, ...) are
// generated from the schema definition, in fields_gen.go.

// eventJSON is the wire form of Event.
type eventJSON struct {
	Version    string   `json:"version"`
	ID         string   `json:"id"`
	Source     string   `json:"source"`
	DetailType string   `json:"detail-type"`
	Time       string   `json:"time"`
	Resources  []string `json:"resources"`
	Detail     any      `json:"detail"`
}

// MarshalJSON encodes the event with "time" in whole seconds, UTC.
func (e Event) MarshalJSON() ([]byte, error) {
	if !usableTime(e.Time) {
		return nil, fmt.Errorf("event time %v: year outside 0..9999 or zero", e.Time)
	}
	w := eventJSON{
		Version:    e.Version,
		ID:         e.ID,
		Source:     e.Source,
		DetailType: e.DetailType,
		Time:       string(appendTime(nil, e.Time.UTC(), false)),
		Resources:  e.Resources,
		Detail:     e.Detail,
	}
	if w.Resources == nil {
		w.Resources = []string{}
	}
	if w.Detail == nil {
		w.Detail = struct{}{}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes an event; see Event for the type of Detail.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w struct {
		eventJSON
		Detail json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	t, err := time.Parse(time.RFC3339, w.Time)
	if err != nil {
		return fmt.Errorf("decode event time: %w", err)
	}
	*e = Event{
		Version:    w.Version,
		ID:         w.ID,
		Source:     w.Source,
		DetailType: w.DetailType,
		Time:       t.UTC(),
		Resources:  w.Resources,
	}
	if IsPacketType(w.DetailType) {
		d := new(PacketDetail)
		if err := json.Unmarshal(w.Detail, d); err != nil {
			return fmt.Errorf("decode event detail: %w", err)
		}
		d.Timestamp = d.Timestamp.UTC()
		e.Detail = d
	} else if w.Detail != nil {
		e.Detail = w.Detail
	}
	return nil
}

// IsPacketType reports whether detail-type t is one of the packet event types.
func IsPacketType(t string) bool {
	switch t {
	case TypeUDP, TypeTCP, TypeICMP, TypeIP, TypeFrame:
		return true
	}
	return false
}

// NewEvent returns an event that does not come from a packet: version "0", an
// id from the process-wide generator, the current time.
func NewEvent(source, detailType string, resources []string, detail any) Event {
	return Event{
		Version:    Version,
		ID:         NewID().String(),
		Source:     source,
		DetailType: detailType,
		Time:       time.Now().UTC().Truncate(time.Second),
		Resources:  resources,
		Detail:     detail,
	}
}

// AppendEvent appends the JSON of any event (encoding/json; for packets use
// Encoder.AppendJSON).
func AppendEvent(dst []byte, e *Event) ([]byte, error) {
	b, err := e.MarshalJSON()
	if err != nil {
		return dst, fmt.Errorf("encode event: %w", err)
	}
	return append(dst, b...), nil
}

// DefaultSource returns the default event source for a source type:
// "wirebridge.<type>", or "wirebridge" when the type is empty.
func DefaultSource(sourceType string) string {
	if sourceType == "" {
		return sourcePrefix[:len(sourcePrefix)-1]
	}
	return sourcePrefix + sourceType
}

const sourcePrefix = "wirebridge."
