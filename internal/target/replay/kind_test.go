package replay

import (
	"testing"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/source"
)

// TestKindOnParseError: the target's on_parse_error reaches the replay
// target's Config (default stop).
func TestKindOnParseError(t *testing.T) {
	kinds := &component.Registry{
		Sources: []component.SourceEntry{{Type: "vxlan", Kind: source.VXLANKind}},
		Targets: []component.TargetEntry{{Type: "replay", Kind: Kind}},
	}
	tests := []struct {
		name   string
		key    string
		resync bool
	}{
		{"default", "", false},
		{"stop", ", on_parse_error: stop", false},
		{"resync", ", on_parse_error: resync", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			yaml := "sources:\n  - {name: m, type: vxlan, listen: ['127.0.0.1:4789']}\n" +
				"rules:\n  - {name: r, pattern: {source: [wirebridge.vxlan]}, targets: [s]}\n" +
				"targets:\n  - {name: s, type: replay, address: '127.0.0.1:8080'" + tc.key + "}\n"
			c, err := config.Parse("wirebridge.yaml", []byte(yaml), kinds)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := c.Targets[0].Spec.(*Spec).config(c.Targets[0].Name)
			if err != nil {
				t.Fatal(err)
			}
			if rc.ResyncOnParseError != tc.resync {
				t.Errorf("ResyncOnParseError = %v, want %v", rc.ResyncOnParseError, tc.resync)
			}
		})
	}
}
