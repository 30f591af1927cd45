package transform

import (
	"errors"
	"testing"

	"github.com/wirebridge/wirebridge/internal/names/namestest"
)

// TestPathNames runs the table internal/config runs for input_path and
// input_paths (internal/names/namestest): a transformer is built from every
// path a configuration accepts, and the others are refused at the same key
// with the same reason.
func TestPathNames(t *testing.T) {
	for _, c := range namestest.Paths {
		t.Run(c.Name, func(t *testing.T) {
			tr, err := NewTransformer("", map[string]string{"v": c.In}, "<v>")
			if c.Err == "" {
				if err != nil || tr == nil {
					t.Fatalf("%q: %v", c.In, err)
				}
				return
			}
			var te *TransformError
			if !errors.As(err, &te) || te.Field != "input_paths.v" || te.Reason != c.Err {
				t.Fatalf("%q:\n got %v\nwant input_paths.v: %s", c.In, err, c.Err)
			}
		})
	}
}

// TestPathLookupLimits: paths a configuration accepts but no event can
// satisfy select nothing rather than fail.
func TestPathLookupLimits(t *testing.T) {
	doc := []byte(`{"resources":["a","b"],"a":{"a":{"a":1}}}`)
	cases := []struct {
		name string
		path string
		want string // "" when nothing is selected
	}{
		{"index in range", "$.resources[1]", `"b"`},
		{"index past the end", "$.resources[2]", ""},
		{"index beyond int", "$.resources[99999999999999999999999]", ""},
		{"deeper than the event", "$.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePath(c.path)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := p.Lookup(doc)
			if ok != (c.want != "") || string(got) != c.want {
				t.Fatalf("Lookup = %q, %v; want %q", got, ok, c.want)
			}
		})
	}
}
