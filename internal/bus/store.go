package bus

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrStoreUnavailable is wrapped by StoreErr's errors: the embedded server's
// store does not take writes (its file system is full, or a write failed).
var ErrStoreUnavailable = errors.New("jetstream store unavailable")

// ErrStoreWriteFailed is also wrapped when a stream's store failed a write:
// the server then leaves publishes to it unanswered.
var ErrStoreWriteFailed = errors.New("store write failed")

// A full file system under the embedded server.
//
// When a write to a stream's files fails (ENOSPC), nats-server marks that
// stream's store failed for good: every later publish to it fails (the
// server does not even answer it), also after space is freed, until the
// stream is loaded again, which it otherwise only is at the next start.
// Messages stored before the failure stay readable, but acked ones are no
// longer removed (internal/deliver pauses delivery meanwhile).
//
// The watcher checks the store every StoreCheckInterval: the streams'
// write errors (the server's own health report) and the free space on the
// data directory's file system (at least StoreReserve, and twice that to
// end an episode). While either is wrong, StoreErr says why
// (readiness fails with that reason, durable publishers refuse at once
// instead of waiting for answers that do not come). Once at least
// StoreReserve bytes are free again, a failed store is reloaded (also one
// whose last reload left JetStream disabled for the account): JetStream
// is disabled and enabled again for the account, which reopens every
// stream and consumer from its files (stored messages and consumer state
// are kept; a pull request waiting at that moment ends without messages
// and is asked again). A reload that does not clear the error is tried
// again with a backoff up to storeRepairMax.
type storeWatch struct {
	mu      sync.Mutex
	err     error // nil: writable
	quit    chan struct{}
	done    chan struct{}
	repairs int // reloads tried
}

const storeRepairMax = 30 * time.Second

func (w *storeWatch) start(b *Bus) {
	w.quit, w.done = make(chan struct{}), make(chan struct{})
	go w.run(b)
}

func (w *storeWatch) stop() {
	if w.quit == nil {
		return
	}
	select {
	case <-w.quit:
	default:
		close(w.quit)
	}
	<-w.done
}

// StoreErr is nil while the embedded server's store takes writes (always
// for an external cluster), otherwise why not (wrapping ErrStoreUnavailable).
func (b *Bus) StoreErr() error {
	b.store.mu.Lock()
	defer b.store.mu.Unlock()
	return b.store.err
}

// StoreRepairs is how many times a reload of a failed store was tried
// (internal/deliver counts the queue depth again after each).
func (b *Bus) StoreRepairs() int {
	b.store.mu.Lock()
	defer b.store.mu.Unlock()
	return b.store.repairs
}

func (w *storeWatch) set(b *Bus, err error) {
	w.mu.Lock()
	changed := (w.err == nil) != (err == nil)
	w.err = err
	w.mu.Unlock()
	if changed && b.cfg.OnStoreChange != nil {
		b.cfg.OnStoreChange(err)
	}
}

func (w *storeWatch) run(b *Bus) {
	defer close(w.done)
	t := time.NewTicker(b.cfg.StoreCheckInterval)
	defer t.Stop()
	var next time.Time               // earliest next reload
	wait := b.cfg.StoreCheckInterval // next reload's backoff
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
		}
		failed := b.writeErrors()
		if !b.srv.GlobalAccount().JetStreamEnabled() {
			// A reload whose enable failed: no stream reports an error
			// then, but nothing is stored either.
			failed = errors.Join(failed, errors.New("jetstream is disabled for the account (reopening the store failed)"))
		}
		// Hysteresis: once short of space, twice the reserve ends the
		// episode, so that free space hovering at the reserve does not
		// make an episode (and a warning) of every check.
		want := b.cfg.StoreReserve
		if b.StoreErr() != nil {
			want *= 2
		}
		free, ferr := freeSpace(b.cfg.DataDir)
		low := ferr == nil && free < want
		switch {
		case failed == nil && !low:
			w.set(b, nil)
			wait = b.cfg.StoreCheckInterval
			continue
		case failed == nil:
			w.set(b, fmt.Errorf("%w: %d bytes free on the data directory's file system (want %d)",
				ErrStoreUnavailable, free, want))
			continue
		case low:
			w.set(b, fmt.Errorf("%w: %w: %w; %d bytes free on the data directory's file system (want %d to reopen it)",
				ErrStoreUnavailable, ErrStoreWriteFailed, failed, free, want))
			continue
		}
		w.set(b, fmt.Errorf("%w: %w: %w; reopening it", ErrStoreUnavailable, ErrStoreWriteFailed, failed))
		if time.Now().Before(next) {
			continue
		}
		if err := b.reloadStore(); err != nil {
			w.set(b, fmt.Errorf("%w: %w: %w; reopening it failed: %w", ErrStoreUnavailable, ErrStoreWriteFailed, failed, err))
		}
		w.mu.Lock()
		w.repairs++
		w.mu.Unlock()
		next = time.Now().Add(wait)
		wait = min(2*wait, storeRepairMax)
	}
}

// writeErrors is the embedded server's stream write errors, nil if none
// (other health errors, such as a stream being created, are not ours to
// repair).
func (b *Bus) writeErrors() error {
	h := b.srv.Healthz(&server.HealthzOptions{Details: true})
	var errs []error
	for _, e := range h.Errors {
		if e.Type == server.HealthzErrorStream && e.Stream != "" && strings.Contains(e.Error, "write error") {
			errs = append(errs, errors.New(e.Error))
		}
	}
	return errors.Join(errs...)
}

// reloadStore reopens every stream and consumer of the server's account
// from its files.
func (b *Bus) reloadStore() error {
	acc := b.srv.GlobalAccount()
	// A reload whose enable failed leaves JetStream disabled: the next one
	// only enables it.
	if acc.JetStreamEnabled() {
		if err := acc.DisableJetStream(); err != nil {
			return fmt.Errorf("disable jetstream: %w", err)
		}
	}
	if err := acc.EnableJetStream(accountLimits(b.cfg), nil); err != nil {
		return fmt.Errorf("enable jetstream: %w", err)
	}
	return nil
}

// freeSpace is the space available to an unprivileged writer on dir's file
// system.
func freeSpace(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}
