package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/wirebridge/wirebridge/internal/component"
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
	fs := newFlagSet("validate", "-c FILE", validateHelp+kindsHelp(kinds.Default()), stdio)
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

// kindsHelp lists the source and target types a configuration may name, each
// with its kind's description, the appliance: section and the mirror
// providers.
func kindsHelp(r *component.Registry) string {
	var b strings.Builder
	b.WriteString("\n\nSource types:\n")
	for _, e := range r.Sources {
		fmt.Fprintf(&b, "  %-12s %s\n", e.Type, e.Kind.Description)
	}
	b.WriteString("\nTarget types:\n")
	for _, e := range r.Targets {
		fmt.Fprintf(&b, "  %-12s %s\n", e.Type, e.Kind.Description)
	}
	if a := r.Appliance; a != nil {
		fmt.Fprintf(&b, "\nSections:\n  %-12s %s\n", a.Name+":", a.Description)
	}
	if len(r.Mirrors) > 0 {
		b.WriteString("\nMirror providers (mirror: entries):\n")
		for _, e := range r.Mirrors {
			fmt.Fprintf(&b, "  %-12s %s\n", e.Provider, e.Kind.Description)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}
