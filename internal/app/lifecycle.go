package app

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// The lifecycle starts and stops serve's running components in an order
// that follows from what each consumes and produces, instead of a
// hand-written sequence:
//
//	source ──packets──► pipeline ──deliveries:T──► target T ──events──► event ingress ──deliveries:U──► target U
//
// A component stops once every producer of what it consumes has stopped:
// producers first (sources), then the pipeline (its sources' packets
// drained), then the targets it alone feeds (a replay target flushes, and
// publishes its last ReplayDiff events), then the event ingress (those
// drained), then the targets it feeds (flushed). Components that do not wait
// on each other stop together. Starting is the reverse: consumers first, so
// that nothing is produced before its consumer runs. The whole stop is
// bounded by one deadline (shutdown_timeout); past it the rest is told to
// stop but not waited for. A cycle (a component consuming, through others,
// what it produces) has no such order and is refused.

// unit is one running component of serve as the lifecycle sees it (named
// unit, not component: internal/component is the component kinds' package).
type unit struct {
	name     string   // in logs and errors: "source syslog", "pipeline", "target archive"
	consumes []string // the streams it reads ("packets", "events", "deliveries:archive")
	produces []string // the streams it writes
	// start starts it and returns at once.
	start func()
	// stop asks it to stop; it finishes what it holds (drains, flushes)
	// and closes the returned channel when it has.
	stop func() <-chan struct{}
}

// runner returns the start and stop of a component that runs run(ctx) until
// ctx ends and then finishes its work before returning.
func runner(run func(ctx context.Context)) (start func(), stop func() <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start = func() {
		go func() {
			defer close(done)
			run(ctx)
		}()
	}
	stop = func() <-chan struct{} {
		cancel()
		return done
	}
	return start, stop
}

// stopLevels orders components for stopping: level 0 holds those consuming
// nothing another component produces; every other component sits one level
// after the last producer of what it consumes. The components of one level
// stop together. It fails on a cycle.
func stopLevels(cs []unit) ([][]int, error) {
	producers := map[string][]int{}
	for i, c := range cs {
		for _, s := range c.produces {
			producers[s] = append(producers[s], i)
		}
	}
	// after[i]: the components i waits for (producers of its inputs, itself excluded).
	after := make([][]int, len(cs))
	for i, c := range cs {
		for _, s := range c.consumes {
			for _, p := range producers[s] {
				if p != i && !slices.Contains(after[i], p) {
					after[i] = append(after[i], p)
				}
			}
		}
	}
	placed := make([]bool, len(cs))
	var levels [][]int
	for n := 0; n < len(cs); {
		var this []int
		for i := range cs {
			if placed[i] {
				continue
			}
			ready := true
			for _, p := range after[i] {
				if !placed[p] {
					ready = false
					break
				}
			}
			if ready {
				this = append(this, i)
			}
		}
		if len(this) == 0 {
			var left []string
			for i, c := range cs {
				if !placed[i] {
					left = append(left, c.name)
				}
			}
			return nil, fmt.Errorf("lifecycle: no stop order: %s consume what they produce (a cycle)", strings.Join(left, ", "))
		}
		for _, i := range this {
			placed[i] = true
		}
		n += len(this)
		levels = append(levels, this)
	}
	return levels, nil
}

// lifecycle runs components in the order stopLevels gives.
type lifecycle struct {
	cs     []unit
	levels [][]int
	log    *slog.Logger
}

func newLifecycle(cs []unit, log *slog.Logger) (*lifecycle, error) {
	levels, err := stopLevels(cs)
	if err != nil {
		return nil, err
	}
	return &lifecycle{cs: cs, levels: levels, log: log}, nil
}

// startAll starts every component, the last level to stop first.
func (l *lifecycle) startAll() {
	for i := len(l.levels) - 1; i >= 0; i-- {
		for _, c := range l.levels[i] {
			l.cs[c].start()
		}
	}
}

