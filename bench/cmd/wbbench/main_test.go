package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCountEvents(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		want                    int64
		wantErr                 bool
	}{
		{name: "empty", contentType: "application/json", body: "", want: 0},
		{name: "one event", contentType: "application/json", body: `{"version":"0"}`, want: 1},
		{name: "json array", contentType: "application/json", body: `[{"a":1},{"b":[1,2]},{"c":"]"}]`, want: 3},
		{name: "empty array", contentType: "application/json", body: `[]`, want: 0},
		{name: "ndjson with final newline", contentType: "application/x-ndjson", body: "{\"a\":1}\n{\"a\":2}\n", want: 2},
		{name: "ndjson without final newline", contentType: "application/x-ndjson", body: "{\"a\":1}\n{\"a\":2}", want: 2},
		{name: "broken array", contentType: "application/json", body: `[{"a":1},`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := countEvents(tc.contentType, []byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %d events, want %d", got, tc.want)
			}
		})
	}
}

func TestScrape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# HELP x y\n# TYPE wirebridge_source_received_total counter\n"+
			"wirebridge_source_received_total{source=\"bench\"} 1.234567e+06\n"+
			"wirebridge_source_dropped_total{reason=\"queue_full\",source=\"bench\"} 7\n"+
			"wirebridge_pipeline_queued_packets 0\n")
	}))
	defer srv.Close()
	m, err := scrape(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for series, want := range map[string]float64{
		`wirebridge_source_received_total{source="bench"}`:                    1234567,
		`wirebridge_source_dropped_total{reason="queue_full",source="bench"}`: 7,
		`wirebridge_pipeline_queued_packets`:                                  0,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if len(m) != 3 {
		t.Errorf("%d series, want 3: %v", len(m), m)
	}
}

func TestFileWatcherCountsAppendedLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.ndjson")
	w, err := newWatcher("file:" + path)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w(); err != nil || n != 0 {
		t.Fatalf("missing file: %d, %v; want 0, nil", n, err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, chunk := range []string{"{}\n{}\n", "{\"partial", "\":1}\n", ""} {
		if _, err := f.WriteString(chunk); err != nil {
			t.Fatal(err)
		}
		n, err := w()
		if err != nil {
			t.Fatal(err)
		}
		want := []uint64{2, 2, 3, 3}[i]
		if n != want {
			t.Errorf("after chunk %d: %d lines, want %d", i, n, want)
		}
	}
}

// TestSendDeliversCount sends a paced, fixed count over loopback to a socket
// of the test's own and checks the count, not the timing.
func TestSendDeliversCount(t *testing.T) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// Room for all 500 (about 1 KiB each with overhead) even if this reader lags.
	if err := pc.SetReadBuffer(4 << 20); err != nil {
		t.Fatal(err)
	}
	got := make(chan int)
	go func() {
		buf := make([]byte, 2048)
		n := 0
		for {
			pc.SetReadDeadline(time.Now().Add(2 * time.Second))
			l, _, err := pc.ReadFromUDP(buf)
			if err != nil {
				got <- n
				return
			}
			if l != 100 {
				t.Errorf("datagram of %d bytes, want 100", l)
			}
			n++
		}
	}()
	res, err := send(context.Background(), sendFlags{
		to: pc.LocalAddr().String(), rate: 20000, count: 500, flows: 3, size: 100, batch: 16, burst: 64,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.sent != 500 {
		t.Errorf("sent %d, want 500", res.sent)
	}
	if n := <-got; n != 500 {
		t.Errorf("received %d, want 500 (loopback, all fit the socket buffer)", n)
	}
}

func TestSendNeedsAnEnd(t *testing.T) {
	if _, err := send(context.Background(), sendFlags{to: "127.0.0.1:9", flows: 1, size: 1, batch: 1, burst: 1}, nil); err == nil {
		t.Error("send without -count or -duration: no error")
	}
}
