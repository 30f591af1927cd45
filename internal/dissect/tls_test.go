package dissect

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// tlsCapture is openssl s_client / curl ClientHellos captured on a network
// namespace's loopback (testdata/README.md).
const tlsCapture = "testdata/tls-openssl-curl-loopback.pcap"

func alpnStrings(m *TLSHello) []string {
	var out []string
	for _, p := range m.ALPN() {
		out = append(out, string(p))
	}
	return out
}

func TestTLSHelloCaptured(t *testing.T) {
	frames := framesFromCapture(t, tlsCapture)
	// JA4 and JA4_r of each ClientHello as FoxIO's own implementation
	// (python/ja4.py of github.com/FoxIO-LLC/ja4, run on this capture)
	// prints them.
	cases := []struct {
		name     string
		frame    int
		hs       uint8
		sni      string
		alpn     []string
		versions []uint16
		cipher   uint16
		ja4      string
		ja4r     string
	}{
		{
			name: "openssl s_client TLS 1.3 with SNI and ALPN", frame: 4, hs: TLSClientHello,
			sni: "www.example.test", alpn: []string{"h2", "http/1.1"}, versions: []uint16{0x0304, 0x0303, 0x0302, 0x0301},
			ja4:  "t13d3111h2_e8f1e7e78f70_1f22a2ca17c4",
			ja4r: "t13d3111h2_002f,0033,0035,0039,003c,003d,0067,006b,009c,009d,009e,009f,00ff,1301,1302,1303,c009,c00a,c013,c014,c023,c024,c027,c028,c02b,c02c,c02f,c030,cca8,cca9,ccaa_000a,000b,000d,0016,0017,0023,002b,002d,0033_0403,0503,0603,0807,0808,0809,080a,080b,0804,0805,0806,0401,0501,0601,0303,0301,0302,0402,0502,0602",
		},
		{
			name: "openssl s_client -tls1_2 without SNI", frame: 20, hs: TLSClientHello,
			versions: []uint16{0x0303},
			ja4:      "t12i280600_d943125447b4_e7e480e5a997",
			ja4r:     "t12i280600_002f,0033,0035,0039,003c,003d,0067,006b,009c,009d,009e,009f,00ff,c009,c00a,c013,c014,c023,c024,c027,c028,c02b,c02c,c02f,c030,cca8,cca9,ccaa_000a,000b,000d,0016,0017,0023_0403,0503,0603,0807,0808,0809,080a,080b,0804,0805,0806,0401,0501,0601,0303,0301,0302,0402,0502,0602",
		},
		{
			name: "curl http/1.1", frame: 34, hs: TLSClientHello,
			sni: "localhost", alpn: []string{"http/1.1"}, versions: []uint16{0x0304, 0x0303, 0x0302, 0x0301},
			ja4:  "t13d3112h1_e8f1e7e78f70_b26ce05bbdd6",
			ja4r: "t13d3112h1_002f,0033,0035,0039,003c,003d,0067,006b,009c,009d,009e,009f,00ff,1301,1302,1303,c009,c00a,c013,c014,c023,c024,c027,c028,c02b,c02c,c02f,c030,cca8,cca9,ccaa_000a,000b,000d,0015,0016,0017,002b,002d,0031,0033_0403,0503,0603,0807,0808,0809,080a,080b,0804,0805,0806,0401,0501,0601,0303,0301,0302,0402,0502,0602",
		},
		{name: "server hello TLS 1.3 then encrypted records", frame: 6, hs: TLSServerHello, versions: []uint16{0x0304}, cipher: 0x1302},
		{name: "server hello TLS 1.2 with certificate in the same record stream", frame: 22, hs: TLSServerHello, versions: []uint16{0x0303}, cipher: 0xc030},
	}
	var m TLSHello
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := m.Parse(frameNum(t, frames, tc.frame).payload()); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.HandshakeType != tc.hs || !m.Complete {
				t.Errorf("handshake %d complete %v, want %d", m.HandshakeType, m.Complete, tc.hs)
			}
			if string(m.SNI) != tc.sni || m.HasSNI != (tc.sni != "") {
				t.Errorf("SNI %q (has %v), want %q", m.SNI, m.HasSNI, tc.sni)
			}
			if got := alpnStrings(&m); !slices.Equal(got, tc.alpn) {
				t.Errorf("ALPN %q, want %q", got, tc.alpn)
			}
			if !slices.Equal(m.Versions(), tc.versions) {
				t.Errorf("versions %x, want %x", m.Versions(), tc.versions)
			}
			if m.CipherSuite != tc.cipher {
				t.Errorf("cipher %#04x, want %#04x", m.CipherSuite, tc.cipher)
			}
			if string(m.JA4) != tc.ja4 {
				t.Errorf("JA4 %q, want %q", m.JA4, tc.ja4)
			}
			if got := string(m.AppendJA4Raw(nil)); got != tc.ja4r {
				t.Errorf("JA4_r\n got %s\nwant %s", got, tc.ja4r)
			}
		})
	}
}

