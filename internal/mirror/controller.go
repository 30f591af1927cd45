package mirror

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirebridge/wirebridge/internal/event"
)

// Backoff spaces the tries of one operation: Initial * Multiplier^n, capped
// at Max, each delay randomised by ±Jitter (a fraction, 0..1).
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	Jitter     float64
}

// delay is the wait after the n-th failed try (n from 1).
func (b Backoff) delay(n int) time.Duration {
	d := float64(b.Initial)
	for i := 1; i < n && d < float64(b.Max); i++ {
		d *= b.Multiplier
	}
	d = min(d, float64(b.Max))
	if b.Jitter > 0 {
		d *= 1 + b.Jitter*(2*rand.Float64()-1)
	}
	return time.Duration(d)
}

// DeadLetters stores an operation given up (a jetstream.JetStream does).
type DeadLetters interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// Config configures one controller: one entry of the configuration's
// mirror: list.
type Config struct {
	// Name is the entry's name (its KV keys, its events' resources).
	Name string
	// ProviderName is the provider's kind name, for events and logs.
	ProviderName string
	Provider     Provider
	// KV is the wirebridge_mirror bucket.
	KV jetstream.KeyValue
	// DLQ stores given-up operations on DLQSubject(Name); nil: they are
	// only logged and counted.
	DLQ DeadLetters
	// ScanInterval is the period of the full reconcile (default 60s).
	ScanInterval time.Duration
	// MaxAttempts bounds the tries of one operation (default 5).
	MaxAttempts int
	Backoff     Backoff
	// OpTimeout bounds one try of a provider call (default 30s).
	OpTimeout time.Duration
	// ClaimTTL is how long a claim outlives its last write when its
	// controller stops writing (crashed): then another controller takes over
	// (default 30s).
	ClaimTTL time.Duration
	// RemoveOnExit removes every session when Run's context ends.
	RemoveOnExit bool
	// Owner names this controller in claims (default host:pid:random).
	Owner string
	// Publish hands each state change event to the pipeline (nil: none).
	Publish func(event.Event)
	// Metrics records operations (nil: not recorded).
	Metrics *Metrics
	Logger  *slog.Logger
}

