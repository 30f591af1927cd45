// Command wbbench is the traffic generator and counter behind the scripts in
// bench/ (see bench/README.md). It sits outside the data path: it sends UDP
// to a wirebridge udp source (or to bench/recvmmsg.c), counts what comes out
// of the targets, and reads /metrics. Only loopback or a network namespace the
// calling script created is ever addressed.
//
//	wbbench send    -to ADDR [-rate PPS] [-count N] [-duration D] [-flows K] [-size B]
//	wbbench e2e     -to ADDR -count N -watch file:PATH|url:URL|metric:URL|SERIES [-rate PPS]
//	wbbench sink    -listen ADDR
//	wbbench metrics URL SERIES...
//
// send paces with a token bucket (burst: -burst datagrams) and writes with
// sendmmsg, -batch datagrams a call. e2e sends like send and meanwhile polls
// the watched counter until it reaches the count (or stops moving for
// -settle after the last send), then prints the events/s from the first send
// to the last arrival seen. sink is an HTTP server counting the events POSTed
// to it (one event, a JSON array or NDJSON); GET /count answers
// "COUNT FIRST_UNIX_NS LAST_UNIX_NS".
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "send":
		err = cmdSend(os.Args[2:])
	case "e2e":
		err = cmdE2E(os.Args[2:])
	case "sink":
		err = cmdSink(os.Args[2:])
	case "metrics":
		err = cmdMetrics(os.Args[2:])
	case "geneve":
		err = cmdGeneve(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wbbench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: wbbench send|e2e|sink|metrics|geneve [flags] (see bench/README.md)")
	os.Exit(2)
}

// ---- sender ----

type sendFlags struct {
	to       string
	rate     float64
	count    uint64
	duration time.Duration
	flows    int
	size     int
	batch    int
	burst    int
}

func (s *sendFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.to, "to", "127.0.0.1:6000", "destination host:port (loopback or a namespace of your own)")
	fs.Float64Var(&s.rate, "rate", 0, "datagrams per second over all flows; 0: as fast as possible")
	fs.Uint64Var(&s.count, "count", 0, "datagrams to send over all flows; 0: until -duration")
	fs.DurationVar(&s.duration, "duration", 0, "stop after this long; 0: until -count")
	fs.IntVar(&s.flows, "flows", 1, "sockets (source ports), each in its own goroutine")
	fs.IntVar(&s.size, "size", 64, "UDP payload bytes")
	fs.IntVar(&s.batch, "batch", 64, "datagrams per sendmmsg call")
	fs.IntVar(&s.burst, "burst", 256, "token bucket depth in datagrams")
}

type sendResult struct {
	sent    uint64
	errs    uint64 // ECONNREFUSED/ENOBUFS/EAGAIN answers, retried
	start   time.Time
	elapsed time.Duration
}

func (r sendResult) String() string {
	return fmt.Sprintf("sent=%d seconds=%.3f send_pps=%.0f send_errors=%d",
		r.sent, r.elapsed.Seconds(), float64(r.sent)/r.elapsed.Seconds(), r.errs)
}

// payload is a syslog-looking line padded to size bytes.
func payload(size, i int) []byte {
	b := []byte(fmt.Sprintf("<13>Nov 21 20:40:15 host bench: message %02d ", i))
	for len(b) < size {
		b = append(b, 'x')
	}
	return b[:size]
}

