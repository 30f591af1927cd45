package pattern

import (
	"reflect"
	"testing"
)

func TestExplain(t *testing.T) {
	seed := MustCompile(`{"source":["udp.raw"],"detail":{"Destination":{"Port":[514]}}}`)
	cases := []struct {
		name  string
		p     *Pattern
		event string
		want  Explanation
	}{
		{"seed match", seed, `{"source":"udp.raw","detail":{"Destination":{"Port":514}}}`, Explanation{
			Matched: true,
			Fields: []FieldMatch{
				{Path: "detail.Destination.Port", Condition: "number 514", Value: "514"},
				{Path: "source", Condition: `exact "udp.raw"`, Value: `"udp.raw"`},
			},
		}},
		{"seed wrong port", seed, `{"source":"udp.raw","detail":{"Destination":{"Port":515}}}`, Explanation{
			Unmatched: []FieldMatch{{Path: "detail.Destination.Port", Condition: "number 514"}},
		}},
		{"array element and absence", MustCompile(`{"d":{"a":[{"numeric":[">",0]}],"b":[{"exists":false}]}}`),
			`{"d":[{"a":1,"b":2},{"a":3}]}`, Explanation{
				Matched: true,
				Fields: []FieldMatch{
					{Path: "d.a", Condition: "numeric > 0", Value: "3"},
					{Path: "d.b", Condition: "exists false"},
				},
			}},
		{"or picks closest", MustCompile(`{"$or":[{"a":["x"],"b":["y"]},{"c":[{"prefix":"z"}]}]}`),
			`{"a":"x","b":"n","c":"q"}`, Explanation{
				Unmatched: []FieldMatch{{Path: "b", Condition: `exact "y"`}},
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Explain(c.p, []byte(c.event))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
			m, _ := c.p.MatchJSON([]byte(c.event))
			if m != got.Matched {
				t.Errorf("Explain says %v, MatchJSON %v", got.Matched, m)
			}
		})
	}
	if _, err := Explain(seed, []byte(`{`)); err == nil {
		t.Error("invalid event: want error")
	}
}

// TestExplainAgreesOnConformance checks Explain's answer on every conformance case.
func TestExplainAgreesOnConformance(t *testing.T) {
	var cases []confCase
	readConformance(t, "cases.json", &cases)
	for _, c := range cases {
		p := MustCompile(string(c.Pattern))
		got, err := Explain(p, c.Event)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if got.Matched != c.Match {
			t.Errorf("%s: Explain %v, want %v", c.Name, got.Matched, c.Match)
		}
	}
}
