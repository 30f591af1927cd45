// Package app builds wirebridge's components from configuration and runs
// them; it also holds the command-line front end. It sits above every stage
// of the data path (source → packet → event → rule → deliver → target) and
// is the only package that imports them all. Nothing imports app except
// cmd/wirebridge.
package app

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// Stdio is the process's standard streams, passed in so commands can be tested.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Version is set at link time (-ldflags "-X github.com/wirebridge/wirebridge/internal/app.Version=v1.2.3").
var Version = ""

// Exit codes shared by the commands.
const (
	exitOK    = 0
	exitFail  = 1 // the command failed (or, for test-pattern, no match)
	exitUsage = 2 // bad flags or arguments (for test-pattern: invalid pattern)
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, io Stdio) int
}

func commands() []command {
	return []command{
		{"serve", "run the configured pipeline (no -c: the embedded default)", runServe},
		{"share", "print a read-only, expiring link to a live channel in the web UI", runShare},
		{"dlq", "list or replay a target's dead letters", runDLQ},
		{"mirror", "run the mirror controller, list its endpoints, ensure one is mirrored, remove its sessions", runMirror},
		{"read", "decode a pcap/pcapng capture into events, text or pcap", runRead},
		{"gwlb", "run a local AWS Gateway Load Balancer (TUN) in front of Geneve appliances", runGWLB},
		{"replay", "replay VXLAN-mirrored TCP/HTTP traffic to a shadow service", runReplay},
		{"test-pattern", "check an EventBridge pattern against an event (exit 0 match, 1 no match, 2 invalid)", runTestPattern},
		{"validate", "check a configuration file and print every error with file:line", runValidate},
		{"version", "print the version", runVersion},
	}
}

// errUsage marks an error caused by the command line; it exits with code 2.
var errUsage = errors.New("usage")

// usageError is an error caused by the command line: errors.Is(err,
// errUsage) holds, and its text is err's alone.
type usageError struct{ error }

func (e usageError) Unwrap() error        { return e.error }
func (e usageError) Is(target error) bool { return target == errUsage }

// Main runs the wirebridge command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdio Stdio) int {
	if len(args) == 0 {
		usage(stdio.Err)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			// wirebridge help CMD: CMD's own help.
			for _, c := range commands() {
				if c.name == args[1] {
					return c.run(ctx, []string{"--help"}, stdio)
				}
			}
			fmt.Fprintf(stdio.Err, "wirebridge: unknown command %q\n\n", args[1])
			usage(stdio.Err)
			return exitUsage
		}
		usage(stdio.Out)
		return exitOK
	case "-version", "--version":
		return runVersion(ctx, nil, stdio)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdio)
		}
	}
	fmt.Fprintf(stdio.Err, "wirebridge: unknown command %q\n\n", args[0])
	usage(stdio.Err)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "wirebridge turns network traffic into events and acts on them.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: wirebridge COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'wirebridge COMMAND --help' for a command's flags and examples.")
}

const versionHelp = `
Print the build: the version set at link time (make build: git describe),
else the module version or the git revision the Go toolchain stamped into
the binary, the commit time, whether the tree had uncommitted changes, and
the Go version.`

func runVersion(_ context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("version", "", versionHelp, stdio)
	pos, code, done := parseFlags(fs, args, stdio)
	if done {
		return code
	}
	if len(pos) != 0 {
		fmt.Fprintf(stdio.Err, "wirebridge version: unexpected argument %q\n", pos[0])
		return exitUsage
	}
	v := versionString()
	fmt.Fprintf(stdio.Out, "wirebridge %s\n", v)
	if strings.HasPrefix(v, versionUnknown) {
		fmt.Fprintln(stdio.Err, "wirebridge version: this binary carries no VCS information: build it from a git checkout with make build, or go build -buildvcs=true")
	}
	return exitOK
}

// versionUnknown is the version of a binary built without VCS information
// (go build -buildvcs=false, a linked git worktree, a source tarball).
const versionUnknown = "unknown-version"

func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return versionFrom(Version, bi)
}

// versionFrom says which build this is: the version set at link time (make
// build sets it from git describe), else what the Go toolchain stamped into
// the binary: the module version (go install pkg@version, or a pseudo-version
// naming the commit) or the VCS revision, with the commit time and whether
// the tree had uncommitted changes.
func versionFrom(linked string, bi *debug.BuildInfo) string {
	if linked != "" {
		if bi != nil {
			return linked + " " + bi.GoVersion
		}
		return linked
	}
	if bi == nil {
		return versionUnknown
	}
	var rev, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	var v string
	var notes []string
	switch mv := bi.Main.Version; {
	case mv != "" && mv != "(devel)":
		v = mv
		if rev != "" && !strings.Contains(mv, rev) {
			notes = append(notes, rev)
		}
	case rev != "":
		v = rev
		if modified {
			v += "-modified"
		}
	default:
		return versionUnknown + " " + bi.GoVersion
	}
	if at != "" {
		notes = append(notes, at)
	}
	if modified {
		notes = append(notes, "with uncommitted changes")
	}
	if len(notes) > 0 {
		v += " (" + strings.Join(notes, ", ") + ")"
	}
	return v + " " + bi.GoVersion
}

// newFlagSet returns a FlagSet that writes help to the right stream and
// prints the command's description and examples before the flags.
func newFlagSet(name, synopsis, help string, stdio Stdio) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdio.Err)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\n", strings.TrimSpace("wirebridge "+name+" "+synopsis))
		fmt.Fprintln(w, strings.TrimSpace(help))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, moving flags that follow positional arguments to
// the front so `wirebridge read file.pcap --count 5` works like tcpdump users expect.
// It returns the positional arguments, or an exit code when parsing ended the command.
func parseFlags(fs *flag.FlagSet, args []string, stdio Stdio) ([]string, int, bool) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") {
				if f := fs.Lookup(name); f != nil && i+1 < len(args) {
					if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
						flags = append(flags, args[i+1])
						i++
					}
				}
			}
			continue
		}
		pos = append(pos, a)
	}
	// The flag package prints the usage itself on -help and on a bad flag:
	// hold what it prints, so that -help prints the usage once, on standard
	// output, and a bad flag its error and the usage on standard error.
	var held bytes.Buffer
	fs.SetOutput(&held)
	err := fs.Parse(flags)
	fs.SetOutput(stdio.Err)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdio.Out)
			fs.Usage()
			fs.SetOutput(stdio.Err)
			return nil, exitOK, true
		}
		stdio.Err.Write(held.Bytes())
		return nil, exitUsage, true
	}
	return append(fs.Args(), pos...), 0, false
}

// isTerminal reports whether w is a character device (a TTY).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
