package bus

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wirebridge/wirebridge/internal/names/namestest"
)

// TestListenReasons runs the invalid cases of the table internal/config runs
// for listen addresses (internal/names/namestest): the embedded server
// refuses each nats.listen with the same reason, before it starts. (The
// valid ones bind ports, some on every interface; TestExternalCluster and
// TestEmbeddedListenPortBusy open loopback ones.)
func TestListenReasons(t *testing.T) {
	for _, c := range namestest.Listens {
		if c.Err == "" || c.In == "" { // "" means no listener here
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			b, err := Open(context.Background(), Config{DataDir: filepath.Join(t.TempDir(), "nats"), Listen: c.In})
			if err == nil {
				b.Close()
				t.Fatalf("%q: Open succeeded", c.In)
			}
			if want := "bus: embedded nats: listen: " + c.Err; err.Error() != want {
				t.Fatalf("%q:\n got %v\nwant %s", c.In, err, want)
			}
		})
	}
}
