package dissect_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/dissect"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
)

// payloadOfPacket returns the innermost transport payload of packet no (1-based)
// of a capture in testdata/pcaps, and whether it is TCP.
func payloadOfPacket(t testing.TB, file string, no int) (payload []byte, tcp bool) {
	t.Helper()
	f, err := os.Open(filepath.Join("../../testdata/pcaps", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capfile.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var p packet.Packet
	for i := 1; ; i++ {
		data, info, err := r.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s has no packet %d", file, no)
		}
		if err != nil {
			t.Fatal(err)
		}
		if i < no {
			continue
		}
		_ = packet.Decode(&p, data, info)
		fr := &p.Frames[p.NumFrames-1]
		return bytes.Clone(p.Data[fr.PayloadOff : fr.PayloadOff+fr.PayloadLen]), fr.Layers.Has(packet.LayerTCP)
	}
}

// kindOf names the error kind of err for table tests ("" for nil).
func kindOf(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, dissect.ErrTruncated):
		return "truncated"
	case errors.Is(err, dissect.ErrMalformed):
		return "malformed"
	case errors.Is(err, dissect.ErrNotProtocol):
		return "not protocol"
	}
	return "other: " + err.Error()
}

func listText(v any) string {
	switch x := v.(type) {
	case []string:
		return "[" + strings.Join(x, " | ") + "]"
	}
	return fmt.Sprint(v)
}