// stopAll stops the components level by level within timeout as a whole.
// When the deadline passes it logs what it gave up waiting for, tells the
// components of the later levels to stop without waiting for them, and
// returns an error (something may still be running).
func (l *lifecycle) stopAll(timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for i, lv := range l.levels {
		dones := make([]<-chan struct{}, len(lv))
		for j, c := range lv {
			l.log.Debug("stopping", "component", l.cs[c].name)
			dones[j] = l.cs[c].stop()
		}
		for j := range lv {
			select {
			case <-dones[j]:
				continue
			case <-deadline.C:
			}
			var waiting []string
			for k := j; k < len(lv); k++ {
				select {
				case <-dones[k]:
				default:
					waiting = append(waiting, l.cs[lv[k]].name)
				}
			}
			if len(waiting) == 0 { // it finished as the deadline passed
				waiting = append(waiting, l.cs[lv[j]].name)
			}
			what := strings.Join(waiting, ", ")
			l.log.Error("shutdown timeout: giving up waiting", "for", what, "timeout", timeout.String())
			for _, next := range l.levels[i+1:] {
				for _, c := range next {
					l.cs[c].stop()
				}
			}
			return fmt.Errorf("shutdown timed out waiting for %s", what)
		}
	}
	return nil
}

// Streams between serve's components.
const (
	streamPackets = "packets"        // sources -> pipeline
	streamEvents  = "events"         // event producers (replay targets) -> event ingress
	streamQueue   = "pipeline queue" // the pipeline lends its queue and workers to the event ingress, which closes them
)

func streamDeliveries(target string) string { return "deliveries:" + target }

// units describes every running component of s for the lifecycle. Failures
// while running (not while stopping) are sent to fatal.
func (s *server) units(fatal chan<- error) []unit {
	var cs []unit
	if s.appliance != nil {
		cs = append(cs, s.applianceUnit(fatal))
	}
	cs = append(cs, s.mirrors.units(s)...)
	for i, src := range s.sources {
		c := unit{name: "source " + src.Name(), produces: []string{streamPackets}}
		c.start, c.stop = runner(func(ctx context.Context) {
			err := src.Run(ctx, s.emits[i])
			switch {
			case err != nil && ctx.Err() == nil:
				fatal <- fmt.Errorf("source %s: %w", src.Name(), err)
			case err != nil:
				s.log.Error("source stopped with an error", "source", src.Name(), "error", err)
			case ctx.Err() == nil:
				// a capture file that ended: the rest keeps running
				s.log.Info("source finished", "source", src.Name())
			}
		})
		cs = append(cs, c)
	}

	// The pipeline: its stop drains the sources' packets; the event
	// ingress, which stops after the producers, ends its Run.
	pipe := unit{name: "pipeline", consumes: []string{streamPackets}, produces: []string{streamQueue}}
	ingress := unit{name: "event ingress", consumes: []string{streamEvents, streamQueue}}
	for i, w := range s.workers {
		pipe.produces = append(pipe.produces, streamDeliveries(w.Target()))
		if s.caps[i].TakesEventsWithoutFrame() {
			ingress.produces = append(ingress.produces, streamDeliveries(w.Target()))
		}
	}
	pipeCtx, pipeStop := context.WithCancel(context.Background())
	pipeDone := make(chan struct{})
	pipe.start = func() {
		s.pipeRunning.Store(true)
		go func() {
			defer close(pipeDone)
			err := s.pipe.Run(pipeCtx)
			s.pipeRunning.Store(false)
			switch {
			case err != nil && pipeCtx.Err() == nil:
				fatal <- fmt.Errorf("pipeline: %w", err)
			case err != nil:
				s.log.Warn("pipeline drain incomplete", "error", err)
			}
		}()
	}
	pipe.stop = func() <-chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := s.pipe.CloseSources(); err != nil {
				s.log.Warn("pipeline drain incomplete", "error", err)
			}
		}()
		return done
	}
	ingress.start = func() {} // the pipeline's workers serve it
	ingress.stop = func() <-chan struct{} {
		pipeStop()
		return pipeDone
	}
	cs = append(cs, pipe, ingress)

	for i, w := range s.workers {
		c := unit{name: "target " + w.Target(), consumes: []string{streamDeliveries(w.Target())}}
		if s.caps[i].Produces {
			c.produces = []string{streamEvents}
		}
		start, stop := runner(func(ctx context.Context) {
			defer s.workRunning.Add(-1)
			if err := w.Run(ctx); err != nil {
				if ctx.Err() == nil {
					fatal <- fmt.Errorf("target %s: %w", w.Target(), err)
				} else {
					s.log.Error("target stopped with an error", "target", w.Target(), "error", err)
				}
			}
		})
		c.start = func() { s.workRunning.Add(1); start() }
		c.stop = stop
		cs = append(cs, c)
	}
	return cs
}
