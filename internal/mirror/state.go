package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// State is where an endpoint's mirroring stands, as the wirebridge_mirror KV
// bucket records it.
type State string

// States. An endpoint without a record has nothing set up by any controller.
const (
	// Creating: a controller has claimed the endpoint and is creating (or
	// completing) its session.
	Creating State = "creating"
	// Active: the session is complete; mirroring runs.
	Active State = "active"
	// Deleting: a controller has claimed the endpoint and is deleting its
	// session (the endpoint is gone or no longer selected).
	Deleting State = "deleting"
	// Failed: an operation was given up (retries exhausted, or a permanent
	// error) and dead-lettered; the next scan or trigger tries again.
	Failed State = "failed"
	// Removed is the state of the event sent when a record is dropped (the
	// endpoint is gone and nothing of ours is left for it). No record holds it.
	Removed State = "removed"
)

// Record is one endpoint's entry in the wirebridge_mirror bucket, under
// Key(mirror, endpoint). It is JSON; `wirebridge mirror list` shows it.
type Record struct {
	Mirror   string `json:"mirror"`
	Endpoint string `json:"endpoint"`
	State    State  `json:"state"`
	// Since is when the record entered State.
	Since time.Time `json:"since"`
	// Session is the provider's session id (when there is one).
	Session string            `json:"session,omitempty"`
	Attrs   map[string]string `json:"attrs,omitempty"`
	// LastError is the error of the last failed try (kept after a success
	// until the state changes again), Attempts the tries of the current
	// operation.
	LastError string `json:"last_error,omitempty"`
	Attempts  int    `json:"attempts,omitempty"`
	// Owner is the controller holding the claim (Creating, Deleting); its
	// claim lapses at ClaimUntil, after which any controller may take over.
	Owner      string    `json:"owner,omitempty"`
	ClaimUntil time.Time `json:"claim_until,omitzero"`
	// Updated is when the record was last written.
	Updated time.Time `json:"updated"`
}

// claimedBy reports whether a controller other than self holds a claim on
// the record that has not lapsed at now.
func (r *Record) claimedBy(self string, now time.Time) bool {
	return r != nil && r.Owner != "" && r.Owner != self && now.Before(r.ClaimUntil)
}

// Key is the KV key of an endpoint of the mirror entry named mirror:
// "<mirror>.<endpoint>", the endpoint id escaped into one KV token (letters,
// digits, '-' and '_' as they are; any other byte as =XX).
func Key(mirror, endpoint string) string { return mirror + "." + escapeID(endpoint) }

// Prefix is the KV key filter of every endpoint of a mirror entry.
func Prefix(mirror string) string { return mirror + ".*" }

func escapeID(id string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	if b.Len() == 0 {
		return "="
	}
	return b.String()
}

// unescapeID reverses escapeID.
func unescapeID(s string) (string, error) {
	if s == "=" {
		return "", nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("key token %q: truncated escape", s)
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("key token %q: bad escape", s)
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// errConflict says a compare-and-set write lost: the record changed since
// it was read.
var errConflict = errors.New("record changed meanwhile")

// store reads and writes one mirror entry's records, every write
// revision-checked.
type store struct {
	kv     jetstream.KeyValue
	mirror string
}

// get returns the record of endpoint and its revision; nil and the revision
// of the last delete (or 0) when there is none.
func (s *store) get(ctx context.Context, endpoint string) (*Record, uint64, error) {
	e, err := s.kv.Get(ctx, Key(s.mirror, endpoint))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, 0, nil
	case err != nil:
		return nil, 0, fmt.Errorf("read the state of %s: %w", endpoint, err)
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		// A record this version cannot read is replaced by the next write.
		return nil, e.Revision(), nil
	}
	return &r, e.Revision(), nil
}

// put writes r: created when rev is 0 (and no record exists), else an
// update of revision rev. It returns the new revision, or errConflict.
func (s *store) put(ctx context.Context, r *Record, rev uint64) (uint64, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("encode the state of %s: %w", r.Endpoint, err)
	}
	key := Key(s.mirror, r.Endpoint)
	var n uint64
	if rev == 0 {
		n, err = s.kv.Create(ctx, key, b)
	} else {
		n, err = s.kv.Update(ctx, key, b, rev)
	}
	if isConflict(err) {
		return 0, errConflict
	}
	if err != nil {
		return 0, fmt.Errorf("write the state of %s: %w", r.Endpoint, err)
	}
	return n, nil
}

