//go:build integration

package dissect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/dissect"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
)

// The tshark comparison (issue 16's first acceptance bullet): every packet of
// every capture in testdata/pcaps is decoded with internal/packet; the DNS,
// HTTP and syslog parsers run on the innermost transport payload of packets
// on their ports (or that tshark dissects as their protocol), and their
// fields are compared with tshark's, packet by packet. Differences must be
// listed, with the reason, in testdata/tshark-known-differences-dns-http-syslog.json; a
// listed fieldDiff that no longer occurs fails the test too.

const capturesDir = "../../testdata/pcaps"

// tsharkNoReassembly: no IP reassembly and no TCP desegmentation, so tshark dissects
// each packet on its own as the parsers do (HTTP heads are compared on the
// packet that starts them).
var tsharkNoReassembly = []string{
	"-o", "ip.defragment:FALSE",
	"-o", "ipv6.defragment:FALSE",
	"-o", "tcp.desegment_tcp_streams:FALSE",
}

var tsharkL7Fields = []string{
	"frame.number", "_ws.col.Info", "_ws.malformed", "_ws.short", "_ws.unreassembled",
	"dns.id", "dns.flags.response", "dns.flags.opcode", "dns.flags.rcode",
	"dns.flags.authoritative", "dns.flags.truncated", "dns.flags.recdesired",
	"dns.count.queries", "dns.count.answers", "dns.count.auth_rr", "dns.count.add_rr",
	"dns.qry.name", "dns.qry.type", "dns.qry.class",
	"dns.resp.name", "dns.resp.type", "dns.resp.ttl",
	"dns.a", "dns.aaaa", "dns.cname", "dns.ns", "dns.ptr.domain_name", "dns.mx.preference",
	"dns.mx.mail_exchange", "dns.txt", "dns.srv.name", "dns.srv.target", "dns.srv.port", "dns.soa.mname",
	"http.request.method", "http.request.uri", "http.request.version", "http.host",
	"http.response.code", "http.response.phrase", "http.response.version",
	"http.content_type", "http.content_length_header", "http.user_agent",
	"syslog.facility", "syslog.level", "syslog.msg", "syslog.version", "syslog.timestamp",
	"syslog.timestamp_rfc3164", "syslog.hostname", "syslog.appname", "syslog.procid", "syslog.msgid",
}

// tsFields is one packet of tshark's output: field name -> values.
type tsFields map[string][]string

