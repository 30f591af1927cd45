package event

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Events that do not come from packets go through encoding/json and still
// satisfy the envelope part of the schema.
func TestGenericEvent(t *testing.T) {
	type diff struct {
		Path    string
		Primary int
		Shadow  int
	}
	evSchema, _ := schemas(t)
	ev := NewEvent("wirebridge.replay", "ReplayDiff", []string{"shadow-api"}, diff{"/v1/items", 200, 500})
	if !uuidv7.MatchString(ev.ID) || ev.Version != "0" || ev.Time.Nanosecond() != 0 {
		t.Fatalf("NewEvent: %+v", ev)
	}
	b, err := AppendEvent([]byte("prefix "), &ev)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "prefix {") {
		t.Fatalf("AppendEvent did not append: %s", b)
	}
	b = b[len("prefix "):]
	validate(t, evSchema, b)

	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	raw, ok := back.Detail.(json.RawMessage)
	if !ok {
		t.Fatalf("detail decoded as %T, want json.RawMessage", back.Detail)
	}
	var d diff
	if err := json.Unmarshal(raw, &d); err != nil || d != (diff{"/v1/items", 200, 500}) {
		t.Fatalf("detail %s -> %+v, %v", raw, d, err)
	}
	back.Detail, ev.Detail = nil, nil
	if !reflect.DeepEqual(back, ev) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, ev)
	}

	ce, err := AppendCloudEventJSON(nil, &Event{Version: "0", ID: ev.ID, Source: ev.Source, DetailType: "ReplayDiff",
		Time: ev.Time, Resources: ev.Resources, Detail: diff{"/", 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	var c CloudEvent
	if err := json.Unmarshal(ce, &c); err != nil {
		t.Fatal(err)
	}
	if c.SpecVersion != "1.0" || c.Type != "ReplayDiff" || c.Subject != "shadow-api" || !c.Time.Equal(ev.Time) ||
		c.DataContentType != "application/json" || string(c.Data) != `{"Path":"/","Primary":1,"Shadow":2}` {
		t.Errorf("cloudevent %s", ce)
	}
}

func TestGenericEventErrors(t *testing.T) {
	cases := []struct {
		name string
		ev   Event
	}{
		{"zero time", Event{Version: "0", DetailType: "X"}},
		{"year 10000", Event{Version: "0", DetailType: "X", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"unencodable detail", Event{Version: "0", DetailType: "X", Time: time.Unix(0, 0), Detail: make(chan int)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if b, err := AppendEvent(nil, &c.ev); err == nil {
				t.Errorf("no error, wrote %s", b)
			}
		})
	}
	for _, bad := range []string{`{`, `{"time":"yesterday"}`, `{"detail-type":"UdpPacket","time":"2026-01-01T00:00:00Z","detail":{"Length":"x"}}`} {
		var e Event
		if err := json.Unmarshal([]byte(bad), &e); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// FuzzEventUnmarshal: decoding arbitrary bytes never panics, and whatever
// decodes encodes again and decodes to the same event.
func FuzzEventUnmarshal(f *testing.F) {
	for _, name := range goldenCaptures[:3] {
		e := fixedEncoder()
		for _, p := range decodedPackets(f, name) {
			f.Add(e.AppendJSON(nil, p, Meta{Listener: "fuzz"}))
		}
	}
	f.Add([]byte(`{"version":"0","detail-type":"X","time":"2026-01-01T00:00:00Z","detail":[1]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Event
		if json.Unmarshal(b, &e) != nil {
			return
		}
		out, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("decoded %s but cannot encode it: %v", b, err)
		}
		var again Event
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("re-decode %s: %v", out, err)
		}
		out2, _ := json.Marshal(again)
		if string(out) != string(out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}
