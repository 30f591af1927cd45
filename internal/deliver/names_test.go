package deliver

import (
	"context"
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/names/namestest"
)

// TestTargetNames runs the table internal/config runs for target names
// (internal/names/namestest): New accepts what a configuration accepts and
// refuses the rest with the same reason.
func TestTargetNames(t *testing.T) {
	for _, c := range append([]namestest.Case{{Name: "empty", In: "", Err: "required: a name"}}, namestest.Names...) {
		t.Run(c.Name, func(t *testing.T) {
			w, err := New(context.Background(), Config{Target: c.In, Mode: Direct}, newRecorder(), nil, nil)
			if c.Err == "" {
				if err != nil {
					t.Fatalf("%q: %v", c.In, err)
				}
				if w.Target() != c.In {
					t.Fatalf("worker for %q, want %q", w.Target(), c.In)
				}
				return
			}
			if err == nil {
				t.Fatalf("%q: accepted, want %q", c.In, c.Err)
			}
			if want := "deliver: target name: " + c.Err; err.Error() != want {
				t.Fatalf("%q:\n got %v\nwant %s", c.In, err, want)
			}
			if !strings.Contains(ValidName(c.In).Error(), c.Err) {
				t.Fatalf("ValidName(%q) = %v, want %q", c.In, ValidName(c.In), c.Err)
			}
		})
	}
}
