package deliver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/packet"
)

// envelope magic and version (see the package documentation).
const (
	envMagic0  = 'W'
	envMagic1  = 'B'
	envVersion = 1
)

// A stored batch holds several envelopes in one message: as they are
// (version 2) or S2-compressed (version 3).
const (
	envBatchVersion   = 2
	envBatchS2Version = 3
)

// maxBatchDecoded bounds a compressed batch's decoded size (the largest
// message a NATS server takes, 8 MiB here, holds no batch larger than this).
const maxBatchDecoded = 64 << 20

// storedMaxBytes bounds the data of one stored batch, below the 1 MiB
// max_payload of a NATS server left at its default (an external cluster). A
// single delivery larger than that is stored alone, as a plain envelope.
const storedMaxBytes = 512 << 10

var errEnvelope = errors.New("envelope")

// appendBatch appends a stored batch of the envelopes in items to dst.
func appendBatch(dst []byte, items [][]byte) []byte {
	dst = append(dst, envMagic0, envMagic1, envBatchVersion)
	dst = binary.AppendUvarint(dst, uint64(len(items)))
	for _, it := range items {
		dst = binary.AppendUvarint(dst, uint64(len(it)))
		dst = append(dst, it...)
	}
	return dst
}

// compressBatch returns the batch message plain (from appendBatch) in its
// compressed form, or plain itself when compressing does not make it
// smaller. Events in one batch share most of their JSON: a batch of them
// compresses several times over, which saves the store that much disk,
// write cache and I/O.
func compressBatch(plain []byte) []byte {
	_, k := binary.Uvarint(plain[3:])
	body := plain[3+k:]
	out := make([]byte, 0, 3+k+s2.MaxEncodedLen(len(body)))
	out = append(out, plain[:3+k]...)
	out[2] = envBatchS2Version
	out = append(out, s2.Encode(out[len(out):cap(out)], body)...)
	if len(out) >= len(plain) {
		return plain
	}
	return out
}

// storedCount is how many deliveries a stored message holds, read from its
// first bytes: a batch's count, else 1 (also for a malformed message, which
// is dead-lettered as one).
func storedCount(b []byte) int {
	if len(b) < 4 || b[0] != envMagic0 || b[1] != envMagic1 || (b[2] != envBatchVersion && b[2] != envBatchS2Version) {
		return 1
	}
	if b[2] == envBatchS2Version {
		n, k := binary.Uvarint(b[3:])
		if k <= 0 || n == 0 || n > maxBatchDecoded {
			return 1
		}
		return int(n)
	}
	n, k := binary.Uvarint(b[3:])
	if k <= 0 || n == 0 || n > uint64(len(b)-3-k) { // every item takes at least its length byte
		return 1
	}
	return int(n)
}

// storedSize is a stored message's size as its deliveries: its length, or
// for a compressed batch the length it decompresses to (read from the
// compressed block's header).
func storedSize(b []byte) int {
	if len(b) < 4 || b[0] != envMagic0 || b[1] != envMagic1 || b[2] != envBatchS2Version {
		return len(b)
	}
	_, k := binary.Uvarint(b[3:])
	if k <= 0 {
		return len(b)
	}
	n, err := s2.DecodedLen(b[3+k:])
	if err != nil || n > maxBatchDecoded {
		return len(b)
	}
	return 3 + k + n
}

// storedItems splits a stored message into the envelopes of its
// deliveries: itself for a plain envelope, each item of a batch. The items
// alias b. It never panics on malformed input.
func storedItems(b []byte) ([][]byte, error) {
	if len(b) < 3 || b[0] != envMagic0 || b[1] != envMagic1 {
		return nil, fmt.Errorf("%w: bad magic", errEnvelope)
	}
	if b[2] != envBatchVersion && b[2] != envBatchS2Version {
		return [][]byte{b}, nil // a plain envelope (its version is checked by decodeEnvelope)
	}
	r := envReader{b: b[3:]}
	n, k := binary.Uvarint(r.b)
	if k <= 0 {
		return nil, fmt.Errorf("%w: truncated batch count", errEnvelope)
	}
	r.b = r.b[k:]
	if b[2] == envBatchS2Version {
		size, err := s2.DecodedLen(r.b)
		if err != nil || size > maxBatchDecoded {
			return nil, fmt.Errorf("%w: compressed batch: bad length", errEnvelope)
		}
		if r.b, err = s2.Decode(make([]byte, size), r.b); err != nil {
			return nil, fmt.Errorf("%w: compressed batch: %w", errEnvelope, err)
		}
	}
	if n == 0 || n > uint64(len(r.b)) { // every item takes at least its length byte
		return nil, fmt.Errorf("%w: batch count %d out of range", errEnvelope, n)
	}
	items := make([][]byte, 0, n)
	for range n {
		it := r.bytes("batch item")
		if r.err != nil {
			return nil, r.err
		}
		items = append(items, it)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the batch's last item", errEnvelope, len(r.b))
	}
	return items, nil
}

