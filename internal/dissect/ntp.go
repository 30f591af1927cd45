package dissect

import (
	"encoding/binary"
	"time"
)

// NTP modes (RFC 5905 figure 10; mode 0 is what NTPv1, which had no mode
// field, carries in those bits).
const (
	NTPModeReserved         = 0
	NTPModeSymmetricActive  = 1
	NTPModeSymmetricPassive = 2
	NTPModeClient           = 3
	NTPModeServer           = 4
	NTPModeBroadcast        = 5
	NTPModeControl          = 6
	NTPModePrivate          = 7
)

// NTPPacket is an NTP v1–v4 message (UDP port 123). Event fields: detail.NTP
// {Version, Mode (name), ModeCode, LeapIndicator, Stratum, Poll, Precision,
// RootDelay, RootDispersion (seconds), ReferenceID, ReferenceTime, OriginTime,
// ReceiveTime, TransmitTime}.
//
// Modes 0–5 carry the 48-byte time header parsed here (extension fields and
// the MAC that may follow are not decoded; ExtraLen says how many bytes
// followed). Modes 6 (control) and 7 (private, ntpdc) have other formats:
// only the first byte (LI, version, mode) is decoded for them and the time
// fields stay zero.
type NTPPacket struct {
	LeapIndicator uint8 // 0 no warning, 1 last minute 61 s, 2 last minute 59 s, 3 unsynchronised
	Version       uint8 // 1–4
	Mode          uint8 // NTPMode*
	Stratum       uint8 // 0 unspecified / kiss-o'-death, 1 primary, 2–15 secondary, 16 unsynchronised
	Poll          int8  // log2 seconds
	Precision     int8  // log2 seconds

	// RootDelay and RootDispersion in NTP short format (16.16 fixed-point
	// seconds); see RootDelaySeconds and RootDispersionSeconds.
	RootDelay, RootDispersion uint32

	// ReferenceID: for stratum 0 and 1 four ASCII characters (a kiss code
	// or the clock source, e.g. "GPS", "RATE"), for stratum ≥ 2 the IPv4
	// address of the upstream server (or the first four bytes of the MD5 of
	// its IPv6 address). See AppendReferenceID.
	ReferenceID [4]byte

	// Timestamps in NTP format (seconds since 1900 in the high 32 bits,
	// fraction in the low 32); see NTPTime.
	ReferenceTime, OriginTime, ReceiveTime, TransmitTime uint64

	// ExtraLen is the number of bytes after the 48-byte header (extension
	// fields, key id and MAC), not decoded.
	ExtraLen int
	// Length is the length of the parsed message.
	Length int
}

// ntpHeaderLen is the length of the NTP time header (modes 0–5).
const ntpHeaderLen = 48

// Parse decodes an NTP message. Errors: ErrTruncated (shorter than the
// 48-byte header in modes 0–5), ErrNotProtocol (version 0 or above 4).
func (m *NTPPacket) Parse(b []byte) error {
	*m = NTPPacket{Length: len(b)}
	if len(b) < 1 {
		return ErrTruncated
	}
	m.LeapIndicator = b[0] >> 6
	m.Version = b[0] >> 3 & 7
	m.Mode = b[0] & 7
	if m.Version == 0 || m.Version > 4 {
		return ErrNotProtocol
	}
	if m.Mode == NTPModeControl || m.Mode == NTPModePrivate {
		return nil
	}
	if len(b) < ntpHeaderLen {
		return ErrTruncated
	}
	be := binary.BigEndian
	m.Stratum = b[1]
	m.Poll = int8(b[2])
	m.Precision = int8(b[3])
	m.RootDelay = be.Uint32(b[4:8])
	m.RootDispersion = be.Uint32(b[8:12])
	m.ReferenceID = [4]byte(b[12:16])
	m.ReferenceTime = be.Uint64(b[16:24])
	m.OriginTime = be.Uint64(b[24:32])
	m.ReceiveTime = be.Uint64(b[32:40])
	m.TransmitTime = be.Uint64(b[40:48])
	m.ExtraLen = len(b) - ntpHeaderLen
	return nil
}

var ntpModeNames = [8]string{"reserved", "symmetric active", "symmetric passive", "client", "server", "broadcast", "control", "private"}

// ModeName names the mode: "client", "server", "symmetric active",
// "symmetric passive", "broadcast", "control", "private" or "reserved".
func (m *NTPPacket) ModeName() string { return ntpModeNames[m.Mode&7] }

var ntpLeapNames = [4]string{"no warning", "last minute has 61 seconds", "last minute has 59 seconds", "unsynchronized"}

// LeapName describes the leap indicator.
func (m *NTPPacket) LeapName() string { return ntpLeapNames[m.LeapIndicator&3] }

// ReferenceIDIsIP reports whether ReferenceID holds an address (stratum ≥ 2)
// rather than ASCII (stratum 0 and 1).
func (m *NTPPacket) ReferenceIDIsIP() bool { return m.Stratum >= 2 }

// AppendReferenceID appends the reference id as text: dotted IPv4 for
// stratum ≥ 2, otherwise its ASCII characters up to the first NUL
// (non-printable bytes as '.').
func (m *NTPPacket) AppendReferenceID(dst []byte) []byte {
	if m.ReferenceIDIsIP() {
		return appendDotted(dst, m.ReferenceID)
	}
	for _, c := range m.ReferenceID {
		if c == 0 {
			break
		}
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		dst = append(dst, c)
	}
	return dst
}

// RootDelaySeconds returns RootDelay in seconds.
func (m *NTPPacket) RootDelaySeconds() float64 { return float64(m.RootDelay) / 65536 }

// RootDispersionSeconds returns RootDispersion in seconds.
func (m *NTPPacket) RootDispersionSeconds() float64 { return float64(m.RootDispersion) / 65536 }

// ntpUnixOffset is the number of seconds from 1900-01-01 to 1970-01-01.
const ntpUnixOffset = 2208988800

// NTPTime converts an NTP timestamp to a time (UTC), or the zero Time for a
// zero timestamp (NTP's "unknown"). Seconds with the top bit clear are read
// as era 1 (from 2036-02-07), as RFC 4330 section 3 suggests.
func NTPTime(ts uint64) time.Time {
	if ts == 0 {
		return time.Time{}
	}
	sec := int64(ts >> 32)
	if sec&0x80000000 == 0 {
		sec += 1 << 32
	}
	nsec := int64((ts & 0xffffffff) * 1_000_000_000 >> 32)
	return time.Unix(sec-ntpUnixOffset, nsec).UTC()
}

var ntpTextModes = [8]string{"Reserved", "Symmetric Active", "Symmetric Passive", "Client", "Server", "Broadcast", "Control Message", "mode 7"}

// AppendText appends a tcpdump-like summary: "NTPv4, Client, length 48".
func (m *NTPPacket) AppendText(dst []byte) []byte {
	dst = append(dst, "NTPv"...)
	dst = appendDecimal(dst, uint64(m.Version))
	dst = append(dst, ", "...)
	dst = append(dst, ntpTextModes[m.Mode&7]...)
	dst = append(dst, ", length "...)
	return appendDecimal(dst, uint64(m.Length))
}

// AppendInfo appends Wireshark's Info column text: "NTP Version 4, client".
func (m *NTPPacket) AppendInfo(dst []byte) []byte {
	dst = append(dst, "NTP Version "...)
	dst = appendDecimal(dst, uint64(m.Version))
	dst = append(dst, ", "...)
	return append(dst, m.ModeName()...)
}