func (c *Config) defaults() {
	if c.ScanInterval <= 0 {
		c.ScanInterval = 60 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.Backoff.Initial <= 0 {
		c.Backoff = Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, Multiplier: 2, Jitter: 0.2}
	}
	if c.Backoff.Max < c.Backoff.Initial {
		c.Backoff.Max = c.Backoff.Initial
	}
	if c.Backoff.Multiplier < 1 {
		c.Backoff.Multiplier = 1
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = 30 * time.Second
	}
	if c.ClaimTTL <= 0 {
		c.ClaimTTL = 30 * time.Second
	}
	if c.Owner == "" {
		host, _ := os.Hostname()
		c.Owner = host + ":" + strconv.Itoa(os.Getpid()) + ":" + strconv.FormatUint(rand.Uint64()&0xffffff, 16)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Controller keeps one mirror entry's endpoints mirrored: Run reconciles
// on every trigger and every ScanInterval.
type Controller struct {
	cfg    Config
	st     *store
	log    *slog.Logger
	ensure chan ensureReq
	// seen is when each endpoint not yet active was first seen (setup latency).
	seen map[string]time.Time
	// recheck is when to look again at endpoints left alone because another
	// controller's claim held them: when the claim lapses, if its owner died.
	recheck map[string]time.Time
	now     func() time.Time
}

// New returns a controller; Run starts it.
func New(cfg Config) (*Controller, error) {
	if cfg.Name == "" || cfg.Provider == nil || cfg.KV == nil {
		return nil, errors.New("mirror: controller needs a name, a provider and a KV bucket")
	}
	cfg.defaults()
	return &Controller{
		cfg:     cfg,
		st:      &store{kv: cfg.KV, mirror: cfg.Name},
		log:     cfg.Logger.With("mirror", cfg.Name),
		ensure:  make(chan ensureReq),
		seen:    map[string]time.Time{},
		recheck: map[string]time.Time{},
		now:     time.Now,
	}, nil
}

// Name is the mirror entry's name.
func (c *Controller) Name() string { return c.cfg.Name }

// Owner is the name this controller claims endpoints under.
func (c *Controller) Owner() string { return c.cfg.Owner }

// ensureReq asks Run to reconcile one endpoint now; Run answers whether the
// provider selects it.
type ensureReq struct {
	id    string
	reply chan ensureResult
}

type ensureResult struct {
	selected bool
	err      error
}

// Run reconciles until ctx ends: at once, on every trigger of the
// provider, on every ensure request and every ScanInterval. A provider
// whose Watch fails is left to the periodic scan. When ctx ends it removes
// every session if RemoveOnExit is set, and returns nil.
func (c *Controller) Run(ctx context.Context) error {
	triggers := make(chan Trigger, 1024)
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		if err := c.cfg.Provider.Watch(watchCtx, triggers); err != nil && watchCtx.Err() == nil {
			c.log.Warn("mirror: the provider stopped watching; only the periodic scan reconciles now", "err", err)
		}
	}()
	defer func() {
		stopWatch()
		<-watchDone
	}()
	scan := time.NewTicker(c.cfg.ScanInterval)
	defer scan.Stop()
	c.reconcile(ctx, nil, "start") // errors are logged and counted: the next scan tries again
	for ctx.Err() == nil {
		var lapse <-chan time.Time
		var tm *time.Timer
		if at, ok := c.nextRecheck(); ok {
			tm = time.NewTimer(max(at.Sub(c.now()), 0))
			lapse = tm.C
		}
		select {
		case <-ctx.Done():
		case <-lapse:
			only := map[string]bool{}
			now := c.now()
			for id, at := range c.recheck {
				if !at.After(now) {
					only[id] = true
					delete(c.recheck, id)
				}
			}
			c.reconcile(ctx, only, "claim-lapsed")
		case <-scan.C:
			c.reconcile(ctx, nil, "scan")
		case t := <-triggers:
			only, all := c.collect(t, triggers)
			if all {
				only = nil
			}
			c.reconcile(ctx, only, t.Reason)
		case r := <-c.ensure:
			only := map[string]bool{r.id: true}
			if _, ok := c.seen[r.id]; !ok {
				c.seen[r.id] = c.now()
			}
			sel, err := c.reconcile(ctx, only, "ensure")
			r.reply <- ensureResult{sel[r.id], err}
		}
		if tm != nil {
			tm.Stop()
		}
	}
	if c.cfg.RemoveOnExit {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.OpTimeout*time.Duration(c.cfg.MaxAttempts))
		defer cancel()
		if err := c.RemoveAll(rctx); err != nil {
			c.log.Warn("mirror: removing the sessions on exit", "err", err)
		}
	}
	return nil
}

// nextRecheck is the earliest time an endpoint is to be looked at again.
func (c *Controller) nextRecheck() (time.Time, bool) {
	var first time.Time
	for _, at := range c.recheck {
		if first.IsZero() || at.Before(first) {
			first = at
		}
	}
	return first, !first.IsZero()
}

// collect takes t and the triggers already queued behind it (a burst of
// link events reconciles once), noting when each endpoint was first seen.
// all is true when one of them names no endpoint.
func (c *Controller) collect(t Trigger, more <-chan Trigger) (only map[string]bool, all bool) {
	only = map[string]bool{}
	add := func(t Trigger) {
		if t.EndpointID == "" {
			all = true
			return
		}
		only[t.EndpointID] = true
		seen := t.Seen
		if seen.IsZero() {
			seen = c.now()
		}
		if prev, ok := c.seen[t.EndpointID]; !ok || seen.Before(prev) {
			c.seen[t.EndpointID] = seen
		}
	}
	add(t)
	for {
		select {
		case t := <-more:
			add(t)
		default:
			return only, all
		}
	}
}

