package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestValidationRules holds a named case for every rule docs/config.md lists under "Validation
// rules": each would otherwise be accepted by validate and fail (or do harm) when serve runs.
// Every case runs in a directory of its own, which is also the working directory; want is every
// error, exactly, with {dir} standing for that directory, or nothing for a valid file.
func TestValidationRules(t *testing.T) {
	pcapMagic := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0}
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) // files the case needs, made in dir
		yaml  []string                       // appended to valid (targets: is last)
		full  []string                       // the whole file instead
		want  []string
	}{
		{
			name: "max_storage below the floor",
			yaml: []string{"nats: {max_storage: 1}"},
			want: []string{`wirebridge.yaml:12:21: nats.max_storage: 1B is below the minimum 16MiB (the delivery and dead-letter streams need room for their largest messages)`},
		},
		{
			name: "max_storage zero",
			yaml: []string{"nats: {max_storage: 0}"},
			want: []string{`wirebridge.yaml:12:21: nats.max_storage: 0B is below the minimum 16MiB (the delivery and dead-letter streams need room for their largest messages)`},
		},
		{
			name: "max_storage at the floor",
			yaml: []string{"nats: {max_storage: 16MiB}"},
		},
		{
			name: "max_storage below the floor is fine with an external cluster",
			yaml: []string{"nats: {urls: ['nats://127.0.0.1:4222'], max_storage: 1}"},
		},
		{
			name: "ack_wait zero",
			yaml: []string{"  - {name: h, type: http, url: 'http://127.0.0.1:9/', delivery: {ack_wait: 0}}"},
			want: []string{`wirebridge.yaml:12:76: targets[1].delivery.ack_wait: 0s is out of range (want 1s to 1h)`},
		},
		{
			name: "share_ttl longer than share_max_ttl",
			yaml: []string{"live: {share_ttl: 48h}"},
			want: []string{`wirebridge.yaml:12:19: live.share_ttl: 48h0m0s is longer than live.share_max_ttl (24h0m0s)`},
		},
		{
			name: "share_max_ttl zero",
			yaml: []string{"live: {share_max_ttl: 0}"},
			want: []string{`wirebridge.yaml:12:23: live.share_max_ttl: must be a positive duration`},
		},
		{
			name: "share_ttl 0 is the default",
			yaml: []string{"live: {share_ttl: 0}"},
		},
		{
			name: "data_dir is a regular file",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "data"), []byte("x"))
			},
			yaml: []string{"data_dir: data"},
			want: []string{`wirebridge.yaml:12:11: data_dir: data is not a directory`},
		},
		{
			name: "data_dir under a regular file",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "data"), []byte("x"))
			},
			yaml: []string{"data_dir: data/wb"},
			want: []string{`wirebridge.yaml:12:11: data_dir: data/wb: data is not a directory`},
		},
		{
			name: "data_dir that does not exist yet",
			yaml: []string{"data_dir: new/wb"},
		},
		{
			name: "file target path leaves data_dir",
			yaml: []string{"  - {name: f, type: file, path: ../../etc/cron.d/wb}", "data_dir: data"},                                                                                                   // outside-ok: the traversal under test
			want: []string{`wirebridge.yaml:12:33: targets[1].path: "../../etc/cron.d/wb" leaves data_dir: a relative path must stay inside data_dir (write an absolute path to put files elsewhere)`}, // outside-ok
		},
		{
			name: "pcap target path leaves data_dir",
			yaml: []string{"  - {name: p, type: pcap, path: 'pcap/%Y/../../../x.pcap'}"},                                                                                                                   // outside-ok: a relative target path, not a file the test reads
			want: []string{`wirebridge.yaml:12:33: targets[1].path: "pcap/%Y/../../../x.pcap" leaves data_dir: a relative path must stay inside data_dir (write an absolute path to put files elsewhere)`}, // outside-ok: a relative target path, not a file the test reads
		},
		{
			name: "time verbs the file and pcap targets do not expand",
			yaml: []string{"  - {name: f, type: file, path: 'e-%j.ndjson'}", "  - {name: p, type: pcap, path: 'p-%s.pcap'}"},
			want: []string{
				`wirebridge.yaml:12:33: targets[1].path: unknown time verb %j (known: %Y %m %d %H %M %S %%)`,
				`wirebridge.yaml:13:33: targets[2].path: unknown time verb %s (known: %Y %m %d %H %M %S %%)`,
			},
		},
		{
			name: "path whose last element is dots",
			yaml: []string{"  - {name: f, type: file, path: 'a/%Y/..'}", "  - {name: g, type: file, path: '/var/log/.'}"},
			want: []string{
				`wirebridge.yaml:12:33: targets[1].path: "a/%Y/.." names a directory, not a file`,
				`wirebridge.yaml:13:33: targets[2].path: "/var/log/." names a directory, not a file`,
			},
		},
		{
			name: "relative path with dots that stays inside",
			yaml: []string{"  - {name: f, type: file, path: a/../b.ndjson}"}, // outside-ok: a relative target path, not a file the test reads
		},
		{
			name: "absolute path onto an existing file that is not an archive",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "passwd"), []byte("root:x:0:0:root:/root:/bin/bash\n"))
			},
			yaml: []string{"  - {name: f, type: file, path: '{dir}/passwd'}"},
			want: []string{`wirebridge.yaml:12:33: targets[1].path: {dir}/passwd exists and is not a wirebridge file archive: use another path (or a time verb such as %H)`},
		},
		{
			name: "absolute pcap path onto an existing NDJSON file",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "x.pcap"), []byte(`{"version":"0"}`+"\n"))
			},
			yaml: []string{"  - {name: p, type: pcap, path: '{dir}/x.pcap'}"},
			want: []string{`wirebridge.yaml:12:33: targets[1].path: {dir}/x.pcap exists and is not a wirebridge pcap archive: use another path (or a time verb such as %H)`},
		},
		{
			name: "absolute path onto a device",
			yaml: []string{"  - {name: f, type: file, path: /dev/null}"},
			want: []string{`wirebridge.yaml:12:33: targets[1].path: /dev/null exists and is not a regular file`},
		},
		{
			name: "absolute path onto a FIFO",
			setup: func(t *testing.T, dir string) {
				if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			yaml: []string{"  - {name: f, type: file, path: '{dir}/fifo'}"},
			want: []string{`wirebridge.yaml:12:33: targets[1].path: {dir}/fifo exists and is not a regular file`},
		},
		{
			name: "absolute path onto a directory",
			yaml: []string{"  - {name: f, type: file, path: '{dir}'}"},
			want: []string{`wirebridge.yaml:12:33: targets[1].path: {dir} is a directory`},
		},
		{
			name: "absolute path below a regular file",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "plain"), []byte("x"))
			},
			yaml: []string{"  - {name: f, type: file, path: '{dir}/plain/%Y/events.ndjson'}"},
			want: []string{`wirebridge.yaml:12:33: targets[1].path: {dir}/plain is not a directory`},
		},
		{
			name: "absolute paths onto wirebridge's own archives",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "events.ndjson"), []byte(`{"version":"0","id":"x"}`+"\n"))
				writeFile(t, filepath.Join(dir, "events.ndjson.gz"), []byte{0x1f, 0x8b, 8, 0})
				writeFile(t, filepath.Join(dir, "empty.ndjson"), nil)
				writeFile(t, filepath.Join(dir, "frames.pcap"), pcapMagic)
			},
			yaml: []string{
				"  - {name: f, type: file, path: '{dir}/events.ndjson'}",
				"  - {name: g, type: file, path: '{dir}/events.ndjson.gz', compress: gzip}",
				"  - {name: e, type: file, path: '{dir}/empty.ndjson'}",
				"  - {name: p, type: pcap, path: '{dir}/frames.pcap'}",
			},
		},
		{
			name: "any existing file inside data_dir is the data directory's own",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "data", "notes.txt"), []byte("text lines\n"))
			},
			yaml: []string{"  - {name: f, type: file, path: notes.txt}", "data_dir: data"},
		},
		{
			name: "TLS files that are a FIFO or a directory",
			setup: func(t *testing.T, dir string) {
				if err := syscall.Mkfifo(filepath.Join(dir, "ca.fifo"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			yaml: []string{"  - name: h", "    type: http", "    url: 'https://x/'", "    tls:",
				"      ca_file: '{dir}/ca.fifo'", "      cert_file: '{dir}'", "      key_file: '{dir}/key.pem'"},
			want: []string{
				`wirebridge.yaml:16:16: targets[1].tls.ca_file: {dir}/ca.fifo is not a regular file`,
				`wirebridge.yaml:17:18: targets[1].tls.cert_file: {dir} is not a regular file`,
			},
		},
		{
			name: "pcap source file does not exist",
			full: []string{"sources:", "  - {name: p, type: pcap, file: captures/missing.pcap}"},
			want: []string{`wirebridge.yaml:2:33: sources[0].file: captures/missing.pcap does not exist (relative to the working directory {dir})`},
		},
		{
			name: "pcap source absolute file does not exist",
			full: []string{"sources:", "  - {name: p, type: pcap, file: '{dir}/missing.pcap'}"},
			want: []string{`wirebridge.yaml:2:33: sources[0].file: {dir}/missing.pcap does not exist`},
		},
		{
			name: "pcap source file is a directory",
			full: []string{"sources:", "  - {name: p, type: pcap, file: '{dir}'}"},
			want: []string{`wirebridge.yaml:2:33: sources[0].file: {dir} is a directory, not a capture file`},
		},
		{
			name: "udp wildcard and a specific address on one port, in two sources",
			full: []string{"sources:", "  - {name: a, type: udp, listen: ['0.0.0.0:5514']}", "  - {name: b, type: udp, listen: ['127.0.0.1:5514']}"},
			want: []string{`wirebridge.yaml:3:35: sources[1].listen[0]: address 127.0.0.1:5514 overlaps sources[0].listen[0] (0.0.0.0:5514): a wildcard address holds its port on every address of its family`},
		},
		{
			name: "udp specific address, then the wildcard",
			full: []string{"sources:", "  - {name: a, type: udp, listen: ['[::1]:5514', '[::]:5514']}"},
			want: []string{`wirebridge.yaml:2:49: sources[0].listen[1]: address [::]:5514 overlaps sources[0].listen[0] ([::1]:5514): a wildcard address holds its port on every address of its family`},
		},
		{
			name: "udp empty host is the IPv6 wildcard",
			full: []string{"sources:", "  - {name: a, type: udp, listen: [':5514', '[::]:5514']}"},
			want: []string{`wirebridge.yaml:2:44: sources[0].listen[1]: address [::]:5514 is also listened on by sources[0].listen[0] (as :5514)`},
		},
		{
			name: "udp localhost is 127.0.0.1",
			full: []string{"sources:", "  - {name: a, type: udp, listen: ['localhost:5514']}", "  - {name: b, type: vxlan, listen: ['127.0.0.1:5514']}"},
			want: []string{`wirebridge.yaml:3:37: sources[1].listen[0]: address 127.0.0.1:5514 is also listened on by sources[0].listen[0] (as localhost:5514)`},
		},
		{
			name: "udp dual-stack wildcard holds the IPv4 port of another source",
			full: []string{"sources:", "  - {name: a, type: udp, listen: [':5514']}", "  - {name: b, type: udp, listen: ['127.0.0.1:5514']}"},
			want: []string{`wirebridge.yaml:3:35: sources[1].listen[0]: address 127.0.0.1:5514 overlaps sources[0].listen[0] (:5514): an IPv6 wildcard is dual-stack and holds its port for IPv4 too, unless the same source also lists an IPv4 address with that port`},
		},
		{
			name: "udp IPv4 and IPv6 wildcards in one source",
			full: []string{"sources:", "  - {name: a, type: udp, listen: ['0.0.0.0:5514', '[::]:5514', '127.0.0.2:5515', '[::1]:5515']}"},
		},
		{
			name: "udp IPv6 wildcard beside an IPv4 address of the same source",
			full: []string{"sources:", "  - {name: a, type: udp, listen: [':5514', '127.0.0.1:5514']}"},
		},
		{
			name: "udp different addresses, and port 0",
			full: []string{"sources:", "  - {name: a, type: udp, listen: ['127.0.0.1:5514', '127.0.0.1:0', '0.0.0.0:0']}", "  - {name: b, type: udp, listen: ['127.0.0.2:5514', '[::1]:5514']}"},
		},
		{
			name: "http on every address and nats on one port",
			yaml: []string{"http: {listen: '0.0.0.0:8080'}", "nats: {listen: '127.0.0.1:8080'}"},
			want: []string{`wirebridge.yaml:13:16: nats.listen: 127.0.0.1:8080 overlaps http.listen (0.0.0.0:8080): a wildcard address holds its port on every address, IPv4 and IPv6`},
		},
		{
			name: "http and nats on one port of two addresses",
			yaml: []string{"http: {listen: '127.0.0.1:8080'}", "nats: {listen: '[::1]:8080'}"},
		},
		{
			name: "pcap source file is a FIFO",
			setup: func(t *testing.T, dir string) {
				if err := syscall.Mkfifo(filepath.Join(dir, "cap.fifo"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			full: []string{"sources:", "  - {name: p, type: pcap, file: cap.fifo}"},
			want: []string{`wirebridge.yaml:2:33: sources[0].file: cap.fifo is not a regular file: a pcap source replays a capture file from its start (a FIFO cannot be read again, nor waited on); for a live capture use wirebridge read - behind tcpdump -w -`},
		},
		{
			name: "pcap source file exists",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "captures", "x.pcap"), pcapMagic)
			},
			full: []string{"sources:", "  - {name: p, type: pcap, file: captures/x.pcap}"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			y := with(tt.yaml...)
			if tt.full != nil {
				y = doc(tt.full...)
			}
			y = strings.ReplaceAll(y, "{dir}", dir)
			_, err := Parse("wirebridge.yaml", []byte(y), testKinds)
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = strings.ReplaceAll(w, "{dir}", dir)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("config:\n%s\n got:\n%s\nwant:\n%s", y, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
