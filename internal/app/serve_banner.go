package app

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/mirror"
	"github.com/wirebridge/wirebridge/internal/source"
	"golang.org/x/sys/unix"
)

// banner prints, on standard output, what listens where, where the events go
// and a command to try. With a live target it adds a share link to the UI, but
// only when it writes to a terminal: anywhere else (a pipe, a file, journald)
// the output may be kept and read by others, and it names the command that
// prints a link instead.
//
// With a stdout target the banner goes to standard error, so that standard
// output holds nothing but events (wirebridge serve | jq).
//
// The banner is built in memory and written at once, so that a reader of the
// pipe (a script, a test, a log collector) never sees half of it.
func (s *server) banner(took time.Duration) {
	out := s.stdio.Out
	for _, c := range s.caps {
		if c.Stdout {
			out = s.stdio.Err
		}
	}
	var w bytes.Buffer
	cfgName := s.path
	if s.what != "" {
		cfgName = s.what
	} else if cfgName == "" {
		cfgName = "the embedded default configuration (wirebridge serve -c FILE to use your own)"
	}
	fmt.Fprintf(&w, "wirebridge %s serving %s (started in %s)\n\n", versionString(), cfgName, took.Round(time.Millisecond))
	tw := tabwriter.NewWriter(&w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Listening:")
	for i, src := range s.sources {
		c := &s.cfg.Sources[i]
		fmt.Fprintf(tw, "  source %s\t%s\t%s\tevents with \"source\": %q\n", src.Name(), c.Type, sourceWhere(c, src), c.EventSource)
	}
	if s.appliance != nil {
		fmt.Fprintf(tw, "  appliance\t\t%s\tevents with \"source\": %q (tee)\n", s.appliance.Where(), defaultRegistry().kinds.Appliance.EventSource)
	}
	for _, m := range s.mirrors.where() {
		fmt.Fprintf(tw, "  mirror\t\t%s\tevents with \"source\": %q\n", m, mirror.EventSource)
	}
	fmt.Fprintf(tw, "  http\t\thttp://%s\t/metrics /healthz /readyz\n", s.http.Addr())
	if s.bus != nil {
		where := "NATS at " + strings.Join(s.cfg.NATS.URLs, ",")
		if s.bus.Embedded() {
			where = "embedded NATS JetStream in " + dataPath(s.cfg, "nats")
			if s.cfg.NATS.Listen != "" {
				where += ", clients on " + s.cfg.NATS.Listen
			}
		}
		fmt.Fprintf(tw, "  bus\t\t%s\t\n", where)
	}
	fmt.Fprintln(tw, "Rules:")
	for _, r := range s.cfg.Rules {
		state := ""
		if !r.Enabled {
			state = " (disabled)"
		}
		fmt.Fprintf(tw, "  rule %s%s\t%s\t-> %s\n", r.Name, state, r.Pattern, strings.Join(r.Targets, ", "))
	}
	fmt.Fprintln(tw, "Events go to:")
	for i := range s.cfg.Targets {
		t := &s.cfg.Targets[i]
		fmt.Fprintf(tw, "  target %s\t%s\t%s\t%s delivery\n", t.Name, t.Type, targetWhere(t), t.Delivery.Mode)
	}
	tw.Flush()
	if try := s.tryCommand(); try != "" {
		fmt.Fprintf(&w, "\nTry it:\n  %s\n", try)
	}
	s.liveBanner(&w, isTTY(out))
	fmt.Fprintln(&w)
	out.Write(w.Bytes())
}

// isTTY reports whether w is a terminal (not merely a character device such as /dev/null).
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// sourceWhere is the banner's "where" text of a source, from its kind.
func sourceWhere(c *config.Source, src source.Source) string {
	if w, ok := c.Spec.(component.SourceWherer); ok {
		return w.Where(src)
	}
	return ""
}

// targetWhere is the banner's "where" text of a target, from its kind.
func targetWhere(t *config.Target) string {
	if w, ok := t.Spec.(component.Wherer); ok {
		return w.Where()
	}
	return ""
}

// tryCommand is a command that produces an event, from the first source
// whose kind offers one (a logger line to a udp source, or to port 514 for a
// raw source).
func (s *server) tryCommand() string {
	for i, src := range s.sources {
		if t, ok := s.cfg.Sources[i].Spec.(component.TryCommand); ok {
			if cmd := t.TryCommand(src); cmd != "" {
				return cmd
			}
		}
	}
	return ""
}

// logStats logs one line with every source's and target's counters.
func (s *server) logStats() {
	var attrs []any
	ps := s.pipe.Stats()
	for _, src := range s.sources {
		st := src.Stats().Snapshot()
		pst := ps.Sources[src.Name()]
		a := []any{"received", st.Received, "matched", pst.Matched, "dropped", st.DroppedTotal()}
		if st.Truncated > 0 {
			a = append(a, "truncated", st.Truncated)
		}
		if d := nonZero(st.Dropped); len(d) > 0 {
			a = append(a, slog.Group("dropped_by", d...))
		}
		if d := nonZero(pst.DecodeErrors); len(d) > 0 {
			a = append(a, slog.Group("decode_errors", d...))
		}
		attrs = append(attrs, slog.Group("source."+src.Name(), a...))
	}
	for _, w := range s.workers {
		st := w.Stats()
		a := []any{"delivered", st.Delivered, "failed", st.Failed, "queued", st.QueueDepth}
		if st.DeadLettered > 0 {
			a = append(a, "dead_lettered", st.DeadLettered)
		}
		if d := nonZero(st.Dropped); len(d) > 0 {
			a = append(a, slog.Group("dropped_by", d...))
		}
		attrs = append(attrs, slog.Group("target."+w.Target(), a...))
	}
	s.log.Info("stats", attrs...)
}

func nonZero(m map[string]uint64) []any {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		out = append(out, k, m[k])
	}
	return out
}
