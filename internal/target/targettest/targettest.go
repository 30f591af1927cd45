// Package targettest is the conformance suite every delivery target passes
// (internal/target/...). It sits beside the last stage of the data path,
// checking the contract between internal/deliver and the targets:
//
//	deliver ──Send(ctx, batch)──► target ──► sink (server, file, subject, bus)
//
// A target's test calls Run with a Factory that builds a fresh target over a
// fresh sink and says how to read back what arrived. Run checks: empty
// batches, a single delivery, a large batch, a large body, bodies holding
// every byte value, concurrent Send calls, idempotent Close, Send after
// Close, a cancelled context, and (when the sink can be stalled) that a
// blocked Send honours its context's deadline.
//
// A target that reassembles TCP streams from the deliveries' frames (replay)
// says so with Instance.Stream: the suite then carries each delivery as one
// TCP segment of a connection per sender, so the same checks apply to it.
package targettest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/target"
)

// Instance is one target under test with its sink.
type Instance struct {
	// Target is the target under test, freshly built.
	Target target.Target
	// Delivered returns what arrived at the sink, one entry per delivered
	// Delivery, in arrival order. Run calls it after Target.Close returned.
	Delivered func() ([][]byte, error)
	// Expect maps a sent delivery to the entry Delivered reports for it.
	// Nil means d.Body.
	Expect func(d handoff.Delivery) []byte
	// JSONOnly says the target accepts only JSON object bodies shaped like
	// events (eventbridge): the suite then carries every byte value inside
	// event JSON instead of sending raw binary bodies.
	JSONOnly bool
	// Stall, when not nil, makes the sink stop answering until release is
	// called; Run then checks that a blocked Send returns once its context
	// expires. Targets writing to local files leave it nil, and so does
	// replay: a stalled shadow is counted in its metrics, never returned
	// (Send does not ask deliver to retry).
	Stall func() (release func())
	// Stream, when not nil, says the target reads only the deliveries'
	// frames and reassembles the TCP streams they carry (replay): a frame
	// that is not part of a stream delivers nothing. The suite then builds
	// every delivery's frame as one TCP segment (Ethernet / IPv4 / TCP from
	// 10.0.0.7 to 10.0.0.2:80, built with packet.Build) whose payload is
	// Stream(seq, body), cut to MaxSegment bytes. The deliveries a sender
	// sends (one goroutine's Sends, in order) are the consecutive segments of
	// one connection of its own: the first one opens it (SYN, carrying data
	// as TCP Fast Open does), each next one starts where the one before
	// ended, none closes it (Close ends it). A batch that never reaches the
	// target (cancelled, stalled, after Close) is built on a connection of
	// its own, so later batches do not follow a hole. Body is still set (the
	// target ignores it), and Expect must be set: it maps such a delivery to
	// its entry (typically from its Body, as Stream does).
	Stream func(seq int, body []byte) []byte
}

// MaxSegment is the largest TCP payload a Stream delivery carries: the most
// one IPv4 packet holds after a 20-byte IPv4 and a 20-byte TCP header.
const MaxSegment = 65535 - 20 - 20

// Factory builds a fresh Instance. It registers its own cleanups with t.
type Factory func(t *testing.T) Instance

// Long is how long Run waits for a Send that should return "promptly"
// before failing the test as hung. It is a hang detector, not a measurement.
const Long = 20 * time.Second

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, f Factory) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, f Factory)
	}{
		{"EmptyBatch", testEmptyBatch},
		{"Single", testSingle},
		{"LargeBatch", testLargeBatch},
		{"LargeBody", testLargeBody},
		{"AllByteValues", testAllByteValues},
		{"ConcurrentSend", testConcurrent},
		{"CloseIdempotent", testCloseIdempotent},
		{"SendAfterClose", testSendAfterClose},
		{"CanceledContext", testCanceled},
		{"StalledSinkDeadline", testStalled},
		{"CopiesBatch", testCopiesBatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, f) })
	}
}

