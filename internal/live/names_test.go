package live

import (
	"testing"

	"github.com/wirebridge/wirebridge/internal/names/namestest"
)

// TestChannelNames runs the table internal/config runs for a live target's
// channel (internal/names/namestest): CheckChannel accepts what a
// configuration accepts and refuses the rest with the same reason, and a
// Hub publishes only to channels it accepts.
func TestChannelNames(t *testing.T) {
	h, err := NewHub(HubConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, c := range namestest.Channels {
		t.Run(c.Name, func(t *testing.T) {
			err := CheckChannel(c.In)
			switch {
			case c.Err == "" && err != nil:
				t.Fatalf("%q: %v", c.In, err)
			case c.Err != "" && (err == nil || err.Error() != c.Err):
				t.Fatalf("%q:\n got %v\nwant %s", c.In, err, c.Err)
			}
			perr := h.Publish(c.In, []Item{{Event: []byte(`{"id":"1"}`)}})
			if (perr == nil) != (c.Err == "") {
				t.Fatalf("Publish(%q) = %v, want error %q", c.In, perr, c.Err)
			}
		})
	}
}

// TestScopeNames runs the table internal/config runs for API key scopes
// (internal/names/namestest): ParseScope takes what a configuration accepts,
// and the scope's Names give the name back; the rest is refused with the
// same reason.
func TestScopeNames(t *testing.T) {
	for _, c := range namestest.Scopes {
		t.Run(c.Name, func(t *testing.T) {
			sc, err := ParseScope(c.In)
			if c.Err != "" {
				if err == nil || err.Error() != c.Err {
					t.Fatalf("%q:\n got %v\nwant %s", c.In, err, c.Err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%q: %v", c.In, err)
			}
			if n := sc.Names(); len(n) != 1 || n[0] != c.In {
				t.Fatalf("%q: parsed to %v", c.In, n)
			}
		})
	}
}
