//go:build integration

package deliver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
)

// The kill -9 test re-executes this test binary as the "wirebridge" process:
// with childEnv set, TestMain runs crashChild instead of the tests.
const childEnv = "WIREBRIDGE_DELIVER_CRASH_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// stdoutTarget succeeds for odd-numbered ids (reporting "delivered ID" on
// stdout before returning) and fails transiently for the others.
type stdoutTarget struct{ mu *sync.Mutex }

func (s stdoutTarget) Send(_ context.Context, batch []handoff.Delivery) error {
	be := &handoff.BatchError{Failed: map[int]error{}}
	var b strings.Builder
	for i, d := range batch {
		n, _ := strconv.Atoi(d.ID[strings.LastIndexByte(d.ID, '-')+1:])
		if n%2 == 0 {
			be.Failed[i] = errUnavailable
			continue
		}
		b.WriteString("delivered " + d.ID + "\n")
	}
	s.mu.Lock()
	os.Stdout.WriteString(b.String())
	s.mu.Unlock()
	return be
}
func (stdoutTarget) Close() error { return nil }

// crashChild accepts deliveries forever, printing "accepted ID" once
// they are stored (Enqueue, then Flush, and the accepted count moved by as
// many), while its worker delivers half of them. The parent kills it with
// SIGKILL.
func crashChild(dir string) {
	b := openBus(fatalTB{}, dir)
	mu := &sync.Mutex{}
	cfg := fastConfig("hook", Durable)
	w, err := New(context.Background(), cfg, stdoutTarget{mu}, b, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	go func() { _ = w.Run(context.Background()) }()
	for i := 0; ; i += 50 {
		ds := make([]handoff.Delivery, 50)
		for j := range ds {
			ds[j] = handoff.Delivery{ID: fmt.Sprintf("k-%d", i+j), Rule: "r", Body: []byte(`{"detail":{}}`)}
		}
		n, err := w.Enqueue(context.Background(), ds)
		if err != nil || n != len(ds) {
			fmt.Fprintln(os.Stderr, "enqueue:", n, err)
			os.Exit(2)
		}
		if err := w.Flush(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "flush:", err)
			os.Exit(2)
		}
		if s := w.Stats(); s.Enqueued != uint64(i+len(ds)) {
			fmt.Fprintln(os.Stderr, "accepted", s.Enqueued, "of", i+len(ds), "dropped", s.Dropped)
			os.Exit(2)
		}
		var sb strings.Builder
		for _, d := range ds {
			sb.WriteString("accepted " + d.ID + "\n")
		}
		mu.Lock()
		os.Stdout.WriteString(sb.String())
		mu.Unlock()
	}
}

// fatalTB lets openBus run outside a test.
type fatalTB struct{ testing.TB }

func (fatalTB) Helper() {}
func (fatalTB) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

func TestDurableSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	accepted := map[string]bool{}
	deliveredBefore := map[string]int{}
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		kind, id, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "accepted":
			accepted[id] = true
		case "delivered":
			deliveredBefore[id]++
		}
		if !killed && len(accepted) >= 3000 && len(deliveredBefore) > 0 {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !killed || !errors.As(err, &ee) {
		t.Fatalf("child ended on its own: %v\n%s", err, stderr.String())
	}

	// Restart on the same data dir with a healthy target.
	b := openBus(t, dir)
	defer b.Close()
	rec := newRecorder()
	w := newWorker(t, fastConfig("hook", Durable), rec, b)
	stop := running(t, w)
	missing := func() int {
		got, _ := rec.snapshot()
		n := 0
		for id := range accepted {
			if got[id] == 0 && deliveredBefore[id] == 0 {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(60 * time.Second)
	for missing() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// Let redeliveries of unacked messages settle before counting duplicates.
	time.Sleep(3 * time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := missing(); n > 0 {
		t.Fatalf("%d of %d accepted deliveries lost after kill -9", n, len(accepted))
	}
	got, _ := rec.snapshot()
	dups, extra := 0, 0
	for id, n := range got {
		if !accepted[id] {
			extra++ // stored but killed before the child printed it: fine
			continue
		}
		dups += n + deliveredBefore[id] - 1
	}
	t.Logf("accepted %d; delivered before kill %d; after restart %d (%d stored but unreported); duplicates %d",
		len(accepted), len(deliveredBefore), len(got), extra, dups)
}
