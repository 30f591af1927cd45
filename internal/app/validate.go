package app

import (
	"context"
	"fmt"

	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/kinds"
)

const validateHelp = `
Check a configuration file without running it: unknown keys, wrong types,
bad durations, sizes, addresses, CIDRs and URLs, duplicate names, rules that
name unknown targets, targets missing required settings, invalid event
patterns. Every error is printed as FILE:LINE:COLUMN: PATH: REASON.

Exit status: 0 valid, 1 invalid, 2 bad command line.

Examples:
  wirebridge validate -c wirebridge.yaml
  wirebridge validate -c examples/article.yaml`

func runValidate(_ context.Context, args []string, stdio Stdio) int {
	var path string
	fs := newFlagSet("validate", "-c FILE", validateHelp, stdio)
	fs.StringVar(&path, "c", "", "the configuration `FILE`")
	pos, code, done := parseFlags(fs, args, stdio)
	if done {
		return code
	}
	if path == "" && len(pos) == 1 {
		path = pos[0]
	} else if len(pos) != 0 || path == "" {
		fmt.Fprintln(stdio.Err, "wirebridge validate: expected -c FILE")
		fs.Usage()
		return exitUsage
	}
	errs := config.Check(path, kinds.Default())
	for _, err := range errs {
		fmt.Fprintln(stdio.Err, err)
	}
	if len(errs) > 0 {
		fmt.Fprintf(stdio.Err, "%s: %d error(s)\n", path, len(errs))
		return exitFail
	}
	fmt.Fprintf(stdio.Out, "%s: ok\n", path)
	return exitOK
}
