package dissect

import (
	"bytes"
	"errors"
	"testing"
	"unsafe"
)

// Fuzz targets for the TLS, DHCP, NTP and ARP parsers. Each checks, for any
// input: no panic; the error is nil or one of the package's kinds; every
// byte-slice field lies inside the input or the value's own storage; the
// text forms can be produced; and parsing is a function of the input alone
// (a value reused after another input gives the same result as a fresh one).

func seedFromCapture(f *testing.F, path string) {
	for _, fr := range framesFromCapture(f, path) {
		if p := fr.payload(); len(p) > 0 {
			f.Add(append([]byte(nil), p...))
		}
	}
}

func knownErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) &&
		!errors.Is(err, ErrNotProtocol) && !errors.Is(err, ErrUnsupported) {
		t.Fatalf("unexpected error %v", err)
	}
}

// within reports whether s is empty or lies inside one of the areas.
func within(s []byte, areas ...[]byte) bool {
	if len(s) == 0 {
		return true
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	for _, a := range areas {
		if len(a) == 0 {
			continue
		}
		q := uintptr(unsafe.Pointer(unsafe.SliceData(a)))
		if p >= q && p+uintptr(len(s)) <= q+uintptr(len(a)) {
			return true
		}
	}
	return false
}

func FuzzTLS(f *testing.F) {
	seedFromCapture(f, tlsCapture)
	f.Add(specHello().encode())
	split := specHello()
	split.recordSize = 3
	f.Add(split.encode())
	f.Add(append(tlsRecord(tlsChangeCipherSpec, []byte{1}), specHello().encode()...))
	var reused TLSHello
	f.Fuzz(func(t *testing.T, b []byte) {
		var m TLSHello
		err := m.Parse(b)
		knownErr(t, err)
		frag := m.frag[:]
		for _, s := range append([][]byte{m.SessionID, m.SNI}, m.ALPN()...) {
			if !within(s, b, frag) {
				t.Fatalf("slice outside the input and the value")
			}
		}
		if m.JA4 != nil && (err != nil || len(m.JA4) != ja4Len || m.JA4[10] != '_' || m.JA4[23] != '_') {
			t.Fatalf("JA4 %q with err %v", m.JA4, err)
		}
		text := string(m.AppendText(nil)) + string(m.AppendInfo(nil)) + string(m.AppendJA4Raw(nil))
		reused.Parse(specHello().encode())
		err2 := reused.Parse(b)
		text2 := string(reused.AppendText(nil)) + string(reused.AppendInfo(nil)) + string(reused.AppendJA4Raw(nil))
		if err != err2 || text != text2 || !bytes.Equal(m.JA4, reused.JA4) {
			t.Fatalf("reused value differs: %v %q / %v %q", err, text, err2, text2)
		}
	})
}

func FuzzDHCP(f *testing.F) {
	seedFromCapture(f, dhcpCapture)
	f.Add(testDHCP(BOOTRequest, []byte{53, 1, 8, 52, 1, 3, 255}, "\x0c\x04host\xff", "\x32\x04\x0a\x00\x00\x07\xff"))
	f.Add(testDHCP(BOOTReply, nil, "srv", "file"))
	var reused DHCPMessage
	f.Fuzz(func(t *testing.T, b []byte) {
		var m DHCPMessage
		err := m.Parse(b)
		knownErr(t, err)
		for _, s := range [][]byte{m.ClientMAC, m.ServerName, m.BootFile, m.DNS, m.Hostname, m.DomainName, m.ClientID, m.VendorClass, m.Message, m.ParameterRequestList} {
			if !within(s, b) {
				t.Fatalf("slice outside the input")
			}
		}
		for i := range m.NumDNS() {
			m.DNSServer(i)
		}
		text := string(m.AppendText(nil)) + string(m.AppendInfo(nil)) + m.MessageTypeName() + m.OpName()
		reused.Parse(testDHCP(BOOTRequest, []byte{53, 1, 1, 12, 3, 'a', 'b', 'c', 255}, "", ""))
		err2 := reused.Parse(b)
		text2 := string(reused.AppendText(nil)) + string(reused.AppendInfo(nil)) + reused.MessageTypeName() + reused.OpName()
		if err != err2 || text != text2 || string(m.Hostname) != string(reused.Hostname) || m.RequestedIP != reused.RequestedIP {
			t.Fatalf("reused value differs")
		}
	})
}

func FuzzNTP(f *testing.F) {
	seedFromCapture(f, ntpCapture)
	f.Add(testNTP(3<<3|4, 1, "GPS\x00", 20))
	f.Add([]byte{2<<3 | 6, 2, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m NTPPacket
		err := m.Parse(b)
		knownErr(t, err)
		m.AppendText(nil)
		m.AppendInfo(nil)
		m.AppendReferenceID(nil)
		m.LeapName()
		for _, ts := range []uint64{m.ReferenceTime, m.OriginTime, m.ReceiveTime, m.TransmitTime} {
			NTPTime(ts)
		}
		if err == nil && m.Mode < NTPModeControl && m.ExtraLen != len(b)-ntpHeaderLen {
			t.Fatalf("extra %d for %d bytes", m.ExtraLen, len(b))
		}
	})
}

func FuzzARP(f *testing.F) {
	seedFromCapture(f, dhcpCapture)
	seedFromCapture(f, "../../testdata/pcaps/zeek_linux_dlt_sll2.pcap")
	f.Add([]byte{0, 32, 8, 0, 20, 4, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m ARPMessage
		err := m.Parse(b)
		knownErr(t, err)
		for _, s := range [][]byte{m.SenderHW, m.SenderProto, m.TargetHW, m.TargetProto} {
			if !within(s, b) {
				t.Fatalf("slice outside the input")
			}
		}
		if err == nil && (!m.Supported() || !m.SenderIP().Is4() || len(m.SenderMAC()) != 6) {
			t.Fatalf("nil error for an unsupported message")
		}
		m.AppendText(nil)
		m.AppendInfo(nil)
		m.OperationName()
	})
}
