package bus

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func open(t *testing.T, cfg Config) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return b
}

func TestEmbeddedStreamsAndLimits(t *testing.T) {
	dir := t.TempDir()
	b := open(t, Config{DataDir: dir, MaxStorage: 128 << 20, MaxMemory: 8 << 20})
	defer b.Close()
	if !b.Embedded() || b.Server() == nil {
		t.Fatal("want an embedded server")
	}
	if a := b.Server().Addr(); a != nil {
		t.Fatalf("embedded server listens on %v without a listen address", a)
	}
	if !b.Ready() {
		t.Fatal("not ready")
	}
	ctx := context.Background()
	cases := []struct {
		name      string
		stream    string
		subject   string
		retention jetstream.RetentionPolicy
		maxBytes  int64
	}{
		{"delivery", DeliveryStream, DeliveryPrefix + ">", jetstream.WorkQueuePolicy, 96 << 20},
		{"dlq", DLQStream, DLQPrefix + ">", jetstream.LimitsPolicy, 16 << 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := b.JetStream().Stream(ctx, c.stream)
			if err != nil {
				t.Fatal(err)
			}
			info, err := s.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cfg := info.Config
			if len(cfg.Subjects) != 1 || cfg.Subjects[0] != c.subject {
				t.Errorf("subjects %v, want [%s]", cfg.Subjects, c.subject)
			}
			if cfg.Storage != jetstream.FileStorage {
				t.Errorf("storage %v, want file", cfg.Storage)
			}
			if cfg.Retention != c.retention {
				t.Errorf("retention %v, want %v", cfg.Retention, c.retention)
			}
			if cfg.Discard != jetstream.DiscardNew {
				t.Errorf("discard %v, want new", cfg.Discard)
			}
			if cfg.MaxBytes != c.maxBytes {
				t.Errorf("max bytes %d, want %d", cfg.MaxBytes, c.maxBytes)
			}
			// The server holds every id of the window in memory.
			if cfg.Duplicates != 5*time.Second {
				t.Errorf("duplicate window %v, want 5s", cfg.Duplicates)
			}
		})
	}
	acct, err := b.JetStream().AccountInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if acct.Limits.MaxStore != 128<<20 && acct.Limits.MaxStore != -1 {
		t.Errorf("account max store %d", acct.Limits.MaxStore)
	}
	if got := filepath.Join(dir, "jetstream"); !exists(got) {
		t.Errorf("no store under %s", got)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestBucketsLazyAndPersistent(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b := open(t, Config{DataDir: dir})
	if _, err := b.JetStream().KeyValue(ctx, StateBucket); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("state bucket exists before first use: %v", err)
	}
	for _, get := range []func(context.Context) (jetstream.KeyValue, error){b.State, b.Mirror} {
		kv, err := get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, "k", []byte(kv.Bucket())); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := b.State(ctx); err == nil {
		t.Fatal("State after Close succeeded")
	}

	b = open(t, Config{DataDir: dir})
	defer b.Close()
	for _, name := range []string{StateBucket, MirrorBucket} {
		kv, err := b.JetStream().KeyValue(ctx, name)
		if err != nil {
			t.Fatalf("%s after reopen: %v", name, err)
		}
		e, err := kv.Get(ctx, "k")
		if err != nil {
			t.Fatalf("%s get: %v", name, err)
		}
		if string(e.Value()) != name {
			t.Errorf("%s: value %q", name, e.Value())
		}
	}
}

func TestStreamPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b := open(t, Config{DataDir: dir})
	for i := 0; i < 10; i++ {
		if _, err := b.JetStream().Publish(ctx, DeliverySubject("t1"), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = open(t, Config{DataDir: dir})
	defer b.Close()
	info, err := b.Delivery().Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 10 {
		t.Fatalf("after restart %d messages, want 10", info.State.Msgs)
	}
}

func TestDeliveryStreamRefusesWhenFull(t *testing.T) {
	b := open(t, Config{DataDir: t.TempDir(), DeliveryMaxBytes: 64 << 10})
	defer b.Close()
	ctx := context.Background()
	body := make([]byte, 8<<10)
	var refused error
	for i := 0; i < 20 && refused == nil; i++ {
		_, refused = b.JetStream().Publish(ctx, DeliverySubject("t"), body)
	}
	if refused == nil {
		t.Fatal("a full delivery stream accepted more")
	}
	info, err := b.Delivery().Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.FirstSeq != 1 {
		t.Fatalf("first seq %d: old messages were discarded to make room", info.State.FirstSeq)
	}
}

// TestExternalCluster runs an embedded server with a token-protected
// listener and connects to it as an external cluster: the same client path.
func TestExternalCluster(t *testing.T) {
	srv := open(t, Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Token: "s3cret",
		DeliveryMaxBytes: 32 << 20, DLQMaxBytes: 8 << 20})
	defer srv.Close()
	addr, ok := srv.Server().Addr().(*net.TCPAddr)
	if !ok || !addr.IP.IsLoopback() {
		t.Fatalf("listener %v, want loopback", srv.Server().Addr())
	}
	url := "nats://" + addr.String()
	ctx := context.Background()

	if _, err := Open(ctx, Config{URLs: []string{url}, Timeout: 2 * time.Second}); err == nil {
		t.Fatal("connected without the token")
	}
	ext := open(t, Config{URLs: []string{url}, Token: "s3cret", DeliveryMaxBytes: 32 << 20, DLQMaxBytes: 8 << 20})
	defer ext.Close()
	if ext.Embedded() {
		t.Fatal("external bus reports embedded")
	}
	if _, err := ext.JetStream().Publish(ctx, DLQSubject("x"), []byte("hi")); err != nil {
		t.Fatal(err)
	}
	m, err := srv.DLQ().GetLastMsgForSubject(ctx, DLQSubject("x"))
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != "hi" {
		t.Fatalf("got %q", m.Data)
	}
	if _, err := ext.Mirror(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ext.Close(); err != nil {
		t.Fatal(err)
	}
	if !ext.Conn().IsClosed() {
		t.Fatal("connection open after Close")
	}
}

func TestOpenErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
	}{
		{"no data dir", Config{}},
		{"bad listen", Config{DataDir: "x", Listen: "nonsense"}},
		{"unreachable cluster", Config{URLs: []string{"nats://127.0.0.1:1"}, Timeout: time.Second}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.cfg.DataDir != "" {
				c.cfg.DataDir = filepath.Join(t.TempDir(), c.cfg.DataDir)
			}
			b, err := Open(context.Background(), c.cfg)
			if err == nil {
				b.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

// TestEmbeddedListenPortBusy: a nats.listen port held by another process is
// a start-up error naming the address and the reason, not "not ready after"
// the whole timeout (the embedded server's listen failure was silent).
func TestEmbeddedListenPortBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := Open(ctx, Config{DataDir: t.TempDir(), Listen: ln.Addr().String(), Token: "t", Timeout: time.Minute})
	if err == nil {
		b.Close()
		t.Fatalf("Open on a busy listen address %s succeeded", ln.Addr())
	}
	for _, want := range []string{ln.Addr().String(), "address already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
