// Package bus is wirebridge's connection to NATS JetStream, the store behind
// durable delivery. It sits under internal/deliver in the data path
// (rule match -> deliver -> [bus: JetStream stream] -> deliver -> target) and
// beside it for the mirror controller's and the app's key-value state.
//
// Open either starts nats-server in-process (the default: JetStream files
// under the configured directory, explicit memory and storage limits, and no
// network listener unless one is asked for; the client connects through an
// in-process pipe) or connects to an external cluster. Both use the same
// client code path, so everything above this package is oblivious to which.
//
// With the embedded server, a watcher (store.go) reports whether the store
// takes writes (StoreErr, Health) and reopens it after a full disk.
//
// Names (a public contract, see docs/cluster.md):
//
//	stream WIREBRIDGE_DELIVERY  subjects wirebridge.deliver.<target>  work-queue retention
//	stream WIREBRIDGE_DLQ       subjects wirebridge.dlq.<target>      limits retention
//	KV     wirebridge_mirror, wirebridge_state                        created on first use
package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirebridge/wirebridge/internal/names"
)

// Names of the streams, subjects and buckets wirebridge uses.
const (
	DeliveryStream  = "WIREBRIDGE_DELIVERY"
	DeliveryPrefix  = "wirebridge.deliver."
	DLQStream       = "WIREBRIDGE_DLQ"
	DLQPrefix       = "wirebridge.dlq."
	LivePrefix      = "wirebridge.live."
	MirrorBucket    = "wirebridge_mirror"
	StateBucket     = "wirebridge_state"
	defaultTimeout  = 10 * time.Second
	defaultMemory   = 64 << 20
	defaultStorage  = 1 << 30
	defaultDupWin   = 5 * time.Second
	defaultDLQBytes = 256 << 20
)

// DeliverySubject is the subject that holds target's pending deliveries.
func DeliverySubject(target string) string { return DeliveryPrefix + target }

// DLQSubject is the subject that holds target's dead letters.
func DLQSubject(target string) string { return DLQPrefix + target }

// Config selects and sizes the NATS server. The zero value plus a DataDir is
// a working embedded configuration. internal/app maps the YAML `nats:`
// section onto it.
type Config struct {
	// URLs of an external NATS cluster. When empty, nats-server runs embedded.
	URLs []string
	// Credentials for the external cluster (any one, or none). For the
	// embedded server with a Listen address, Token (or User/Password) is also
	// required of network clients.
	Token     string
	User      string
	Password  string
	CredsFile string

	// DataDir is the embedded server's JetStream store directory
	// (data_dir/nats). Required when embedded.
	DataDir string
	// Listen, when set ("127.0.0.1:4222"), makes the embedded server also
	// accept network clients. Empty: no listener at all.
	Listen string
	// MaxMemory and MaxStorage cap the embedded server's JetStream memory and
	// file store (defaults 64 MiB and 1 GiB).
	MaxMemory  int64
	MaxStorage int64
	// SyncAlways fsyncs every stored message (embedded). Without it a stored
	// message survives a process crash (it is written to the kernel before
	// the publish is acknowledged) but not a power loss within the server's
	// sync interval (2 minutes).
	SyncAlways bool

	// DeliveryMaxBytes caps the delivery stream (default: 3/4 of MaxStorage
	// when embedded, 1 GiB otherwise). When full, new publishes are refused:
	// accepted events are never discarded to make room.
	DeliveryMaxBytes int64
	// DLQMaxBytes caps the dead-letter stream (default 256 MiB); when it is
	// full, failing deliveries stay in the delivery stream and keep retrying.
	DLQMaxBytes int64
	// DuplicateWindow is how long the streams remember message ids for
	// de-duplication (default 5s). The server keeps every id of the window
	// in memory (about 75 bytes each), so the window times the store rate
	// is memory: 5s at 30,000 events/s is about 11 MB, where 2 minutes
	// would be 270 MB. The ids guard against a publish repeated after a lost
	// acknowledgement (the client's own retry within a second); a repeat
	// later than the window is stored again and delivered twice, which
	// at-least-once delivery allows.
	DuplicateWindow time.Duration
	// Replicas for streams and buckets on an external cluster (default 1).
	Replicas int
	// Name is the client connection name (default "wirebridge").
	Name string
	// Timeout bounds connecting and each setup request (default 10s).
	Timeout time.Duration

	// StoreCheckInterval is how often the embedded server's store is
	// checked (default 1s): see StoreErr.
	StoreCheckInterval time.Duration
	// StoreReserve is the free space (bytes) the data directory's file
	// system must have for the store to count as writable (default 1 MiB);
	// once it has not, twice as much ends the episode, and reopens a store
	// stopped by a write error.
	StoreReserve int64
	// OnStoreChange, when set, is called (from the watcher's goroutine) when
	// the store stops being writable, with the reason, and again with nil
	// when it is writable again: once per episode, not per failed write.
	OnStoreChange func(err error)
}

