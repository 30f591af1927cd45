package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wirebridge/wirebridge/internal/dissect"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
)

const readHelp = `
Decode a pcap or pcapng capture (a file, or - for standard input) and write
one event per packet as NDJSON (default), a one-line text summary per packet
in the style of tcpdump -n, or the packets themselves as pcap so the command
can sit in a shell pipeline.

From a pipe, each packet is written out as soon as it has been read (the
output is flushed whenever the input has nothing more yet): with tcpdump -U
(and --immediate-mode, or libpcap hands tcpdump its packets up to a second
late) the events follow the traffic live.

Malformed packets are counted and skipped (in ndjson and text they are still
written with what could be decoded). A summary line goes to standard error at
the end. The exit status is 0 unless the input cannot be read as a capture.

Examples:
  wirebridge read examples/captures/loopback-demo.pcap | head
  wirebridge read --format text --count 10 capture.pcapng
  tcpdump -i eth0 --immediate-mode -U -w - udp port 514 | wirebridge read -
  wirebridge read --decode-as udp.port==5300,dns --pattern '{"detail":{"DNS":{"RCode":["NXDOMAIN"]}}}' lab.pcap
  wirebridge read --format pcap -o dns.pcap --pattern '{"detail":{"Destination":{"Port":[53]}}}' big.pcap`

type readOptions struct {
	format      string
	output      string
	count       int64
	pattern     string
	eventSource string
	listener    string
	quiet       bool
	progress    string
	decodeAs    decodeAsFlag
	table       *dissect.Table // the dissectors, from decodeAs
}

// decodeAsFlag collects --decode-as rules (the flag may be repeated).
type decodeAsFlag []dissect.PortRule

func (f *decodeAsFlag) String() string {
	var s []string
	for _, r := range *f {
		s = append(s, r.String())
	}
	return strings.Join(s, " ")
}

func (f *decodeAsFlag) Set(v string) error {
	r, err := dissect.ParsePortRule(v)
	if err != nil {
		return err
	}
	*f = append(*f, r)
	return nil
}

func runRead(ctx context.Context, args []string, stdio Stdio) int {
	var o readOptions
	fs := newFlagSet("read", "[flags] FILE|-", readHelp, stdio)
	fs.StringVar(&o.format, "format", "ndjson", "output format: ndjson, cloudevents, text or pcap")
	fs.StringVar(&o.output, "o", "-", "write output to `FILE` (- for standard output)")
	fs.Int64Var(&o.count, "count", 0, "stop after `N` packets (0: all)")
	fs.StringVar(&o.pattern, "pattern", "", "only output packets whose event matches this EventBridge `PATTERN` (JSON, or @file)")
	fs.StringVar(&o.eventSource, "event-source", "wirebridge.pcap", "the events' `source` field")
	fs.StringVar(&o.listener, "listener", "", "the events' detail.Listener and resources (default: the file name)")
	fs.BoolVar(&o.quiet, "q", false, "no summary line on standard error")
	fs.StringVar(&o.progress, "progress", "auto", "progress bar on standard error: auto (when it is a terminal and the input a file), always, never")
	fs.Var(&o.decodeAs, "decode-as", "dissect the port `RULE` names as its protocol, like tshark -d: udp.port==5300,dns or tcp.port==8888,http (protocol none turns a port off); repeatable")
	pos, code, done := parseFlags(fs, args, stdio)
	if done {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stdio.Err, "wirebridge read: expected one input (a capture file, or - for standard input)")
		fs.Usage()
		return exitUsage
	}
	switch o.format {
	case "ndjson", "cloudevents", "text", "pcap":
	default:
		fmt.Fprintf(stdio.Err, "wirebridge read: unknown --format %q (want ndjson, cloudevents, text or pcap)\n", o.format)
		return exitUsage
	}
	if o.count < 0 {
		fmt.Fprintln(stdio.Err, "wirebridge read: --count must be >= 0")
		return exitUsage
	}
	tab, err := dissect.NewTable(dissect.Config{DecodeAs: o.decodeAs, PayloadTextMax: -1})
	if err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge read: --decode-as: %v\n", err)
		return exitUsage
	}
	o.table = tab
	if err := readCapture(ctx, pos[0], o, stdio); err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge read: %v\n", err)
		if errors.Is(err, errUsage) {
			return exitUsage
		}
		return exitFail
	}
	return exitOK
}

// readStats counts what read saw, for the summary line.
type readStats struct {
	read, decoded, written, skippedLink int64
	errs                                [len(packet.Kinds) + 1]int64
}

func (s *readStats) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d packets read, %d decoded", s.read, s.decoded)
	var parts []string
	for _, k := range packet.Kinds {
		if n := s.errs[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k.String(), n))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, ", %d malformed (%s)", s.read-s.decoded, strings.Join(parts, " "))
	} else {
		b.WriteString(", 0 malformed")
	}
	fmt.Fprintf(&b, ", %d written", s.written)
	if s.skippedLink > 0 {
		fmt.Fprintf(&b, ", %d skipped (link type differs from the first packet's; pcap holds one link type)", s.skippedLink)
	}
	return b.String()
}

