package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
)

const demoCapture = "../../examples/captures/loopback-demo.pcap"

func sharedPcaps(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "pcaps")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("captures missing (testdata/pcaps in the repository): %v", err)
	}
	return dir
}

// run runs the CLI and returns exit code, stdout and stderr.
func run(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	code := Main(context.Background(), args, Stdio{In: stdin, Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// frames reads every frame of a capture with capfile, the reference for counts.
func frames(t *testing.T, path string) (datas [][]byte, infos []packet.CaptureInfo) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capfile.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, info, err := r.Next()
		if errors.Is(err, io.EOF) {
			return datas, infos
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		datas = append(datas, append([]byte(nil), d...))
		infos = append(infos, info)
	}
}

func TestReadNDJSONEveryCapture(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(sharedPcaps(t), "*.pcap"))
	ng, _ := filepath.Glob(filepath.Join(sharedPcaps(t), "*.pcapng"))
	paths = append(append(paths, ng...), demoCapture)
	if len(paths) < 30 {
		t.Fatalf("found only %d captures", len(paths))
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want, _ := frames(t, path)
			code, out, errOut := run(t, nil, "read", path)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			n := 0
			sc := bufio.NewScanner(strings.NewReader(out))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var ev map[string]any
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatalf("line %d is not JSON: %v: %s", n+1, err, sc.Text())
				}
				if ev["version"] != "0" || ev["source"] != "wirebridge.pcap" {
					t.Fatalf("line %d: unexpected envelope: %v", n+1, ev)
				}
				n++
			}
			if n != len(want) {
				t.Fatalf("%d events for %d packets", n, len(want))
			}
			if !strings.Contains(errOut, "packets read") {
				t.Fatalf("no summary line on stderr: %q", errOut)
			}
		})
	}
}

func TestReadFormats(t *testing.T) {
	want, wantInfo := frames(t, demoCapture)
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, out string)
	}{
		{"text is one line per packet like tcpdump -n", []string{"--format", "text"}, func(t *testing.T, out string) {
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != len(want) {
				t.Fatalf("%d lines for %d packets", len(lines), len(want))
			}
			if !strings.HasPrefix(lines[0], "21:29:25.006024 IP 127.0.0.1.35566 > 127.0.0.1.5514: UDP, length 113") {
				t.Fatalf("first line %q", lines[0])
			}
			if !strings.Contains(lines[9], "Flags [S], seq 2510860086") {
				t.Fatalf("SYN line %q", lines[9])
			}
			if !strings.Contains(lines[8], "IP6 ::1.47587 > ::1.5353: 3746+ [1au] AAAA? example.org. (52)") {
				t.Fatalf("IPv6 line %q", lines[8])
			}
		}},
		{"pcap round-trips the frames and timestamps", []string{"--format", "pcap"}, func(t *testing.T, out string) {
			r, err := capfile.NewReader(strings.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				d, info, err := r.Next()
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				if !bytes.Equal(d, want[i]) || !info.Timestamp.Equal(wantInfo[i].Timestamp) || info.Length != wantInfo[i].Length {
					t.Fatalf("packet %d differs", i)
				}
			}
			if _, _, err := r.Next(); !errors.Is(err, io.EOF) {
				t.Fatalf("extra data: %v", err)
			}
		}},
		{"count stops early", []string{"--count", "4"}, func(t *testing.T, out string) {
			if n := strings.Count(out, "\n"); n != 4 {
				t.Fatalf("%d lines", n)
			}
		}},
		{"pattern keeps only matching events", []string{"--pattern", `{"detail":{"Destination":{"Port":[5514]}}}`}, func(t *testing.T, out string) {
			if n := strings.Count(out, "\n"); n != 3 {
				t.Fatalf("%d events match port 5514, want 3 (the logger messages)", n)
			}
		}},
		{"pattern on TCP flags with text output", []string{"--format", "text", "--pattern", `{"detail":{"TCP":{"Flags":["SYN"]}}}`}, func(t *testing.T, out string) {
			if n := strings.Count(out, "\n"); n != 2 {
				t.Fatalf("%d SYN packets, want 2:\n%s", n, out)
			}
		}},
		{"cloudevents", []string{"--format", "cloudevents", "--count", "1"}, func(t *testing.T, out string) {
			var ce map[string]any
			if err := json.Unmarshal([]byte(out), &ce); err != nil {
				t.Fatal(err)
			}
			if ce["specversion"] != "1.0" || ce["type"] != "UdpPacket" {
				t.Fatalf("not a CloudEvent: %v", ce)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, nil, append(append([]string{"read"}, tc.args...), demoCapture)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			tc.check(t, out)
		})
	}
}