func (p tsFields) has(prefix string) bool {
	for k := range p {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// one returns the single value of field f ("" when absent).
func (p tsFields) one(f string) string {
	if v := p[f]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func tsharkDissect(t *testing.T, tshark, path string, extra ...string) map[int]tsFields {
	t.Helper()
	args := append([]string{"-n", "-r", path}, tsharkNoReassembly...)
	args = append(args, extra...)
	args = append(args, "-T", "json")
	for _, f := range tsharkL7Fields {
		args = append(args, "-e", f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, tshark, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", path, err, stderr.String())
	}
	var raw []struct {
		Source struct {
			Layers map[string][]string `json:"layers"`
		} `json:"_source"`
	}
	if len(bytes.TrimSpace(out)) > 0 {
		if err := json.Unmarshal(out, &raw); err != nil {
			t.Fatalf("tshark %s: json: %v", path, err)
		}
	}
	pkts := make(map[int]tsFields, len(raw))
	for _, r := range raw {
		no, err := strconv.Atoi(tsFields(r.Source.Layers).one("frame.number"))
		if err != nil {
			t.Fatalf("tshark %s: frame.number: %v", path, err)
		}
		pkts[no] = r.Source.Layers
	}
	return pkts
}

// l7Packet is one decoded packet's innermost transport payload.
type l7Packet struct {
	no               int
	tcp, udp         bool
	srcPort, dstPort uint16
	payload          []byte
}

func decodeCapture(t *testing.T, path string) []l7Packet {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capfile.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []l7Packet
	var p packet.Packet
	for no := 1; ; no++ {
		data, info, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: packet %d: %v", path, no, err)
		}
		_ = packet.Decode(&p, data, info) // decode errors leave the layers decoded so far
		fr := &p.Frames[p.NumFrames-1]
		op := l7Packet{no: no, tcp: fr.Layers.Has(packet.LayerTCP), udp: fr.Layers.Has(packet.LayerUDP)}
		if (op.tcp || op.udp) && !fr.L4Partial {
			op.srcPort, op.dstPort = fr.SrcPort, fr.DstPort
			op.payload = bytes.Clone(p.Data[fr.PayloadOff : fr.PayloadOff+fr.PayloadLen])
		}
		out = append(out, op)
	}
}

// Ports on which the comparison runs a parser even when tshark does not
// dissect the packet as that protocol.
var (
	dnsPorts    = []uint16{53, 5353, 5355}
	httpPorts   = []uint16{80, 8080, 8000, 8008, 8088, 3128}
	syslogPorts = []uint16{514, 601}
)

func onPort(p l7Packet, ports []uint16) bool {
	return slices.Contains(ports, p.srcPort) || slices.Contains(ports, p.dstPort)
}

// fieldDiff is one field on which a parser and tshark disagree.
type fieldDiff struct {
	file   string
	packet int
	field  string
	ours   string
	tshark string
}

func (d fieldDiff) String() string {
	return fmt.Sprintf("%s #%d %s: ours %q, theirs %q", d.file, d.packet, d.field, d.ours, d.tshark)
}

type diffSink struct {
	file  string
	no    int
	diffs *[]fieldDiff
}

func (d diffSink) eq(field, ours, tshark string) {
	if ours != tshark {
		*d.diffs = append(*d.diffs, fieldDiff{d.file, d.no, field, ours, tshark})
	}
}

const absentText = "<absent>"

func orAbsent(s string, present bool) string {
	if !present {
		return absentText
	}
	return s
}

// list compares ours with tshark's values of field (absent when empty).
func (d diffSink) list(field string, ours []string, ts tsFields) {
	d.eq(field, strings.Join(ours, " | "), strings.Join(ts[field], " | "))
}

func compareDNS(d diffSink, op l7Packet, ts tsFields) {
	tsHas := ts.has("dns.")
	if !tsHas && !onPort(op, dnsPorts) {
		return
	}
	var m dissect.DNSMessage
	err := m.Parse(op.payload, op.tcp)
	if !tsHas {
		if err == nil {
			d.eq("dns", "parsed", absentText)
		}
		return
	}
	if err != nil || tsError(ts) != "" {
		d.eq("dns.error", kindName(err), tsError(ts))
		if m.ID == 0 && m.QDCount == 0 {
			return
		}
	}
	d.eq("dns.id", fmt.Sprintf("0x%04x", m.ID), ts.one("dns.id"))
	d.eq("dns.flags.response", bit01(m.Response), ts.one("dns.flags.response"))
	d.eq("dns.flags.opcode", strconv.Itoa(int(m.Opcode)), ts.one("dns.flags.opcode"))
	// tshark shows rcode and AA for responses only, and no RD for LLMNR
	// (whose flags diffSink): compare the flags tshark shows.
	flag := func(field string, v bool) {
		if len(ts[field]) > 0 {
			d.eq(field, bit01(v), ts.one(field))
		}
	}
	if m.Response {
		d.eq("dns.flags.rcode", strconv.Itoa(int(m.RCode)), ts.one("dns.flags.rcode"))
	}
	flag("dns.flags.authoritative", m.Authoritative)
	flag("dns.flags.recdesired", m.RecursionDesired)
	flag("dns.flags.truncated", m.Truncated)
	d.eq("dns.count.queries", strconv.Itoa(int(m.QDCount)), ts.one("dns.count.queries"))
	d.eq("dns.count.answers", strconv.Itoa(int(m.ANCount)), ts.one("dns.count.answers"))
	d.eq("dns.count.auth_rr", strconv.Itoa(int(m.NSCount)), ts.one("dns.count.auth_rr"))
	d.eq("dns.count.add_rr", strconv.Itoa(int(m.ARCount)), ts.one("dns.count.add_rr"))
	if err == nil && !m.More {
		checkInfo(d, "dns", m.AppendInfo(nil), ts)
	}
	var qnames, types, classes []string
	for _, q := range m.QuestionList() {
		qnames = append(qnames, rootName(q.Name))
		types = append(types, strconv.Itoa(int(q.Type)))
		classes = append(classes, fmt.Sprintf("0x%04x", q.Class&0x7fff))
	}
	if !m.More {
		d.list("dns.qry.name", qnames, ts)
		d.list("dns.qry.type", types, ts)
		d.list("dns.qry.class", classes, ts)
	}
	// tshark lists answer, authority and additional records in message
	// order: the first NAnswers values are the answers'. For per-type data
	// fields (dns.a ...) the first values of a type are the answers' too.
	byType := map[string]int{}
	names := 0 // Wireshark shows an SRV record's owner as dns.srv.name, not dns.resp.name
	txt := 0   // next dns.txt value: a TXT record's strings are separate values in tshark
	prefix := func(field string, i int, v string) {
		vals := ts[field]
		if i >= len(vals) {
			d.eq(fmt.Sprintf("%s[%d]", field, i), v, absentText)
			return
		}
		d.eq(fmt.Sprintf("%s[%d]", field, i), v, vals[i])
	}
	for i, a := range m.AnswerList() {
		if a.Type == 33 {
			// Wireshark splits an SRV owner "_service._proto.name" and
			// shows the part after the second label as dns.srv.name.
			k := byType["dns.srv.target"]
			if vals := ts["dns.srv.name"]; k >= len(vals) || !strings.HasSuffix(string(a.Name), "."+vals[k]) {
				prefix("dns.srv.name", k, rootName(a.Name))
			}
		} else {
			prefix("dns.resp.name", names, rootName(a.Name))
			names++
		}
		prefix("dns.resp.type", i, strconv.Itoa(int(a.Type)))
		prefix("dns.resp.ttl", i, strconv.FormatUint(uint64(a.TTL), 10))
		field := map[uint16]string{1: "dns.a", 28: "dns.aaaa", 5: "dns.cname", 2: "dns.ns", 12: "dns.ptr.domain_name",
			15: "dns.mx.mail_exchange", 16: "dns.txt", 33: "dns.srv.target", 6: "dns.soa.mname"}[a.Type]
		if field == "" {
			continue
		}
		k := byType[field]
		byType[field]++
		data := string(a.Data)
		if a.Type == 16 {
			// Data is the record's strings concatenated: take tshark's
			// values until they add up to it.
			vals, got := ts["dns.txt"], ""
			for txt < len(vals) && len(got) < len(data) {
				got += vals[txt]
				txt++
			}
			d.eq(fmt.Sprintf("dns.txt[record %d]", k), data, got)
			continue
		}
		switch a.Type {
		case 15:
			pref, name, _ := strings.Cut(data, " ")
			prefix("dns.mx.preference", k, pref)
			data = name
		case 33:
			f := strings.Fields(data)
			prefix("dns.srv.port", k, f[2])
			data = f[3]
		}
		if a.Type != 1 && a.Type != 28 && a.Type != 16 {
			data = rootName([]byte(data))
		}
		prefix(field, k, data)
	}
}

// kindName names the error kind of a parse error ("" for nil).
func kindName(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, dissect.ErrTruncated):
		return "truncated"
	case errors.Is(err, dissect.ErrMalformed):
		return "malformed"
	case errors.Is(err, dissect.ErrNotProtocol):
		return "not this protocol"
	}
	return err.Error()
}

// tsError names tshark's verdict on a packet: "malformed" (a Malformed
// Packet expert item), "truncated" (the packet or an unreassembled fragment
// ends inside the message), or "".
func tsError(ts tsFields) string {
	switch {
	case ts.has("_ws.malformed"):
		return "malformed"
	case ts.has("_ws.short"), ts.has("_ws.unreassembled"):
		return "truncated"
	}
	return ""
}

// checkInfo checks that tshark's Info column starts with ours: Wireshark adds
// what the parsers do not keep (DNS authority and additional records, the
// HTTP body's content type, syslog's trailing NUL or LF).
func checkInfo(d diffSink, proto string, ours []byte, ts tsFields) {
	tsInfo := ts.one("_ws.col.Info")
	if !strings.HasPrefix(tsInfo, string(ours)) {
		d.eq(proto+".info (prefix)", string(ours), tsInfo)
	}
}

func rootName(n []byte) string {
	if len(n) == 0 {
		return "<Root>"
	}
	return string(n)
}

func bit01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func compareHTTP(d diffSink, op l7Packet, ts tsFields) {
	tsHas := ts.has("http.request.") || ts.has("http.response.")
	if !op.tcp || (!tsHas && !onPort(op, httpPorts)) {
		return
	}
	var m dissect.HTTPMessage
	err := m.Parse(op.payload)
	if !tsHas {
		if err == nil {
			d.eq("http", "parsed", absentText)
		}
		return
	}
	if err != nil {
		d.eq("http.error", err.Error(), "<none>")
		return
	}
	checkInfo(d, "http", m.AppendInfo(nil), ts)
	str := func(b []byte) string { return orAbsent(string(b), b != nil) }
	tsv := func(f string) string { return orAbsent(ts.one(f), len(ts[f]) > 0) }
	if m.Response {
		d.eq("http.response.version", str(m.Version), tsv("http.response.version"))
		d.eq("http.response.code", strconv.Itoa(int(m.Status)), tsv("http.response.code"))
		d.eq("http.response.phrase", str(m.Reason), tsv("http.response.phrase"))
	} else {
		d.eq("http.request.method", str(m.Method), tsv("http.request.method"))
		d.eq("http.request.uri", str(m.Path), tsv("http.request.uri"))
		d.eq("http.request.version", str(m.Version), tsv("http.request.version"))
	}
	d.eq("http.host", str(m.Host), tsv("http.host"))
	d.eq("http.content_type", str(m.ContentType), tsv("http.content_type"))
	d.eq("http.user_agent", str(m.UserAgent), tsv("http.user_agent"))
	cl := absentText
	if m.ContentLength >= 0 {
		cl = strconv.FormatInt(m.ContentLength, 10)
	}
	d.eq("http.content_length_header", cl, tsv("http.content_length_header"))
}

// compareSyslog maps tshark 4.0's syslog fields to ours. tshark's
// syslog.msg is everything after PRI; for RFC 3164 tshark 4.0 puts the
// program name in syslog.procid and "[pid]: message" in syslog.msgid (its
// field labels are shifted), so AppName is compared with syslog.procid and
// ProcID with the bracketed start of syslog.msgid.
func compareSyslog(d diffSink, op l7Packet, ts tsFields) {
	tsHas := ts.has("syslog.")
	if !tsHas && !onPort(op, syslogPorts) {
		return
	}
	var m dissect.SyslogMessage
	var err error
	if op.tcp {
		err = m.ParseTCP(op.payload)
	} else {
		err = m.Parse(op.payload)
	}
	if !tsHas {
		if err == nil {
			d.eq("syslog", "parsed", absentText)
		}
		return
	}
	if err != nil {
		d.eq("syslog.error", err.Error(), "<none>")
		return
	}
	// Without PRI tshark shows no facility and level; ours are rsyslog's
	// defaults (user.notice).
	if m.HasPRI {
		d.eq("syslog.facility", strconv.Itoa(int(m.FacilityCode)), ts.one("syslog.facility"))
		d.eq("syslog.level", strconv.Itoa(int(m.SeverityCode)), ts.one("syslog.level"))
	} else {
		d.eq("syslog.facility", absentText, orAbsent(ts.one("syslog.facility"), len(ts["syslog.facility"]) > 0))
	}
	checkInfo(d, "syslog", m.AppendInfo(nil), ts)
	tsMsg := strings.TrimRight(ts.one("syslog.msg"), "\x00\r\n")
	if !strings.HasSuffix(tsMsg, string(m.Message)) {
		d.eq("syslog.msg (suffix)", string(m.Message), tsMsg)
	}
	str := func(b []byte) string { return orAbsent(string(b), len(b) > 0) }
	// RFC 5424's NILVALUE "-" is empty (absent) in ours.
	tsv := func(f string) string { return orAbsent(ts.one(f), len(ts[f]) > 0 && ts.one(f) != "-") }
	if ts.has("syslog.hostname") || len(m.Hostname) > 0 && m.Format == dissect.SyslogRFC5424 {
		d.eq("syslog.hostname", str(m.Hostname), tsv("syslog.hostname"))
	}
	if m.Format == dissect.SyslogRFC5424 {
		d.eq("syslog.version", strconv.Itoa(int(m.Version)), tsv("syslog.version"))
		d.eq("syslog.appname", str(m.AppName), tsv("syslog.appname"))
		d.eq("syslog.procid", str(m.ProcID), tsv("syslog.procid"))
		ts3339, err := time.Parse(time.RFC3339Nano, string(m.Timestamp3339))
		got := absentText
		if err == nil {
			got = ts3339.UTC().Format("Jan _2, 2006 15:04:05.000000000 UTC")
		}
		d.eq("syslog.timestamp", got, tsv("syslog.timestamp"))
		return
	}
	if ts.has("syslog.timestamp_rfc3164") {
		d.eq("syslog.timestamp_rfc3164", str(m.Timestamp), tsv("syslog.timestamp_rfc3164"))
	}
	if ts.has("syslog.procid") {
		d.eq("syslog.procid (AppName)", str(m.AppName), tsv("syslog.procid"))
		pid := absentText
		if id := ts.one("syslog.msgid"); strings.HasPrefix(id, "[") {
			if e := strings.IndexByte(id, ']'); e > 0 {
				pid = id[1:e]
			}
		}
		d.eq("syslog.msgid (ProcID)", str(m.ProcID), pid)
	}
}

// knownDiff is one entry of testdata/tshark-known-differences-dns-http-syslog.json.
type knownDiff struct {
	File    string `json:"file"`
	Packets []int  `json:"packets"`
	Field   string `json:"field"`
	Ours    string `json:"ours"`
	Tshark  string `json:"tshark"`
	Reason  string `json:"reason"`
	used    bool
}

func (k *knownDiff) matches(d fieldDiff) bool {
	return k.File == d.file && slices.Contains(k.Packets, d.packet) && matchStar(k.Field, d.field) &&
		matchStar(k.Ours, d.ours) && matchStar(k.Tshark, d.tshark)
}

// matchStar matches s against pattern p, in which '*' matches any text (and
// nothing else is special).
func matchStar(p, s string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

func loadKnownDiffs(t *testing.T) []*knownDiff {
	t.Helper()
	b, err := os.ReadFile("testdata/tshark-known-differences-dns-http-syslog.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Differences []*knownDiff `json:"differences"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("known differences: %v", err)
	}
	for i, k := range f.Differences {
		if k.Reason == "" || k.File == "" || len(k.Packets) == 0 {
			t.Fatalf("known fieldDiff %d: file, packets and reason are required", i)
		}
	}
	return f.Differences
}

func compareL7(d diffSink, ours []l7Packet, ts map[int]tsFields) (dnsN, httpN, syslogN int) {
	for _, op := range ours {
		if !op.tcp && !op.udp {
			continue
		}
		t := ts[op.no]
		d.no = op.no
		before := len(*d.diffs)
		_ = before
		if t.has("dns.") {
			dnsN++
		}
		if t.has("http.request.") || t.has("http.response.") {
			httpN++
		}
		if t.has("syslog.") {
			syslogN++
		}
		compareDNS(d, op, t)
		compareHTTP(d, op, t)
		compareSyslog(d, op, t)
	}
	return
}

func TestTsharkDNSHTTPSyslog(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatalf("tshark: %v (install the tshark package)", err)
	}
	entries, err := os.ReadDir(capturesDir)
	if err != nil {
		t.Fatal(err)
	}
	var known []*knownDiff
	for _, k := range loadKnownDiffs(t) {
		if k.File != "built" && !strings.HasSuffix(k.Field, ".text") {
			known = append(known, k)
		}
	}
	var diffs []fieldDiff
	var nDNS, nHTTP, nSyslog int
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".pcap") && !strings.HasSuffix(name, ".pcapng") {
			continue
		}
		path := filepath.Join(capturesDir, name)
		ours := decodeCapture(t, path)
		ts := tsharkDissect(t, tshark, path)
		a, b, c := compareL7(diffSink{file: name, diffs: &diffs}, ours, ts)
		nDNS, nHTTP, nSyslog = nDNS+a, nHTTP+b, nSyslog+c
	}
	t.Logf("packets tshark dissects: %d DNS, %d HTTP heads, %d syslog", nDNS, nHTTP, nSyslog)
	if nDNS < 30 || nHTTP < 30 || nSyslog < 80 {
		t.Errorf("too few packets compared: %d DNS, %d HTTP, %d syslog", nDNS, nHTTP, nSyslog)
	}
	checkKnownDiffs(t, diffs, known)
}

func checkKnownDiffs(t *testing.T, diffs []fieldDiff, known []*knownDiff) {
	t.Helper()
	for _, d := range diffs {
		ok := false
		for _, k := range known {
			if k.matches(d) {
				k.used, ok = true, true
			}
		}
		if !ok {
			t.Errorf("unexplained fieldDiff: %v", d)
		}
	}
	for _, k := range known {
		if !k.used {
			t.Errorf("known fieldDiff no longer seen (remove it): %s %v %s", k.File, k.Packets, k.Field)
		}
	}
}