// Base is the capture time of the first delivery Make builds.
var Base = time.Date(2026, 11, 21, 20, 40, 15, 123456789, time.UTC)

// EventBody returns event JSON shaped like wirebridge's, for delivery seq,
// carrying payload in detail.Payload (base64) and text in detail.Text.
func EventBody(seq int, payload []byte, text string) []byte {
	b := []byte(`{"version":"0","id":"`)
	b = append(b, ID(seq)...)
	b = append(b, `","source":"wirebridge.test","detail-type":"UdpPacket","time":"`...)
	ts := Base.Add(time.Duration(seq) * time.Microsecond)
	b = ts.Truncate(time.Second).AppendFormat(b, time.RFC3339)
	b = append(b, `","resources":["conformance"],"detail":{"Seq":`...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, `,"Timestamp":"`...)
	b = ts.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","Length":`...)
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, `,"Payload":"`...)
	b = base64.StdEncoding.AppendEncode(b, payload)
	b = append(b, `","Text":`...)
	q, _ := json.Marshal(text) // a string always marshals
	b = append(b, q...)
	return append(b, `}}`...)
}

// ID returns a deterministic event id for seq.
func ID(seq int) string {
	return fmt.Sprintf("0193a8c2-7d1e-7c3a-9f4e-%012x", seq)
}

// Make builds delivery seq with the given body and a captured frame: an
// Ethernet/IPv4/UDP packet from 10.0.0.7:40123 to 10.0.0.2:514 whose payload
// is the first 1472 bytes of body (all of it when shorter).
func Make(seq int, body []byte) handoff.Delivery {
	payload := body
	if len(payload) > 1472 {
		payload = payload[:1472]
	}
	frame := Frame(payload)
	ts := Base.Add(time.Duration(seq) * time.Microsecond)
	return handoff.Delivery{
		ID:     ID(seq),
		Rule:   "conformance",
		Target: "under-test",
		Body:   body,
		Frame:  frame,
		Capture: packet.CaptureInfo{
			Timestamp:     ts,
			CaptureLength: len(frame),
			Length:        len(frame),
			LinkType:      packet.LinkEthernet,
		},
		Attempt:  1,
		Accepted: ts,
	}
}

// Frame returns an Ethernet II / IPv4 / UDP frame (10.0.0.7:40123 ->
// 10.0.0.2:514, TTL 64, valid IPv4 checksum, UDP checksum 0) carrying
// payload, which must be at most 65507 bytes.
func Frame(payload []byte) []byte {
	f := make([]byte, 14+20+8+len(payload))
	copy(f[0:6], []byte{0x02, 0, 0, 0, 0, 0x02})
	copy(f[6:12], []byte{0x02, 0, 0, 0, 0, 0x07})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:16], []byte{10, 0, 0, 7})
	copy(ip[16:20], []byte{10, 0, 0, 2})
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := f[34:42]
	binary.BigEndian.PutUint16(udp[0:], 40123)
	binary.BigEndian.PutUint16(udp[2:], 514)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(f[42:], payload)
	return f
}

// AllBytes returns the 256 byte values in order.
func AllBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// AllRunes is text holding every code point from U+0000 to U+00FF and a few
// multi-byte ones (including U+2028, which JavaScript treats as a line break).
func AllRunes() string {
	var b bytes.Buffer
	for r := rune(0); r < 256; r++ {
		b.WriteRune(r)
	}
	b.WriteString("\u2028\u2029€𝄞")
	return b.String()
}

func newInstance(t *testing.T, f Factory) Instance {
	t.Helper()
	in := f(t)
	if in.Target == nil || in.Delivered == nil {
		t.Fatal("factory returned an Instance without Target or Delivered")
	}
	if in.Stream != nil && in.Expect == nil {
		t.Fatal("factory returned a Stream Instance without Expect (the target does not deliver Body)")
	}
	return in
}

