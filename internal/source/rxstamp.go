package source

import (
	"net"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Receive timestamps and their first moments.
//
// The kernel stamps a datagram as it is queued only once receive
// timestamping is on, which Linux switches on for the whole machine (a
// static key) from a work queue a moment after the first socket asks for
// it. Datagrams that arrive before that get the time they are read instead,
// and once the switch has happened, later datagrams carry earlier times
// than those: capture times that go backwards in the first milliseconds
// after start (seen: the first ~230 of a stream). So before its first read
// a reader waits, once per process and at most rxStampWait, until a probe
// datagram over loopback comes back stamped when it was sent rather than
// when it was read. Without a loopback (a namespace with lo down) the wait
// ends at once: nothing is lost but the guarantee for those first moments.
var rxStampOnce sync.Once

const (
	rxStampWait  = 250 * time.Millisecond
	rxStampDelay = 2 * time.Millisecond // between the probe's send and its read
)

// awaitRxTimestamps waits until the kernel stamps datagrams when they are
// queued (see above). Call it once a socket has SO_TIMESTAMPNS set.
func awaitRxTimestamps() {
	rxStampOnce.Do(func() {
		deadline := time.Now().Add(rxStampWait)
		for time.Now().Before(deadline) {
			ok, err := probeRxTimestamp()
			if ok || err != nil {
				return
			}
		}
	})
}

// probeRxTimestamp sends a datagram to a timestamping socket on loopback,
// reads it rxStampDelay later, and reports whether its time is the send's.
func probeRxTimestamp() (bool, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return false, err
	}
	defer c.Close()
	rc, err := c.SyscallConn()
	if err != nil {
		return false, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return false, err
	}
	s, err := net.DialUDP("udp4", nil, c.LocalAddr().(*net.UDPAddr))
	if err != nil {
		return false, err
	}
	defer s.Close()
	sent := time.Now()
	if _, err := s.Write([]byte{0}); err != nil {
		return false, err
	}
	time.Sleep(rxStampDelay)
	if err := c.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		return false, err
	}
	oob := make([]byte, 128)
	_, oobn, _, _, err := c.ReadMsgUDP(make([]byte, 16), oob)
	if err != nil {
		return false, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return false, err
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
			return time.Unix(ts.Unix()).Sub(sent) < rxStampDelay/2, nil
		}
	}
	return false, nil
}
