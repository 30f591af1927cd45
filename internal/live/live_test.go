package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/wirebridge/wirebridge/pattern"
)

func runNATS(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t *testing.T, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func newHub(t *testing.T, cfg HubConfig) *Hub {
	t.Helper()
	h, err := NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func ev(n int) Item {
	return Item{Event: fmt.Appendf(nil, `{"n":%d,"detail":{"Protocol":"%s"}}`, n, map[bool]string{true: "udp", false: "tcp"}[n%2 == 0])}
}

func items(from, to int) []Item {
	var out []Item
	for i := from; i < to; i++ {
		out = append(out, ev(i))
	}
	return out
}

// collect reads from s until it has want events or the deadline passes.
func collect(t *testing.T, s *Subscriber, want int) ([]int, uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got []int
	var dropped uint64
	for len(got) < want {
		es, d, err := s.Next(ctx, nil, 1000)
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(got), want, err)
		}
		dropped = d
		for _, e := range es {
			var v struct{ N int }
			if err := json.Unmarshal(EventOf(e.Line), &v); err != nil {
				t.Fatal(err)
			}
			got = append(got, v.N)
		}
	}
	return got, dropped
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestChannels(t *testing.T) {
	tests := []struct {
		name     string
		ch       string
		channel  bool
		wildcard bool
	}{
		{"simple", "/packets/capture", true, true},
		{"one segment", "/a", true, true},
		{"wildcard", "/packets/*", false, true},
		{"root wildcard", "/*", false, true},
		{"no slash", "packets", false, false},
		{"empty segment", "/a//b", false, false},
		{"trailing slash", "/a/", false, false},
		{"wildcard inside", "/a/*/b", false, false},
		{"dot", "/a.b", false, false},
		{"nine segments", "/a/b/c/d/e/f/g/h/i", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckChannel(tt.ch) == nil; got != tt.channel {
				t.Errorf("CheckChannel(%q) ok = %v, want %v", tt.ch, got, tt.channel)
			}
			if got := CheckSubscription(tt.ch) == nil; got != tt.wildcard {
				t.Errorf("CheckSubscription(%q) ok = %v, want %v", tt.ch, got, tt.wildcard)
			}
		})
	}
	covers := []struct {
		sub, ch string
		want    bool
	}{
		{"/packets/*", "/packets/capture", true},
		{"/packets/*", "/packets/a/b", true},
		{"/packets/*", "/packets", false},
		{"/packets/*", "/packetsx/a", false},
		{"/packets/all", "/packets/all", true},
		{"/packets/all", "/packets/other", false},
		{"/*", "/x/y", true},
	}
	for _, c := range covers {
		if got := Covers(c.sub, c.ch); got != c.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", c.sub, c.ch, got, c.want)
		}
	}
	if s := Subject("/packets/all"); s != "wirebridge.live.packets.all" {
		t.Errorf("Subject = %q", s)
	}
	if c := ChannelOf("wirebridge.live.packets.all"); c != "/packets/all" {
		t.Errorf("ChannelOf = %q", c)
	}
	if c := ChannelOf("wirebridge.deliver.x"); c != "" {
		t.Errorf("ChannelOf(deliver) = %q", c)
	}
}

func TestItemRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 21, 20, 40, 15, 123456000, time.UTC)
	it := Item{Event: []byte(`{"a":"x\"y"}`), Frame: []byte{0, 1, 2, 255}, LinkType: 1, OrigLen: 60, Time: ts}
	line := AppendItem(nil, &it)
	if !json.Valid(line) {
		t.Fatalf("not JSON: %s", line)
	}
	if string(EventOf(line)) != `{"a":"x\"y"}` {
		t.Errorf("EventOf = %s", EventOf(line))
	}
	got, err := DecodeItem(line)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Frame) != string(it.Frame) || got.LinkType != 1 || got.OrigLen != 60 || !got.Time.Equal(ts) {
		t.Errorf("round trip = %+v", got)
	}
	for _, bad := range []string{"", "{", `{"x":1}`, "[1]"} {
		if EventOf([]byte(bad)) != nil {
			t.Errorf("EventOf(%q) != nil", bad)
		}
	}
	c, err := CompactEvent([]byte("\"{\\\"a\\\": 1}\""))
	if err != nil || string(c) != `{"a":1}` {
		t.Errorf("CompactEvent(string) = %s, %v", c, err)
	}
	if _, err := CompactEvent([]byte("{")); err == nil {
		t.Error("CompactEvent accepted invalid JSON")
	}
}