// sender builds the deliveries one sender sends, in order: with Stream, the
// segments of its own TCP connection (client port 40000+k); without, Make's.
type sender struct {
	in     Instance
	port   uint16
	next   uint32 // sequence number of the next segment's first byte
	opened bool   // the SYN was built
}

func (in Instance) sender(k int) *sender {
	return &sender{in: in, port: 40000 + uint16(k), next: 0xfffff000 + uint32(k)<<8} // near 2^32: sequence numbers wrap
}

// make builds delivery seq with body.
func (s *sender) make(seq int, body []byte) handoff.Delivery {
	d := Make(seq, body)
	if s.in.Stream == nil {
		return d
	}
	payload := s.in.Stream(seq, body)
	if len(payload) > MaxSegment {
		payload = payload[:MaxSegment]
	}
	flags := packet.TCPPsh | packet.TCPAck
	seqNo := s.next
	if !s.opened {
		flags = packet.TCPSyn | packet.TCPPsh // the client's SYN: no ACK
		seqNo = s.next - 1                    // the SYN takes one sequence number
		s.opened = true
	}
	s.next += uint32(len(payload))
	d.Frame = packet.Build(
		packet.Eth{Src: [6]byte{0x02, 0, 0, 0, 0, 0x07}, Dst: [6]byte{0x02, 0, 0, 0, 0, 0x02}},
		packet.IPv4{Src: netip.AddrFrom4([4]byte{10, 0, 0, 7}), Dst: netip.AddrFrom4([4]byte{10, 0, 0, 2})},
		packet.TCP{Src: s.port, Dst: 80, Seq: seqNo, Flags: flags, Window: 65535},
		packet.Payload(payload))
	d.Capture.CaptureLength, d.Capture.Length = len(d.Frame), len(d.Frame)
	return d
}

// batch builds n deliveries from seq from with default bodies of size bytes of payload.
func (s *sender) batch(from, n, size int) []handoff.Delivery {
	b := make([]handoff.Delivery, n)
	for i := range b {
		b[i] = s.make(from+i, body(from+i, size))
	}
	return b
}

func (in Instance) expect(d handoff.Delivery) []byte {
	if in.Expect != nil {
		return in.Expect(d)
	}
	return d.Body
}

// body returns the default body for seq: event JSON with a small payload.
func body(seq int, size int) []byte {
	// (EventBody output is valid JSON: TestEventBodyIsJSON.)
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(seq + i)
	}
	return EventBody(seq, p, "seq "+strconv.Itoa(seq))
}

func send(t *testing.T, tg target.Target, b []handoff.Delivery) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Long)
	defer cancel()
	if err := tg.Send(ctx, b); err != nil {
		t.Fatalf("Send(%d deliveries): %v", len(b), err)
	}
}

func closeAndRead(t *testing.T, in Instance) [][]byte {
	t.Helper()
	if err := in.Target.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got, err := in.Delivered()
	if err != nil {
		t.Fatalf("reading back what was delivered: %v", err)
	}
	return got
}

// checkExact checks that got is exactly the expected entries of sent, in order.
func checkExact(t *testing.T, in Instance, sent []handoff.Delivery, got [][]byte) {
	t.Helper()
	if len(got) != len(sent) {
		t.Fatalf("delivered %d entries, sent %d", len(got), len(sent))
	}
	for i, d := range sent {
		if want := in.expect(d); !bytes.Equal(got[i], want) {
			t.Fatalf("entry %d (id %s) differs:\n got %s\nwant %s", i, d.ID, clip(got[i]), clip(want))
		}
	}
}

func clip(b []byte) string {
	if len(b) > 300 {
		return fmt.Sprintf("%q... (%d bytes)", b[:300], len(b))
	}
	return fmt.Sprintf("%q", b)
}

func testEmptyBatch(t *testing.T, f Factory) {
	in := newInstance(t, f)
	send(t, in.Target, nil)
	send(t, in.Target, []handoff.Delivery{})
	if got := closeAndRead(t, in); len(got) != 0 {
		t.Fatalf("empty batches delivered %d entries", len(got))
	}
}

