//go:build integration

package bus

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
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
	var mu sync.Mutex
	var changes []error
	b := open(t, Config{DataDir: filepath.Join(dir, "nats"), MaxStorage: 64 << 20, MaxMemory: 8 << 20,
		StoreReserve: 1, StoreCheckInterval: 100 * time.Millisecond,
		OnStoreChange: func(err error) { mu.Lock(); changes = append(changes, err); mu.Unlock() }})
	defer b.Close()
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
	waitStore := func(what string, cond func(error) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond(b.StoreErr()) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (store error %v)", what, b.StoreErr())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
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
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 2 || changes[0] == nil || changes[1] != nil {
		t.Errorf("store changes %v, want one episode: an error, then nil", changes)
	}
}

// TestStoreLowSpaceEpisode: free space below StoreReserve makes the store
// unavailable (one change reported); free space between the reserve and
// twice the reserve does not end the episode; twice the reserve does.
func TestStoreLowSpaceEpisode(t *testing.T) {
	dir := disktest.Tmpfs(t, "size=8m")
	var mu sync.Mutex
	var changes []error
	b := open(t, Config{DataDir: filepath.Join(dir, "nats"), MaxStorage: 64 << 20, MaxMemory: 8 << 20,
		StoreReserve: 1 << 20, StoreCheckInterval: 50 * time.Millisecond,
		OnStoreChange: func(err error) { mu.Lock(); changes = append(changes, err); mu.Unlock() }})
	defer b.Close()
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
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 2 || changes[0] == nil || changes[1] != nil || !errors.Is(changes[0], ErrStoreUnavailable) {
		t.Errorf("store changes %v, want one episode", changes)
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
	var mu sync.Mutex
	var changes []error
	b := open(t, Config{DataDir: filepath.Join(dir, "nats"), MaxStorage: 64 << 20, MaxMemory: 8 << 20,
		StoreReserve: 1 << 20, StoreCheckInterval: 100 * time.Millisecond,
		OnStoreChange: func(err error) { mu.Lock(); changes = append(changes, err); mu.Unlock() }})
	defer b.Close()
	ctx := context.Background()
	subj := DeliverySubject("t")
	cons, err := b.JetStream().CreateOrUpdateConsumer(ctx, DeliveryStream, jetstream.ConsumerConfig{
		Durable: "c", FilterSubject: subj, AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	waitStore := func(what string, cond func(error) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond(b.StoreErr()) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (store error %v)", what, b.StoreErr())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
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
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 6 {
		t.Errorf("store changes %v, want three episodes", changes)
	}
}