// send runs s.flows paced senders and returns when they are done. started,
// if not nil, is called once just before the first datagram goes out.
func send(ctx context.Context, s sendFlags, started func(time.Time)) (sendResult, error) {
	if s.count == 0 && s.duration == 0 {
		return sendResult{}, errors.New("send: give -count or -duration")
	}
	if s.flows < 1 || s.batch < 1 || s.size < 1 || s.burst < s.batch {
		return sendResult{}, errors.New("send: -flows, -batch and -size must be positive, -burst >= -batch")
	}
	raddr, err := net.ResolveUDPAddr("udp", s.to)
	if err != nil {
		return sendResult{}, fmt.Errorf("send: %w", err)
	}
	conns := make([]*net.UDPConn, s.flows)
	for i := range conns {
		if conns[i], err = net.DialUDP("udp", nil, raddr); err != nil {
			return sendResult{}, fmt.Errorf("send: %w", err)
		}
		defer conns[i].Close()
	}
	if s.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.duration)
		defer cancel()
	}
	var res sendResult
	var sent, errs atomic.Uint64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	res.start = time.Now()
	if started != nil {
		started(res.start)
	}
	for f, c := range conns {
		// Each flow gets an equal share of the count and of the rate.
		var share uint64
		if s.count > 0 {
			share = s.count / uint64(s.flows)
			if uint64(f) < s.count%uint64(s.flows) {
				share++
			}
		}
		rate := s.rate / float64(s.flows)
		wg.Go(func() {
			n, e, err := sendFlow(ctx, c, s, share, rate, res.start)
			sent.Add(n)
			errs.Add(e)
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(res.start)
	res.sent, res.errs = sent.Load(), errs.Load()
	return res, firstErr
}

// sendFlow sends count datagrams (0: until ctx ends) on c at rate per second
// (0: unpaced) with a token bucket of s.burst datagrams.
func sendFlow(ctx context.Context, c *net.UDPConn, s sendFlags, count uint64, rate float64, start time.Time) (sent, errs uint64, err error) {
	pc := ipv4.NewPacketConn(c)
	msgs := make([]ipv4.Message, s.batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{payload(s.size, i)}
	}
	tokens, last := float64(s.batch), start
	for count == 0 || sent < count {
		if ctx.Err() != nil {
			return sent, errs, nil
		}
		n := s.batch
		if count > 0 && count-sent < uint64(n) {
			n = int(count - sent)
		}
		if rate > 0 {
			now := time.Now()
			tokens = math.Min(tokens+now.Sub(last).Seconds()*rate, float64(s.burst))
			last = now
			if tokens < 1 {
				// Sleep until a batch's worth (or what is left) is available.
				time.Sleep(time.Duration((float64(n) - tokens) / rate * float64(time.Second)))
				continue
			}
			n = min(n, int(tokens))
		}
		w, werr := pc.WriteBatch(msgs[:n], 0)
		if w > 0 {
			sent += uint64(w)
			tokens -= float64(w)
		}
		if werr != nil {
			if errors.Is(werr, syscall.ECONNREFUSED) || errors.Is(werr, syscall.ENOBUFS) || errors.Is(werr, syscall.EAGAIN) {
				errs++
				continue
			}
			return sent, errs, fmt.Errorf("sendmmsg: %w", werr)
		}
	}
	return sent, errs, nil
}

func cmdSend(args []string) error {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	var s sendFlags
	s.register(fs)
	fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := send(ctx, s, nil)
	fmt.Println(res)
	return err
}

// ---- end to end ----

// watcher returns the number of events that have arrived so far.
type watcher func() (uint64, error)

func newWatcher(spec string) (watcher, error) {
	kind, arg, ok := strings.Cut(spec, ":")
	if !ok {
		return nil, fmt.Errorf("watch %q: want file:PATH, url:URL or metric:URL|SERIES", spec)
	}
	switch kind {
	case "file":
		// Count newlines incrementally: the file only grows (rotation is off
		// in the benchmark configs).
		var off int64
		var lines uint64
		buf := make([]byte, 1<<20)
		return func() (uint64, error) {
			f, err := os.Open(arg)
			if errors.Is(err, os.ErrNotExist) {
				return 0, nil
			} else if err != nil {
				return 0, err
			}
			defer f.Close()
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				return 0, err
			}
			for {
				n, err := f.Read(buf)
				lines += uint64(bytes.Count(buf[:n], []byte{'\n'}))
				off += int64(n)
				if err == io.EOF || n == 0 {
					return lines, nil
				} else if err != nil {
					return 0, err
				}
			}
		}, nil
	case "url":
		return func() (uint64, error) {
			body, err := get(arg)
			if err != nil {
				return 0, err
			}
			f := strings.Fields(body)
			if len(f) == 0 {
				return 0, fmt.Errorf("%s: empty answer", arg)
			}
			return strconv.ParseUint(f[0], 10, 64)
		}, nil
	case "metric":
		url, series, ok := strings.Cut(arg, "|")
		if !ok {
			return nil, fmt.Errorf("watch %q: want metric:URL|SERIES", spec)
		}
		return func() (uint64, error) {
			m, err := scrape(url)
			if err != nil {
				return 0, err
			}
			return uint64(m[series]), nil
		}, nil
	}
	return nil, fmt.Errorf("watch %q: unknown kind %q", spec, kind)
}

func cmdE2E(args []string) error {
	fs := flag.NewFlagSet("e2e", flag.ExitOnError)
	var s sendFlags
	s.register(fs)
	watch := fs.String("watch", "", "where arrivals are counted: file:PATH (NDJSON lines), url:URL (first number of the answer), metric:URL|SERIES")
	settle := fs.Duration("settle", 3*time.Second, "give up once the count has not moved for this long after the last send")
	poll := fs.Duration("poll", 10*time.Millisecond, "polling interval")
	fs.Parse(args)
	if s.count == 0 {
		return errors.New("e2e: -count is required")
	}
	w, err := newWatcher(*watch)
	if err != nil {
		return err
	}
	base, err := w()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	type sendDone struct {
		res sendResult
		err error
	}
	startc := make(chan time.Time, 1)
	done := make(chan sendDone, 1)
	go func() {
		res, err := send(ctx, s, func(t time.Time) { startc <- t })
		done <- sendDone{res, err}
	}()
	start := <-startc

	var sd *sendDone
	var got uint64
	lastMove := time.Now()
	lastArrival := start
	tick := time.NewTicker(*poll)
	defer tick.Stop()
	for got < s.count {
		select {
		case d := <-done:
			sd = &d
			lastMove = time.Now() // settle counts from the end of sending
			continue
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		n, err := w()
		if err != nil {
			return err
		}
		now := time.Now()
		if n-base != got {
			got, lastMove, lastArrival = n-base, now, now
		}
		if sd != nil && now.Sub(lastMove) > *settle {
			break
		}
	}
	if sd == nil {
		d := <-done
		sd = &d
	}
	if sd.err != nil {
		return sd.err
	}
	el := lastArrival.Sub(start)
	fmt.Printf("%s arrived=%d of %d (%.2f%%) e2e_seconds=%.3f events_per_s=%.0f\n",
		sd.res, got, sd.res.sent, 100*float64(got)/float64(max(sd.res.sent, 1)), el.Seconds(), float64(got)/el.Seconds())
	return nil
}

// ---- HTTP sink ----

func cmdSink(args []string) error {
	fs := flag.NewFlagSet("sink", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:9000", "address to listen on")
	fs.Parse(args)
	var count, first, last atomic.Int64
	var reqs atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n, err := countEvents(r.Header.Get("Content-Type"), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		now := time.Now().UnixNano()
		first.CompareAndSwap(0, now)
		last.Store(now)
		count.Add(n)
		reqs.Add(1)
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d %d %d %d\n", count.Load(), first.Load(), last.Load(), reqs.Load())
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "sink listening on", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Printf("events=%d requests=%d\n", count.Load(), reqs.Load())
	return nil
}

// countEvents counts the events in a request body: NDJSON lines, the
// elements of a JSON array, or one event.
func countEvents(contentType string, body []byte) (int64, error) {
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return 0, nil
	case strings.HasPrefix(contentType, "application/x-ndjson"):
		return int64(bytes.Count(body, []byte{'\n'})) + 1, nil
	case body[0] == '[':
		var arr []json.RawMessage
		if err := json.Unmarshal(body, &arr); err != nil {
			return 0, fmt.Errorf("json array: %w", err)
		}
		return int64(len(arr)), nil
	}
	return 1, nil
}

// ---- metrics ----

func get(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), nil
}

// scrape reads a Prometheus text exposition into series -> value, the
// series written as in the exposition (name{labels}).
func scrape(url string) (map[string]float64, error) {
	body, err := get(url)
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			continue
		}
		m[l[:i]] = v
	}
	return m, sc.Err()
}

// cmdMetrics prints "SERIES VALUE" for each series asked (0 when absent).
func cmdMetrics(args []string) error {
	if len(args) < 2 {
		return errors.New("metrics: URL SERIES...")
	}
	m, err := scrape(args[0])
	if err != nil {
		return err
	}
	for _, s := range args[1:] {
		fmt.Printf("%s %.0f\n", s, m[s])
	}
	return nil
}
