package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecretFIFORefused names a FIFO with no writer as a file: secret. Opening it for reading
// would block until a writer appears (forever, deaf to SIGTERM); the secret must be refused at
// once, with the path, both by ParseSecret and by Parse (what validate and serve call).
func TestSecretFIFORefused(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "token.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		run  func() error
	}{
		{"ParseSecret", func() error { _, err := ParseSecret("file:" + fifo); return err }},
		{"Parse", func() error {
			_, err := Parse("wirebridge.yaml", []byte(with("  - {name: h, type: http, url: 'https://x/', bearer_token: 'file:"+fifo+"'}")), testKinds)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- tc.run() }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), fifo) {
					t.Fatalf("err = %v, want %q naming %s", err, "not a regular file", fifo)
				}
			case <-time.After(20 * time.Second):
				// The outcome is "blocked": the open never returned. Unblock it so the test ends.
				t.Errorf("reading a FIFO secret blocked (no answer in 20s)")
				if f, err := openNonblockWriter(fifo); err == nil {
					f()
				}
				<-done
			}
		})
	}
}

func openNonblockWriter(path string) (func(), error) {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	return func() { syscall.Close(fd) }, nil
}

// TestLoadFIFO: the configuration file named as a FIFO with no writer is
// refused at once with its path (validate -c FIFO blocked in open, deaf to
// SIGTERM); a pipe with a writer, as -c <(envsubst < tmpl.yaml) gives, is read.
func TestLoadFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "wirebridge.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := Load(fifo, testKinds); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no writer") || !strings.Contains(err.Error(), fifo) {
			t.Fatalf("err = %v, want %q naming %s", err, "no writer", fifo)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("loading a FIFO configuration blocked (no answer in 20s)")
		if f, err := openNonblockWriter(fifo); err == nil {
			f()
		}
		<-done
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.WriteString(doc(valid...))
		w.Close()
	}()
	if _, err := Load(fmt.Sprintf("/dev/fd/%d", r.Fd()), testKinds); err != nil { // outside-ok: this process's own pipe
		t.Errorf("a configuration from a pipe: %v", err)
	}
}