// TestReadTextTunnels: the text format of PPPoE and 6in4 frames starts as
// `tcpdump -n -r testdata/pcaps/ndpi_syslog.pcap` prints them (tcpdump
// 4.99: "00:01:48.743144 PPPoE  [ses 0x1b3d] IP 95.136.242.54.514 >
// 93.20.126.110.514: SYSLOG ..." and, for frame 26, "IP 193.24.227.10 >
// 216.66.86.114: IP6 2001:470:6c:a1::2.38159 > ..."); wirebridge puts the
// tunnel last, in brackets.
func TestReadTextTunnels(t *testing.T) {
	code, out, errOut := run(t, nil, "read", "--format", "text", filepath.Join(sharedPcaps(t), "ndpi_syslog.pcap"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 26 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, c := range []struct{ line, want string }{
		{lines[0], "00:01:48.743144 PPPoE  [ses 0x1b3d] IP 95.136.242.54.514 > 93.20.126.110.514: SYSLOG daemon.critical, length: 653"},
		{lines[25], "12:51:07.494812 IP6 2001:470:6c:a1::2.38159 > 2001:470:765b::b15:22.514: SYSLOG local0.notice, length: 398 [ipip 193.24.227.10 > 216.66.86.114]"},
	} {
		if c.line != c.want {
			t.Errorf("line %q, want %q", c.line, c.want)
		}
	}
}

func TestReadStdinAndOutputFile(t *testing.T) {
	data, err := os.ReadFile(demoCapture)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "events.ndjson")
	code, stdout, errOut := run(t, bytes.NewReader(data), "read", "-o", out, "-")
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q: %s", code, stdout, errOut)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(got, []byte("\n")); n != 19 {
		t.Fatalf("%d events in the output file, want 19", n)
	}
	if !bytes.Contains(got, []byte(`"resources":["stdin"]`)) {
		t.Fatalf("listener should default to stdin: %.200s", got)
	}
}

func TestReadMalformedIsCountedNotFatal(t *testing.T) {
	dir := sharedPcaps(t)
	tests := []struct {
		name, file, summary string
	}{
		{"ethernet header cut short", "zeek_trunc_trunc-hdr.pcap", "1 packets read, 0 decoded, 1 malformed (truncated=1)"},
		{"ipv4 header cut short", "zeek_trunc_ip4-trunc.pcap", "1 packets read, 0 decoded, 1 malformed (truncated=1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, nil, "read", filepath.Join(dir, tc.file))
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if !strings.Contains(errOut, tc.summary) {
				t.Fatalf("summary %q does not contain %q", errOut, tc.summary)
			}
			if strings.Count(out, "\n") != 1 {
				t.Fatalf("the malformed packet should still be written with what was decoded: %q", out)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	notCapture := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notCapture, []byte("this is not a capture file at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(demoCapture)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, data[:len(data)-30], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		stderr   string
		stdoutNL int
	}{
		{"missing file", []string{"read", "/nonexistent/x.pcap"}, exitFail, "open input", 0},
		{"not a capture", []string{"read", notCapture}, exitFail, "notes.txt", 0},
		{"cut in the last record keeps what was read", []string{"read", cut}, exitFail, "after 18 packets", 18},
		{"unknown format", []string{"read", "--format", "xml", demoCapture}, exitUsage, "unknown --format", 0},
		{"no input", []string{"read"}, exitUsage, "expected one input", 0},
		{"invalid pattern", []string{"read", "--pattern", `{"detail":{"Port":[{"numeric":["<",1,">",5]}]}}`, demoCapture}, exitUsage, "--pattern: pattern: detail.Port[0].numeric: ", 0},
		{"pattern file missing", []string{"read", "--pattern", "@/nonexistent.json", demoCapture}, exitUsage, "read pattern file", 0},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, nil, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errOut)
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("stderr %q does not mention %q", errOut, tc.stderr)
			}
			if strings.Contains(errOut, ": usage") {
				t.Errorf("stderr %q shows the internal usage marker", errOut)
			}
			if n := strings.Count(out, "\n"); n != tc.stdoutNL {
				t.Fatalf("%d lines on stdout, want %d", n, tc.stdoutNL)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := run(t, nil, "read", "--help")
	if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "-format") {
		t.Fatalf("read --help: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, nil, "--help")
	if code != 0 || !strings.Contains(out, "read") {
		t.Fatalf("--help: exit %d\n%s", code, out)
	}
}

func TestProgressBar(t *testing.T) {
	var errb bytes.Buffer
	code := Main(context.Background(), []string{"read", "--progress", "always", "-o", filepath.Join(t.TempDir(), "o"), demoCapture},
		Stdio{In: strings.NewReader(""), Out: io.Discard, Err: &errb})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "100%") || !strings.Contains(errb.String(), "\r[") {
		t.Fatalf("no finished progress bar: %q", errb.String())
	}
}

// TestReadDecodeAs: --decode-as makes a port's payload a protocol, in the
// text lines, the events and the patterns; a rule the dissectors cannot
// follow is a usage error.
func TestReadDecodeAs(t *testing.T) {
	code, out, errOut := run(t, nil, "read", "-q", "--format", "text", "--count", "1", "--decode-as", "udp.port==5514,syslog", demoCapture)
	if code != exitOK || !strings.Contains(out, "127.0.0.1.5514: SYSLOG user.notice, length: 113") {
		t.Fatalf("exit %d, text %q, %s", code, out, errOut)
	}
	code, out, _ = run(t, nil, "read", "-q", "--count", "1", demoCapture)
	if code != exitOK || strings.Contains(out, `"Syslog"`) {
		t.Fatalf("without --decode-as: exit %d, %s", code, out)
	}
	code, out, errOut = run(t, nil, "read", "-q", "--decode-as", "udp.port==5514,syslog",
		"--pattern", `{"detail":{"Syslog":{"Severity":["notice"]}}}`, demoCapture)
	if code != exitOK || !strings.Contains(out, `"Syslog":{"Facility":"user"`) {
		t.Fatalf("exit %d, events %q, %s", code, out, errOut)
	}
	code, _, errOut = run(t, nil, "read", "--decode-as", "udp.port==80,http", demoCapture)
	if code != exitUsage || !strings.Contains(errOut, "http is not dissected over udp") {
		t.Fatalf("exit %d, %s", code, errOut)
	}
}