// drop deletes the record of endpoint if it is still at revision rev.
func (s *store) drop(ctx context.Context, endpoint string, rev uint64) error {
	err := s.kv.Delete(ctx, Key(s.mirror, endpoint), jetstream.LastRevision(rev))
	if isConflict(err) {
		return errConflict
	}
	if err != nil {
		return fmt.Errorf("delete the state of %s: %w", endpoint, err)
	}
	return nil
}

func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// entry is a record with its revision.
type entry struct {
	rec *Record
	rev uint64
}

// list returns every record of the mirror entry, by endpoint id.
func (s *store) list(ctx context.Context) (map[string]entry, error) {
	out := map[string]entry{}
	kl, err := s.kv.ListKeysFiltered(ctx, Prefix(s.mirror))
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return out, nil
		}
		return nil, fmt.Errorf("list the mirror state: %w", err)
	}
	defer kl.Stop()
	var keys []string
	for k := range kl.Keys() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		id, err := unescapeID(strings.TrimPrefix(k, s.mirror+"."))
		if err != nil {
			continue // not a key this package writes
		}
		r, rev, err := s.get(ctx, id)
		if err != nil {
			return nil, err
		}
		if r != nil || rev != 0 {
			out[id] = entry{r, rev} // r is nil for a record this version cannot read
		}
	}
	return out, nil
}

// List returns the records of the mirror entry named mirror in kv, sorted
// by endpoint (`wirebridge mirror list`).
func List(ctx context.Context, kv jetstream.KeyValue, mirror string) ([]Record, error) {
	m, err := (&store{kv: kv, mirror: mirror}).list(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(m))
	for _, e := range m {
		if e.rec != nil {
			out = append(out, *e.rec)
		}
	}
	sortRecords(out)
	return out, nil
}

// Get returns the record of one endpoint (nil when there is none).
func Get(ctx context.Context, kv jetstream.KeyValue, mirror, endpoint string) (*Record, error) {
	r, _, err := (&store{kv: kv, mirror: mirror}).get(ctx, endpoint)
	return r, err
}

// ErrNotActive is what Wait returns when the endpoint's mirroring failed or
// its record went away.
var ErrNotActive = errors.New("mirroring is not active")

// Wait watches the record of endpoint until its state is Active and returns
// it. A Failed state, or the record removed, ends the wait with an error
// wrapping ErrNotActive and giving the reason; so does ctx.
func Wait(ctx context.Context, kv jetstream.KeyValue, mirror, endpoint string) (*Record, error) {
	w, err := kv.Watch(ctx, Key(mirror, endpoint))
	if err != nil {
		return nil, fmt.Errorf("watch the state of %s: %w", endpoint, err)
	}
	defer w.Stop()
	var last *Record
	for {
		select {
		case <-ctx.Done():
			if last != nil {
				return last, fmt.Errorf("%s is %s since %s: %w", endpoint, last.State, last.Since.UTC().Format(time.RFC3339), ctx.Err())
			}
			return nil, fmt.Errorf("%s has no state yet: %w", endpoint, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return last, fmt.Errorf("watch the state of %s: the watch ended", endpoint)
			}
			if e == nil {
				continue // the initial values are all delivered
			}
			if e.Operation() != jetstream.KeyValuePut {
				if last != nil {
					return nil, fmt.Errorf("%s: its session was removed (no longer selected, or gone): %w", endpoint, ErrNotActive)
				}
				continue
			}
			var r Record
			if err := json.Unmarshal(e.Value(), &r); err != nil {
				continue
			}
			last = &r
			switch r.State {
			case Active:
				return &r, nil
			case Failed:
				return &r, fmt.Errorf("%s: %w: %s after %d attempt(s): %s", endpoint, ErrNotActive, r.State, r.Attempts, r.LastError)
			}
		}
	}
}
