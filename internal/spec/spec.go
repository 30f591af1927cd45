// Package spec holds the value types that the configuration specs of sources and targets are
// written in (sizes, secrets, time patterns, speeds, port ranges, TLS and rotation settings) and
// the Checker a spec's Validate reports its problems into.
//
// It sits before the data path, below internal/config and internal/component: config decodes
// YAML into these types, each component kind validates its own spec with them, and the stages
// read the decoded values. It imports only the standard library.
package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// YAML short tags of the scalars a DecodeScalar method is given.
const (
	TagStr   = "!!str"
	TagInt   = "!!int"
	TagFloat = "!!float"
	TagBool  = "!!bool"
	TagNull  = "!!null"
)

// DescribeScalar names a YAML scalar in an error message: "the integer 5", `"abc"`.
func DescribeScalar(value, tag string) string {
	switch tag {
	case TagStr:
		return strconv.Quote(value)
	case TagInt:
		return "the integer " + value
	case TagFloat:
		return "the number " + value
	case TagBool:
		return "the boolean " + value
	case TagNull:
		return "null"
	}
	return fmt.Sprintf("%s %q", strings.TrimPrefix(tag, "!!"), value)
}

// Problem is one thing wrong with a spec: Path is relative to the spec (such as "url" or
// "batch.max_events"), Msg the reason.
type Problem struct {
	Path, Msg string
}

// Checker collects the problems a spec's Validate finds. The configuration places each at the
// position of its value in the file (file:line:col: path: reason).
type Checker struct {
	// Bus says whether the configuration has the wirebridge NATS bus (embedded or external).
	Bus      bool
	problems []Problem
}

// Errorf reports a problem with the value at path (relative to the spec).
func (c *Checker) Errorf(path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Problems returns what was reported, in order.
func (c *Checker) Problems() []Problem { return c.problems }

// OneOf reports a value that is not one of allowed.
func (c *Checker) OneOf(path, value string, allowed ...string) {
	c.Report(path, OneOf(value, allowed...))
}

// Positive reports a duration that is not positive.
func (c *Checker) Positive(path string, d time.Duration) { c.Report(path, Positive(d)) }

// IntRange reports n outside lo..hi.
func (c *Checker) IntRange(path string, n, lo, hi int) { c.Report(path, IntRange(n, lo, hi)) }

// Report reports err (when not nil) at path.
func (c *Checker) Report(path string, err error) {
	if err != nil {
		c.Errorf(path, "%s", err)
	}
}

// The rules behind the Checker's helpers, for internal/config's own sections (nats, http, live,
// delivery), so that a rule is written once.

// OneOf says why value is not one of allowed, or nil.
func OneOf(value string, allowed ...string) error {
	if !slices.Contains(allowed, value) {
		return fmt.Errorf("invalid value %q (want one of %s)", value, strings.Join(allowed, ", "))
	}
	return nil
}

// Positive says why d is not a positive duration, or nil.
func Positive(d time.Duration) error {
	if d <= 0 {
		return errors.New("must be a positive duration")
	}
	return nil
}

// IntRange says why n is outside lo..hi, or nil.
func IntRange(n, lo, hi int) error {
	if n < lo || n > hi {
		return fmt.Errorf("%d is out of range (want %d to %d)", n, lo, hi)
	}
	return nil
}

// Missing reports whether err says a path does not exist (or a part of it is not a directory).
func Missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// JoinKey appends a mapping key to a YAML path: "a.b" for a plain key, `a["x y"]` otherwise.
func JoinKey(path, key string) string {
	plain := key != ""
	for _, r := range key {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			plain = false
			break
		}
	}
	if !plain {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// TLS holds client TLS options.
type TLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Check reports TLS settings that cannot work; path is where the tls block sits.
func (t *TLS) Check(c *Checker, path string) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		c.Errorf(path, "cert_file and key_file go together: give both or neither")
	}
	for _, f := range []struct{ key, name string }{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
		if f.name != "" {
			RegularIfExists(c, path+"."+f.key, f.name)
		}
	}
}

// RegularIfExists checks a file read when serve starts (a TLS file): reading a FIFO would block
// until a writer appears, a directory fails. A file that does not exist yet is left to serve (it
// may be provisioned after validate runs, as the examples' are).
func RegularIfExists(c *Checker, path, name string) {
	if st, err := os.Stat(name); err == nil && !st.Mode().IsRegular() {
		c.Errorf(path, "%s is not a regular file", name)
	}
}

// Rotate closes the current file and starts a new one when it reaches Size or has been open for
// Interval (whichever comes first). Zero disables that trigger.
type Rotate struct {
	Size     ByteSize      `yaml:"size"`
	Interval time.Duration `yaml:"interval"`
}