func (c *Config) defaults() {
	if c.MaxMemory <= 0 {
		c.MaxMemory = defaultMemory
	}
	if c.MaxStorage <= 0 {
		c.MaxStorage = defaultStorage
	}
	if c.DeliveryMaxBytes <= 0 {
		if len(c.URLs) == 0 {
			c.DeliveryMaxBytes = c.MaxStorage / 4 * 3
		} else {
			c.DeliveryMaxBytes = defaultStorage
		}
	}
	if c.DLQMaxBytes <= 0 {
		c.DLQMaxBytes = defaultDLQBytes
		if len(c.URLs) == 0 && c.DLQMaxBytes > c.MaxStorage/8 {
			c.DLQMaxBytes = c.MaxStorage / 8
		}
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = defaultDupWin
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.Name == "" {
		c.Name = "wirebridge"
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if c.StoreCheckInterval <= 0 {
		c.StoreCheckInterval = time.Second
	}
	if c.StoreReserve <= 0 {
		c.StoreReserve = 1 << 20
	}
}

// Bus is an open connection to JetStream with wirebridge's streams in place.
type Bus struct {
	cfg Config
	srv *server.Server // nil for an external cluster
	nc  *nats.Conn
	js  jetstream.JetStream

	delivery jetstream.Stream
	dlq      jetstream.Stream

	mu      sync.Mutex
	buckets map[string]jetstream.KeyValue
	closed  bool

	store storeWatch // embedded: is the store writable (store.go)
}

// Open starts the embedded server (or connects to cfg.URLs), then creates or
// updates the delivery and dead-letter streams.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	cfg.defaults()
	b := &Bus{cfg: cfg, buckets: map[string]jetstream.KeyValue{}}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.Timeout(cfg.Timeout),
		nats.MaxReconnects(-1),
	}
	var url string
	if len(cfg.URLs) == 0 {
		srv, err := startServer(cfg)
		if err != nil {
			return nil, err
		}
		b.srv = srv
		url = srv.ClientURL()
		opts = append(opts, nats.InProcessServer(srv))
		// The in-process pipe cannot drop; there is nothing to reconnect to.
		opts = append(opts, nats.NoReconnect())
	} else {
		for i, u := range cfg.URLs {
			if i > 0 {
				url += ","
			}
			url += u
		}
	}
	opts = append(opts, authOptions(cfg)...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.shutdownServer()
		return nil, fmt.Errorf("bus: connect to %s: %w", url, err)
	}
	b.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		b.abort()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	b.js = js
	if err := b.ensureStreams(ctx); err != nil {
		b.abort()
		return nil, err
	}
	if b.srv != nil {
		b.store.start(b)
	}
	return b, nil
}

