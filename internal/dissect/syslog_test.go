package dissect_test

import (
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/dissect"
)

func TestSyslogParse(t *testing.T) {
	type want struct {
		err                                   string
		format                                string
		hasPRI                                bool
		facility, severity                    string
		fcode, scode                          uint8
		ts, ts3339, host, app, pid, msgid, sd string
		msg                                   string
		length                                int
		text                                  string // AppendText, when set
	}
	payload := func(file string, no int) func(t *testing.T) ([]byte, bool) {
		return func(t *testing.T) ([]byte, bool) { return payloadOfPacket(t, file, no) }
	}
	built := func(s string, tcp bool) func(t *testing.T) ([]byte, bool) {
		return func(*testing.T) ([]byte, bool) { return []byte(s), tcp }
	}
	cases := []struct {
		name  string
		input func(t *testing.T) ([]byte, bool)
		want  want
	}{
		// tcpdump_syslog-v.out: "Facility kernel (0), Severity notice (5)", length 51.
		{"logger with trailing NUL", payload("tcpdump_syslog_udp.pcap", 1), want{
			format: "rfc3164", hasPRI: true, facility: "kern", severity: "notice", fcode: 0, scode: 5,
			ts: "Sep 12 19:16:12", host: "through", app: "logger", msg: "test message 21", length: 51,
			text: "SYSLOG kernel.notice, length: 51"}},
		{"user.alert", payload("tcpdump_syslog_udp.pcap", 2), want{
			format: "rfc3164", hasPRI: true, facility: "user", severity: "alert", fcode: 1, scode: 1,
			ts: "Sep 12 19:16:18", host: "through", app: "logger", msg: "test message 22", length: 51,
			text: "SYSLOG user.alert, length: 51"}},
		{"rfc 3339 timestamp in a 3164 message", payload("tcpdump_syslog_udp.pcap", 3), want{
			format: "rfc3164", hasPRI: true, facility: "user", severity: "notice", fcode: 1, scode: 5,
			ts: "2013-09-12T19:16:34.457849+04:00", ts3339: "2013-09-12T19:16:34.457849+04:00", host: "localhost",
			app: "through", msg: "rsyslog: test message 23", length: 79, text: "SYSLOG user.notice, length: 79"}},
		{"router daemon.crit", payload("ndpi_syslog.pcap", 1), want{
			format: "rfc3164", hasPRI: true, facility: "daemon", severity: "crit", fcode: 3, scode: 2,
			ts: "Jan 01 00:01:47", host: "nb6", app: "nbd",
			msg:    "01=7;03=95.136.242.54;04=NB6-FXC-r2;05=E0A1D718C270;06=107;20=1;29=95.136.242.54;2A=NB6-BOOTLOADER-R1.32.0_NB6-MAIN-R3.3.4_NB6-RESCUE-R3.1.8_NB6-ADSL-A2pD035p_NB6-CONFIG-R3.3.4.2;07=40;08=10;0A=14010;0B=1128;0C=16000;0D=1068;0E=33.0;0F=18.4;12=6.2;13=6.8;14=19.8;15=12.1;16=0;17=0;18=0;19=0;1B=1;1C=ADSL2+;1D=0;1E=auto;1F=1;21=0;22=39;23=0;24=26;4B=3;4C=0;4D=24738;4E=313516;4F=0;50=0;51=0;52=0;10=1;11=4;30=0;31=0;32=2;33=2;34=0;35=0;36=0;41=0;42=unknown;7C=0;7D=unknown;2D=unknown;2F=unknown;39=0;3A=0;44=49;46=49;48=49;3B=0;3C=0;3D=0;3E=0;3F=0;40=0;77=5;78=0;79=0;90=0;91=0;92=0;98=;99=;9a=unknown;9b=on;9c=down;9d=0;B0=0",
			length: 1000}},
		{"space-padded day and pid", payload("ndpi_syslog.pcap", 18), want{
			format: "rfc3164", hasPRI: true, facility: "local2", severity: "err", fcode: 18, scode: 3,
			ts: "Jan  2 10:09:52", host: "nb6", app: "chillispot", pid: "4222", msg: "C:192.168.2.83/00:19:7D:3B:6F:D4", length: 76}},
		{"cisco sequence number, no timestamp", payload("ndpi_syslog.pcap", 20), want{
			format: "rfc3164", hasPRI: true, facility: "local7", severity: "notice", fcode: 23, scode: 5,
			app: "72", msg: "Mar  3 19:57:17.371: %LINK-5-CHANGED: Interface GigabitEthernet0/2, changed state to administratively down",
			length: 115}},
		{"tag without timestamp or hostname", payload("ndpi_syslog.pcap", 52), want{
			format: "rfc3164", hasPRI: true, facility: "daemon", severity: "info", fcode: 3, scode: 6,
			app: "snmpd", pid: "6956", msg: "Connection from UDP: [127.0.0.1]:21311 ", length: 57}},
		{"blank after PRI", payload("ndpi_syslog.pcap", 83), want{
			format: "rfc3164", hasPRI: true, facility: "local0", severity: "info", fcode: 16, scode: 6,
			msg:    "2021-04-18 15:12:38+04:00 10.126.20.68 Log,     65934,0/3/0/0,224.2.2.231,1,2021-04-18 13:12:38,2021-04-18 15:12:38,PROGRAM-131,*,11,",
			length: 139}},
		{"rfc 5424 from pfsense", payload("ndpi_syslog.pcap", 85), want{
			format: "rfc5424", hasPRI: true, facility: "syslog", severity: "notice", fcode: 5, scode: 5,
			ts: "2022-03-02T12:39:47.689392-01:00", ts3339: "2022-03-02T12:39:47.689392-01:00", host: "pfSense.localdomain",
			app: "suricata", pid: "37046",
			msg:    `{"timestamp": "2022-03-02T12:39:47.561523-0100", "flow_id": 381079355822573, "in_iface": "bge9", "event_type": "ssh", "src_ip": "106.13.223.1", "src_port": 52532, "dest_ip": "195.120.165.134", "dest_port": 2222, "proto": "TCP", "ssh": {"client": {"proto_version": "2.0", "software_version": "libssh-0.6.3"}, "server": {"proto_version": "2.0", "software_version": "OpenSSH_6.7p1 Debian-5+deb8u3"}}}`,
			length: 1000}},
		{"kernel", payload("ndpi_syslog.pcap", 89), want{
			format: "rfc3164", hasPRI: true, facility: "kern", severity: "info", fcode: 0, scode: 6,
			ts: "Mar  9 04:44:27", host: "NDC3CLNDMVA22", app: "kernel", msg: "IPv6: ADDRCONF(NETDEV_UP): eth0: link is not ready", length: 91}},
		{"rfc 5424 example with structured data and BOM", built(string(builtL7Packets()[11].payload), false), want{
			format: "rfc5424", hasPRI: true, facility: "local4", severity: "notice", fcode: 20, scode: 5,
			ts: "2003-10-11T22:14:15.003Z", ts3339: "2003-10-11T22:14:15.003Z", host: "mymachine.example.com", app: "evntslog",
			msgid: "ID47", sd: `[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]`,
			msg: "An application event log entry...", length: 175}},
		{"rfc 5424 nil values", built(string(builtL7Packets()[12].payload), false), want{
			format: "rfc5424", hasPRI: true, facility: "auth", severity: "crit", fcode: 4, scode: 2,
			ts: "2003-10-11T22:14:15.003+02:00", ts3339: "2003-10-11T22:14:15.003+02:00", app: "su",
			msg: "'su root' failed for lonvick on /dev/pts/8", length: 89}},
		{"rfc 5424 escaped bracket in sd, no msg", built(`<14>1 - - - - - [a@1 x="q\]\"r"][b@2]`, false), want{
			format: "rfc5424", hasPRI: true, facility: "user", severity: "info", fcode: 1, scode: 6,
			sd: `[a@1 x="q\]\"r"][b@2]`, length: 37}},
		{"bad 5424 header falls back to 3164", built("<14>1 notatime host app - - - msg", false), want{
			format: "rfc3164", hasPRI: true, facility: "user", severity: "info", fcode: 1, scode: 6,
			host: "1", app: "notatime", msg: "host app - - - msg", length: 33}},
		{"no PRI: user.notice as rsyslog", built("Feb  5 17:32:18 host app: no priority here", false), want{
			format: "rfc3164", facility: "user", severity: "notice", fcode: 1, scode: 5,
			ts: "Feb  5 17:32:18", host: "host", app: "app", msg: "no priority here", length: 42}},
		{"PRI above 191 is no PRI", built("<192>hello", false), want{
			format: "rfc3164", facility: "user", severity: "notice", fcode: 1, scode: 5,
			app: "<192>hello", length: 10}},
		{"PRI zero", built("<0>x: y", false), want{
			format: "rfc3164", hasPRI: true, facility: "kern", severity: "emerg", app: "x", msg: "y", length: 7}},
		{"octet counting in a datagram", built("20 <11>app[7]: hi there", false), want{
			format: "rfc3164", hasPRI: true, facility: "user", severity: "err", fcode: 1, scode: 3,
			app: "app", pid: "7", msg: "hi there", length: 20}},
		{"octet count longer than the data", built("99 <11>app: hi", false), want{
			err: "truncated", format: "rfc3164", hasPRI: true, facility: "user", severity: "err", fcode: 1, scode: 3,
			app: "app", msg: "hi", length: 11}},
		{"tcp octet-counted frame", built(string(builtL7Packets()[15].payload)+"12 <13>next one", true), want{
			format: "rfc5424", hasPRI: true, facility: "user", severity: "notice", fcode: 1, scode: 5,
			ts: "2026-12-07T17:00:00Z", ts3339: "2026-12-07T17:00:00Z", host: "web01", app: "nginx", pid: "812",
			msg: "request failed 502", length: 65}},
		{"tcp LF framing keeps the first line", built("<13>Dec  7 17:00:00 h a: one\n<13>Dec  7 17:00:01 h a: two\n", true), want{
			format: "rfc3164", hasPRI: true, facility: "user", severity: "notice", fcode: 1, scode: 5,
			ts: "Dec  7 17:00:00", host: "h", app: "a", msg: "one", length: 28}},
		{"tcp line without LF", built("<13>a: cut", true), want{
			err: "truncated", format: "rfc3164", hasPRI: true, facility: "user", severity: "notice", fcode: 1, scode: 5,
			app: "a", msg: "cut", length: 10}},
		{"binary without PRI", built("\x16\x03\x01\x00\x05hello", false), want{err: "not protocol", length: 10}},
		{"empty", built("\x00\n", false), want{err: "truncated", length: 2}},
	}
	var m dissect.SyslogMessage
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, tcp := c.input(t)
			var err error
			if tcp {
				err = m.ParseTCP(b)
			} else {
				err = m.Parse(b)
			}
			got := want{err: kindOf(err), format: m.Format.String(), hasPRI: m.HasPRI, facility: m.Facility(),
				severity: m.Severity(), fcode: m.FacilityCode, scode: m.SeverityCode, ts: string(m.Timestamp),
				ts3339: string(m.Timestamp3339), host: string(m.Hostname), app: string(m.AppName), pid: string(m.ProcID),
				msgid: string(m.MsgID), sd: string(m.StructuredData), msg: string(m.Message), length: m.Length, text: c.want.text}
			if c.want.length == 1000 { // long captured messages: length not spelt out
				got.length = 1000
			}
			if c.want.text != "" {
				got.text = string(m.AppendText(nil))
			}
			if got != c.want {
				t.Errorf("\ngot  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestSyslogAppendInfo(t *testing.T) {
	b, _ := payloadOfPacket(t, "tcpdump_syslog_udp.pcap", 2)
	var m dissect.SyslogMessage
	if err := m.Parse(b); err != nil {
		t.Fatal(err)
	}
	// tshark's Info column for this packet shows the trailing NUL as \000,
	// which Parse removes.
	if got, want := string(m.AppendInfo(nil)), "USER.ALERT: Sep 12 19:16:18 through logger: test message 22"; got != want {
		t.Errorf("AppendInfo %q, want %q", got, want)
	}
	if err := m.Parse([]byte("<150>Jan  2 10:09:52 nb6 chillispot[4222]: C:1\tx\x01\n")); err != nil {
		t.Fatal(err)
	}
	if got, want := string(m.AppendInfo(nil)), `LOCAL2.INFO: Jan  2 10:09:52 nb6 chillispot[4222]: C:1\tx\001`; got != want {
		t.Errorf("AppendInfo %q, want %q", got, want)
	}
}

func TestSyslogAppendTime3339(t *testing.T) {
	ref := time.Date(2026, time.January, 2, 10, 0, 0, 0, time.FixedZone("", 3600))
	cases := []struct {
		name, msg, want string
	}{
		{"rfc 5424 as written", "<13>1 2003-10-11T22:14:15.003Z h a - - - x", "2003-10-11T22:14:15.003Z"},
		{"rfc 3339 in 3164", "<13>2013-09-12T19:16:34.457849+04:00 localhost x", "2013-09-12T19:16:34.457849+04:00"},
		{"3164 with the capture's year and zone", "<13>Jan  2 09:59:58 h a: x", "2026-01-02T09:59:58+01:00"},
		{"3164 one-digit day", "<13>Jan 2 09:59:58 h a: x", "2026-01-02T09:59:58+01:00"},
		{"3164 from last December", "<13>Dec 31 23:59:59 h a: x", "2025-12-31T23:59:59+01:00"},
		{"3164 clock a little ahead", "<13>Jan 20 00:00:00 h a: x", "2026-01-20T00:00:00+01:00"},
		{"no timestamp", "<13>app: x", ""},
		{"5424 nil timestamp", "<13>1 - h a - - - x", ""},
	}
	var m dissect.SyslogMessage
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := m.Parse([]byte(c.msg)); err != nil {
				t.Fatal(err)
			}
			if got := string(m.AppendTime3339(nil, ref)); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	buf := make([]byte, 0, 64)
	if err := m.Parse([]byte("<13>Feb 28 12:00:00 h a: x")); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(50, func() { buf = m.AppendTime3339(buf[:0], ref) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
