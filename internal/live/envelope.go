package live

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Item is one event published to a channel, with the captured frame it was
// decoded from when there is one. The frame travels beside the event (it is
// not part of the public event schema) so that a viewer can show a hex dump
// and export pcap.
type Item struct {
	// Event is the event JSON (any JSON value; compact, on one line).
	Event []byte
	// Frame is the captured frame, nil when the event did not come from a
	// packet or the target does not forward frames.
	Frame []byte
	// LinkType is the pcap link type of Frame (1: Ethernet, 101: raw IP ...).
	LinkType int
	// OrigLen is the frame's length on the wire (>= len(Frame)).
	OrigLen int
	// Time is when the frame was captured (zero: unknown).
	Time time.Time
}

// An item travels on NATS and to subscribers as one line of JSON with the
// event last, so that the event is found without parsing the line:
//
//	{"ts":1700000000123456,"link":1,"len":60,"frame":"AAEC...","event":{...}}
//
// ts is microseconds since the Unix epoch (exact in a JavaScript number).
// A NATS message on wirebridge.live.<channel> holds one or more such lines,
// separated by '\n'.

const eventKey = `"event":`

// AppendItem appends it encoded as one line (no trailing newline).
func AppendItem(dst []byte, it *Item) []byte {
	dst = append(dst, '{')
	if !it.Time.IsZero() {
		dst = append(dst, `"ts":`...)
		dst = strconv.AppendInt(dst, it.Time.UnixMicro(), 10)
		dst = append(dst, ',')
	}
	if it.Frame != nil {
		dst = append(dst, `"link":`...)
		dst = strconv.AppendInt(dst, int64(it.LinkType), 10)
		ol := it.OrigLen
		if ol < len(it.Frame) {
			ol = len(it.Frame)
		}
		dst = append(dst, `,"len":`...)
		dst = strconv.AppendInt(dst, int64(ol), 10)
		dst = append(dst, `,"frame":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, it.Frame)
		dst = append(dst, `",`...)
	}
	dst = append(dst, eventKey...)
	dst = append(dst, it.Event...)
	return append(dst, '}')
}

// EventOf returns the event JSON inside an encoded item line, or nil when the
// line is not one.
func EventOf(line []byte) []byte {
	i := bytes.Index(line, []byte(eventKey))
	if i < 0 || len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
		return nil
	}
	return line[i+len(eventKey) : len(line)-1]
}

// DecodeItem parses an encoded item line (the inverse of AppendItem).
func DecodeItem(line []byte) (Item, error) {
	var w struct {
		TS    *int64          `json:"ts"`
		Link  int             `json:"link"`
		Len   int             `json:"len"`
		Frame []byte          `json:"frame"`
		Event json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(line, &w); err != nil {
		return Item{}, fmt.Errorf("decode item: %w", err)
	}
	if w.Event == nil {
		return Item{}, errors.New("decode item: no event")
	}
	it := Item{Event: w.Event, Frame: w.Frame, LinkType: w.Link, OrigLen: w.Len}
	if w.TS != nil {
		it.Time = time.UnixMicro(*w.TS)
	}
	return it, nil
}

// CompactEvent checks that ev is one JSON value and returns it on one line.
// A JSON string holding JSON (the AppSync Events convention) is unwrapped.
func CompactEvent(ev []byte) ([]byte, error) {
	ev = bytes.TrimSpace(ev)
	if !json.Valid(ev) {
		return nil, errors.New("event is not valid JSON")
	}
	if len(ev) > 0 && ev[0] == '"' {
		var s string
		if err := json.Unmarshal(ev, &s); err != nil || !json.Valid([]byte(s)) {
			return nil, errors.New("an event given as a string must hold JSON")
		}
		ev = bytes.TrimSpace([]byte(s))
	}
	if bytes.ContainsAny(ev, "\r\n\t ") {
		var b bytes.Buffer
		if err := json.Compact(&b, ev); err != nil {
			return nil, fmt.Errorf("compact event: %w", err)
		}
		return b.Bytes(), nil
	}
	return ev, nil
}