func testSingle(t *testing.T, f Factory) {
	in := newInstance(t, f)
	b := in.sender(0).batch(1, 1, 64)
	send(t, in.Target, b)
	checkExact(t, in, b, closeAndRead(t, in))
}

func testLargeBatch(t *testing.T, f Factory) {
	in := newInstance(t, f)
	s := in.sender(0)
	b := s.batch(1, 1000, 1024)
	send(t, in.Target, b)
	more := s.batch(1001, 3, 16) // a second Send after the big one
	send(t, in.Target, more)
	checkExact(t, in, append(b, more...), closeAndRead(t, in))
}

// testCopiesBatch: a target that says Send keeps nothing of the batch once
// it returns (CopiesBatch: its deliverer then reuses the buffers the bodies
// and frames were queued in) delivers intact what it was sent even when
// every byte of the batch is overwritten right after Send returns.
func testCopiesBatch(t *testing.T, f Factory) {
	in := newInstance(t, f)
	if _, ok := in.Target.(interface{ CopiesBatch() }); !ok {
		t.Skip("the target does not say it copies its batches (no CopiesBatch): its deliverer keeps their buffers for it")
	}
	s := in.sender(0)
	b := s.batch(1, 200, 300)
	want := make([]handoff.Delivery, len(b))
	for i, d := range b {
		d.Body, d.Frame = slices.Clone(d.Body), slices.Clone(d.Frame)
		want[i] = d
	}
	send(t, in.Target, b)
	for i := range b { // the deliverer reuses the buffers
		for _, p := range [][]byte{b[i].Body, b[i].Frame} {
			for j := range p {
				p[j] = 'X'
			}
		}
	}
	more := s.batch(201, 3, 16) // written after the scribbling
	send(t, in.Target, more)
	checkExact(t, in, append(want, more...), closeAndRead(t, in))
}

func testLargeBody(t *testing.T, f Factory) {
	in := newInstance(t, f)
	s := in.sender(0)
	// 150 KiB of payload: about 200 KB of JSON, under EventBridge's 256 KB.
	b := []handoff.Delivery{s.make(1, body(1, 150<<10)), s.make(2, body(2, 10))}
	send(t, in.Target, b)
	checkExact(t, in, b, closeAndRead(t, in))
}

func testAllByteValues(t *testing.T, f Factory) {
	in := newInstance(t, f)
	s := in.sender(0)
	var b []handoff.Delivery
	b = append(b, s.make(1, EventBody(1, AllBytes(), AllRunes())))
	if !in.JSONOnly {
		var ascii []byte // every ASCII byte, control characters included: text, not JSON
		for c := 0; c < 128; c++ {
			ascii = append(ascii, byte(c))
		}
		b = append(b,
			s.make(2, AllBytes()),                             // binary: every byte value
			s.make(3, ascii),                                  // text with control characters
			s.make(4, []byte(AllRunes())),                     // UTF-8 text
			s.make(5, []byte("<13>Nov 21 host app: hello\n")), // a syslog line with its newline
			s.make(6, []byte{0}),
		)
	}
	send(t, in.Target, b)
	checkExact(t, in, b, closeAndRead(t, in))
}

