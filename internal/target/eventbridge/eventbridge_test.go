package eventbridge

// There is no AWS here: these tests run the real aws-sdk-go-v2 client
// against a local httptest server that speaks the EventBridge JSON 1.1
// protocol (POST /, X-Amz-Target: AWSEvents.PutEvents,
// Content-Type: application/x-amz-json-1.1, SigV4-signed), records the
// entries it accepts and answers like the service, including per-entry
// failures and whole-call errors.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/target"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

type wireEntry struct {
	Source       string
	DetailType   string
	Detail       string
	Resources    []string
	EventBusName string
	Time         *float64
}

type fakeBus struct {
	mu      sync.Mutex
	calls   [][]wireEntry
	entries []wireEntry
	auth    []string
	// failEntry, when set, fails an entry with (code, message).
	failEntry func(e wireEntry) (string, string)
	// failCall, when set, fails the next calls with an HTTP status and __type.
	failCall func(call int) (int, string)
	stall    chan struct{}
}

func (f *fakeBus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != "POST" || r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" ||
		r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		http.Error(w, `{"__type":"UnknownOperationException"}`, 400)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var in struct{ Entries []wireEntry }
	if err := json.Unmarshal(body, &in); err != nil {
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"__type":"SerializationException","message":%q}`, err.Error())
		return
	}
	f.mu.Lock()
	stall := f.stall
	f.mu.Unlock()
	if stall != nil {
		select {
		case <-stall:
		case <-r.Context().Done():
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	call := len(f.calls)
	f.calls = append(f.calls, in.Entries)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if f.failCall != nil {
		if status, typ := f.failCall(call); status != 0 {
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"__type":%q,"message":"injected"}`, typ)
			return
		}
	}
	if len(in.Entries) > MaxEntries {
		w.WriteHeader(400)
		io.WriteString(w, `{"__type":"ValidationException","message":"too many entries"}`)
		return
	}
	type result struct {
		EventId      string `json:",omitempty"`
		ErrorCode    string `json:",omitempty"`
		ErrorMessage string `json:",omitempty"`
	}
	var out struct {
		FailedEntryCount int
		Entries          []result
	}
	for i, e := range in.Entries {
		if f.failEntry != nil {
			if code, msg := f.failEntry(e); code != "" {
				out.FailedEntryCount++
				out.Entries = append(out.Entries, result{ErrorCode: code, ErrorMessage: msg})
				continue
			}
		}
		f.entries = append(f.entries, e)
		out.Entries = append(out.Entries, result{EventId: fmt.Sprintf("ev-%d-%d", call, i)})
	}
	json.NewEncoder(w).Encode(out)
}

