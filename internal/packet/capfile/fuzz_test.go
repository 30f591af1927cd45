package capfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"
)

// FuzzReader reads arbitrary input to the end or the first error. It must
// not panic, must keep its buffer within MaxBlockLength, and what it returns
// must be consistent: data as long as the captured length, offsets that only
// grow and never pass the input's end, errors of the documented kinds.
func FuzzReader(f *testing.F) {
	for _, path := range captureFiles(f) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	synth, _ := syntheticPcapng()
	f.Add(synth)
	f.Add(udpPcap(3, true))
	f.Add(pcapBytes(binary.BigEndian, magicMicro, 1, 65535, pcapRec(binary.BigEndian, 1, 2, 4, 4, []byte{1, 2, 3, 4})))

	f.Fuzz(func(t *testing.T, input []byte) {
		r, err := NewReaderSize(bytes.NewReader(input), 0)
		if err != nil {
			checkErr(t, err)
			return
		}
		last := r.Offset()
		for range len(input) + 1 { // every packet consumes at least 12 bytes
			data, info, err := r.Next()
			if err == io.EOF {
				if r.Offset() != int64(len(input)) {
					t.Fatalf("io.EOF at offset %d of %d", r.Offset(), len(input))
				}
				return
			}
			if err != nil {
				checkErr(t, err)
				return
			}
			if len(data) != info.CaptureLength || info.CaptureLength > MaxCaptureLength {
				t.Fatalf("len(data) %d, CaptureLength %d", len(data), info.CaptureLength)
			}
			if off := r.Offset(); off <= last || off > int64(len(input)) {
				t.Fatalf("offset went from %d to %d (input %d bytes)", last, off, len(input))
			}
			last = r.Offset()
			if len(r.buf) > MaxBlockLength {
				t.Fatalf("buffer grew to %d bytes", len(r.buf))
			}
		}
		t.Fatal("Next did not finish")
	})
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *capfile.Error", err, err)
	}
	if !errors.Is(err, ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("error %v wraps none of the documented causes", err)
	}
	if ce.Offset < 0 {
		t.Fatalf("negative offset in %v", err)
	}
}