// appendEnvelope appends d's stored form to dst. Target and Attempt are not
// stored: the subject names the target and JetStream counts attempts.
func appendEnvelope(dst []byte, d *handoff.Delivery) []byte {
	dst = append(dst, envMagic0, envMagic1, envVersion)
	dst = binary.AppendUvarint(dst, uint64(len(d.ID)))
	dst = append(dst, d.ID...)
	dst = binary.AppendUvarint(dst, uint64(len(d.Rule)))
	dst = append(dst, d.Rule...)
	dst = binary.AppendVarint(dst, unixNano(d.Accepted))
	dst = binary.AppendVarint(dst, unixNano(d.Capture.Timestamp))
	dst = binary.AppendVarint(dst, int64(d.Capture.CaptureLength))
	dst = binary.AppendVarint(dst, int64(d.Capture.Length))
	dst = binary.AppendVarint(dst, int64(d.Capture.InterfaceIndex))
	dst = binary.AppendVarint(dst, int64(d.Capture.LinkType))
	dst = binary.AppendUvarint(dst, uint64(len(d.Frame)))
	dst = append(dst, d.Frame...)
	return append(dst, d.Body...)
}

func envelopeSize(d *handoff.Delivery) int {
	return 3 + 6*binary.MaxVarintLen64 + 3*binary.MaxVarintLen32 + len(d.ID) + len(d.Rule) + len(d.Frame) + len(d.Body)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// decodeEnvelope parses a stored delivery. The returned Body and Frame alias
// b. It never panics on malformed input.
func decodeEnvelope(b []byte) (handoff.Delivery, error) {
	var d handoff.Delivery
	if len(b) < 3 || b[0] != envMagic0 || b[1] != envMagic1 {
		return d, fmt.Errorf("%w: bad magic", errEnvelope)
	}
	if b[2] != envVersion {
		return d, fmt.Errorf("%w: unsupported version %d", errEnvelope, b[2])
	}
	r := envReader{b: b[3:]}
	d.ID = string(r.bytes("id"))
	d.Rule = string(r.bytes("rule"))
	d.Accepted = fromUnixNano(r.varint("accepted"))
	d.Capture.Timestamp = fromUnixNano(r.varint("capture timestamp"))
	d.Capture.CaptureLength = int(r.varint("capture length"))
	d.Capture.Length = int(r.varint("length"))
	d.Capture.InterfaceIndex = int(r.varint("interface index"))
	lt := r.varint("link type")
	if r.err == nil && (lt < 0 || lt > 0xffff) {
		r.err = fmt.Errorf("%w: link type %d out of range", errEnvelope, lt)
	}
	d.Capture.LinkType = packet.LinkType(lt)
	if f := r.bytes("frame"); len(f) > 0 {
		d.Frame = f
	}
	if r.err != nil {
		return handoff.Delivery{}, r.err
	}
	d.Body = r.b
	return d, nil
}

type envReader struct {
	b   []byte
	err error
}

func (r *envReader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: truncated %s", errEnvelope, what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *envReader) bytes(what string) []byte {
	if r.err != nil {
		return nil
	}
	l, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: truncated %s length", errEnvelope, what)
		return nil
	}
	r.b = r.b[n:]
	if l > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: %s length %d exceeds the %d bytes left", errEnvelope, what, l, len(r.b))
		return nil
	}
	v := r.b[:l:l]
	r.b = r.b[l:]
	return v
}