func TestJA4Specification(t *testing.T) {
	// The worked example of the JA4 specification: its lists, with GREASE
	// added, give its published fingerprint.
	emptySigAlgs := specHello()
	for i, e := range emptySigAlgs.exts {
		if e.typ == tlsExtSignatureAlgorithms {
			emptySigAlgs.exts[i] = extSigAlgs()
		}
	}
	noExts := testHello{legacy: 0x0301, ciphers: []uint16{0x0035, 0x002f}, noExts: true}
	noCiphers := specHello()
	noCiphers.ciphers = []uint16{0x0a0a}
	onlySNIALPN := testHello{ciphers: []uint16{0x1301}, exts: []testExt{extSNI("a.example"), extALPN("h2")}}
	cases := []struct {
		name string
		h    testHello
		ja4  string
	}{
		{"specification example", specHello(), "t13d1516h2_8daaf6152771_e5627efa2ab1"},
		// "If there are no signature algorithms in the hello packet, then
		// the string ends without an underscore": 6d807ffa2a79.
		{"no signature algorithms", emptySigAlgs, "t13d1516h2_8daaf6152771_6d807ffa2a79"},
		{"no extensions: legacy version, empty extension hash", noExts, "t10i020000_" + sha12("002f,0035") + "_000000000000"},
		{"only GREASE ciphers", noCiphers, "t13d0016h2_000000000000_e5627efa2ab1"},
		{"only SNI and ALPN", onlySNIALPN, "t12d0102h2_" + sha12("1301") + "_000000000000"},
	}
	var m TLSHello
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := m.Parse(tc.h.encode()); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if string(m.JA4) != tc.ja4 {
				t.Errorf("JA4 %s, want %s", m.JA4, tc.ja4)
			}
		})
	}
}

func TestJA4ALPN(t *testing.T) {
	// The ALPN rules and examples of the specification.
	cases := []struct {
		name string
		alpn []byte
		want string
	}{
		{"h2", []byte("h2"), "h2"},
		{"http/1.1", []byte("http/1.1"), "h1"},
		{"single character", []byte("x"), "xx"},
		{"empty value", []byte{}, "00"},
		{"0xAB", []byte{0xab}, "ab"},
		{"0x20", []byte{0x20}, "20"},
		{"0xAB 0xCD", []byte{0xab, 0xcd}, "ad"},
		{"0x20 0x61", []byte{0x20, 0x61}, "21"},
		{"0x30 0xAB", []byte{0x30, 0xab}, "3b"},
		{"0x61 0x20", []byte{0x61, 0x20}, "60"},
		{"0x30 0x31 0xAB 0xCD", []byte{0x30, 0x31, 0xab, 0xcd}, "3d"},
		{"0x30 0xAB 0xCD 0x31", []byte{0x30, 0xab, 0xcd, 0x31}, "01"},
		// FoxIO's own outputs print "99" here (docs/dissectors.md).
		{"0xBA 0xAD", []byte{0xba, 0xad}, "bd"},
	}
	var m TLSHello
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := testHello{ciphers: []uint16{0x1301}, exts: []testExt{{tlsExtALPN, vec16(vec8(tc.alpn))}}}
			if err := m.Parse(h.encode()); err != nil {
				t.Fatal(err)
			}
			if got := string(m.JA4[8:10]); got != tc.want {
				t.Errorf("ALPN part %q, want %q (JA4 %s)", got, tc.want, m.JA4)
			}
		})
	}
	h := testHello{ciphers: []uint16{0x1301}}
	if err := m.Parse(h.encode()); err != nil || string(m.JA4[8:10]) != "00" {
		t.Errorf("no ALPN extension: %v %s", err, m.JA4)
	}
	// More protocols than kept: JA4 reads only the first, so it is kept.
	var many []string
	for i := range TLSMaxALPN + 4 {
		many = append(many, "p"+string(rune('a'+i)))
	}
	h = testHello{ciphers: []uint16{0x1301}, exts: []testExt{extALPN(many...)}}
	if err := m.Parse(h.encode()); err != nil || !m.More || len(m.ALPN()) != TLSMaxALPN || m.JA4 == nil || string(m.JA4[8:10]) != "pa" {
		t.Errorf("20 ALPN protocols: %v More %v kept %d JA4 %s", err, m.More, len(m.ALPN()), m.JA4)
	}
}