func startServer(cfg Config) (*server.Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("bus: embedded nats: data dir is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("bus: embedded nats: %w", err)
	}
	o := &server.Options{
		ServerName:         "wirebridge",
		JetStream:          true,
		StoreDir:           cfg.DataDir,
		JetStreamMaxMemory: cfg.MaxMemory,
		// The storage limit is the account's (accountLimits), not the
		// server's: the server's reservation count is not given back when
		// the store is reloaded after a full disk (see storeWatch), so a
		// server-wide limit refused the second reload.
		JetStreamMaxStore: serverMaxStore,
		SyncAlways:        cfg.SyncAlways,
		DontListen:        cfg.Listen == "",
		NoSigs:            true,
		NoLog:             true,
		MaxPayload:        8 << 20,
	}
	if cfg.Listen != "" {
		if err := names.Listen(cfg.Listen); err != nil { // the rule internal/config checks too
			return nil, fmt.Errorf("bus: embedded nats: listen: %w", err)
		}
		host, port, _ := net.SplitHostPort(cfg.Listen)
		p, _ := strconv.Atoi(port)
		if p == 0 {
			p = server.RANDOM_PORT
		}
		o.Host, o.Port = host, p
		o.Authorization = cfg.Token
		o.Username, o.Password = cfg.User, cfg.Password
	} else {
		o.Port = server.RANDOM_PORT // unused: DontListen
	}
	srv, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded nats: %w", err)
	}
	// The server reports a failure to start (a listen address in use) only
	// through its logger's Fatalf, and then never becomes ready: catch it,
	// so that it is the error, at once.
	fatal := startLogger{fatal: make(chan error, 1)}
	srv.SetLoggerV2(fatal, false, false, false)
	srv.Start()
	for deadline := time.Now().Add(cfg.Timeout); !srv.ReadyForConnections(100 * time.Millisecond); {
		var err error
		select {
		case err = <-fatal.fatal:
		default:
			if time.Now().After(deadline) {
				err = fmt.Errorf("not ready after %s", cfg.Timeout)
			}
		}
		if err != nil {
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, fmt.Errorf("bus: embedded nats: %w", err)
		}
	}
	srv.SetLoggerV2(nil, false, false, false)
	if srv.JetStreamEnabled() {
		if err := srv.GlobalAccount().UpdateJetStreamLimits(accountLimits(cfg)); err != nil {
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, fmt.Errorf("bus: embedded nats: account limits: %w", err)
		}
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("bus: embedded nats: jetstream did not start (check data dir and limits)")
	}
	return srv, nil
}

// serverMaxStore is the embedded server's own storage limit: effectively
// none, the account's limit (Config.MaxStorage) is the one that holds.
const serverMaxStore = 1 << 50

// accountLimits is the JetStream limits of the embedded server's account:
// MaxStorage, nothing else limited (the server keeps MaxMemory).
func accountLimits(cfg Config) map[string]server.JetStreamAccountLimits {
	return map[string]server.JetStreamAccountLimits{"": {
		MaxMemory: -1, MaxStore: cfg.MaxStorage, // memory: the server's limit holds
		MaxStreams: -1, MaxConsumers: -1, MaxAckPending: -1,
		MemoryMaxStreamBytes: -1, StoreMaxStreamBytes: -1,
	}}
}

// startLogger is the embedded server's logger while it starts: it keeps the
// first fatal error (with the cause the server formats into it) and drops
// everything else (the server runs with NoLog).
type startLogger struct{ fatal chan error }

func (l startLogger) Fatalf(format string, v ...any) {
	err := fmt.Errorf(format, v...)
	for _, a := range v {
		if e, ok := a.(error); ok {
			err = e // "Error listening on port: %s, %q": the listen error names the address
			break
		}
	}
	select {
	case l.fatal <- err:
	default:
	}
}

func (startLogger) Noticef(string, ...any) {}
func (startLogger) Warnf(string, ...any)   {}
func (startLogger) Errorf(string, ...any)  {}
func (startLogger) Debugf(string, ...any)  {}
func (startLogger) Tracef(string, ...any)  {}

func authOptions(cfg Config) []nats.Option {
	var o []nats.Option
	switch {
	case cfg.CredsFile != "":
		o = append(o, nats.UserCredentials(cfg.CredsFile))
	case cfg.Token != "":
		o = append(o, nats.Token(cfg.Token))
	case cfg.User != "":
		o = append(o, nats.UserInfo(cfg.User, cfg.Password))
	}
	return o
}

