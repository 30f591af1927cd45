package dissect

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

const ntpCapture = "testdata/ntp-chrony-loopback.pcap"

func TestNTPCaptured(t *testing.T) {
	frames := framesFromCapture(t, ntpCapture)
	// Expected values as tshark 4.0 shows them for this capture.
	cases := []struct {
		name      string
		frame     int
		mode      uint8
		stratum   uint8
		precision int8
		refID     string
		xmt       string // RFC 3339 with nanoseconds
		info      string
		text      string
	}{
		{"client (chrony sends a random transmit time)", 1, NTPModeClient, 0, 32, "", "1999-10-11T13:50:13.690027747Z",
			"NTP Version 4, client", "NTPv4, Client, length 48"},
		{"server", 2, NTPModeServer, 8, -26, "127.127.1.1", "2026-12-07T17:07:47.438372749Z",
			"NTP Version 4, server", "NTPv4, Server, length 48"},
		{"client with a transmit time in era 1", 3, NTPModeClient, 0, 32, "", "2080-05-17T05:57:22.184049381Z",
			"NTP Version 4, client", "NTPv4, Client, length 48"},
	}
	var m NTPPacket
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := m.Parse(frameNum(t, frames, tc.frame).payload()); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.Version != 4 || m.Mode != tc.mode || m.Stratum != tc.stratum || m.Precision != tc.precision || m.LeapIndicator != 0 {
				t.Errorf("version %d mode %d stratum %d precision %d li %d", m.Version, m.Mode, m.Stratum, m.Precision, m.LeapIndicator)
			}
			if got := string(m.AppendReferenceID(nil)); got != tc.refID {
				t.Errorf("reference id %q, want %q", got, tc.refID)
			}
			if got := NTPTime(m.TransmitTime).Format(time.RFC3339Nano); got != tc.xmt {
				t.Errorf("transmit time %s, want %s", got, tc.xmt)
			}
			if got := string(m.AppendInfo(nil)); got != tc.info {
				t.Errorf("info %q, want %q", got, tc.info)
			}
			if got := string(m.AppendText(nil)); got != tc.text {
				t.Errorf("text %q, want %q", got, tc.text)
			}
		})
	}
}

func testNTP(first byte, stratum uint8, refID string, extra int) []byte {
	b := make([]byte, ntpHeaderLen+extra)
	b[0], b[1], b[2], b[3] = first, stratum, 6, 0xe9
	binary.BigEndian.PutUint32(b[4:], 0x00018000) // 1.5 s
	binary.BigEndian.PutUint32(b[8:], 0x00004000) // 0.25 s
	copy(b[12:16], refID)
	binary.BigEndian.PutUint64(b[40:], 0xe0a1b2c380000000) // 2019-06-05T03:17:23.5Z
	return b
}

func TestNTPBuilt(t *testing.T) {
	cases := []struct {
		name  string
		b     []byte
		err   error
		check func(t *testing.T, m *NTPPacket)
	}{
		{"v3 server stratum 1 GPS with a MAC", testNTP(3<<3|4, 1, "GPS\x00", 20), nil, func(t *testing.T, m *NTPPacket) {
			if m.Version != 3 || m.ModeName() != "server" || string(m.AppendReferenceID(nil)) != "GPS" || m.ExtraLen != 20 {
				t.Errorf("v%d %s ref %q extra %d", m.Version, m.ModeName(), m.AppendReferenceID(nil), m.ExtraLen)
			}
			if m.RootDelaySeconds() != 1.5 || m.RootDispersionSeconds() != 0.25 || m.Poll != 6 || m.Precision != -23 {
				t.Errorf("delay %v dispersion %v poll %d precision %d", m.RootDelaySeconds(), m.RootDispersionSeconds(), m.Poll, m.Precision)
			}
			if got := NTPTime(m.TransmitTime).Format(time.RFC3339Nano); got != "2019-06-05T03:17:23.5Z" {
				t.Errorf("transmit %s", got)
			}
		}},
		{"kiss-o'-death RATE with leap 3", testNTP(3<<6|4<<3|4, 0, "RATE", 0), nil, func(t *testing.T, m *NTPPacket) {
			if m.LeapIndicator != 3 || string(m.AppendReferenceID(nil)) != "RATE" || m.LeapName() != "unsynchronized" {
				t.Errorf("li %d ref %q", m.LeapIndicator, m.AppendReferenceID(nil))
			}
		}},
		{"v1 (no mode field)", testNTP(1<<3, 2, "\x0a\x00\x00\x01", 0), nil, func(t *testing.T, m *NTPPacket) {
			if m.Version != 1 || m.ModeName() != "reserved" || string(m.AppendReferenceID(nil)) != "10.0.0.1" {
				t.Errorf("v%d %s %q", m.Version, m.ModeName(), m.AppendReferenceID(nil))
			}
		}},
		{"v2 control message (mode 6), 12 bytes", []byte{2<<3 | 6, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, nil, func(t *testing.T, m *NTPPacket) {
			if m.Mode != NTPModeControl || m.Stratum != 0 || m.TransmitTime != 0 {
				t.Errorf("mode %d stratum %d", m.Mode, m.Stratum)
			}
			if got := string(m.AppendText(nil)); got != "NTPv2, Control Message, length 12" {
				t.Errorf("text %q", got)
			}
		}},
		{"zero timestamps are unknown", testNTP(4<<3|3, 0, "", 0), nil, func(t *testing.T, m *NTPPacket) {
			if !NTPTime(m.OriginTime).IsZero() {
				t.Errorf("origin %v", NTPTime(m.OriginTime))
			}
		}},
		{"version 0", testNTP(0<<3|3, 0, "", 0), ErrNotProtocol, nil},
		{"version 5", testNTP(5<<3|3, 0, "", 0), ErrNotProtocol, nil},
		{"47 bytes", testNTP(4<<3|3, 0, "", 0)[:47], ErrTruncated, nil},
		{"empty", nil, ErrTruncated, nil},
	}
	var m NTPPacket
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Parse(tc.b)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if tc.check != nil {
				tc.check(t, &m)
			}
		})
	}
}