// Ensure reconciles endpoint id now (through Run, which must be running)
// and reports whether the provider selects it. Wait then watches its state.
func (c *Controller) Ensure(ctx context.Context, id string) (selected bool, err error) {
	r := ensureReq{id: id, reply: make(chan ensureResult, 1)}
	select {
	case c.ensure <- r:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	select {
	case res := <-r.reply:
		return res.selected, res.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// reconcile settles the endpoints in only (every endpoint when nil): the
// desired ones get a complete session, the sessions of the others are
// deleted, records of endpoints with nothing left are dropped. It returns
// which endpoints are desired.
func (c *Controller) reconcile(ctx context.Context, only map[string]bool, reason string) (map[string]bool, error) {
	start := c.now()
	full := only == nil
	var err error
	// The records are read before the provider's state: a controller that
	// reads a record, then sees the session another controller has since
	// set up, settles it with a revision-checked write that then fails,
	// instead of creating it again.
	var recs map[string]entry
	if full {
		if recs, err = c.st.list(ctx); err != nil {
			return nil, c.scanFailed(ctx, "state", err)
		}
	} else {
		recs = map[string]entry{}
		for id := range only {
			r, rev, err := c.st.get(ctx, id)
			if err != nil {
				return nil, c.scanFailed(ctx, "state", err)
			}
			if r != nil || rev != 0 {
				recs[id] = entry{r, rev}
			}
		}
	}
	desiredList, err := c.cfg.Provider.Desired(ctx)
	if err != nil {
		return nil, c.scanFailed(ctx, "desired", err)
	}
	actualList, err := c.cfg.Provider.Actual(ctx)
	if err != nil {
		return nil, c.scanFailed(ctx, "actual", err)
	}
	desired := map[string]Endpoint{}
	selected := map[string]bool{}
	for _, e := range desiredList {
		desired[e.ID] = e
		selected[e.ID] = true
	}
	actual := map[string]Session{}
	for _, s := range actualList {
		actual[s.EndpointID] = s
	}
	ids := map[string]bool{}
	for id := range desired {
		ids[id] = true
	}
	for id := range actual {
		ids[id] = true
	}
	for id, e := range recs {
		if e.rec != nil {
			ids[id] = true
		}
	}
	for _, id := range slices.Sorted(mapsKeys(ids)) {
		if ctx.Err() != nil {
			break
		}
		if !full && !only[id] {
			continue
		}
		e, want := desired[id]
		s, have := actual[id]
		if want && !have {
			if _, ok := c.seen[id]; !ok {
				c.seen[id] = start
			}
		}
		c.settle(ctx, id, e, want, s, have, recs[id], reason)
	}
	if full {
		c.cfg.Metrics.scanned(c.cfg.Name, c.now().Sub(start))
		for id := range c.seen {
			if _, want := desired[id]; !want {
				delete(c.seen, id)
			}
		}
	}
	return selected, nil
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (c *Controller) scanFailed(ctx context.Context, what string, err error) error {
	err = fmt.Errorf("read the %s: %w", what, err)
	if ctx.Err() != nil {
		return err
	}
	c.cfg.Metrics.scanError(c.cfg.Name)
	c.log.Warn("mirror: reconcile failed; the next trigger or scan tries again", "err", err)
	return err
}

// settle brings one endpoint to where it should be.
func (c *Controller) settle(ctx context.Context, id string, e Endpoint, want bool, s Session, have bool, cur entry, reason string) {
	now := c.now()
	if cur.rec.claimedBy(c.cfg.Owner, now) {
		// Another controller works on it: its write settles it, or, if it
		// died, a look when its claim lapses.
		c.recheck[id] = cur.rec.ClaimUntil.Add(time.Millisecond)
		return
	}
	switch {
	case want && have && s.Complete:
		if r := cur.rec; r != nil && r.State == Active && r.Session == s.ID {
			delete(c.seen, id)
			return
		}
		// A session complete without an active record: adopted (another
		// controller finished it, or a restart lost the write).
		rec := c.next(cur.rec, id, Active, now)
		rec.Session, rec.Attrs = s.ID, mergeAttrs(e.Attrs, s.Attrs)
		if _, err := c.st.put(ctx, rec, cur.rev); err != nil {
			c.logWrite(id, err)
			return
		}
		c.observeActive(id, now)
		c.changed(cur.rec, rec, reason)
	case want:
		drift := have || (cur.rec != nil && cur.rec.State == Active)
		c.operate(ctx, opCreate, id, e, s, cur, reason, drift)
	case have:
		c.operate(ctx, opDelete, id, e, s, cur, reason, cur.rec == nil)
	case cur.rec != nil:
		// Gone, with nothing of ours left for it (an interface removed takes
		// its filters with it): the record goes too.
		if err := c.st.drop(ctx, id, cur.rev); err != nil {
			c.logWrite(id, err)
			return
		}
		gone := c.next(cur.rec, id, Removed, now)
		c.changed(cur.rec, gone, reason)
	}
}

type op int

const (
	opCreate op = iota
	opDelete
)

func (o op) String() string {
	if o == opCreate {
		return "create"
	}
	return "delete"
}

// operate claims the endpoint, runs the operation with retries, and records
// the outcome. Every write is revision-checked: losing one means another
// controller took the endpoint over, and this one stops.
func (c *Controller) operate(ctx context.Context, o op, id string, e Endpoint, s Session, cur entry, reason string, drift bool) {
	state := Creating
	if o == opDelete {
		state = Deleting
	}
	// A retry of an endpoint that had failed is dead-lettered again only
	// when it fails differently: the stream gets one letter per failure,
	// not one per scan.
	var failedBefore string
	if cur.rec != nil && cur.rec.State == Failed {
		failedBefore = cur.rec.LastError
	}
	now := c.now()
	rec := c.next(cur.rec, id, state, now)
	rec.Owner, rec.ClaimUntil, rec.Attempts = c.cfg.Owner, now.Add(c.cfg.ClaimTTL+c.cfg.OpTimeout), 0
	if e.Attrs != nil || s.Attrs != nil {
		rec.Attrs = mergeAttrs(e.Attrs, s.Attrs)
	}
	rev, err := c.st.put(ctx, rec, cur.rev)
	if err != nil {
		c.logWrite(id, err)
		return
	}
	c.changed(cur.rec, rec, reason)
	if e.ID == "" {
		e.ID = id
	}
	var (
		got     Session
		created bool
	)
	for {
		rec.Attempts++
		octx, cancel := context.WithTimeout(ctx, c.cfg.OpTimeout)
		if o == opCreate {
			got, created, err = c.cfg.Provider.Create(octx, e)
		} else {
			err = c.cfg.Provider.Delete(octx, s)
		}
		cancel()
		if err == nil || ctx.Err() != nil || errors.Is(err, ErrPermanent) || rec.Attempts >= c.cfg.MaxAttempts {
			break
		}
		c.cfg.Metrics.retried(c.cfg.Name, o)
		wait := c.cfg.Backoff.delay(rec.Attempts)
		now = c.now()
		rec.LastError, rec.Updated = err.Error(), now
		rec.ClaimUntil = now.Add(c.cfg.ClaimTTL + c.cfg.OpTimeout + wait)
		if rev, err = c.st.put(ctx, rec, rev); err != nil {
			c.logWrite(id, err)
			return
		}
		c.log.Info("mirror: operation failed; retrying", "op", o, "endpoint", id, "attempt", rec.Attempts, "in", wait, "err", rec.LastError)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
	if ctx.Err() != nil && err != nil {
		return // stopping: the claim lapses, the next controller settles it
	}
	prev := *rec
	now = c.now()
	if err != nil && o == opCreate && c.gone(ctx, id) {
		// The endpoint went away while its create ran (an interface deleted
		// while its trigger was queued): nothing failed, nothing to retry.
		c.log.Info("mirror: endpoint gone during create", "endpoint", id, "err", err)
		if werr := c.st.drop(ctx, id, rev); werr != nil {
			c.logWrite(id, werr)
			return
		}
		c.changed(&prev, c.next(&prev, id, Removed, now), "endpoint-gone")
		return
	}
	switch {
	case err != nil:
		rec = c.next(&prev, id, Failed, now)
		rec.LastError, rec.Attempts = err.Error(), prev.Attempts
		c.cfg.Metrics.operation(c.cfg.Name, o, "failed")
		if err.Error() != failedBefore {
			c.deadLetter(ctx, o, rec, err)
		}
		if _, werr := c.st.put(ctx, rec, rev); werr != nil {
			c.logWrite(id, werr)
			return
		}
		c.log.Warn("mirror: operation given up", "op", o, "endpoint", id, "attempts", prev.Attempts, "err", err)
		c.changed(&prev, rec, reason)
	case o == opCreate:
		rec = c.next(&prev, id, Active, now)
		rec.Session, rec.Attrs = got.ID, mergeAttrs(e.Attrs, got.Attrs)
		rec.LastError, rec.Attempts = prev.LastError, prev.Attempts
		result := "already-present"
		if created {
			result = "created"
		}
		c.cfg.Metrics.operation(c.cfg.Name, o, result)
		if drift {
			c.cfg.Metrics.repaired(c.cfg.Name)
		}
		if _, werr := c.st.put(ctx, rec, rev); werr != nil {
			c.logWrite(id, werr)
			return
		}
		c.observeActive(id, now)
		c.changed(&prev, rec, reason)
	default:
		c.cfg.Metrics.operation(c.cfg.Name, o, "deleted")
		if drift {
			c.cfg.Metrics.repaired(c.cfg.Name)
		}
		if werr := c.st.drop(ctx, id, rev); werr != nil {
			c.logWrite(id, werr)
			return
		}
		c.changed(&prev, c.next(&prev, id, Removed, now), reason)
	}
}

// gone reports whether id is no longer among the provider's desired
// endpoints (asked again after an operation failed). An error asking keeps
// the failure as it is.
func (c *Controller) gone(ctx context.Context, id string) bool {
	octx, cancel := context.WithTimeout(ctx, c.cfg.OpTimeout)
	defer cancel()
	desired, err := c.cfg.Provider.Desired(octx)
	if err != nil {
		return false
	}
	for _, e := range desired {
		if e.ID == id {
			return false
		}
	}
	return true
}

// next is the record after a change to state at now: Since moves only when
// the state changes; the claim is released.
func (c *Controller) next(prev *Record, id string, state State, now time.Time) *Record {
	r := &Record{Mirror: c.cfg.Name, Endpoint: id, State: state, Since: now, Updated: now}
	if prev != nil {
		r.Session, r.Attrs = prev.Session, prev.Attrs
		if prev.State == state {
			r.Since = prev.Since
		}
	}
	return r
}

func (c *Controller) observeActive(id string, now time.Time) {
	if seen, ok := c.seen[id]; ok {
		c.cfg.Metrics.setup(c.cfg.Name, now.Sub(seen))
		delete(c.seen, id)
	}
}

func (c *Controller) logWrite(id string, err error) {
	if errors.Is(err, errConflict) {
		c.log.Debug("mirror: another controller changed the endpoint's state first; leaving it to that one", "endpoint", id)
		return
	}
	c.log.Warn("mirror: writing the endpoint's state failed; the next scan settles it", "endpoint", id, "err", err)
}

func mergeAttrs(a, b map[string]string) map[string]string {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func sortRecords(rs []Record) {
	slices.SortFunc(rs, func(a, b Record) int { return cmp.Compare(a.Endpoint, b.Endpoint) })
}

// RemoveAll deletes every session the provider lists as ours, and the
// records of the entry, claiming each endpoint first (an endpoint another
// live controller has claimed is left to it). It is `wirebridge mirror
// remove` and remove_on_exit. A provider that is also a Cleaner then
// removes what it shares between sessions (the linux provider's vxlan
// device).
func (c *Controller) RemoveAll(ctx context.Context) error {
	actual, err := c.cfg.Provider.Actual(ctx)
	if err != nil {
		return fmt.Errorf("list the sessions: %w", err)
	}
	recs, err := c.st.list(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range actual {
		cur := recs[s.EndpointID]
		delete(recs, s.EndpointID)
		if cur.rec.claimedBy(c.cfg.Owner, c.now()) {
			errs = append(errs, fmt.Errorf("%s: claimed by controller %s", s.EndpointID, cur.rec.Owner))
			continue
		}
		c.operate(ctx, opDelete, s.EndpointID, Endpoint{}, s, cur, "remove", false)
	}
	for id, cur := range recs {
		if cur.rec == nil || cur.rec.claimedBy(c.cfg.Owner, c.now()) {
			continue
		}
		if err := c.st.drop(ctx, id, cur.rev); err == nil {
			c.changed(cur.rec, c.next(cur.rec, id, Removed, c.now()), "remove")
		}
	}
	left, err := c.cfg.Provider.Actual(ctx)
	if err != nil {
		return fmt.Errorf("list the sessions: %w", err)
	}
	for _, s := range left {
		errs = append(errs, fmt.Errorf("%s: session %s is still there", s.EndpointID, s.ID))
	}
	if cl, ok := c.cfg.Provider.(Cleaner); ok && len(left) == 0 {
		if err := cl.Cleanup(ctx); err != nil {
			errs = append(errs, fmt.Errorf("clean up: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Cleaner is a Provider with something shared between its sessions to
// remove once they are all gone (the linux provider's vxlan device):
// RemoveAll calls Cleanup after deleting every session.
type Cleaner interface {
	Cleanup(ctx context.Context) error
}
