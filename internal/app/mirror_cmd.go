package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/mirror"
)

const mirrorHelp = `
The mirror controller keeps traffic mirroring set up for every interface
that should have it: each entry of the configuration's mirror: list names a
provider (linux: tc + vxlan on this host; aws: EC2 Traffic Mirroring) and
its selectors; the controller creates a session for every selected endpoint,
deletes those of endpoints gone, reacts to the provider's events, and scans
every scan_interval as a backstop. State lives in the wirebridge_mirror KV
bucket; wirebridge serve runs the entries of its file too (docs/mirror.md).

  run              run the file's mirror entries alone (no sources, rules or
                   targets), with the HTTP API, until SIGTERM or SIGINT
  list             every endpoint: state, since when, session, last error
  ensure ENDPOINT  reconcile ENDPOINT (an interface name, an ENI id) now; with
                   --wait, return when its mirroring is active (exit 0), or
                   fail with the reason (exit 1)
  remove           remove every session the controller created (stop the
                   controller first: a running one puts them back)

list and ensure go through the HTTP API of the running serve (or mirror run)
on the configuration's data_dir (its address is in data_dir/wirebridge.lock),
or at http.listen with nats.urls; list reads the bus itself when none runs.
When the configuration has live.api_keys, the API wants one with the admin
scope: the command sends $WIREBRIDGE_API_KEY (--api-key-env names another
variable).

Examples:
  wirebridge mirror run -c examples/mirror-linux.yaml
  wirebridge mirror list -c examples/mirror-linux.yaml
  wirebridge mirror ensure veth0 --wait --timeout 10s -c examples/mirror-linux.yaml
  wirebridge mirror remove -c examples/mirror-linux.yaml`

func runMirror(ctx context.Context, args []string, stdio Stdio) int {
	var (
		path, name, keyEnv string
		wait, asJSON       bool
		timeout            time.Duration
		statsEvery         time.Duration
	)
	fs := newFlagSet("mirror", "run|list|ensure ENDPOINT|remove [-c FILE] [flags]", mirrorHelp, stdio)
	fs.StringVar(&path, "c", "", "the configuration `FILE` (default: the embedded default configuration, which has no mirror entry)")
	fs.StringVar(&name, "name", "", "the mirror entry (`NAME`); default: the only one (list and remove: every one)")
	fs.BoolVar(&wait, "wait", false, "ensure: wait until the endpoint's mirroring is active, or fail with the reason")
	fs.DurationVar(&timeout, "timeout", defaultEnsureTimeout, "ensure --wait: give up after this long")
	fs.BoolVar(&asJSON, "json", false, "list: one JSON record per line")
	fs.StringVar(&keyEnv, "api-key-env", "WIREBRIDGE_API_KEY", "the environment variable holding the API key sent to the API (`VAR`)")
	fs.DurationVar(&statsEvery, "stats-interval", time.Minute, "run: how often to log the counters (0: never)")
	pos, code, done := parseFlags(fs, args, stdio)
	if done {
		return code
	}
	verbs := map[string]int{"run": 0, "list": 0, "ensure": 1, "remove": 0}
	if len(pos) == 0 {
		fmt.Fprintln(stdio.Err, "wirebridge mirror: expected run, list, ensure ENDPOINT or remove")
		fs.Usage()
		return exitUsage
	}
	n, ok := verbs[pos[0]]
	if !ok || len(pos) != n+1 {
		fmt.Fprintf(stdio.Err, "wirebridge mirror: expected run, list, ensure ENDPOINT or remove, got %q\n", strings.Join(pos, " "))
		fs.Usage()
		return exitUsage
	}
	cfg, err := loadConfig(path)
	if err != nil {
		fmt.Fprintln(stdio.Err, err)
		return exitFail
	}
	if path == "" {
		cfg.File = "" // the embedded default, named so in messages
	}
	names, err := mirrorNames(cfg, name, pos[0] == "ensure")
	if err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge mirror: %v\n", err)
		return exitFail
	}
	mc := mirrorClient{cfg: cfg, key: os.Getenv(keyEnv)}
	switch pos[0] {
	case "run":
		return runMirrorOnly(ctx, cfg, path, statsEvery, stdio)
	case "list":
		lctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		recs, err := mc.list(lctx, names)
		if err != nil {
			fmt.Fprintf(stdio.Err, "wirebridge mirror list: %v\n", err)
			return exitFail
		}
		printMirror(stdio, recs, asJSON)
	case "ensure":
		ectx, cancel := context.WithTimeout(ctx, timeout+10*time.Second)
		defer cancel()
		ans, err := mc.ensure(ectx, names[0], pos[1], wait, timeout)
		if err != nil {
			fmt.Fprintf(stdio.Err, "wirebridge mirror ensure: %v\n", err)
			return exitFail
		}
		if r := ans.Record; r != nil {
			fmt.Fprintf(stdio.Out, "%s/%s: %s since %s", ans.Mirror, ans.Endpoint, r.State, r.Since.UTC().Format(time.RFC3339))
			if r.Session != "" {
				fmt.Fprintf(stdio.Out, " (session %s)", r.Session)
			}
			fmt.Fprintln(stdio.Out)
		} else if ans.Error == "" {
			fmt.Fprintf(stdio.Out, "%s/%s: reconciling (no state yet)\n", ans.Mirror, ans.Endpoint)
		}
		if ans.Error != "" {
			fmt.Fprintf(stdio.Err, "wirebridge mirror ensure: %s\n", ans.Error)
			return exitFail
		}
	case "remove":
		rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		if err := mc.remove(rctx, names, stdio); err != nil {
			fmt.Fprintf(stdio.Err, "wirebridge mirror remove: %v\n", err)
			return exitFail
		}
	}
	return exitOK
}

