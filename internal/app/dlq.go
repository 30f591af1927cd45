package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/deliver"
	"github.com/wirebridge/wirebridge/internal/kinds"
	"github.com/wirebridge/wirebridge/internal/target"
)

const dlqHelp = `
Inspect and replay a target's dead letters: the deliveries internal/deliver
gave up on (a permanent failure such as HTTP 400, or max_attempts / max_age
exhausted), kept in the WIREBRIDGE_DLQ stream with their last error.

  list    print the dead letters, oldest first
  replay  move them back to the delivery stream; the running (or next)
          wirebridge serve delivers them with a fresh attempt count

With the embedded bus, the command never opens a store a running process
holds: when wirebridge serve runs on the configuration's data_dir, it goes
through that serve's HTTP API (/api/dlq/..., at the address serve wrote into
data_dir/wirebridge.lock); otherwise it takes that lock itself (a serve
starting meanwhile is refused) and opens data_dir/nats. With nats.urls it
uses the API at http.listen when a serve answers there, else the cluster.

Examples:
  wirebridge dlq list webhook -c wirebridge.yaml
  wirebridge dlq list webhook -c wirebridge.yaml --json
  wirebridge dlq replay webhook -c wirebridge.yaml`

// dlqEntry is a dead letter as the API and `dlq list --json` show it.
type dlqEntry struct {
	Seq      uint64          `json:"seq"`
	Target   string          `json:"target"`
	EventID  string          `json:"event_id"`
	Rule     string          `json:"rule"`
	Reason   string          `json:"reason"`
	Attempts int             `json:"attempts"`
	Error    string          `json:"error"`
	FailedAt time.Time       `json:"failed_at"`
	Accepted time.Time       `json:"accepted"`
	Body     json.RawMessage `json:"body"`
}

func toDLQEntry(e deliver.Entry) dlqEntry {
	return dlqEntry{
		Seq: e.Seq, Target: e.Delivery.Target, EventID: e.Delivery.ID, Rule: e.Delivery.Rule,
		Reason: e.Reason, Attempts: e.Attempts, Error: e.Error, FailedAt: e.FailedAt,
		Accepted: e.Delivery.Accepted, Body: target.AppendValue(nil, e.Delivery.Body),
	}
}

type dlqReplayResult struct {
	Target   string `json:"target"`
	Replayed int    `json:"replayed"`
}

func runDLQ(ctx context.Context, args []string, stdio Stdio) int {
	var (
		path   string
		limit  int
		asJSON bool
	)
	fs := newFlagSet("dlq", "list|replay TARGET [-c FILE]", dlqHelp, stdio)
	fs.StringVar(&path, "c", "", "the configuration `FILE` (default: the embedded default configuration)")
	fs.IntVar(&limit, "limit", 0, "list at most `N` dead letters (0: all)")
	fs.BoolVar(&asJSON, "json", false, "list as NDJSON, one dead letter per line, body included")
	pos, code, done := parseFlags(fs, args, stdio)
	if done {
		return code
	}
	if len(pos) != 2 || (pos[0] != "list" && pos[0] != "replay") {
		fmt.Fprintln(stdio.Err, "wirebridge dlq: expected list|replay TARGET")
		fs.Usage()
		return exitUsage
	}
	verb, name := pos[0], pos[1]
	cfg, err := loadConfig(path)
	if err != nil {
		fmt.Fprintln(stdio.Err, err)
		return exitFail
	}
	if err := checkDLQTarget(cfg, name); err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge dlq: %v\n", err)
		return exitFail
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	q := dlqClient{cfg: cfg}
	switch verb {
	case "list":
		entries, err := q.list(ctx, name, limit)
		if err != nil {
			fmt.Fprintf(stdio.Err, "wirebridge dlq list: %v\n", err)
			return exitFail
		}
		printDLQ(stdio, name, entries, asJSON)
	case "replay":
		n, err := q.replay(ctx, name)
		if err != nil {
			fmt.Fprintf(stdio.Err, "wirebridge dlq replay: %v\n", err)
			return exitFail
		}
		fmt.Fprintf(stdio.Out, "%s: %d dead letter(s) moved back to the delivery stream\n", name, n)
	}
	return exitOK
}

