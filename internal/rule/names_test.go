package rule

import (
	"errors"
	"testing"

	"github.com/wirebridge/wirebridge/internal/names/namestest"
)

// TestPatternReasons runs the table internal/config runs for invalid
// patterns (internal/names/namestest): the rule set refuses each at
// rules[0].pattern with the same reason (pattern.CompileError.Detail).
func TestPatternReasons(t *testing.T) {
	for _, c := range namestest.Patterns {
		t.Run(c.Name, func(t *testing.T) {
			_, err := New([]Spec{cfgRule("r", c.In, "t")}, nil)
			var re *Error
			if !errors.As(err, &re) || re.Path != "rules[0].pattern" || re.Reason != c.Err {
				t.Fatalf("%s:\n got %v\nwant rules[0].pattern: %s", c.In, err, c.Err)
			}
		})
	}
}