func testConcurrent(t *testing.T, f Factory) {
	in := newInstance(t, f)
	const workers, batches, per = 4, 10, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	var sent [workers][]handoff.Delivery
	for w := 0; w < workers; w++ {
		s := in.sender(w)
		for i := 0; i < batches; i++ {
			sent[w] = append(sent[w], s.batch(w*10000+i*per, per, 100)...)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), Long)
			defer cancel()
			for i := 0; i < batches; i++ {
				if err := in.Target.Send(ctx, sent[w][i*per:(i+1)*per]); err != nil {
					errs <- fmt.Errorf("worker %d batch %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := closeAndRead(t, in)
	if len(got) != workers*batches*per {
		t.Fatalf("delivered %d entries, sent %d", len(got), workers*batches*per)
	}
	// Every entry arrived once, and each worker's entries arrived in the
	// order that worker sent them (its Sends were sequential).
	index := map[string][2]int{}
	for w := range sent {
		for i, d := range sent[w] {
			index[string(in.expect(d))] = [2]int{w, i}
		}
	}
	next := [workers]int{}
	for k, g := range got {
		pos, ok := index[string(g)]
		if !ok {
			t.Fatalf("entry %d was not sent (or arrived twice): %s", k, clip(g))
		}
		delete(index, string(g))
		if pos[1] != next[pos[0]] {
			t.Fatalf("worker %d: entry %d arrived when %d was expected", pos[0], pos[1], next[pos[0]])
		}
		next[pos[0]]++
	}
}

func testCloseIdempotent(t *testing.T, f Factory) {
	in := newInstance(t, f)
	b := in.sender(0).batch(1, 2, 32)
	send(t, in.Target, b)
	got := closeAndRead(t, in)
	if err := in.Target.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := in.Target.Close(); err != nil {
		t.Fatalf("third Close: %v", err)
	}
	checkExact(t, in, b, got)
}

func testSendAfterClose(t *testing.T, f Factory) {
	in := newInstance(t, f)
	if err := in.Target.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err := in.Target.Send(context.Background(), in.sender(0).batch(1, 1, 8))
	if err == nil {
		t.Fatal("Send after Close succeeded")
	}
	if !errors.Is(err, target.ErrClosed) {
		t.Fatalf("Send after Close: %v does not wrap target.ErrClosed", err)
	}
	if target.IsPermanent(err) {
		t.Fatalf("Send after Close: %v is permanent; it must be transient so nothing is dead-lettered at shutdown", err)
	}
	if err := in.Target.Send(context.Background(), nil); !errors.Is(err, target.ErrClosed) {
		t.Fatalf("empty Send after Close: got %v, want ErrClosed", err)
	}
	got, rerr := in.Delivered()
	if rerr != nil {
		t.Fatal(rerr)
	}
	if len(got) != 0 {
		t.Fatalf("Send after Close delivered %d entries", len(got))
	}
}

func testCanceled(t *testing.T, f Factory) {
	in := newInstance(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- in.Target.Send(ctx, in.sender(1).batch(1, 5, 32)) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Send with a cancelled context: got %v, want an error wrapping context.Canceled", err)
		}
		if target.IsPermanent(err) {
			t.Fatalf("cancellation reported as permanent: %v", err)
		}
	case <-time.After(Long):
		t.Fatal("Send with a cancelled context did not return")
	}
	// The target stays usable, and nothing of the cancelled batch arrived.
	b := in.sender(0).batch(100, 2, 32)
	send(t, in.Target, b)
	checkExact(t, in, b, closeAndRead(t, in))
}

func testStalled(t *testing.T, f Factory) {
	in := newInstance(t, f)
	if in.Stall == nil {
		in.Target.Close()
		t.Skip("the Instance has no Stall (local writes are not interruptible; a stalled replay shadow does not fail Send); CanceledContext covers cancellation")
	}
	release := in.Stall()
	released := false
	defer func() {
		if !released {
			release()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- in.Target.Send(ctx, in.sender(1).batch(1, 3, 32)) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Send to a stalled sink succeeded")
		}
		if target.IsPermanent(err) {
			t.Fatalf("deadline reported as permanent: %v", err)
		}
	case <-time.After(Long):
		t.Fatal("Send to a stalled sink did not return after its context expired")
	}
	release()
	released = true
	b := in.sender(0).batch(100, 2, 32)
	send(t, in.Target, b)
	if err := in.Target.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got, err := in.Delivered()
	if err != nil {
		t.Fatal(err)
	}
	// The stalled batch may or may not have arrived (at-least-once); the
	// later one must have, last and in order.
	if len(got) < len(b) {
		t.Fatalf("delivered %d entries, want at least %d", len(got), len(b))
	}
	checkExact(t, in, b, got[len(got)-len(b):])
}