// mirrorNames picks the entries a command works on: the named one, else
// every one (or, when one must be chosen, the only one).
func mirrorNames(cfg *config.Config, name string, one bool) ([]string, error) {
	var all []string
	for i := range cfg.Mirror {
		all = append(all, cfg.Mirror[i].Name)
	}
	switch {
	case len(all) == 0:
		return nil, fmt.Errorf("%s has no mirror: entry (docs/mirror.md)", configName(cfg))
	case name != "" && !slices.Contains(all, name):
		return nil, fmt.Errorf("no mirror entry %q in %s (entries: %s)", name, configName(cfg), strings.Join(all, ", "))
	case name != "":
		return []string{name}, nil
	case one && len(all) > 1:
		return nil, fmt.Errorf("%s has %d mirror entries (%s): choose one with --name", configName(cfg), len(all), strings.Join(all, ", "))
	}
	return all, nil
}

func configName(cfg *config.Config) string {
	if cfg.File == "" {
		return "the embedded default configuration"
	}
	return cfg.File
}

// runMirrorOnly is `mirror run`: serve with the file's mirror entries and
// nothing of its event path.
func runMirrorOnly(ctx context.Context, cfg *config.Config, path string, statsEvery time.Duration, stdio Stdio) int {
	mc := *cfg
	mc.Sources, mc.Rules, mc.Targets, mc.Appliance = nil, nil, nil, nil
	logger, level, err := newLogger(mc.Log, stdio.Err)
	if err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge mirror run: %v\n", err)
		return exitFail
	}
	start := time.Now()
	s, err := newServer(ctx, &mc, path, stdio, logger, level)
	if err != nil {
		logger.Error("cannot start", "error", err)
		return exitFail
	}
	s.what = "the mirror entries of " + configName(cfg)
	s.statsEvery, s.start = statsEvery, start
	if err := s.run(ctx); err != nil {
		logger.Error("stopped with an error", "error", err)
		return exitFail
	}
	return exitOK
}

func printMirror(stdio Stdio, recs []mirror.Record, asJSON bool) {
	if asJSON {
		writeNDJSON(stdio.Out, recs)
		return
	}
	if len(recs) == 0 {
		fmt.Fprintln(stdio.Out, "no endpoint has a mirror state")
		return
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MIRROR\tENDPOINT\tSTATE\tSINCE\tSESSION\tATTEMPTS\tLAST ERROR")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.Mirror, r.Endpoint, r.State, r.Since.UTC().Format(time.RFC3339),
			r.Session, r.Attempts, oneLineErr(r.LastError, 120))
	}
	tw.Flush()
}