func checkDLQTarget(cfg *config.Config, name string) error {
	var durable []string
	for i := range cfg.Targets {
		t := &cfg.Targets[i]
		if t.Delivery.Mode == config.Durable {
			durable = append(durable, t.Name)
		}
		if t.Name == name {
			if t.Delivery.Mode != config.Durable {
				return fmt.Errorf("target %s uses %s delivery: only durable targets have a dead-letter queue", name, t.Delivery.Mode)
			}
			return nil
		}
	}
	return fmt.Errorf("no target %q in %s (durable targets: %s)", name, cfg.File, strings.Join(durable, ", "))
}

func printDLQ(stdio Stdio, name string, entries []dlqEntry, asJSON bool) {
	if asJSON {
		writeNDJSON(stdio.Out, entries)
		return
	}
	if len(entries) == 0 {
		fmt.Fprintf(stdio.Out, "%s: no dead letters\n", name)
		return
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tFAILED AT\tREASON\tATTEMPTS\tEVENT ID\tRULE\tERROR")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", e.Seq, e.FailedAt.UTC().Format(time.RFC3339),
			e.Reason, e.Attempts, e.EventID, e.Rule, oneLineErr(e.Error, 120))
	}
	tw.Flush()
	fmt.Fprintf(stdio.Out, "%s: %d dead letter(s)\n", name, len(entries))
}

func oneLineErr(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n-3] + "..."
	}
	return s
}

// dlqClient reaches the dead letters through a running serve's HTTP API, or
// through the bus when no serve runs. With the embedded bus it never opens a
// store a running process holds: it takes data_dir's lock itself (and keeps
// it while it works), or, when a serve holds it, uses that serve's API at the
// address in the lock file (datalock.go).
type dlqClient struct{ cfg *config.Config }

func dlqURL(addr, name, suffix string) string {
	return "http://" + addr + "/api/dlq/" + url.PathEscape(name) + suffix
}

