package event

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// CloudEvents 1.0 structured-mode JSON (application/cloudevents+json).
//
// Mapping from the EventBridge shape:
//
//	specversion     "1.0"
//	id              id
//	source          source
//	type            detail-type
//	subject         resources[0] (the listener), absent when resources is empty
//	time            detail.Timestamp for packet events (full precision), time otherwise
//	datacontenttype "application/json"
//	data            detail
//
// version has no CloudEvents counterpart and is dropped.

// CloudEventsSpecVersion is the CloudEvents version written.
const CloudEventsSpecVersion = "1.0"

// CloudEvents attribute names.
const (
	CEKeySpecVersion     = "specversion"
	CEKeyID              = "id"
	CEKeySource          = "source"
	CEKeyType            = "type"
	CEKeySubject         = "subject"
	CEKeyTime            = "time"
	CEKeyDataContentType = "datacontenttype"
	CEKeyData            = "data"
)

// CloudEvent is the structured JSON form of a CloudEvent as wirebridge writes it.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

const (
	ceHead    = `{"` + CEKeySpecVersion + `":"` + CloudEventsSpecVersion + `","` + CEKeyID + `":"`
	ceSource  = `","` + CEKeySource + `":`
	ceType    = `,"` + CEKeyType + `":"`
	ceSubject = `","` + CEKeySubject + `":`
	ceTime    = `,"` + CEKeyTime + `":"`
	ceData    = `","` + CEKeyDataContentType + `":"application/json","` + CEKeyData + `":`
)

// AppendCloudEvent appends the CloudEvents structured JSON for p to dst. Like
// AppendJSON it allocates nothing except when dst must grow.
func (e *Encoder) AppendCloudEvent(dst []byte, p *packet.Packet, m Meta) []byte {
	id := e.nextID()
	st := makeStamp(e.timestamp(p))
	a := getApp(e.table(), p)
	dst = appendCloudEvent(dst, p, &m, &id, &st, a)
	putApp(a)
	return dst
}

// appendCloudEvent appends the CloudEvents JSON of p with the given id and
// time: the one implementation behind Encoder.AppendCloudEvent and
// View.AppendCloudEvent.
func appendCloudEvent(dst []byte, p *packet.Packet, m *Meta, id *ID, st *stamp, a *appLayer) []byte {
	dst = slices.Grow(dst, sizeHint(p, m, a)+64)
	dst = append(dst, ceHead...)
	dst = id.AppendText(dst)
	dst = append(dst, ceSource...)
	dst = appendEventSource(dst, m)
	dst = append(dst, ceType...)
	dst = append(dst, DetailType(p.Inner())...)
	if m.Listener != "" {
		dst = append(dst, ceSubject...)
		dst = appendString(dst, m.Listener)
	} else {
		dst = append(dst, '"')
	}
	dst = append(dst, ceTime...)
	dst = st.appendNano(dst)
	dst = append(dst, ceData...)
	dst = appendDetail(dst, p, m, st, a)
	return append(dst, '}')
}

// ToCloudEvent converts an event to its CloudEvents form. For packet events
// (Detail a *PacketDetail) time is the detail Timestamp.
func ToCloudEvent(e *Event) (CloudEvent, error) {
	data, err := json.Marshal(e.Detail)
	if err != nil {
		return CloudEvent{}, fmt.Errorf("encode cloudevent data: %w", err)
	}
	if e.Detail == nil {
		data = []byte("{}")
	}
	ce := CloudEvent{
		SpecVersion:     CloudEventsSpecVersion,
		ID:              e.ID,
		Source:          e.Source,
		Type:            e.DetailType,
		Time:            e.Time.UTC(),
		DataContentType: "application/json",
		Data:            data,
	}
	if d, ok := e.Detail.(*PacketDetail); ok && d != nil {
		ce.Time = d.Timestamp.UTC()
	}
	if len(e.Resources) > 0 {
		ce.Subject = e.Resources[0]
	}
	return ce, nil
}

// AppendCloudEventJSON appends the CloudEvents structured JSON of any event
// (encoding/json; for packets use Encoder.AppendCloudEvent).
func AppendCloudEventJSON(dst []byte, e *Event) ([]byte, error) {
	ce, err := ToCloudEvent(e)
	if err != nil {
		return dst, err
	}
	b, err := json.Marshal(ce)
	if err != nil {
		return dst, fmt.Errorf("encode cloudevent: %w", err)
	}
	return append(dst, b...), nil
}
