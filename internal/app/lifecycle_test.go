package app

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStopLevels: component graphs and the order they stop in (start is the
// reverse): producers before consumers, the pipeline's two stages around the
// event producers, and cycles refused.
func TestStopLevels(t *testing.T) {
	type comp struct {
		name               string
		consumes, produces []string
	}
	serveGraph := func(targets ...comp) []comp {
		return append([]comp{
			{"source a", nil, []string{"packets"}},
			{"source b", nil, []string{"packets"}},
		}, targets...)
	}
	tests := []struct {
		name    string
		graph   []comp
		want    [][]string // stop levels; each level sorted
		wantErr string
	}{
		{
			name: "sources, pipeline, targets",
			graph: serveGraph(
				comp{"pipeline", []string{"packets"}, []string{"pipeline queue", "deliveries:file", "deliveries:pcap"}},
				comp{"event ingress", []string{"events", "pipeline queue"}, []string{"deliveries:file"}},
				comp{"target file", []string{"deliveries:file"}, nil},
				comp{"target pcap", []string{"deliveries:pcap"}, nil},
			),
			want: [][]string{{"source a", "source b"}, {"pipeline"}, {"event ingress", "target pcap"}, {"target file"}},
		},
		{
			name: "a replay target stops before the event ingress, which stops before the targets it feeds",
			graph: serveGraph(
				comp{"pipeline", []string{"packets"}, []string{"pipeline queue", "deliveries:shadow", "deliveries:diffs", "deliveries:live", "deliveries:pcap"}},
				comp{"event ingress", []string{"events", "pipeline queue"}, []string{"deliveries:diffs", "deliveries:live"}},
				comp{"target shadow", []string{"deliveries:shadow"}, []string{"events"}},
				comp{"target diffs", []string{"deliveries:diffs"}, nil},
				comp{"target live", []string{"deliveries:live"}, nil},
				comp{"target pcap", []string{"deliveries:pcap"}, nil},
			),
			want: [][]string{{"source a", "source b"}, {"pipeline"}, {"target pcap", "target shadow"}, {"event ingress"}, {"target diffs", "target live"}},
		},
		{
			name: "two producers (appliance verdicts, mirror changes) stop together before the ingress",
			graph: []comp{
				{"pipeline", nil, []string{"pipeline queue", "deliveries:verdicts"}},
				{"appliance", nil, []string{"events"}},
				{"mirror", nil, []string{"events"}},
				{"event ingress", []string{"events", "pipeline queue"}, []string{"deliveries:verdicts"}},
				{"target verdicts", []string{"deliveries:verdicts"}, nil},
			},
			want: [][]string{{"appliance", "mirror", "pipeline"}, {"event ingress"}, {"target verdicts"}},
		},
		{
			name:  "a component consuming what it produces itself",
			graph: []comp{{"loop", []string{"x"}, []string{"x"}}, {"sink", []string{"x"}, nil}},
			want:  [][]string{{"loop"}, {"sink"}},
		},
		{
			name: "a producer fed by the ingress it feeds is a cycle",
			graph: serveGraph(
				comp{"pipeline", []string{"packets"}, []string{"pipeline queue", "deliveries:echo"}},
				comp{"event ingress", []string{"events", "pipeline queue"}, []string{"deliveries:echo"}},
				comp{"target echo", []string{"deliveries:echo"}, []string{"events"}},
			),
			wantErr: "event ingress, target echo consume what they produce",
		},
		{name: "nothing", want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cs []unit
			for _, c := range tc.graph {
				cs = append(cs, unit{name: c.name, consumes: c.consumes, produces: c.produces})
			}
			levels, err := stopLevels(cs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got [][]string
			for _, lv := range levels {
				var names []string
				for _, i := range lv {
					names = append(names, cs[i].name)
				}
				slices.Sort(names)
				got = append(got, names)
			}
			if !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("stop levels\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestLifecycleOrder runs a graph: consumers start before their producers,
// producers stop (and finish) before their consumers are told to stop.
func TestLifecycleOrder(t *testing.T) {
	var mu sync.Mutex
	var log []string
	note := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	mk := func(name string, consumes, produces []string) unit {
		return unit{name: name, consumes: consumes, produces: produces,
			start: func() { note("start " + name) },
			stop: func() <-chan struct{} {
				note("stop " + name)
				done := make(chan struct{})
				go func() { note("stopped " + name); close(done) }()
				return done
			}}
	}
	lc, err := newLifecycle([]unit{
		mk("target", []string{"d"}, nil),
		mk("pipeline", []string{"p"}, []string{"d"}),
		mk("source", nil, []string{"p"}),
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	lc.startAll()
	if err := lc.stopAll(time.Minute); err != nil {
		t.Fatal(err)
	}
	want := []string{"start target", "start pipeline", "start source",
		"stop source", "stopped source", "stop pipeline", "stopped pipeline", "stop target", "stopped target"}
	if !slices.Equal(log, want) {
		t.Errorf("got  %q\nwant %q", log, want)
	}
}

// TestLifecycleDeadline: a component that does not finish within the
// timeout is reported by name with the shutdown timeout error; the later
// ones are told to stop without being waited for.
func TestLifecycleDeadline(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	toldLater := make(chan struct{})
	var logs bytes.Buffer
	lc, err := newLifecycle([]unit{
		{name: "source", produces: []string{"p"}, start: func() {}, stop: func() <-chan struct{} { return stuck }},
		{name: "pipeline", consumes: []string{"p"}, start: func() {}, stop: func() <-chan struct{} {
			close(toldLater)
			return make(chan struct{}) // never finishes: must not be waited for
		}},
	}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	lc.startAll()
	err = lc.stopAll(10 * time.Millisecond)
	if err == nil || err.Error() != "shutdown timed out waiting for source" {
		t.Fatalf("err = %v", err)
	}
	<-toldLater
	if !strings.Contains(logs.String(), `msg="shutdown timeout: giving up waiting" for=source timeout=10ms`) {
		t.Errorf("log: %s", logs.String())
	}
}