// Check reports rotation limits out of range; path is where the rotate block's owner sits.
func (r Rotate) Check(c *Checker, path string) {
	p := path + "rotate"
	if path != "" {
		p = path + ".rotate"
	}
	if r.Size < 0 {
		c.Errorf(p+".size", "must not be negative")
	} else if r.Size > 0 && r.Size < 4*KiB {
		c.Errorf(p+".size", "%s is less than 4KiB", r.Size)
	}
	if r.Interval > 0 && r.Interval < time.Second {
		c.Errorf(p+".interval", "%s is less than 1s", r.Interval)
	}
}

// CheckDial checks a remote address: host:port with a host name or IP and a port 1-65535.
func CheckDial(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("invalid address %q: want host:port, such as shadow.internal:8080", addr)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("invalid address %q: port must be a number from 1 to 65535", addr)
	}
	return nil
}

// CheckHTTPURL checks an http or https URL without credentials in it.
func CheckHTTPURL(u string) error {
	pu, err := url.Parse(u)
	switch {
	case err != nil:
		return fmt.Errorf("invalid URL %q", u)
	case pu.Scheme != "http" && pu.Scheme != "https":
		return fmt.Errorf("invalid URL %q: scheme must be http or https", u)
	case pu.Host == "":
		return fmt.Errorf("invalid URL %q: no host", u)
	case pu.User != nil:
		c := *pu
		c.User = url.User("REDACTED")
		return fmt.Errorf("invalid URL %q: put credentials in bearer_token or secret_headers, not in the URL", c.String())
	}
	return nil
}

// CheckNATSURLs reports each URL of urls (at path[i]) that is not a NATS server URL.
func CheckNATSURLs(c *Checker, path string, urls []string) {
	for i, u := range urls {
		p := fmt.Sprintf("%s[%d]", path, i)
		pu, err := url.Parse(u)
		switch {
		case err != nil || u == "":
			c.Errorf(p, "invalid URL %q", u)
		case !slices.Contains([]string{"nats", "tls", "ws", "wss"}, pu.Scheme):
			c.Errorf(p, "invalid NATS URL %q: scheme must be nats, tls, ws or wss", u)
		case pu.Host == "":
			c.Errorf(p, "invalid NATS URL %q: no host", u)
		}
	}
}

// DefaultMaxDatagram is a source's max_datagram when the file does not set one, and the least
// it may be: a 9001-MTU jumbo frame with its VXLAN, UDP and IP headers.
const DefaultMaxDatagram = 9216

// RateLimit holds the token buckets applied before decoding. A zero PPS means unlimited.
type RateLimit struct {
	PerSource TokenBucket `yaml:"per_source"` // one bucket per sender IP
	Global    TokenBucket `yaml:"global"`     // one bucket for the whole source
}

// TokenBucket is a rate in packets per second with a burst size.
type TokenBucket struct {
	PPS   float64 `yaml:"pps"`
	Burst int     `yaml:"burst"` // default: PPS rounded up
}

// Filter is the small capture filter language of afpacket sources: a packet passes when its IP
// protocol is one of Protocols (if any are given), for UDP and TCP its source or destination
// port is in one of Ports (if any are given), and its source or destination address is in one of
// Hosts (if any are given). Non-IP frames pass only when all lists are empty.
type Filter struct {
	Protocols []string       `yaml:"protocols"` // udp | tcp | icmp | icmpv6
	Ports     []PortRange    `yaml:"ports"`     // 514 or "5000-5100"
	Hosts     []netip.Prefix `yaml:"hosts"`     // 10.0.0.0/8, 2001:db8::1
}

// CheckRecvBuffer reports a recv_buffer (SO_RCVBUF) out of range.
func CheckRecvBuffer(c *Checker, b ByteSize) {
	if b < 0 || b > 2*GiB-1 {
		c.Errorf("recv_buffer", "%s is out of range (want 0 to 2GiB)", b)
	}
}

// CheckInputFile checks a file wirebridge reads (a pcap source's capture): it must exist and be a
// regular file. The source replays it from its start (again with loop): a FIFO can be read only
// once, cannot be seeked, and opening it waits for a writer. Relative paths are relative to the
// working directory.
func CheckInputFile(c *Checker, path, name string) {
	st, err := os.Stat(name)
	switch {
	case Missing(err):
		if filepath.IsAbs(name) {
			c.Errorf(path, "%s does not exist", name)
		} else {
			wd, _ := os.Getwd()
			c.Errorf(path, "%s does not exist (relative to the working directory %s)", name, wd)
		}
	case err != nil:
		c.Errorf(path, "%v", err)
	case st.IsDir():
		c.Errorf(path, "%s is a directory, not a capture file", name)
	case !st.Mode().IsRegular():
		c.Errorf(path, "%s is not a regular file: a pcap source replays a capture file from its start (a FIFO cannot be read again, nor waited on); for a live capture use wirebridge read - behind tcpdump -w -", name)
	}
}
