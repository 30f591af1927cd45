package app

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the terminal side, which the banner writes to, and the
// controlling side, which reads what a person at that terminal would see.
func openPTY(t *testing.T) (term, ctl *os.File) {
	t.Helper()
	ctl, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close() })
	if err := unix.IoctlSetPointerInt(int(ctl.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ctl.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	term, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	return term, ctl
}

// TestBannerShareLinkOnlyToTerminal: the start-up banner carries a working share link only when
// it is written to a terminal. Written anywhere else (a pipe, a file, journald), it names the
// command that prints one instead, and no token.
func TestBannerShareLinkOnlyToTerminal(t *testing.T) {
	yaml := func(dir string) string {
		return "data_dir: " + dir + "\n" +
			"http: {listen: '127.0.0.1:0'}\n" +
			"sources: [{name: u, type: udp, listen: ['127.0.0.1:0']}]\n" +
			"rules: [{name: r, pattern: {version: ['0']}, targets: [live]}]\n" +
			"targets: [{name: live, type: live, channel: /packets/all}]\n"
	}
	t.Run("pipe", func(t *testing.T) {
		dir := t.TempDir()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		s, _, _ := newTestServer(t, dir, yaml(dir))
		defer s.release()
		s.stdio.Out = w
		s.banner(0)
		w.Close()
		b, _ := io.ReadAll(r)
		out := string(b)
		if strings.Contains(out, "#token=") || strings.Contains(out, "wbs1.") {
			t.Errorf("banner on a pipe carries a share token:\n%s", out)
		}
		want := "wirebridge share /packets/all -c " + dir + "/wirebridge.yaml"
		if !strings.Contains(out, want) {
			t.Errorf("banner on a pipe lacks %q:\n%s", want, out)
		}
	})
	t.Run("buffer", func(t *testing.T) {
		dir := t.TempDir()
		s, _, _ := newTestServer(t, dir, yaml(dir))
		defer s.release()
		var buf bytes.Buffer
		s.stdio.Out = &buf
		s.banner(0)
		if strings.Contains(buf.String(), "#token=") {
			t.Errorf("banner to a buffer carries a share token:\n%s", buf.String())
		}
	})
	t.Run("terminal", func(t *testing.T) {
		dir := t.TempDir()
		term, ctl := openPTY(t)
		s, _, _ := newTestServer(t, dir, yaml(dir))
		defer s.release()
		s.stdio.Out = term
		s.banner(0)
		// Bounded: what the banner wrote is in the terminal's buffer already.
		if err := ctl.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		var got []byte
		buf := make([]byte, 4096)
		for !bytes.Contains(got, []byte("#token=wbs1.")) {
			n, err := ctl.Read(buf)
			if err != nil {
				t.Fatalf("the banner on a terminal carries no share link: %v\n%s", err, got)
			}
			got = append(got, buf[:n]...)
		}
	})
}