// TestFanOutOverNATS: two hubs on one NATS server (two wirebridge
// processes): an event published on one reaches subscribers of both, exact
// and wildcard, and not subscribers of other channels.
func TestFanOutOverNATS(t *testing.T) {
	ns := runNATS(t)
	a := newHub(t, HubConfig{Conn: connect(t, ns)})
	b := newHub(t, HubConfig{Conn: connect(t, ns)})

	exact, _ := b.NewSubscriber("exact")
	wild, _ := b.NewSubscriber("wild")
	other, _ := a.NewSubscriber("other")
	local, _ := a.NewSubscriber("local")
	must(t, exact.Subscribe(&Subscription{ID: "1", Channel: "/packets/capture"}))
	must(t, wild.Subscribe(&Subscription{ID: "1", Channel: "/packets/*"}))
	must(t, other.Subscribe(&Subscription{ID: "1", Channel: "/alerts/x"}))
	must(t, local.Subscribe(&Subscription{ID: "1", Channel: "/packets/capture"}))

	must(t, a.Publish("/packets/capture", items(0, 50)))
	must(t, a.Publish("/packets/capture", items(50, 100)))
	for name, s := range map[string]*Subscriber{"exact": exact, "wild": wild, "local": local} {
		if got, _ := collect(t, s, 100); !equal(got, seq(0, 100)) {
			t.Errorf("%s got %v", name, got)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if es, _, err := other.Next(ctx, nil, 10); len(es) != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("subscriber of another channel got %d events, err %v", len(es), err)
	}
	chs := b.Channels()
	if len(chs) != 1 || chs[0].Channel != "/packets/capture" || chs[0].Events != 100 || chs[0].Subscribers != 2 {
		t.Errorf("channels on b = %+v", chs)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestReplayForLateJoiners(t *testing.T) {
	tests := []struct {
		name    string
		replay  int
		publish int
		want    []int
	}{
		{"fewer than the buffer", 10, 4, seq(0, 4)},
		{"buffer wrapped", 10, 25, seq(15, 25)},
		{"no replay", 0, 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t, HubConfig{Replay: tt.replay})
			for i := 0; i < tt.publish; i++ {
				must(t, h.Publish("/packets/all", items(i, i+1)))
			}
			must(t, h.Publish("/other/x", items(1000, 1001)))
			s, _ := h.NewSubscriber("late")
			must(t, s.Subscribe(&Subscription{ID: "1", Channel: "/packets/*"}))
			must(t, h.Publish("/packets/all", items(500, 501)))
			got, _ := collect(t, s, len(tt.want)+1)
			if want := append(tt.want, 500); !equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// TestNegativeReplayRefused: 0 means no replay, as in the configuration
// (which refuses negative values); a negative value is a mistake.
func TestNegativeReplayRefused(t *testing.T) {
	if h, err := NewHub(HubConfig{Replay: -1}); err == nil || !strings.Contains(err.Error(), "must not be negative") {
		if h != nil {
			h.Close()
		}
		t.Fatalf("NewHub(Replay: -1): %v, want an error", err)
	}
}

// TestSlowSubscriberDrops: a subscriber that does not read loses its oldest
// events, counted; the publisher never waits, and a fast subscriber on the
// same hub gets everything.
func TestSlowSubscriberDrops(t *testing.T) {
	ns := runNATS(t)
	const total = 20000
	h := newHub(t, HubConfig{Conn: connect(t, ns), QueueSize: 64})
	slow, _ := h.NewSubscriber("slow")
	fast, _ := h.NewSubscriberQueue("fast", total)
	must(t, slow.Subscribe(&Subscription{ID: "1", Channel: "/p/all"}))
	must(t, fast.Subscribe(&Subscription{ID: "1", Channel: "/p/all"}))

	start := time.Now()
	for i := 0; i < total; i += 100 {
		must(t, h.Publish("/p/all", items(i, i+100)))
	}
	publishTook := time.Since(start)
	if got, dropped := collect(t, fast, total); !equal(got, seq(0, total)) || dropped != 0 {
		t.Fatalf("fast subscriber got %d events, not 0..%d in order", len(got), total)
	}
	// everything has been dispatched once the fast one has it all
	got, dropped := collect(t, slow, 64)
	if dropped != total-64 {
		t.Errorf("slow subscriber dropped %d, want %d", dropped, total-64)
	}
	if !equal(got, seq(total-64, total)) {
		t.Errorf("slow subscriber kept %v, want the newest 64", got)
	}
	if st := slow.Stats(); st.Dropped != total-64 || st.Sent != 64 {
		t.Errorf("slow stats = %+v", st)
	}
	t.Logf("published %d events in %v while one subscriber read nothing", total, publishTook)
}

func TestFilters(t *testing.T) {
	h := newHub(t, HubConfig{})
	s, _ := h.NewSubscriber("f")
	udp := pattern.MustCompile(`{"detail":{"Protocol":["udp"]}}`)
	small := pattern.MustCompile(`{"n":[{"numeric":["<",10]}]}`)
	must(t, s.Subscribe(&Subscription{ID: "udp", Channel: "/p/a", Filter: udp}))
	must(t, s.Subscribe(&Subscription{ID: "bound", Channel: "/p/a", Filter: udp, Bound: small}))
	must(t, h.Publish("/p/a", items(0, 20)))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	byID := map[string][]int{}
	for n := 0; n < 15; {
		es, _, err := s.Next(ctx, nil, 100)
		must(t, err)
		for _, e := range es {
			var v struct{ N int }
			json.Unmarshal(EventOf(e.Line), &v)
			byID[e.Sub.ID] = append(byID[e.Sub.ID], v.N)
			n++
		}
	}
	if want := []int{0, 2, 4, 6, 8, 10, 12, 14, 16, 18}; !equal(byID["udp"], want) {
		t.Errorf("udp = %v, want %v", byID["udp"], want)
	}
	if want := []int{0, 2, 4, 6, 8}; !equal(byID["bound"], want) {
		t.Errorf("bound = %v, want %v", byID["bound"], want)
	}
	if !s.Unsubscribe("udp") || s.Unsubscribe("udp") {
		t.Error("unsubscribe")
	}
}

// otherTrailingBits returns the base64url digit that differs from d only in
// the two low bits, which a 32-byte signature's last digit does not use.
func otherTrailingBits(d string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return string(alphabet[strings.Index(alphabet, d)^1])
}

func TestShareTokens(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "live", "share.key")
	a := NewAuth(nil, FileKey(keyFile), clock)
	tok, c, err := a.Sign("/packets/all", `{"detail":{"Protocol":["udp"]}}`, time.Hour)
	must(t, err)
	if !c.Expires.Equal(now.Add(time.Hour)) {
		t.Errorf("expires %v", c.Expires)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", st, err)
	}
	p, err := a.Authenticate(tok)
	must(t, err)
	if p.Scopes != ScopeSubscribe || p.Share.Channel != "/packets/all" || p.Share.Filter != `{"detail":{"Protocol":["udp"]}}` {
		t.Errorf("principal %+v %+v", p, p.Share)
	}
	if !p.Allows("/packets/all") || p.Allows("/packets/other") || p.Allows("/packets/*") || p.Scopes.Has(ScopePublish) {
		t.Error("share token scope too wide")
	}
	body, sig, _ := strings.Cut(tok[len(tokenPrefix):], ".")
	forged := tokenPrefix + body[:len(body)-2] + "xx." + sig
	cases := []struct {
		name string
		tok  string
		at   time.Time
	}{
		{"expired", tok, now.Add(time.Hour)},
		{"forged claims", forged, now},
		{"bad signature", tok[:len(tok)-3] + "AAA", now},
		{"truncated", tok[:20], now},
		{"garbage", "wbs1.!!!.###", now},
		// Other spellings of the same signature bytes: one form per token.
		{"newline in signature", tok[:len(tok)-10] + "\n" + tok[len(tok)-10:], now},
		{"carriage return in signature", tok[:len(tok)-4] + "\r\n" + tok[len(tok)-4:], now},
		{"trailing newline", tok + "\n", now},
		{"signature with padding", tok + "=", now},
		{"other trailing bits", tok[:len(tok)-1] + otherTrailingBits(tok[len(tok)-1:]), now},
		{"empty", "", now},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now = tc.at
			defer func() { now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) }()
			if _, err := a.Authenticate(tc.tok); !errors.Is(err, ErrUnauthorized) {
				t.Errorf("err = %v, want unauthorized", err)
			}
		})
	}
	// Rotation revokes every link signed before, at once.
	time.Sleep(10 * time.Millisecond) // a different mtime
	must(t, RotateKeyFile(keyFile))
	if _, err := a.Authenticate(tok); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("after rotation: err = %v, want unauthorized", err)
	}
	tok2, _, err := a.Sign("/packets/all", "", time.Minute)
	must(t, err)
	if _, err := a.Authenticate(tok2); err != nil {
		t.Errorf("new token after rotation: %v", err)
	}
	// Another Auth on the same file (wirebridge share and serve) agrees.
	b := NewAuth(nil, FileKey(keyFile), clock)
	if _, err := b.Authenticate(tok2); err != nil {
		t.Errorf("second reader of the key file: %v", err)
	}
	if _, _, err := a.Sign("/bad channel", "", time.Minute); err == nil {
		t.Error("signed an invalid channel")
	}
	if _, _, err := a.Sign("/a", "{not a pattern", time.Minute); err == nil {
		t.Error("signed an invalid filter")
	}
}