// mirrorClient reaches the controllers through a running serve's HTTP API,
// or the state through the bus when none runs (dlqClient's rules).
type mirrorClient struct {
	cfg *config.Config
	key string // sent as Authorization: Bearer when set
}

func (c mirrorClient) list(ctx context.Context, names []string) ([]mirror.Record, error) {
	var out []mirror.Record
	err := viaServeOrBus(ctx, c.cfg, "mirror state", "mirror", func(addr string) error {
		for _, n := range names {
			var recs []mirror.Record
			if _, err := c.api(ctx, http.MethodGet, "http://"+addr+"/api/mirror?name="+url.QueryEscape(n), &recs); err != nil {
				return err
			}
			out = append(out, recs...)
		}
		return nil
	}, func(b *bus.Bus) error {
		kv, err := b.Mirror(ctx)
		if err != nil {
			return err
		}
		for _, n := range names {
			recs, err := mirror.List(ctx, kv, n)
			if err != nil {
				return err
			}
			out = append(out, recs...)
		}
		return nil
	})
	return out, err
}

var errNoController = errors.New("no wirebridge serve (or mirror run) runs this configuration: ensure asks the running controller")

func (c mirrorClient) ensure(ctx context.Context, name, endpoint string, wait bool, timeout time.Duration) (ensureAnswer, error) {
	var ans ensureAnswer
	err := viaServeOrBus(ctx, c.cfg, "mirror state", "mirror", func(addr string) error {
		u := fmt.Sprintf("http://%s/api/mirror/%s/ensure/%s?timeout=%s", addr, url.PathEscape(name), url.PathEscape(endpoint), timeout)
		if wait {
			u += "&wait=1"
		}
		code, err := c.api(ctx, http.MethodPost, u, &ans)
		if err != nil && code == 0 {
			return err
		}
		if ans.Error == "" && err != nil {
			return err
		}
		return nil
	}, func(*bus.Bus) error { return errNoController })
	return ans, err
}

// api sends a request and decodes the JSON answer into v. code is the HTTP
// status (0 when there was no answer); an answer other than 2xx is an error,
// its JSON still decoded into v when it is JSON.
func (c mirrorClient) api(ctx context.Context, method, u string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return 0, err
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: %w", method, u, err)
	}
	isJSON := strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")
	if isJSON {
		if err := json.Unmarshal(body, v); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, u, err)
		}
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(body)))
	}
	return resp.StatusCode, nil
}

// remove deletes every session of the entries: only when no process runs
// them (its controllers would put the sessions back).
func (c mirrorClient) remove(ctx context.Context, names []string, stdio Stdio) error {
	return viaServeOrBus(ctx, c.cfg, "mirror state", "mirror", func(addr string) error {
		// Is one running? (With nats.urls, a refused connection means no.)
		if _, err := c.api(ctx, http.MethodGet, "http://"+addr+"/api/mirror", new([]mirror.Record)); notServing(err) {
			return err
		}
		return fmt.Errorf("%w (HTTP API at %s): stop it first, since its controllers would put the sessions back (or set remove_on_exit: true and stop it)", errServeRuns, addr)
	}, func(b *bus.Bus) error {
		kv, err := b.Mirror(ctx)
		if err != nil {
			return err
		}
		env := &buildEnv{cfg: c.cfg, bus: b}
		reg := defaultRegistry()
		var errs []error
		for i := range c.cfg.Mirror {
			m := &c.cfg.Mirror[i]
			if !slices.Contains(names, m.Name) {
				continue
			}
			p, err := reg.newProvider(env, m, nil)
			if err != nil {
				errs = append(errs, c.cfg.ErrorAt(fmt.Sprintf("mirror[%d]", i), err))
				continue
			}
			cc := mirrorConfig(m, p, kv, b, nil)
			if c.cfg.NATS.Embedded {
				cc.Owner = controllerOwner(c.cfg) // it holds data_dir's lock, as a serve would
			}
			ctl, err := mirror.New(cc)
			if err == nil {
				err = ctl.RemoveAll(ctx)
			}
			p.Close()
			if err != nil {
				errs = append(errs, fmt.Errorf("mirror %s: %w", m.Name, err))
				continue
			}
			fmt.Fprintf(stdio.Out, "%s: every session removed\n", m.Name)
		}
		return errors.Join(errs...)
	})
}
