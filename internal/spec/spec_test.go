package spec

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestJoinKey(t *testing.T) {
	tests := []struct {
		name, path, key, want string
	}{
		{"plain", "targets[0].headers", "X-Api-Key", "targets[0].headers.X-Api-Key"},
		{"root", "", "data_dir", "data_dir"},
		{"space quoted", "headers", "Bad Header", `headers["Bad Header"]`},
		{"dot quoted", "a", "x.y", `a["x.y"]`},
		{"empty quoted", "a", "", `a[""]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := JoinKey(tt.path, tt.key); got != tt.want {
				t.Errorf("JoinKey(%q, %q) = %q, want %q", tt.path, tt.key, got, tt.want)
			}
		})
	}
}

// problems runs check on a new Checker and returns "path: msg" lines.
func problems(check func(c *Checker)) []string {
	c := &Checker{}
	check(c)
	var out []string
	for _, p := range c.Problems() {
		out = append(out, p.Path+": "+p.Msg)
	}
	return out
}

func TestChecker(t *testing.T) {
	tests := []struct {
		name  string
		check func(c *Checker)
		want  []string
	}{
		{"one of ok", func(c *Checker) { c.OneOf("m", "POST", "POST", "PUT") }, nil},
		{"one of bad", func(c *Checker) { c.OneOf("m", "GET", "POST", "PUT") }, []string{`m: invalid value "GET" (want one of POST, PUT)`}},
		{"positive", func(c *Checker) { c.Positive("t", 0); c.Positive("u", time.Second) }, []string{"t: must be a positive duration"}},
		{"int range", func(c *Checker) { c.IntRange("n", 0, 1, 5); c.IntRange("k", 5, 1, 5) }, []string{"n: 0 is out of range (want 1 to 5)"}},
		{"errorf", func(c *Checker) { c.Errorf("a.b", "%d things", 3) }, []string{"a.b: 3 things"}},
		{"rotate", func(c *Checker) { Rotate{Size: 10, Interval: time.Millisecond}.Check(c, "") }, []string{"rotate.size: 10B is less than 4KiB", "rotate.interval: 1ms is less than 1s"}},
		{"rotate negative under path", func(c *Checker) { Rotate{Size: -1}.Check(c, "x") }, []string{"x.rotate.size: must not be negative"}},
		{"rotate off", func(c *Checker) { Rotate{}.Check(c, "") }, nil},
		{"recv buffer", func(c *Checker) { CheckRecvBuffer(c, 3*GiB) }, []string{"recv_buffer: 3GiB is out of range (want 0 to 2GiB)"}},
		{"nats urls", func(c *Checker) { CheckNATSURLs(c, "urls", []string{"nats://a:4222", "http://b", "tls://", ""}) }, []string{
			`urls[1]: invalid NATS URL "http://b": scheme must be nats, tls, ws or wss`,
			`urls[2]: invalid NATS URL "tls://": no host`,
			`urls[3]: invalid URL ""`,
		}},
		{"tls pair", func(c *Checker) { (&TLS{CertFile: "c.pem"}).Check(c, "tls") }, []string{"tls: cert_file and key_file go together: give both or neither"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(tt.check)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckAddresses(t *testing.T) {
	tests := []struct {
		name    string
		check   func(string) error
		in      string
		wantErr string
	}{
		{"dial ok", CheckDial, "shadow.internal:8080", ""},
		{"dial no host", CheckDial, ":8080", "want host:port"},
		{"dial port 0", CheckDial, "a:0", "port must be a number from 1 to 65535"},
		{"url ok", CheckHTTPURL, "https://example.com/x", ""},
		{"url scheme", CheckHTTPURL, "ftp://x", "scheme must be http or https"},
		{"url no host", CheckHTTPURL, "http://", "no host"},
		{"url credentials redacted", CheckHTTPURL, "https://user:hunter2@example.com/", "REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check(tt.in)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("%q: %v", tt.in, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("%q: error %v, want one containing %q", tt.in, err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), "hunter2"):
				t.Errorf("%q: the error reveals the password: %v", tt.in, err)
			}
		})
	}
}

// TestFileChecks: a capture must be a regular file; a TLS file that exists
// must be one (a FIFO would block serve when it reads it).
func TestFileChecks(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "c.pcap")
	if err := os.WriteFile(regular, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		check func(c *Checker)
		want  string // a part of the one problem, or "" for none
	}{
		{"capture ok", func(c *Checker) { CheckInputFile(c, "file", regular) }, ""},
		{"capture missing", func(c *Checker) { CheckInputFile(c, "file", filepath.Join(dir, "no.pcap")) }, "does not exist"},
		{"capture missing relative", func(c *Checker) { CheckInputFile(c, "file", "no-such-capture.pcap") }, "relative to the working directory"},
		{"capture directory", func(c *Checker) { CheckInputFile(c, "file", dir) }, "is a directory, not a capture file"},
		{"capture fifo", func(c *Checker) { CheckInputFile(c, "file", fifo) }, "is not a regular file"},
		{"tls fifo", func(c *Checker) { (&TLS{CAFile: fifo}).Check(c, "tls") }, "tls.ca_file: " + fifo + " is not a regular file"},
		{"tls missing is left to serve", func(c *Checker) { (&TLS{CAFile: filepath.Join(dir, "later.pem")}).Check(c, "tls") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(tt.check)
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("problems %q, want none", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("problems %q, want one containing %q", got, tt.want)
			}
		})
	}
}

// FuzzScalars: the scalar parsers never panic, and what they accept prints
// as text that parses back to the same value.
func FuzzScalars(f *testing.F) {
	for _, s := range []string{"64MiB", "1.5GB", "4096", "0.5x", "max", "recorded", "5000-5100", "514", "-1", "1e400", "9223372036854775807TiB"} {
		f.Add(s, TagStr)
	}
	f.Add("12", TagInt)
	f.Add("2.5", TagFloat)
	f.Fuzz(func(t *testing.T, value, tag string) {
		var b ByteSize
		if b.DecodeScalar(value, tag) == nil && b >= 0 {
			var back ByteSize
			if err := back.DecodeScalar(b.String(), TagStr); err != nil || back != b {
				t.Errorf("size %q -> %d -> %q -> %d, %v", value, b, b.String(), back, err)
			}
		}
		var s Speed
		if s.DecodeScalar(value, tag) == nil {
			var back Speed
			if err := back.DecodeScalar(s.String(), TagStr); err != nil || back != s {
				t.Errorf("speed %q -> %+v -> %q -> %+v, %v", value, s, s.String(), back, err)
			}
		}
		var r PortRange
		if r.DecodeScalar(value, tag) == nil {
			var back PortRange
			if err := back.DecodeScalar(r.String(), TagStr); err != nil || back != r || r.Lo > r.Hi {
				t.Errorf("port range %q -> %+v -> %q -> %+v, %v", value, r, r.String(), back, err)
			}
		}
	})
}
