package stdout

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/target"
	"github.com/wirebridge/wirebridge/internal/target/targettest"
)

// lockedBuffer is a bytes.Buffer safe for the concurrent test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// readLines decodes NDJSON output back into bodies.
func readLines(out []byte) ([][]byte, error) {
	var got [][]byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		b, err := target.DecodeValue(sc.Bytes())
		if err != nil {
			return nil, err
		}
		got = append(got, b)
	}
	return got, sc.Err()
}

// readValues decodes pretty output, a stream of indented JSON values, back
// into bodies. Each value is compacted first (as the NDJSON form is).
func readValues(out []byte) ([][]byte, error) {
	var got [][]byte
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var v json.RawMessage
		if err := dec.Decode(&v); err == io.EOF {
			return got, nil
		} else if err != nil {
			return nil, err
		}
		var c bytes.Buffer
		if err := json.Compact(&c, v); err != nil {
			return nil, err
		}
		b, err := target.DecodeValue(c.Bytes())
		if err != nil {
			return nil, err
		}
		got = append(got, b)
	}
}

func TestConformance(t *testing.T) {
	targettest.Run(t, func(t *testing.T) targettest.Instance {
		var buf lockedBuffer
		tg, err := New(Config{Writer: &buf})
		if err != nil {
			t.Fatal(err)
		}
		return targettest.Instance{
			Target:    tg,
			Delivered: func() ([][]byte, error) { return readLines(buf.Bytes()) },
		}
	})
}

func TestConformancePretty(t *testing.T) {
	targettest.Run(t, func(t *testing.T) targettest.Instance {
		var buf lockedBuffer
		tg, err := New(Config{Writer: &buf, Pretty: true})
		if err != nil {
			t.Fatal(err)
		}
		return targettest.Instance{
			Target:    tg,
			Delivered: func() ([][]byte, error) { return readValues(buf.Bytes()) },
			// JSON bodies arrive with the same meaning, compacted.
			Expect: func(d handoff.Delivery) []byte {
				if !json.Valid(d.Body) {
					return d.Body
				}
				var c bytes.Buffer
				_ = json.Compact(&c, d.Body)
				return c.Bytes()
			},
		}
	})
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestSend(t *testing.T) {
	tests := []struct {
		name    string
		pretty  bool
		bodies  []string
		w       func() (interface{ Write([]byte) (int, error) }, func() string)
		want    string
		wantErr string
	}{
		{
			name:   "json and text lines",
			bodies: []string{`{"a":1}`, "hello\n"},
			want:   "{\"a\":1}\n\"hello\\n\"\n",
		},
		{
			name:   "multi-line json is compacted",
			bodies: []string{"{\n \"a\": 1\n}"},
			want:   "{\"a\":1}\n",
		},
		{
			name:   "pretty: json indented, text and binary as in ndjson",
			pretty: true,
			bodies: []string{`{"a":1,"b":{"c":[1,2]},"d":[]}`, "hello\n", "\xff\x00"},
			want: "{\n  \"a\": 1,\n  \"b\": {\n    \"c\": [\n      1,\n      2\n    ]\n  },\n  \"d\": []\n}\n" +
				"\"hello\\n\"\n" +
				"{\n  \"base64\": \"/wA=\"\n}\n",
		},
		{
			name:   "pretty: multi-line json re-indented",
			pretty: true,
			bodies: []string{"{\n\t\"a\":   1}", "[ ]"},
			want:   "{\n  \"a\": 1\n}\n[]\n",
		},
		{
			name:    "write error is reported",
			bodies:  []string{`{}`},
			wantErr: "stdout target: write: disk on fire",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			cfg := Config{Writer: &buf, Pretty: tt.pretty}
			if tt.wantErr != "" {
				cfg.Writer = failWriter{}
			}
			tg, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var b []handoff.Delivery
			for _, s := range tt.bodies {
				b = append(b, handoff.Delivery{Body: []byte(s)})
			}
			err = tg.Send(context.Background(), b)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if target.IsPermanent(err) {
					t.Fatal("write error must be transient")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want {
				t.Fatalf("output %q, want %q", buf.String(), tt.want)
			}
		})
	}
}
