// Command mkcapture writes a large pcap for benchmarks by cycling through the
// Ethernet frames of the captures given on the command line. It is a
// development tool, not part of the data path.
//
//	go run ./scripts/mkcapture -n 200000 -o /tmp/big.pcap testdata/pcaps/*.pcap
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
)

func main() {
	n := flag.Int("n", 200000, "packets to write")
	out := flag.String("o", "", "output pcap file")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: mkcapture -n N -o OUT.pcap CAPTURE...")
		os.Exit(2)
	}
	if err := run(*n, *out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "mkcapture:", err)
		os.Exit(1)
	}
}

func run(n int, out string, inputs []string) error {
	var frames [][]byte
	for _, in := range inputs {
		f, err := os.Open(in)
		if err != nil {
			return err
		}
		r, err := capfile.NewReader(f)
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", in, err)
		}
		for {
			d, info, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return fmt.Errorf("%s: %w", in, err)
			}
			if info.LinkType == packet.LinkEthernet && info.CaptureLength == info.Length {
				frames = append(frames, append([]byte(nil), d...))
			}
		}
		f.Close()
	}
	if len(frames) == 0 {
		return errors.New("no complete Ethernet frames in the inputs")
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w, err := capfile.NewWriter(f, packet.LinkEthernet, 262144, false)
	if err != nil {
		f.Close()
		return err
	}
	ts := time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		d := frames[i%len(frames)]
		info := packet.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Microsecond), CaptureLength: len(d), Length: len(d), LinkType: packet.LinkEthernet}
		if err := w.WritePacket(info, d); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