func TestAPIKeys(t *testing.T) {
	keys := []APIKey{
		{Name: "pub", Key: "pub-0123456789abcdef", Scopes: ScopePublish},
		{Name: "sub", Key: "sub-0123456789abcdef", Scopes: ScopeSubscribe},
		{Name: "adm", Key: "adm-0123456789abcdef", Scopes: ScopeAdmin},
	}
	a := NewAuth(keys, nil, nil)
	tests := []struct {
		cred string
		name string
		pub  bool
		sub  bool
	}{
		{"pub-0123456789abcdef", "pub", true, false},
		{"sub-0123456789abcdef", "sub", false, true},
		{"adm-0123456789abcdef", "adm", true, true},
	}
	for _, tt := range tests {
		p, err := a.Authenticate(tt.cred)
		must(t, err)
		if p.Name != tt.name || p.Scopes.Has(ScopePublish) != tt.pub || p.Scopes.Has(ScopeSubscribe) != tt.sub {
			t.Errorf("%s: %+v", tt.name, p)
		}
	}
	for _, bad := range []string{"pub-0123456789abcde", "pub-0123456789abcdeff", "", "wbs1.a.b"} {
		if _, err := a.Authenticate(bad); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

// testServer is the live API on httptest, with keys of each scope.
type testServer struct {
	*httptest.Server
	hub  *Hub
	auth *Auth
	now  atomic.Pointer[time.Time]
}

func newTestServer(t *testing.T, hub *Hub) *testServer {
	ts := &testServer{hub: hub}
	n := time.Now()
	ts.now.Store(&n)
	ts.auth = NewAuth([]APIKey{
		{Name: "pub", Key: "pub-0123456789abcdef", Scopes: ScopePublish},
		{Name: "sub", Key: "sub-0123456789abcdef", Scopes: ScopeSubscribe},
		{Name: "adm", Key: "adm-0123456789abcdef", Scopes: ScopeAdmin},
	}, StaticKey([]byte("0123456789abcdef0123456789abcdef")), func() time.Time { return *ts.now.Load() })
	ts.Server = httptest.NewServer(NewServer(ServerConfig{Hub: hub, Auth: ts.auth}).Handler())
	t.Cleanup(ts.Close)
	return ts
}

func (ts *testServer) do(t *testing.T, method, path, cred, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io_copy(&b, resp)
	return resp.StatusCode, b.String()
}

func TestHTTPAPI(t *testing.T) {
	ts := newTestServer(t, newHub(t, HubConfig{}))
	share, _, err := ts.auth.Sign("/packets/all", "", time.Hour)
	must(t, err)
	pubBody := `{"channel":"/packets/all","events":[{"n":1},"{\"n\":2}"]}`
	tests := []struct {
		name, method, path, cred, body string
		code                           int
		bodyIs                         string
	}{
		{"publish with publish key", "POST", "/api/events", "pub-0123456789abcdef", pubBody, 200, ""},
		{"publish with admin key", "POST", "/api/events", "adm-0123456789abcdef", pubBody, 200, ""},
		{"publish with subscribe key", "POST", "/api/events", "sub-0123456789abcdef", pubBody, 403, "forbidden\n"},
		{"publish with share token", "POST", "/api/events", share, pubBody, 403, "forbidden\n"},
		{"publish with wrong key", "POST", "/api/events", "nope-0123456789abcdef", pubBody, 401, "unauthorized\n"},
		{"publish without key", "POST", "/api/events", "", pubBody, 401, "unauthorized\n"},
		{"publish bad channel", "POST", "/api/events", "pub-0123456789abcdef", `{"channel":"nope","events":[{}]}`, 400, ""},
		{"publish bad event", "POST", "/api/events", "pub-0123456789abcdef", `{"channel":"/a","events":["{"]}`, 400, ""},
		{"publish no events", "POST", "/api/events", "pub-0123456789abcdef", `{"channel":"/a","events":[]}`, 400, ""},
		{"channels with share", "GET", "/api/channels", share, "", 200, ""},
		{"channels with publish key", "GET", "/api/channels", "pub-0123456789abcdef", "", 403, "forbidden\n"},
		{"channels of another channel with share", "GET", "/api/channels?channel=/other", share, "", 403, "forbidden\n"},
		{"channels of its channel with share", "GET", "/api/channels?channel=/packets/all", share, "", 200, ""},
		{"subscribers with subscribe key", "GET", "/api/subscribers", "sub-0123456789abcdef", "", 403, "forbidden\n"},
		{"subscribers with admin", "GET", "/api/subscribers", "adm-0123456789abcdef", "", 200, ""},
		{"share another channel with share", "POST", "/api/share", share, `{"channel":"/other"}`, 403, "forbidden\n"},
		{"share same channel with share", "POST", "/api/share", share, `{"ttl":"10m"}`, 200, ""},
		{"share beyond the maximum ttl", "POST", "/api/share", "adm-0123456789abcdef", `{"channel":"/x","ttl":"721h"}`, 400, `{"error":"ttl: 721h0m0s is longer than the maximum 720h0m0s (live.share_max_ttl)"}` + "\n"},
		{"share with admin", "POST", "/api/share", "adm-0123456789abcdef", `{"channel":"/x/*","filter":{"a":["b"]}}`, 200, ""},
		{"share bad filter", "POST", "/api/share", "adm-0123456789abcdef", `{"channel":"/x","filter":{"a":"b"}}`, 400, ""},
		{"share with publish key", "POST", "/api/share", "pub-0123456789abcdef", `{"channel":"/x"}`, 403, "forbidden\n"},
		{"ws without token", "GET", "/ws", "", "", 401, "unauthorized\n"},
		{"ws with publish key", "GET", "/ws", "pub-0123456789abcdef", "", 403, "forbidden\n"},
		{"ws share for another channel", "GET", "/ws?channel=/other", share, "", 403, "forbidden\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := ts.do(t, tt.method, tt.path, tt.cred, tt.body)
			if code != tt.code {
				t.Errorf("status %d, want %d (%s)", code, tt.code, body)
			}
			if tt.bodyIs != "" && body != tt.bodyIs {
				t.Errorf("body %q, want %q", body, tt.bodyIs)
			}
		})
	}
	code, body := ts.do(t, "GET", "/api/channels", share, "")
	if code != 200 || !strings.Contains(body, `"channel":"/packets/all","events":4`) {
		t.Errorf("channels: %d %s", code, body)
	}
	// A share link minted by a share holder lives no longer than its own.
	code, body = ts.do(t, "POST", "/api/share", share, `{"ttl":"100h"}`)
	var sr ShareResponse
	json.Unmarshal([]byte(body), &sr)
	c, err := ts.auth.Verify(sr.Token)
	if code != 200 || err != nil || c.Channel != "/packets/all" || c.Expires.After(time.Now().Add(time.Hour+time.Second)) {
		t.Errorf("re-share: %d %s %v %+v", code, body, err, c)
	}
	if !strings.HasPrefix(sr.URL, ts.URL+"/#token=wbs1.") {
		t.Errorf("share url %q", sr.URL)
	}
	// Expired share: 401.
	later := time.Now().Add(2 * time.Hour)
	ts.now.Store(&later)
	if code, body := ts.do(t, "GET", "/api/channels", share, ""); code != 401 || body != "unauthorized\n" {
		t.Errorf("expired share: %d %q", code, body)
	}
}

func dial(t *testing.T, ctx context.Context, url string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, code)
	}
	c.SetReadLimit(4 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func readMsg(t *testing.T, ctx context.Context, c *websocket.Conn) map[string]any {
	t.Helper()
	_, b, err := c.Read(ctx)
	must(t, err)
	var m map[string]any
	must(t, json.Unmarshal(b, &m))
	return m
}

func send(t *testing.T, ctx context.Context, c *websocket.Conn, v any) {
	b, _ := json.Marshal(v)
	must(t, c.Write(ctx, websocket.MessageText, b))
}

// TestWebSocket: a share token holder subscribes to its channel (filter
// enforced), is refused another channel, and receives what the publish key
// posts, with replay first.
func TestWebSocket(t *testing.T) {
	ns := runNATS(t)
	ts := newTestServer(t, newHub(t, HubConfig{Conn: connect(t, ns), Replay: 100}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ts.do(t, "POST", "/api/events", "pub-0123456789abcdef", `{"channel":"/packets/all","events":[{"n":1,"p":"udp"},{"n":2,"p":"tcp"}]}`)

	share, _, _ := ts.auth.Sign("/packets/all", `{"p":["udp"]}`, time.Hour)
	wsURL := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws?channel=/packets/all&token=" + share
	c := dial(t, ctx, wsURL)
	ack := readMsg(t, ctx, c)
	if ack["type"] != "connection_ack" || ack["share"].(map[string]any)["channel"] != "/packets/all" {
		t.Fatalf("ack = %v", ack)
	}
	send(t, ctx, c, map[string]any{"type": "subscribe", "id": "x", "channel": "/packets/other"})
	if m := readMsg(t, ctx, c); m["type"] != "subscribe_error" || m["status"] != 403.0 {
		t.Errorf("other channel: %v", m)
	}
	send(t, ctx, c, map[string]any{"type": "subscribe", "id": "s1", "channel": "/packets/all"})
	var got []float64
	for len(got) < 2 {
		m := readMsg(t, ctx, c)
		switch m["type"] {
		case "subscribe_success":
			ts.do(t, "POST", "/api/events", "pub-0123456789abcdef", `{"channel":"/packets/all","events":[{"n":3,"p":"tcp"},{"n":4,"p":"udp"}]}`)
		case "data":
			if m["id"] != "s1" || m["channel"] != "/packets/all" || m["dropped"] != 0.0 {
				t.Errorf("data = %v", m)
			}
			for _, it := range m["items"].([]any) {
				got = append(got, it.(map[string]any)["event"].(map[string]any)["n"].(float64))
			}
		default:
			t.Fatalf("unexpected %v", m)
		}
	}
	if len(got) != 2 || got[0] != 1 || got[1] != 4 {
		t.Errorf("share subscriber got %v, want [1 4] (replay, then live, udp only)", got)
	}
	// A subscribe key with its own filter.
	c2 := dial(t, ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws?token=sub-0123456789abcdef")
	readMsg(t, ctx, c2)
	send(t, ctx, c2, map[string]any{"type": "subscribe", "id": "w", "channel": "/packets/*", "filter": `{"p":["tcp"]}`})
	if m := readMsg(t, ctx, c2); m["type"] != "subscribe_success" {
		t.Fatalf("subscribe: %v", m)
	}
	m := readMsg(t, ctx, c2)
	items := m["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["event"].(map[string]any)["n"] != 2.0 {
		t.Errorf("tcp replay = %v", m)
	}
	send(t, ctx, c2, map[string]any{"type": "subscribe", "id": "bad", "channel": "/a", "filter": `{"p":"x"}`})
	if m := readMsg(t, ctx, c2); m["type"] != "subscribe_error" || m["status"] != 400.0 {
		t.Errorf("bad filter: %v", m)
	}
}

// TestShareTokenLivesItsTTL: a token's expiry is a whole second (its exp
// claim), so it must not be rounded down: a link signed at 12:00:00.999 for
// 1s was expired before it was printed (wirebridge share --ttl 1ns then said
// the server signs with another key). A ttl under a second is refused.
func TestShareTokenLivesItsTTL(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 999_000_000, time.UTC)
	a := NewAuth(nil, FileKey(filepath.Join(t.TempDir(), "share.key")), func() time.Time { return now })
	for _, ttl := range []time.Duration{time.Second, 1500 * time.Millisecond, time.Hour} {
		signed := now
		tok, c, err := a.Sign("/packets/all", "", ttl)
		must(t, err)
		if c.Expires.Before(signed.Add(ttl)) {
			t.Errorf("ttl %s: expires %s, before %s", ttl, c.Expires, signed.Add(ttl))
		}
		now = signed.Add(ttl - time.Millisecond)
		if _, err := a.Authenticate(tok); err != nil {
			t.Errorf("ttl %s: 1ms before its ttl ends: %v", ttl, err)
		}
		now = signed
	}
	for _, ttl := range []time.Duration{time.Nanosecond, 500 * time.Millisecond} {
		if _, _, err := a.Sign("/packets/all", "", ttl); err == nil || !strings.Contains(err.Error(), "1s") {
			t.Errorf("ttl %s: err = %v, want a refusal naming the 1s minimum", ttl, err)
		}
	}
}
