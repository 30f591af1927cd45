package targettest

import (
	"encoding/json"
	"testing"
)

func TestEventBodyIsJSON(t *testing.T) {
	for _, b := range [][]byte{EventBody(1, AllBytes(), AllRunes()), body(7, 1024), EventBody(0, nil, "")} {
		if !json.Valid(b) {
			t.Fatalf("not JSON: %q", b)
		}
		var ev struct {
			Detail struct{ Text string } `json:"detail"`
		}
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
	}
	var ev struct {
		Detail struct {
			Text    string
			Payload []byte
		} `json:"detail"`
	}
	if err := json.Unmarshal(EventBody(1, AllBytes(), AllRunes()), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Detail.Text != AllRunes() || string(ev.Detail.Payload) != string(AllBytes()) {
		t.Fatal("text or payload did not round-trip")
	}
}