// notServing reports whether err means no wirebridge serve listens.
func notServing(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// do runs the operation through the API (viaAPI, given a serve's HTTP
// address) or through the bus (viaBus).
func (c dlqClient) do(ctx context.Context, viaAPI func(addr string) error, viaBus func(*deliver.DLQ) error) error {
	return viaServeOrBus(ctx, c.cfg, "dead-letter store", "dlq", viaAPI, func(b *bus.Bus) error {
		return viaBus(deliver.NewDLQ(b))
	})
}

// viaServeOrBus runs an operation on the bus of cfg through the HTTP API of
// the serve running on it (viaAPI, given its address), or, when none runs,
// through the bus itself (viaBus). command names the wirebridge command in
// errors and the bus connection's name. With the
// embedded bus it never opens a store a running process holds: it takes
// data_dir's lock itself (and keeps it while it works), or, when a serve
// holds it, uses that serve's API at the address in the lock file
// (datalock.go). what names the store in errors.
func viaServeOrBus(ctx context.Context, cfg *config.Config, what, command string, viaAPI func(addr string) error, viaBus func(*bus.Bus) error) error {
	if !cfg.NATS.Embedded {
		// An external cluster: any number of processes may use it.
		err := viaAPI(dialAddr(cfg.HTTP.Listen))
		if err == nil || !notServing(err) {
			return err
		}
		return withBus(ctx, cfg, "wirebridge-"+command, viaBus)
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("data_dir %s: %w", cfg.DataDir, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("no %s: data_dir %s: %w (a relative data_dir is relative to the working directory: run %s where serve runs, or with the same -c and an absolute data_dir)", what, abs, err, command)
	}
	lock, err := lockDataDir(abs)
	var held *lockedError
	switch {
	case errors.As(err, &held):
		if held.Holder.HTTP == "" {
			return fmt.Errorf("%w; it has no HTTP API address in the lock file (a serve still starting, or another wirebridge %s): try again in a moment", held, command)
		}
		if err := viaAPI(dialAddr(held.Holder.HTTP)); errors.Is(err, errServeRuns) {
			return err
		} else if err != nil {
			return fmt.Errorf("data_dir %s is held by process %d, whose HTTP API at %s did not answer: %w", abs, held.Holder.Pid, held.Holder.HTTP, err)
		}
		return nil
	case err != nil:
		return err
	}
	// No process runs on data_dir; the lock keeps a serve from starting on it
	// while the command works.
	defer lock.release()
	if st, err := os.Stat(dataPath(cfg, "nats")); err != nil || !st.IsDir() {
		return fmt.Errorf("no %s in %s: no JetStream store (nats/) there; wirebridge serve has not stored anything on this data_dir", what, abs)
	}
	return withBus(ctx, cfg, "wirebridge-"+command, viaBus)
}

// errServeRuns is what a viaAPI function returns to refuse an operation a
// running serve must not see happen (wirebridge mirror remove).
var errServeRuns = errors.New("a wirebridge process runs this configuration")

func (c dlqClient) list(ctx context.Context, name string, limit int) ([]dlqEntry, error) {
	var out []dlqEntry
	err := c.do(ctx, func(addr string) error {
		return c.api(ctx, http.MethodGet, dlqURL(addr, name, "?limit="+strconv.Itoa(limit)), &out)
	}, func(q *deliver.DLQ) error {
		es, err := q.List(ctx, name, limit)
		for _, e := range es {
			out = append(out, toDLQEntry(e))
		}
		return err
	})
	return out, err
}

func (c dlqClient) replay(ctx context.Context, name string) (int, error) {
	var n int
	err := c.do(ctx, func(addr string) error {
		var res dlqReplayResult
		err := c.api(ctx, http.MethodPost, dlqURL(addr, name, "/replay"), &res)
		n = res.Replayed
		return err
	}, func(q *deliver.DLQ) error {
		var err error
		n, err = q.Replay(ctx, name)
		return err
	})
	return n, err
}

func (c dlqClient) api(ctx context.Context, method, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	return nil
}

// withBus opens the bus of cfg for fn, on a connection named client.
func withBus(ctx context.Context, cfg *config.Config, client string, fn func(*bus.Bus) error) error {
	bc, cleanup, err := busConfig(cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	bc.Name = client
	b, err := bus.Open(ctx, bc)
	if err != nil {
		return fmt.Errorf("open the bus: %w", err)
	}
	defer b.Close()
	return fn(b)
}

// dlqHandler serves /api/dlq/{target} (GET: list, ?limit=N) and
// /api/dlq/{target}/replay (POST) for a running serve.
func dlqHandler(q *deliver.DLQ, durable func(string) bool) http.Handler {
	mux := http.NewServeMux()
	// Dead letters hold event bodies and there is no API authentication
	// yet: only clients on this host may read or replay them.
	loopbackOnly := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ap, err := netip.ParseAddrPort(r.RemoteAddr)
			if err != nil || !ap.Addr().Unmap().IsLoopback() {
				http.Error(w, "the dead-letter API answers loopback clients only", http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	check := func(w http.ResponseWriter, name string) bool {
		if !durable(name) {
			http.Error(w, fmt.Sprintf("no durable target %q", name), http.StatusNotFound)
			return false
		}
		return true
	}
	mux.HandleFunc("GET /api/dlq/{target}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("target")
		if !check(w, name) {
			return
		}
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		es, err := q.List(r.Context(), name, limit)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out := make([]dlqEntry, 0, len(es))
		for _, e := range es {
			out = append(out, toDLQEntry(e))
		}
		writeJSON(w, out)
	})
	mux.HandleFunc("POST /api/dlq/{target}/replay", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("target")
		if !check(w, name) {
			return
		}
		n, err := q.Replay(r.Context(), name)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, dlqReplayResult{Target: name, Replayed: n})
	})
	return loopbackOnly(mux)
}

// loadConfig loads the file at path, or the embedded default when path is "".
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(kinds.Default())
	}
	return config.Load(path, kinds.Default())
}

// writeNDJSON writes one JSON line per value (the --json output of list commands).
func writeNDJSON[T any](w io.Writer, vs []T) {
	enc := json.NewEncoder(w)
	for _, v := range vs {
		if enc.Encode(v) != nil {
			return
		}
	}
}
