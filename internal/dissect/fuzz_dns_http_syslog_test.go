package dissect_test

import (
	"bytes"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/wirebridge/wirebridge/internal/dissect"
)

// l7Seeds are capture packets used as fuzz seeds (file, packet).
var l7Seeds = []struct {
	file string
	no   int
}{
	{"tcpdump_dns_udp.pcap", 1}, {"tcpdump_dns_udp.pcap", 2}, {"zeek_pcapng-multi-interface.pcapng", 2},
	{"zeek_ipv6-fragmented-dns.pcap", 2}, {"arkime_twovlan.pcap", 4}, {"arkime_twovlan.pcap", 6},
	{"zeek_http-docker-upgrade-chunked.pcap", 8}, {"tcpdump_syslog_udp.pcap", 1}, {"ndpi_syslog.pcap", 18},
	{"ndpi_syslog.pcap", 85},
}

func addL7Seeds(f *testing.F, add func(b []byte)) {
	for _, s := range l7Seeds {
		b, _ := payloadOfPacket(f, s.file, s.no)
		add(b)
	}
	for _, p := range builtL7Packets() {
		add(p.payload)
	}
}

// pointsInto reports whether every byte slice field reachable in v points into
// one of the areas (the input, or the value's own storage).
func pointsInto(t *testing.T, what string, field []byte, areas ...[]byte) {
	t.Helper()
	if len(field) == 0 {
		return
	}
	for _, a := range areas {
		lo, hi := uintptr(unsafe.Pointer(unsafe.SliceData(a))), uintptr(unsafe.Pointer(unsafe.SliceData(a)))+uintptr(len(a))
		fp := uintptr(unsafe.Pointer(unsafe.SliceData(field)))
		if len(a) > 0 && fp >= lo && fp+uintptr(len(field)) <= hi {
			return
		}
	}
	t.Fatalf("%s points outside the parsed bytes and the value", what)
}

func FuzzDNS(f *testing.F) {
	addL7Seeds(f, func(b []byte) { f.Add(b, false); f.Add(append([]byte{byte(len(b) >> 8), byte(len(b))}, b...), true) })
	var reused dissect.DNSMessage
	f.Fuzz(func(t *testing.T, b []byte, tcp bool) {
		in := bytes.Clone(b)
		err := reused.Parse(b, tcp)
		var fresh dissect.DNSMessage
		err2 := fresh.Parse(b, tcp)
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(summaryDNS(&reused), summaryDNS(&fresh)) {
			t.Fatalf("a reused value parses differently from a fresh one: %v / %v", err, err2)
		}
		if !bytes.Equal(in, b) {
			t.Fatal("Parse modified its input")
		}
		if reused.NQuestions > dissect.DNSMaxQuestions || reused.NAnswers > dissect.DNSMaxAnswers {
			t.Fatalf("counts %d/%d over capacity", reused.NQuestions, reused.NAnswers)
		}
		if reused.NQuestions > int(reused.QDCount) || reused.NAnswers > int(reused.ANCount) {
			t.Fatalf("kept %d/%d records, header says %d/%d", reused.NQuestions, reused.NAnswers, reused.QDCount, reused.ANCount)
		}
		for _, q := range reused.QuestionList() {
			if len(q.Name) > 4*255 {
				t.Fatalf("name of %d bytes", len(q.Name))
			}
		}
		_ = reused.AppendText(nil)
		_ = reused.AppendInfo(nil)
	})
}

func summaryDNS(m *dissect.DNSMessage) []string {
	qs, as := dnsSummary(m)
	return append(append(qs, "--"), append(as, string(m.AppendText(nil)), string(m.AppendInfo(nil)))...)
}

func FuzzHTTP(f *testing.F) {
	addL7Seeds(f, func(b []byte) { f.Add(b) })
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"))
	var m dissect.HTTPMessage
	f.Fuzz(func(t *testing.T, b []byte) {
		err := m.Parse(b)
		for name, v := range map[string][]byte{"Method": m.Method, "Path": m.Path, "Version": m.Version, "Reason": m.Reason,
			"Host": m.Host, "ContentType": m.ContentType, "UserAgent": m.UserAgent} {
			pointsInto(t, name, v, b)
		}
		if m.ContentLength < -1 {
			t.Fatalf("ContentLength %d", m.ContentLength)
		}
		if err == nil && !m.Response && len(m.Method) == 0 {
			t.Fatal("no error and no start line")
		}
		_ = m.AppendText(nil)
		_ = m.AppendInfo(nil)
		if m.ParseHead(b) == nil && !m.Complete {
			t.Fatal("ParseHead accepted an incomplete head")
		}
	})
}

func FuzzSyslog(f *testing.F) {
	addL7Seeds(f, func(b []byte) { f.Add(b, false); f.Add(b, true) })
	f.Add([]byte(`<14>1 - - - - - [a@1 x="q\]"]`), false)
	var m dissect.SyslogMessage
	f.Fuzz(func(t *testing.T, b []byte, tcp bool) {
		var err error
		if tcp {
			err = m.ParseTCP(b)
		} else {
			err = m.Parse(b)
		}
		for name, v := range map[string][]byte{"Timestamp": m.Timestamp, "Timestamp3339": m.Timestamp3339,
			"Hostname": m.Hostname, "AppName": m.AppName, "ProcID": m.ProcID, "MsgID": m.MsgID, "Tag": m.Tag,
			"StructuredData": m.StructuredData, "Message": m.Message} {
			pointsInto(t, name, v, b)
		}
		if m.FacilityCode > 23 || m.SeverityCode > 7 || m.Length > len(b) {
			t.Fatalf("facility %d severity %d length %d of %d", m.FacilityCode, m.SeverityCode, m.Length, len(b))
		}
		if err == nil && (m.Facility() == "" || m.Severity() == "") {
			t.Fatal("parsed without facility and severity names")
		}
		_ = m.AppendText(nil)
		_ = m.AppendInfo(nil)
		if ts := m.AppendTime3339(nil, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); len(ts) > 0 {
			if _, err := time.Parse(time.RFC3339Nano, string(ts)); err != nil && len(m.Timestamp3339) == 0 {
				t.Fatalf("AppendTime3339 %q: %v", ts, err)
			}
		}
	})
}
