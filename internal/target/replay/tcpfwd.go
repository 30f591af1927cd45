package replay

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/wirebridge/wirebridge/internal/tcpreasm"
)

// tcpConn forwards one flow's client stream to a new TCP connection.
type tcpConn struct {
	t   *Target
	key tcpreasm.FlowKey

	mu     sync.Mutex
	q      [][]byte
	qBytes int
	fin    bool // no more data will come: half-close after the queue
	abort  bool // drop the queue, close at once
	work   chan struct{}
	space  chan struct{}
}

func (t *Target) newTCPConn(k tcpreasm.FlowKey) *tcpConn {
	c := &tcpConn{t: t, key: k, work: make(chan struct{}, 1), space: make(chan struct{}, 1)}
	t.workers.Go(c.run)
	return c
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Data queues client bytes, waiting while the flow's queue is full
// (backpressure) up to Timeout, after which the flow is aborted.
func (c *tcpConn) Data(side tcpreasm.Side, b []byte) {
	if side != tcpreasm.Client {
		return
	}
	cp := make([]byte, len(b))
	copy(cp, b)
	var deadline <-chan time.Time
	for {
		c.mu.Lock()
		if c.abort {
			c.mu.Unlock()
			return
		}
		if c.qBytes == 0 || c.qBytes+len(cp) <= c.t.cfg.QueueBytes {
			c.q = append(c.q, cp)
			c.qBytes += len(cp)
			c.mu.Unlock()
			signal(c.work)
			return
		}
		c.mu.Unlock()
		if deadline == nil {
			tm := time.NewTimer(c.t.cfg.Timeout)
			defer tm.Stop()
			deadline = tm.C
		}
		select {
		case <-c.space:
		case <-deadline:
			c.stop(true, dropBackpressure)
			return
		case <-c.t.waitCtx().Done():
			c.stop(true, dropBackpressure)
			return
		}
	}
}

func (c *tcpConn) Gap(tcpreasm.Side, uint32) {}

func (c *tcpConn) Fin(side tcpreasm.Side) {
	if side == tcpreasm.Client {
		c.stop(false, "")
	}
}

func (c *tcpConn) End(reason tcpreasm.EndReason) {
	switch reason {
	case tcpreasm.EndFin, tcpreasm.EndIdle, tcpreasm.EndClosed:
		c.stop(false, "")
	default:
		c.stop(true, reason.String())
	}
}

// stop ends the flow's forwarding: after the queue (abort false), or at
// once, discarding the queue; a flow whose client bytes are discarded that
// way is counted once as dropped with reason (unless it already was).
func (c *tcpConn) stop(abort bool, reason string) {
	c.mu.Lock()
	c.fin = true
	count := false
	if abort {
		count = !c.abort && (len(c.q) > 0 || reason == dropBackpressure || reason == dropTargetError)
		c.abort = true
		c.q, c.qBytes = nil, 0
	}
	c.mu.Unlock()
	if count {
		c.t.st.drop(reason)
	}
	signal(c.work)
}

func (c *tcpConn) next() (b []byte, fin, abort bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.abort {
		return nil, true, true
	}
	if len(c.q) > 0 {
		b = c.q[0]
		c.q[0] = nil
		c.q = c.q[1:]
		c.qBytes -= len(b)
		signal(c.space)
		return b, false, false
	}
	return nil, c.fin, false
}

func (c *tcpConn) run() {
	t := c.t
	d := net.Dialer{Timeout: t.cfg.Timeout}
	conn, err := d.DialContext(t.life, "tcp", t.dialAddr)
	if err != nil {
		t.st.err("dial")
		c.stop(true, dropTargetError)
		return
	}
	defer conn.Close()
	drained := make(chan struct{})
	go func() { // the shadow's answers are read and discarded
		_, _ = io.Copy(io.Discard, conn)
		close(drained)
	}()
	first := time.Time{}
	for {
		b, fin, abort := c.next()
		if abort {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // reset, as the original was
			}
			return
		}
		if b == nil {
			if fin {
				break
			}
			select {
			case <-c.work:
			case <-t.life.Done():
				return
			}
			continue
		}
		if first.IsZero() {
			first = time.Now()
		}
		_ = conn.SetWriteDeadline(time.Now().Add(t.cfg.Timeout))
		n, err := conn.Write(b) // writes all of b or fails; never re-sent
		t.st.bytesForwarded.Add(uint64(n))
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.st.err("timeout")
			} else {
				t.st.err("write")
			}
			c.stop(true, dropTargetError)
			return
		}
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	select { // let the shadow answer and close
	case <-drained:
		if !first.IsZero() {
			t.latency.Observe(time.Since(first).Seconds())
		}
	case <-time.After(t.cfg.Timeout):
	case <-t.life.Done():
	}
}
