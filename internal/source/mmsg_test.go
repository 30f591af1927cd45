package source

import (
	"bytes"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestUDPKernelDropsCountedWhenIdle: drops that happen after the reader's
// last poll are counted once the socket is idle, without another datagram.
// The reader polls SO_MEMINFO after its first batch, then holds its second
// batch (emit blocks) while a burst overflows the small receive buffer;
// once released it drains the buffer and nothing more arrives.
func TestUDPKernelDropsCountedWhenIdle(t *testing.T) {
	u := newTestUDP(t, UDPConfig{Listen: []string{"127.0.0.1:0"}, RecvBuffer: 4096, Batch: 8})
	var batches atomic.Int32
	hold, held := make(chan struct{}), make(chan struct{})
	running(t, u, func(b Batch) {
		if batches.Add(1) == 2 {
			close(held)
			<-hold
		}
	})
	c, err := net.Dial("udp", u.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(n int) {
		p := bytes.Repeat([]byte{'x'}, 200)
		for range n {
			if _, err := c.Write(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(1)
	deadline := time.Now().Add(10 * time.Second)
	for u.Stats().Received.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the first datagram was not read")
		}
		time.Sleep(time.Millisecond)
	}
	send(1)
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the second datagram was not read")
	}
	const burst = 2000
	send(burst)
	close(hold)
	const total = burst + 2
	for {
		st := u.Stats().Snapshot()
		if st.Received+st.Dropped["kernel"] == total {
			if st.Dropped["kernel"] == 0 {
				t.Fatalf("no kernel drops with a %d-byte receive buffer: the test did not overflow it", u.RecvBuffer())
			}
			t.Logf("received %d, kernel drops %d", st.Received, st.Dropped["kernel"])
			return
		}
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("received %d + kernel drops %d != %d sent, with the socket idle", st.Received, st.Dropped["kernel"], total)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReadPauseOnlyWithRoom: readers pause after a short read (readPause)
// only when the socket's receive buffer holds a millisecond of traffic at
// high rates; with a small recv_buffer they read without pausing.
func TestReadPauseOnlyWithRoom(t *testing.T) {
	tests := []struct {
		name string
		buf  int
		want time.Duration
	}{
		{"default 4 MiB", 4 << 20, readPause},
		{"1 MiB", 1 << 20, readPause},
		{"64 KiB", 64 << 10, 0},
		{"4 KiB", 4096, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newTestUDP(t, UDPConfig{Listen: []string{"127.0.0.1:0"}, RecvBuffer: tt.buf, Batch: 8, Readers: 2})
			for i, r := range u.readers {
				if r.pause != tt.want {
					t.Errorf("reader %d: pause %v, want %v", i, r.pause, tt.want)
				}
			}
		})
	}
}
