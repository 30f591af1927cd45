//go:build integration

package bus

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirebridge/wirebridge/internal/disktest"
)

// TestStoreReopensAfterDiskFull: the embedded store's file system fills up
// until a write fails; the stream then takes no writes, StoreErr and Health
// say why, and OnStoreChange reports the episode once. Once space is freed
// the stream is reopened without a restart: what was stored is still
// there, consumers too, and publishes are stored again.
func TestStoreReopensAfterDiskFull(t *testing.T) {
	dir := disktest.Tmpfs(t, "size=4m")
	b, changes := storeBus(t, dir, 1, 100*time.Millisecond)
	ctx := context.Background()
	subj := DeliverySubject("t")
	cons, err := b.JetStream().CreateOrUpdateConsumer(ctx, DeliveryStream, jetstream.ConsumerConfig{
		Durable: "c", FilterSubject: subj, AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	// A filler leaves about 1 MiB.
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 3<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	stored := 0
	payload := make([]byte, 16<<10)
	for {
		rand.Read(payload)
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := b.JetStream().Publish(pctx, subj, payload)
		cancel()
		if err != nil {
			break
		}
		stored++
		if stored > 1000 {
			t.Fatal("the file system never filled up")
		}
	}
	waitStore := func(what string, cond func(error) bool) { t.Helper(); waitStoreErr(t, b, what, cond) }
	waitStore("the store reported unavailable", func(err error) bool { return err != nil })
	if h := b.Health(); !errors.Is(h, ErrStoreUnavailable) || b.Ready() {
		t.Errorf("Health %v, Ready %v while full", h, b.Ready())
	}
	// More failed publishes do not make more episodes.
	for range 5 {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		b.JetStream().Publish(pctx, subj, payload)
		cancel()
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitStore("the store writable again", func(err error) bool { return err == nil })
	if b.StoreRepairs() == 0 {
		t.Error("the stream was not reopened")
	}
	if _, err := b.JetStream().Publish(ctx, subj, []byte("after")); err != nil {
		t.Fatalf("publish after space was freed: %v", err)
	}
	// Everything stored before the episode, and the new one, are consumed.
	got := 0
	for got < stored+1 {
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			m.Ack()
			n++
		}
		if n == 0 {
			t.Fatalf("consumed %d of %d: %v", got, stored+1, batch.Error())
		}
		got += n
	}
	if ch := changes(); len(ch) != 2 || ch[0] == nil || ch[1] != nil {
		t.Errorf("store changes %v, want one episode: an error, then nil", ch)
	}
}

// TestStoreLowSpaceEpisode: free space below StoreReserve makes the store
// unavailable (one change reported); free space between the reserve and
// twice the reserve does not end the episode; twice the reserve does.
func TestStoreLowSpaceEpisode(t *testing.T) {
	dir := disktest.Tmpfs(t, "size=8m")
	b, changes := storeBus(t, dir, 1<<20, 50*time.Millisecond)
	free := func() int64 {
		n, err := freeSpace(dir)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Fill up to 512 KiB free, in 256 KiB files.
	var files []string
	for i := 0; free() > 512<<10; i++ {
		f := filepath.Join(dir, "filler"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		if err := os.WriteFile(f, make([]byte, 256<<10), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	waitErr := func(what string, unavailable bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for (b.StoreErr() != nil) != unavailable {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (free %d, store error %v)", what, free(), b.StoreErr())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitErr("unavailable below the reserve", true)
	// 1.5 MiB free: above the reserve, below twice it: still unavailable.
	for _, f := range files[len(files)-4:] {
		os.Remove(f)
	}
	files = files[:len(files)-4]
	if n := free(); n < 1<<20 || n >= 2<<20 {
		t.Fatalf("free %d, want between 1 and 2 MiB", n)
	}
	time.Sleep(10 * 50 * time.Millisecond) // ten checks
	if b.StoreErr() == nil {
		t.Fatal("the episode ended between the reserve and twice the reserve")
	}
	for _, f := range files[len(files)-4:] {
		os.Remove(f)
	}
	waitErr("available with twice the reserve free", false)
	if ch := changes(); len(ch) != 2 || ch[0] == nil || ch[1] != nil || !errors.Is(ch[0], ErrStoreUnavailable) {
		t.Errorf("store changes %v, want one episode", ch)
	}
}

// TestStoreReopensAfterSeveralEpisodes: the file system fills up until a
// write fails, then is freed, three times in a row in one process, with the
// production reserve (1 MiB); after each episode publishes are stored again
// and the consumer gets them. (Before: the second reload failed with
// "insufficient storage resources" — the server does not give back the
// streams' reservations when JetStream is disabled — and left JetStream
// disabled while the store counted as writable: "no response from stream".)
func TestStoreReopensAfterSeveralEpisodes(t *testing.T) {
	dir := disktest.Tmpfs(t, "size=4m")
	b, changes := storeBus(t, dir, 1<<20, 100*time.Millisecond)
	ctx := context.Background()
	subj := DeliverySubject("t")
	cons, err := b.JetStream().CreateOrUpdateConsumer(ctx, DeliveryStream, jetstream.ConsumerConfig{
		Durable: "c", FilterSubject: subj, AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	waitStore := func(what string, cond func(error) bool) { t.Helper(); waitStoreErr(t, b, what, cond) }
	payload := make([]byte, 16<<10)
	filler := filepath.Join(dir, "filler")
	for episode := 1; episode <= 3; episode++ {
		// A filler takes all but about 1 MiB; publishes fill the rest.
		free, err := freeSpace(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filler, make([]byte, max(free-(1<<20), 0)), 0o600); err != nil {
			t.Fatal(err)
		}
		for n := 0; ; n++ {
			if n > 1000 {
				t.Fatalf("episode %d: the file system never filled up", episode)
			}
			rand.Read(payload)
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			_, err := b.JetStream().Publish(pctx, subj, payload)
			cancel()
			if err != nil {
				break
			}
		}
		waitStore("the store reported unavailable", func(err error) bool { return err != nil })
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		waitStore("the store writable again", func(err error) bool { return err == nil })
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = b.JetStream().Publish(pctx, subj, []byte("after"))
		cancel()
		if err != nil {
			t.Fatalf("episode %d: publish after space was freed: %v", episode, err)
		}
		// Consume everything, so that the next episode starts from an
		// empty stream.
		for {
			batch, err := cons.Fetch(100, jetstream.FetchMaxWait(time.Second))
			if err != nil {
				t.Fatalf("episode %d: fetch: %v", episode, err)
			}
			n := 0
			for m := range batch.Messages() {
				if err := m.DoubleAck(ctx); err != nil {
					t.Fatalf("episode %d: ack: %v", episode, err)
				}
				n++
			}
			if n == 0 {
				break
			}
		}
	}
	if ch := changes(); len(ch) != 6 {
		t.Errorf("store changes %v, want three episodes", ch)
	}
}

// storeBus opens an embedded bus storing under dir/nats (64 MiB of
// storage) with the given reserve and check interval; changes returns the
// store changes reported so far.
func storeBus(t *testing.T, dir string, reserve int64, interval time.Duration) (*Bus, func() []error) {
	t.Helper()
	var mu sync.Mutex
	var changes []error
	b := open(t, Config{DataDir: filepath.Join(dir, "nats"), MaxStorage: 64 << 20, MaxMemory: 8 << 20,
		StoreReserve: reserve, StoreCheckInterval: interval,
		OnStoreChange: func(err error) { mu.Lock(); changes = append(changes, err); mu.Unlock() }})
	t.Cleanup(func() { b.Close() })
	return b, func() []error { mu.Lock(); defer mu.Unlock(); return slices.Clone(changes) }
}

// waitStoreErr waits up to 20 s until cond holds for b.StoreErr().
func waitStoreErr(t *testing.T, b *Bus, what string, cond func(error) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond(b.StoreErr()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (store error %v)", what, b.StoreErr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
