package appliance

import (
	"fmt"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSendFullBufferWaits: a reader's replies go out with a non-blocking
// sendmmsg; when the send buffer is full, send must wait for room (back
// pressure) rather than count the rest as send errors. The replies go to a
// datagram socketpair whose peer starts reading only once the sender's
// buffer is full, so the non-blocking call is certain to find it full.
func TestSendFullBufferWaits(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if err := unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4096); err != nil {
		t.Fatal(err)
	}

	const k = 64
	r := &reader{raw: fds[0], out: make([]mmsghdr, k), outIovs: make([]unix.Iovec, k), rxts: make([]int64, k)}
	r.st.init()
	msgs := make([][]byte, k)
	for i := range k {
		msgs[i] = fmt.Appendf(nil, "reply %02d %s", i, make([]byte, 200))
		r.outIovs[i].Base = &msgs[i][0]
		r.outIovs[i].SetLen(len(msgs[i]))
		o := &r.out[i].hdr
		o.Iov = &r.outIovs[i]
		o.SetIovlen(1)
	}

	got := make(chan []string, 1)
	go func() {
		// Wait until the sender's buffer is full, then read everything.
		for {
			p := []unix.PollFd{{Fd: int32(fds[0]), Events: unix.POLLOUT}}
			if n, err := unix.Poll(p, 0); err == nil && n == 0 {
				break
			}
			runtime.Gosched()
		}
		// Everything up to the sentinel the test sends after send returns.
		var out []string
		buf := make([]byte, 512)
		for {
			n, _, err := unix.Recvfrom(fds[1], buf, 0)
			if err != nil || string(buf[:n]) == "end" {
				break
			}
			out = append(out, string(buf[:n]))
		}
		got <- out
	}()

	r.send(k)
	if _, err := unix.Write(fds[0], []byte("end")); err != nil {
		t.Fatal(err)
	}
	out := <-got
	if e := r.st.sendErrors.Load(); e != 0 {
		t.Errorf("send errors = %d, want 0 (a full buffer must be waited for)", e)
	}
	if n := r.st.returned.Load(); n != k {
		t.Errorf("returned = %d, want %d", n, k)
	}
	if len(out) != k {
		t.Fatalf("received %d replies, want %d", len(out), k)
	}
	for i, m := range out {
		if m != string(msgs[i]) {
			t.Fatalf("reply %d = %.8q, want %.8q (order)", i, m, msgs[i])
		}
	}
}
