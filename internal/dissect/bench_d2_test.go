package dissect

import "testing"

// Benchmarks of the TLS, DHCP, NTP and ARP parsers on captured messages,
// one value reused across iterations as the data path reuses it. Each also
// fails if a parse allocates.
//
//	go test -run '^$' -bench 'Dissect(TLS|JA4|DHCP|NTP|ARP)' -benchmem ./internal/dissect/

func benchParse(b *testing.B, payload []byte, parse func([]byte) error) {
	b.Helper()
	if err := parse(payload); err != nil {
		b.Fatalf("Parse: %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = parse(payload) }); n != 0 {
		b.Fatalf("%v allocations per parse", n)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = parse(payload)
	}
}

func capturedPayload(b *testing.B, path string, frame int) []byte {
	return frameNum(b, framesFromCapture(b, path), frame).payload()
}

// BenchmarkDissectTLS parses openssl's TLS 1.3 ClientHello (31 ciphers, 11
// extensions, 517 bytes) including its JA4 fingerprint.
func BenchmarkDissectTLS(b *testing.B) {
	var m TLSHello
	benchParse(b, capturedPayload(b, tlsCapture, 4), m.Parse)
}

// BenchmarkDissectTLSSplitRecords parses the specification's ClientHello
// split into 37-byte records (reassembled into the value).
func BenchmarkDissectTLSSplitRecords(b *testing.B) {
	h := specHello()
	h.recordSize = 37
	var m TLSHello
	benchParse(b, h.encode(), m.Parse)
}

// BenchmarkDissectJA4 is the fingerprint alone (sorting and two SHA-256).
func BenchmarkDissectJA4(b *testing.B) {
	var m TLSHello
	if err := m.Parse(capturedPayload(b, tlsCapture, 4)); err != nil {
		b.Fatal(err)
	}
	var buf [ja4Len]byte
	if n := testing.AllocsPerRun(100, func() { m.computeJA4(buf[:0]) }); n != 0 {
		b.Fatalf("%v allocations", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.computeJA4(buf[:0])
	}
}

func BenchmarkDissectDHCP(b *testing.B) {
	var m DHCPMessage
	benchParse(b, capturedPayload(b, dhcpCapture, 4), m.Parse)
}

func BenchmarkDissectNTP(b *testing.B) {
	var m NTPPacket
	benchParse(b, capturedPayload(b, ntpCapture, 2), m.Parse)
}

func BenchmarkDissectARP(b *testing.B) {
	var m ARPMessage
	benchParse(b, capturedPayload(b, dhcpCapture, 2), m.Parse)
}

// BenchmarkDissectText is the Info and text forms of the four, appended to
// a reused buffer.
func BenchmarkDissectText(b *testing.B) {
	var (
		tl TLSHello
		dh DHCPMessage
		nt NTPPacket
		ar ARPMessage
	)
	_ = tl.Parse(capturedPayload(b, tlsCapture, 4))
	_ = dh.Parse(capturedPayload(b, dhcpCapture, 4))
	_ = nt.Parse(capturedPayload(b, ntpCapture, 2))
	_ = ar.Parse(capturedPayload(b, dhcpCapture, 2))
	buf := make([]byte, 0, 1024)
	f := func() {
		buf = tl.AppendInfo(tl.AppendText(buf[:0]))
		buf = dh.AppendInfo(dh.AppendText(buf[:0]))
		buf = nt.AppendInfo(nt.AppendText(nt.AppendReferenceID(buf[:0])))
		buf = ar.AppendInfo(ar.AppendText(buf[:0]))
	}
	if n := testing.AllocsPerRun(100, f); n != 0 {
		b.Fatalf("%v allocations", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		f()
	}
}
