package bus

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestStorageFloor pins the figures behind config.MinMaxStorage (nats.max_storage must be at
// least 16 MiB): at 16 MiB the embedded store opens and both the delivery and the dead-letter
// stream take a message of the largest kind (600 KiB: a stored batch of 512 KiB, or one event
// with its frame); at 4 MiB the dead-letter stream (1/8 of the store) refuses it; at 1 byte the
// streams' limits (3/4 and 1/8 of it) round to 0, which JetStream takes as no limit at all.
func TestStorageFloor(t *testing.T) {
	big := make([]byte, 600<<10)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	b := open(t, Config{DataDir: t.TempDir(), MaxStorage: 16 << 20})
	if _, err := b.JetStream().Publish(ctx, DeliverySubject("t"), big); err != nil {
		t.Errorf("16 MiB: delivery stream refuses 600 KiB: %v", err)
	}
	if _, err := b.JetStream().Publish(ctx, DLQSubject("t"), big); err != nil {
		t.Errorf("16 MiB: dead-letter stream refuses 600 KiB: %v", err)
	}
	if _, err := b.State(ctx); err != nil {
		t.Errorf("16 MiB: state bucket: %v", err)
	}
	b.Close()

	b = open(t, Config{DataDir: t.TempDir(), MaxStorage: 4 << 20})
	if _, err := b.JetStream().Publish(ctx, DLQSubject("t"), big); err == nil {
		t.Errorf("4 MiB: the dead-letter stream took 600 KiB; the floor could be lower (update config.MinMaxStorage and its docs)")
	}
	b.Close()

	b = open(t, Config{DataDir: t.TempDir(), MaxStorage: 1})
	for _, st := range []interface {
		CachedInfo() *jetstream.StreamInfo
	}{b.Delivery(), b.DLQ()} {
		if c := st.CachedInfo().Config; c.MaxBytes > 0 {
			t.Errorf("1 byte: stream %s has a limit of %d bytes", c.Name, c.MaxBytes)
		}
	}
	b.Close()
}
