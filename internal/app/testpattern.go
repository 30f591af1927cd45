package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/wirebridge/wirebridge/pattern"
)

const testPatternHelp = `
Check an EventBridge event pattern against an event, like
'aws events test-event-pattern'. Both take inline JSON, @FILE, or - (one of
them) for standard input.

Exit status: 0 the event matches, 1 it does not, 2 the pattern (or the event)
is invalid; the reason is printed with the pattern's JSON path.

With --explain it lists the pattern's field conditions and the event values
that satisfied them, or, when nothing matched, the conditions of the closest
alternative that no value satisfied.

Examples:
  wirebridge test-pattern --explain --pattern @rule.json --event @event.json
  wirebridge test-pattern --pattern '{"source":["udp.raw"],"detail":{"Destination":{"Port":[514]}}}' --event @event.json
  wirebridge read --count 1 capture.pcap | wirebridge test-pattern --pattern @rule.json --event -`

func runTestPattern(_ context.Context, args []string, stdio Stdio) int {
	var pat, ev string
	var quiet, explain bool
	fs := newFlagSet("test-pattern", "--pattern P --event E", testPatternHelp, stdio)
	fs.StringVar(&pat, "pattern", "", "the event `PATTERN` (JSON, @file or -)")
	fs.StringVar(&ev, "event", "", "the `EVENT` (JSON, @file or -)")
	fs.BoolVar(&quiet, "q", false, "print nothing; only the exit status tells")
	fs.BoolVar(&explain, "explain", false, "show which field conditions matched (or, with no match, which did not)")
	pos, code, done := parseFlags(fs, args, stdio)
	if done {
		return code
	}
	if len(pos) != 0 || pat == "" || ev == "" {
		fmt.Fprintln(stdio.Err, "wirebridge test-pattern: --pattern and --event are both required")
		fs.Usage()
		return exitUsage
	}
	if pat == "-" && ev == "-" {
		fmt.Fprintln(stdio.Err, "wirebridge test-pattern: only one of --pattern and --event can read standard input")
		return exitUsage
	}
	patSrc, err := jsonArg(pat, stdio.In)
	if err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge test-pattern: --pattern: %v\n", err)
		return exitUsage
	}
	evSrc, err := jsonArg(ev, stdio.In)
	if err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge test-pattern: --event: %v\n", err)
		return exitUsage
	}
	p, err := compilePatternArg("--pattern", patSrc)
	if err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge test-pattern: invalid pattern: %v\n", err)
		return exitUsage
	}
	ok, err := p.MatchJSON(evSrc)
	if err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge test-pattern: invalid event: %v\n", err)
		return exitUsage
	}
	if explain && !quiet {
		x, err := pattern.Explain(p, evSrc)
		if err != nil {
			fmt.Fprintf(stdio.Err, "wirebridge test-pattern: explain: %v\n", err)
			return exitUsage
		}
		for _, f := range x.Fields {
			fmt.Fprintf(stdio.Out, "  matched   %s: %s <- %s\n", f.Path, f.Condition, f.Value)
		}
		for _, f := range x.Unmatched {
			fmt.Fprintf(stdio.Out, "  unmatched %s: %s\n", f.Path, f.Condition)
		}
	}
	if ok {
		if !quiet {
			fmt.Fprintln(stdio.Out, "match")
		}
		return exitOK
	}
	if !quiet {
		fmt.Fprintln(stdio.Out, "no match")
	}
	return exitFail
}

// jsonArg returns inline JSON, the contents of @FILE, or standard input for "-".
func jsonArg(v string, stdin io.Reader) ([]byte, error) {
	switch {
	case v == "-":
		b, err := io.ReadAll(io.LimitReader(stdin, 16<<20))
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		// An NDJSON stream from `wirebridge read`: take its first line.
		for i, c := range b {
			if c == '\n' {
				if len(trimSpace(b[i:])) > 0 {
					return b[:i], nil
				}
				break
			}
		}
		return b, nil
	case len(v) > 0 && v[0] == '@':
		b, err := os.ReadFile(v[1:])
		if err != nil {
			return nil, fmt.Errorf("read file: %w", err)
		}
		return b, nil
	}
	if len(trimSpace([]byte(v))) == 0 {
		return nil, errors.New("empty")
	}
	return []byte(v), nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