func (b *Bus) ensureStreams(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	var err error
	b.delivery, err = b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        DeliveryStream,
		Description: "wirebridge: matched events waiting for delivery, one subject per target",
		Subjects:    []string{DeliveryPrefix + ">"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardNew,
		MaxBytes:    b.cfg.DeliveryMaxBytes,
		Duplicates:  b.cfg.DuplicateWindow,
		Replicas:    b.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("bus: stream %s: %w", DeliveryStream, err)
	}
	b.dlq, err = b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        DLQStream,
		Description: "wirebridge: deliveries that failed permanently or ran out of attempts",
		Subjects:    []string{DLQPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardNew,
		MaxBytes:    b.cfg.DLQMaxBytes,
		Duplicates:  b.cfg.DuplicateWindow,
		Replicas:    b.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("bus: stream %s: %w", DLQStream, err)
	}
	return nil
}

// Conn is the client connection (for publishing to live subjects or a nats target).
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream is the JetStream context on Conn.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Server is the embedded server, nil when connected to an external cluster.
func (b *Bus) Server() *server.Server { return b.srv }

// Embedded reports whether the server runs in this process.
func (b *Bus) Embedded() bool { return b.srv != nil }

// Delivery is the WIREBRIDGE_DELIVERY stream.
func (b *Bus) Delivery() jetstream.Stream { return b.delivery }

// DLQ is the WIREBRIDGE_DLQ stream.
func (b *Bus) DLQ() jetstream.Stream { return b.dlq }

// Replicas is the replica count used for streams, buckets and consumers.
func (b *Bus) Replicas() int { return b.cfg.Replicas }

// Ready reports whether the connection is up and the store writable (for
// /readyz; Health says why not).
func (b *Bus) Ready() bool { return b.Health() == nil }

// Health is nil when the connection is up and the store takes writes, and
// otherwise says why not (for /readyz).
func (b *Bus) Health() error {
	switch {
	case b.nc == nil || !b.nc.IsConnected():
		return errors.New("not connected to NATS")
	case b.srv != nil && !b.srv.JetStreamEnabled():
		return errors.New("embedded NATS: JetStream is disabled")
	}
	return b.StoreErr()
}

// Mirror returns the wirebridge_mirror KV bucket, creating it on first use.
func (b *Bus) Mirror(ctx context.Context) (jetstream.KeyValue, error) {
	return b.bucket(ctx, MirrorBucket, "wirebridge: mirror controller state")
}

// State returns the wirebridge_state KV bucket, creating it on first use.
func (b *Bus) State(ctx context.Context) (jetstream.KeyValue, error) {
	return b.bucket(ctx, StateBucket, "wirebridge: application state")
}

func (b *Bus) bucket(ctx context.Context, name, desc string) (jetstream.KeyValue, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("bus: bucket %s: %w", name, nats.ErrConnectionClosed)
	}
	if kv, ok := b.buckets[name]; ok {
		return kv, nil
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      name,
		Description: desc,
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: bucket %s: %w", name, err)
	}
	b.buckets[name] = kv
	return kv, nil
}

// Close drains the connection (pending publishes and acks reach the server),
// then shuts the embedded server down, flushing its store. It waits at most
// the configured timeout for the drain.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.store.stop()

	var err error
	if b.nc != nil && !b.nc.IsClosed() {
		done := make(chan struct{})
		b.nc.SetClosedHandler(func(*nats.Conn) { close(done) })
		if derr := b.nc.Drain(); derr != nil {
			b.nc.Close()
		} else {
			select {
			case <-done:
			case <-time.After(b.cfg.Timeout):
				err = errors.New("bus: close: drain timed out")
				b.nc.Close()
			}
		}
	}
	b.shutdownServer()
	return err
}

func (b *Bus) abort() {
	b.store.stop()
	if b.nc != nil {
		b.nc.Close()
	}
	b.shutdownServer()
}

func (b *Bus) shutdownServer() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}