func readCapture(ctx context.Context, input string, o readOptions, stdio Stdio) (err error) {
	var in io.Reader
	var size int64 = -1
	name := "stdin"
	if input == "-" {
		in = stdio.In
	} else {
		f, err := os.Open(input)
		if err != nil {
			return fmt.Errorf("open input: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		in = f
		name = filepath.Base(input)
	}
	// Output is flushed whenever the reader is about to wait for more input
	// (see flushBeforeRead): packets from a pipe are printed as they arrive.
	fr := &flushBeforeRead{r: in}
	r, err := capfile.NewReader(fr)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if o.listener == "" {
		o.listener = name
	}

	var out io.Writer = stdio.Out
	if o.output != "-" && o.output != "" {
		f, err := os.Create(o.output)
		if err != nil {
			return fmt.Errorf("create output: %w", err)
		}
		defer func() {
			if cerr := f.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("close output: %w", cerr)
			}
		}()
		out = f
	}
	bw := bufio.NewWriterSize(out, 256<<10)

	sink, err := newReadSink(o, bw)
	if err != nil {
		return err
	}
	fr.flush = func() error {
		if err := sink.flush(); err != nil {
			return err
		}
		return bw.Flush()
	}

	var bar *progressBar
	if o.progress == "always" || (o.progress == "auto" && size > 0 && isTerminal(stdio.Err)) {
		bar = newProgressBar(stdio.Err, size)
	}

	var st readStats
	var p packet.Packet
	var readErr error
	for o.count == 0 || st.read < o.count {
		data, info, err := r.Next()
		if fr.err != nil {
			return fmt.Errorf("write output: %w", fr.err)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
		st.read++
		if st.read&4095 == 0 {
			if ctx.Err() != nil {
				break
			}
			if bar != nil {
				bar.update(r.Offset(), st.read)
			}
		}
		if e := packet.Decode(&p, data, info); e != nil {
			st.errs[p.Err]++
		} else {
			st.decoded++
		}
		wrote, err := sink.write(&p)
		if err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		if wrote {
			st.written++
		}
	}
	st.skippedLink = sink.skipped()
	if err := sink.flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if bar != nil {
		bar.finish(r.Offset(), st.read)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if !o.quiet {
		fmt.Fprintf(stdio.Err, "wirebridge read: %s\n", st.summary())
	}
	if readErr != nil {
		return fmt.Errorf("%s: after %d packets: %w", name, st.read, readErr)
	}
	return nil
}

// flushBeforeRead flushes the output before each read of the input. The
// capture reader reads only when it has no complete record left, so a read
// may block (a pipe fed by tcpdump -U): everything decoded so far is written
// out first. From a file it flushes once per buffer refill (1 MiB of
// input), which costs nothing measurable; from a pipe, once per write of the
// producer, so each packet is printed as soon as it arrives.
type flushBeforeRead struct {
	r     io.Reader
	flush func() error // nil until the output exists
	err   error        // the first flush error; reading stops with it
}

var errOutputFailed = errors.New("output failed")

func (f *flushBeforeRead) Read(p []byte) (int, error) {
	if f.flush != nil && f.err == nil {
		f.err = f.flush()
	}
	if f.err != nil {
		return 0, errOutputFailed
	}
	return f.r.Read(p)
}

// progressBar draws `[=====>    ]  45%  12.3/27.4 MB  1.2M pkt/s` on a terminal.
type progressBar struct {
	w        io.Writer
	total    int64
	start    time.Time
	lastDraw time.Time
}

func newProgressBar(w io.Writer, total int64) *progressBar {
	now := time.Now()
	return &progressBar{w: w, total: total, start: now}
}

func (b *progressBar) update(done, pkts int64) {
	now := time.Now()
	if now.Sub(b.lastDraw) < 100*time.Millisecond {
		return
	}
	b.lastDraw = now
	b.draw(done, pkts, now)
}

func (b *progressBar) finish(done, pkts int64) {
	b.draw(done, pkts, time.Now())
	fmt.Fprint(b.w, "\n")
}

func (b *progressBar) draw(done, pkts int64, now time.Time) {
	const width = 30
	frac := 0.0
	if b.total > 0 {
		frac = float64(done) / float64(b.total)
	}
	if frac > 1 {
		frac = 1
	}
	n := int(frac * width)
	bar := strings.Repeat("=", n)
	if n < width {
		bar += ">" + strings.Repeat(" ", width-n-1)
	}
	rate := 0.0
	if el := now.Sub(b.start).Seconds(); el > 0 {
		rate = float64(pkts) / el
	}
	fmt.Fprintf(b.w, "\r[%s] %3.0f%%  %s/%s  %s pkt/s ", bar, frac*100, humanBytes(done), humanBytes(b.total), humanCount(rate))
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func humanCount(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