func TestTLSHelloRecords(t *testing.T) {
	whole := specHello().encode()
	var ref TLSHello
	if err := ref.Parse(whole); err != nil {
		t.Fatal(err)
	}
	split := specHello()
	split.recordSize = 37
	tiny := specHello()
	tiny.recordSize = 3 // the 4-byte handshake header spans two records
	ccs := append(tlsRecord(tlsChangeCipherSpec, []byte{1}), whole...)
	cases := []struct {
		name string
		b    []byte
	}{
		{"one record", whole},
		{"split into 37-byte records", split.encode()},
		{"split into 3-byte records", tiny.encode()},
		{"after a ChangeCipherSpec record", ccs},
		{"followed by another record", append(append([]byte(nil), whole...), tlsRecord(tlsApplicationData, []byte("x"))...)},
	}
	var m TLSHello
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := m.Parse(tc.b); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if string(m.JA4) != string(ref.JA4) || string(m.SNI) != "example.com" || m.nALPN != 2 {
				t.Errorf("JA4 %s SNI %q ALPN %q, want %s example.com [h2 http/1.1]", m.JA4, m.SNI, alpnStrings(&m), ref.JA4)
			}
		})
	}
}

func TestTLSHelloErrors(t *testing.T) {
	whole := specHello().encode()
	sniEnd := strings.Index(string(whole), "example.com") + len("example.com")
	badExtLen := specHello().encode()
	// The first extension (GREASE, empty) claims 0x4000 bytes.
	extStart := 5 + 4 + 2 + 32 + 1 + 32 + 2 + 2*16 + 2 + 2
	badExtLen[extStart+2], badExtLen[extStart+3] = 0x40, 0
	many := testHello{}
	for i := range TLSMaxCiphers + 10 {
		many.ciphers = append(many.ciphers, uint16(0x0100+i))
	}
	cases := []struct {
		name    string
		b       []byte
		err     error
		sni     string
		hs      uint8
		moreJA4 bool // More set, JA4 nil
	}{
		{"empty", nil, ErrTruncated, "", 0, false},
		{"HTTP request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), ErrNotProtocol, "", 0, false},
		{"SSLv2-style first byte", []byte{0x80, 0x2e, 0x01, 0x00, 0x02}, ErrNotProtocol, "", 0, false},
		{"application data", tlsRecord(tlsApplicationData, []byte("secret")), ErrUnsupported, "", 0, false},
		{"alert", tlsRecord(tlsAlert, []byte{2, 40}), ErrUnsupported, "", 0, false},
		{"finished handshake", tlsRecord(tlsHandshake, handshakeMsg(20, make([]byte, 12))), ErrUnsupported, "", 20, false},
		{"record header only", whole[:5], ErrTruncated, "", 0, false},
		{"cut inside the random", whole[:40], ErrTruncated, "", TLSClientHello, false},
		{"cut just after the SNI", whole[:sniEnd], ErrTruncated, "example.com", TLSClientHello, false},
		{"cut one byte short", whole[:len(whole)-1], ErrTruncated, "example.com", TLSClientHello, false},
		{"extension longer than the block", badExtLen, ErrMalformed, "", TLSClientHello, false},
		{"record length above the maximum", []byte{22, 3, 1, 0xff, 0xff}, ErrMalformed, "", 0, false},
		{"more ciphers than kept", many.encode(), nil, "", TLSClientHello, true},
	}
	var m TLSHello
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Parse(tc.b)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if string(m.SNI) != tc.sni || m.HandshakeType != tc.hs {
				t.Errorf("SNI %q handshake %d, want %q %d", m.SNI, m.HandshakeType, tc.sni, tc.hs)
			}
			if tc.err != nil && m.JA4 != nil {
				t.Errorf("JA4 %s on an incomplete hello", m.JA4)
			}
			if tc.moreJA4 && (!m.More || m.JA4 != nil || len(m.CipherSuites()) != TLSMaxCiphers) {
				t.Errorf("More %v JA4 %s ciphers %d", m.More, m.JA4, len(m.CipherSuites()))
			}
		})
	}
}

func TestTLSHelloText(t *testing.T) {
	var m TLSHello
	if err := m.Parse(specHello().encode()); err != nil {
		t.Fatal(err)
	}
	if got, want := string(m.AppendInfo(nil)), "Client Hello (SNI=example.com)"; got != want {
		t.Errorf("info %q, want %q", got, want)
	}
	want := "TLS ClientHello, SNI example.com, ALPN [h2, http/1.1], versions [TLS 1.3, TLS 1.2], JA4 t13d1516h2_8daaf6152771_e5627efa2ab1"
	if got := string(m.AppendText(nil)); got != want {
		t.Errorf("text\n got %s\nwant %s", got, want)
	}
	names := []string{}
	for _, v := range m.Versions() {
		names = append(names, TLSVersionName(v))
	}
	if !slices.Equal(names, []string{"TLS 1.3", "TLS 1.2"}) {
		t.Errorf("version names %q", names)
	}
}
