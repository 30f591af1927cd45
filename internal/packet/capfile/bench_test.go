package capfile

import (
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// udpFrame is an Ethernet/IPv4/UDP frame with a 64-byte payload (106 bytes).
func udpFrame() []byte {
	f := make([]byte, 14+20+8+64)
	copy(f[0:], []byte{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00})
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], 20+8+64)
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], 40000)
	binary.BigEndian.PutUint16(udp[2:], 514)
	binary.BigEndian.PutUint16(udp[4:], 8+64)
	for i := range udp[8:] {
		udp[8+i] = byte('a' + i%26)
	}
	return f
}

// udpPcap is a classic pcap of n udpFrames, one millisecond apart.
func udpPcap(n int, nano bool) []byte {
	le := binary.LittleEndian
	magic := uint32(magicMicro)
	if nano {
		magic = magicNano
	}
	b := pcapBytes(le, magic, 1, 65535)
	f := udpFrame()
	for i := range n {
		b = append(b, pcapRec(le, 1700000000+uint32(i/1000), uint32(i%1000)*1000, uint32(len(f)), uint32(len(f)), f)...)
	}
	return b
}

const ngHeaderLen = 28 + 20 // SHB + IDB without options

// udpPcapng is a pcapng of n udpFrames in Enhanced Packet Blocks (µs).
func udpPcapng(n int) []byte {
	g := &ngBuilder{}
	g.shb(binary.LittleEndian)
	g.idb(1, 0)
	f := udpFrame()
	for i := range n {
		g.epb(0, 1700000000_000000+uint64(i)*1000, uint32(len(f)), f)
	}
	return g.b
}

// loopReader serves data, then data[start:] over and over: an endless capture.
type loopReader struct {
	data  []byte
	start int
	pos   int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if l.pos == len(l.data) {
			l.pos = l.start
		}
		c := copy(p[n:], l.data[l.pos:])
		l.pos += c
		n += c
	}
	return n, nil
}

// cpuTime returns the process's user+system CPU time. On a shared, loaded
// machine the wall-clock ns/op includes time spent descheduled; the CPU time
// per packet (reported as cpu-ns/packet) does not.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportPerPacket(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/packet")
}

func benchRead(b *testing.B, input []byte, start int) {
	r, err := NewReader(&loopReader{data: input, start: start})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(input)-start) / 10000)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	var total int
	for range b.N {
		data, _, err := r.Next()
		if err != nil {
			b.Fatal(err)
		}
		total += len(data)
	}
	reportPerPacket(b, cpu0)
	if total == 0 {
		b.Fatal("no data")
	}
}

// BenchmarkReader reads 106-byte Ethernet/IPv4/UDP frames (64-byte payload)
// from memory; one op is one packet. The input loops, so the figure includes
// refilling the 1 MiB buffer (a memcpy from the source).
func BenchmarkReader(b *testing.B) {
	b.Run("pcap", func(b *testing.B) { benchRead(b, udpPcap(10000, false), pcapFileHeaderLen) })
	b.Run("pcap-ns", func(b *testing.B) { benchRead(b, udpPcap(10000, true), pcapFileHeaderLen) })
	b.Run("pcapng", func(b *testing.B) { benchRead(b, udpPcapng(10000), ngHeaderLen) })
}

// BenchmarkWriter writes the same frames to io.Discard; one op is one packet.
func BenchmarkWriter(b *testing.B) {
	for _, name := range []string{"pcap", "pcap-ns", "pcapng"} {
		b.Run(name, func(b *testing.B) {
			var w packetWriter
			var err error
			if name == "pcapng" {
				w, err = NewPcapngWriter(io.Discard, 0)
			} else {
				w, err = NewWriter(io.Discard, packet.LinkEthernet, 0, name == "pcap-ns")
			}
			if err != nil {
				b.Fatal(err)
			}
			f := udpFrame()
			info := packet.CaptureInfo{Timestamp: time.Unix(1700000000, 123456789), CaptureLength: len(f), Length: len(f), LinkType: packet.LinkEthernet}
			b.SetBytes(int64(len(f) + pcapRecordHeaderLen))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for range b.N {
				if err := w.WritePacket(info, f); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			reportPerPacket(b, cpu0)
		})
	}
}

// fileLoop reads a file through read(2), seeking back to start at its end.
type fileLoop struct {
	f     *os.File
	start int64
}

func (l *fileLoop) Read(p []byte) (int, error) {
	n, err := l.f.Read(p)
	if err == io.EOF || n == 0 {
		if _, err := l.f.Seek(l.start, io.SeekStart); err != nil {
			return 0, err
		}
		return l.f.Read(p)
	}
	return n, err
}

// BenchmarkReaderFile is BenchmarkReader/pcap with the bytes coming from a
// file through read(2) (page cache), as in `wirebridge read FILE`.
func BenchmarkReaderFile(b *testing.B) {
	path := filepath.Join(b.TempDir(), "udp.pcap")
	if err := os.WriteFile(path, udpPcap(100000, false), 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(&fileLoop{f: f, start: pcapFileHeaderLen})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for range b.N {
		if _, _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
	reportPerPacket(b, cpu0)
}