func newTarget(t *testing.T, f *fakeBus) *Target {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	tg, err := New(Config{Region: "eu-west-1", Endpoint: srv.URL, AccessKeyID: "AKIDTEST", SecretAccessKey: "secret", EventBusName: "wirebridge-test", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// canonical renders an entry independent of key order and number spelling.
func canonical(source, detailType, detail string, resources []string) []byte {
	var d any
	dec := json.NewDecoder(strings.NewReader(detail))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		return []byte("invalid detail: " + err.Error())
	}
	b, _ := json.Marshal(map[string]any{"Source": source, "DetailType": detailType, "Detail": d, "Resources": resources})
	return b
}

// expect derives the entry a wirebridge event body should become, parsing
// the body independently of the target's code.
func expect(d handoff.Delivery) []byte {
	var ev struct {
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(d.Body, &ev); err != nil {
		return []byte("bad body")
	}
	return canonical(ev.Source, ev.DetailType, string(ev.Detail), ev.Resources)
}

func TestConformance(t *testing.T) {
	targettest.Run(t, func(t *testing.T) targettest.Instance {
		f := &fakeBus{}
		tg := newTarget(t, f)
		return targettest.Instance{
			Target:   tg,
			JSONOnly: true,
			Expect:   expect,
			Delivered: func() ([][]byte, error) {
				f.mu.Lock()
				defer f.mu.Unlock()
				var got [][]byte
				for _, e := range f.entries {
					got = append(got, canonical(e.Source, e.DetailType, e.Detail, e.Resources))
				}
				return got, nil
			},
			Stall: func() func() {
				ch := make(chan struct{})
				f.mu.Lock()
				f.stall = ch
				f.mu.Unlock()
				return func() {
					f.mu.Lock()
					f.stall = nil
					f.mu.Unlock()
					close(ch)
				}
			},
		}
	})
}

func TestEntryMapping(t *testing.T) {
	f := &fakeBus{}
	tg := newTarget(t, f)
	defer tg.Close()
	b := []handoff.Delivery{
		{ID: "1", Body: targettest.EventBody(1, []byte("hi"), "x")},
		{ID: "2", Body: []byte(`{"msg": "transformed", "n": 2}`)},
	}
	if err := tg.Send(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if len(f.entries) != 2 {
		t.Fatalf("%d entries", len(f.entries))
	}
	e := f.entries[0]
	if e.Source != "wirebridge.test" || e.DetailType != "UdpPacket" || e.EventBusName != "wirebridge-test" ||
		len(e.Resources) != 1 || e.Resources[0] != "conformance" {
		t.Fatalf("event entry %+v", e)
	}
	if e.Time == nil || int64(math.Round(*e.Time)) != targettest.Base.Truncate(time.Second).Unix() {
		t.Fatalf("time %v, want %d", e.Time, targettest.Base.Unix())
	}
	if !strings.HasPrefix(e.Detail, `{"Seq":1,`) {
		t.Fatalf("detail %s", e.Detail)
	}
	e = f.entries[1]
	if e.Source != "wirebridge" || e.DetailType != "wirebridge.Event" || e.Detail != `{"msg":"transformed","n":2}` || e.Time != nil {
		t.Fatalf("transformed entry %+v", e)
	}
	if !strings.HasPrefix(f.auth[0], "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(f.auth[0], "/eu-west-1/events/aws4_request") {
		t.Fatalf("request not SigV4-signed with the static key: %q", f.auth[0])
	}
}

func bodyOfSize(seq, detailBytes int) []byte {
	pad := strings.Repeat("a", detailBytes-len(`{"pad":""}`))
	return []byte(fmt.Sprintf(`{"source":"s","detail-type":"t","detail":{"pad":%q}}`, pad))
}

func TestSplitting(t *testing.T) {
	tests := []struct {
		name      string
		sizes     []int // detail bytes per delivery
		wantCalls []int // entries per call
	}{
		{"25 small entries: 10+10+5", repeat(100, 25), []int{10, 10, 5}},
		{"exactly 10", repeat(100, 10), []int{10}},
		{"by bytes: 3 x 100 KB", repeat(100_000, 3), []int{2, 1}},
		{"mixed: bytes then count", append(repeat(200_000, 1), repeat(1000, 12)...), []int{10, 3}},
		{"one entry at the limit", []int{MaxCallBytes - 2}, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeBus{}
			tg := newTarget(t, f)
			defer tg.Close()
			var b []handoff.Delivery
			for i, s := range tt.sizes {
				b = append(b, handoff.Delivery{ID: fmt.Sprint(i), Body: bodyOfSize(i, s)})
			}
			if err := tg.Send(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, c := range f.calls {
				got = append(got, len(c))
				total := 0
				for _, e := range c {
					total += len(e.Source) + len(e.DetailType) + len(e.Detail)
				}
				if total > MaxCallBytes {
					t.Fatalf("call of %d bytes", total)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantCalls) {
				t.Fatalf("calls %v, want %v", got, tt.wantCalls)
			}
			if len(f.entries) != len(tt.sizes) {
				t.Fatalf("%d entries arrived, want %d", len(f.entries), len(tt.sizes))
			}
		})
	}
}

func repeat(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name      string
		bodies    []string
		failEntry func(e wireEntry) (string, string)
		failCall  func(call int) (int, string)
		// per index: "" delivered, "p" permanent, "t" transient
		want      []string
		wantCalls int
	}{
		{
			name:      "per-entry failures",
			bodies:    []string{`{"n":0}`, `{"n":1,"bad":1}`, `{"n":2,"slow":1}`, `{"n":3}`},
			failEntry: codeFor,
			want:      []string{"", "p", "t", ""},
			wantCalls: 1,
		},
		{
			name:      "non-object bodies fail without a call",
			bodies:    []string{`[1,2]`, `"text"`, `not json`, `{"ok":1}`},
			want:      []string{"p", "p", "p", ""},
			wantCalls: 1,
		},
		{
			name:      "oversized entry",
			bodies:    []string{`{"ok":1}`, `{"pad":"` + strings.Repeat("x", MaxCallBytes) + `"}`},
			want:      []string{"", "p"},
			wantCalls: 1,
		},
		{
			name:      "throttled call stops the batch",
			bodies:    manyBodies(25),
			failCall:  func(call int) (int, string) { return map[int]int{1: 400}[call], "ThrottlingException" },
			want:      append(append(repeatS("", 10), repeatS("t", 10)...), repeatS("t", 5)...),
			wantCalls: 2,
		},
		{
			name:      "validation error is permanent and later calls go on",
			bodies:    manyBodies(15),
			failCall:  func(call int) (int, string) { return map[int]int{0: 400}[call], "ValidationException" },
			want:      append(repeatS("p", 10), repeatS("", 5)...),
			wantCalls: 2,
		},
		{
			name:      "server error is transient",
			bodies:    manyBodies(2),
			failCall:  func(int) (int, string) { return 500, "InternalException" },
			want:      []string{"t", "t"},
			wantCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeBus{failEntry: tt.failEntry, failCall: tt.failCall}
			tg := newTarget(t, f)
			defer tg.Close()
			var b []handoff.Delivery
			for i, s := range tt.bodies {
				b = append(b, handoff.Delivery{ID: fmt.Sprint(i), Body: []byte(s)})
			}
			err := tg.Send(context.Background(), b)
			var be *handoff.BatchError
			if !errors.As(err, &be) {
				t.Fatalf("got %v, want *handoff.BatchError", err)
			}
			for i, w := range tt.want {
				e := be.Failed[i]
				switch {
				case w == "" && e != nil:
					t.Errorf("delivery %d failed: %v", i, e)
				case w == "p" && (e == nil || !target.IsPermanent(e)):
					t.Errorf("delivery %d: %v, want permanent", i, e)
				case w == "t" && (e == nil || target.IsPermanent(e)):
					t.Errorf("delivery %d: %v, want transient", i, e)
				}
			}
			if len(f.calls) != tt.wantCalls {
				t.Errorf("%d calls, want %d", len(f.calls), tt.wantCalls)
			}
		})
	}
}

func codeFor(e wireEntry) (string, string) {
	switch {
	case strings.Contains(e.Detail, "bad"):
		return "MalformedDetail", "Detail is malformed."
	case strings.Contains(e.Detail, "slow"):
		return "ThrottlingException", "Rate exceeded."
	}
	return "", ""
}

func TestEntryErrorCarriesCodeAndMessage(t *testing.T) {
	f := &fakeBus{failEntry: codeFor}
	tg := newTarget(t, f)
	defer tg.Close()
	err := tg.Send(context.Background(), []handoff.Delivery{{ID: "1", Body: []byte(`{"bad":1}`)}})
	var ee *EntryError
	if !errors.As(err, &ee) || ee.Code != "MalformedDetail" || ee.Message != "Detail is malformed." || !target.IsPermanent(err) {
		t.Fatalf("got %v", err)
	}
}

func manyBodies(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf(`{"n":%d}`, i)
	}
	return s
}

func repeatS(v string, n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func TestDefaultCredentialChain(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
	t.Setenv("AWS_REGION", "us-east-2")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	f := &fakeBus{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	tg, err := New(Config{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Send(context.Background(), []handoff.Delivery{{ID: "1", Body: []byte(`{"a":1}`)}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.auth[0], "Credential=AKIDFROMENV/") || !strings.Contains(f.auth[0], "/us-east-2/events/") {
		t.Fatalf("authorization %q", f.auth[0])
	}
	if f.entries[0].EventBusName != "default" {
		t.Fatalf("bus %q", f.entries[0].EventBusName)
	}
}

func TestNewErrors(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"key without secret", Config{Region: "x", AccessKeyID: "a"}, "go together"},
		{"no region", Config{}, "no region"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want %q", err, tt.want)
			}
		})
	}
}
