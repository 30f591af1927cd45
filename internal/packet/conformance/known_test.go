package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
)

// absent is the value shown for a field one side does not report.
const absent = "<absent>"

// difference is one field on which wirebridge and tshark disagree for one packet.
type difference struct {
	File   string `json:"file"`
	Packet int    `json:"packet"` // 1-based, tshark's frame.number
	Field  string `json:"field"`
	Ours   string `json:"ours"`
	Tshark string `json:"tshark"`
}

func (d difference) String() string {
	return fmt.Sprintf("%s #%d %s: wirebridge %q, tshark %q", d.File, d.Packet, d.Field, d.Ours, d.Tshark)
}

// knownDifference is one entry of testdata/known-differences.json: the
// disagreements it excuses, and why. Field, Ours and Tshark are patterns in
// which "*" stands for any text (so "f1.*" covers every field of frame 1); an
// entry lists the packets it applies to, and each of them must still show at
// least one matching disagreement, or the entry is stale.
type knownDifference struct {
	File    string `json:"file"`
	Packets []int  `json:"packets"`
	Field   string `json:"field"`
	Ours    string `json:"ours"`
	Tshark  string `json:"tshark"`
	Reason  string `json:"reason"`
}

func (k knownDifference) String() string {
	return fmt.Sprintf("%s %v %s: wirebridge %q, tshark %q", k.File, k.Packets, k.Field, k.Ours, k.Tshark)
}

func (k knownDifference) matches(d difference) bool {
	return k.File == d.File && slices.Contains(k.Packets, d.Packet) &&
		glob(k.Field, d.Field) && glob(k.Ours, d.Ours) && glob(k.Tshark, d.Tshark)
}

// glob reports whether s matches pattern, where "*" matches any run of characters.
func glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	last := parts[len(parts)-1]
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// knownList is testdata/known-differences.json.
type knownList struct {
	Comment     []string          `json:"comment"`
	Differences []knownDifference `json:"differences"`
}

const knownPath = "testdata/known-differences.json"

func loadKnown(t testing.TB) knownList {
	t.Helper()
	b, err := os.ReadFile(knownPath)
	if err != nil {
		t.Fatalf("read known differences: %v", err)
	}
	var k knownList
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&k); err != nil {
		t.Fatalf("parse %s: %v", knownPath, err)
	}
	return k
}

// compareFields lists every field on which ours and theirs disagree, a
// field missing on one side counting as a disagreement, sorted by field.
func compareFields(file string, pkt int, ours, theirs fields) []difference {
	names := map[string]bool{}
	for k := range ours {
		names[k] = true
	}
	for k := range theirs {
		names[k] = true
	}
	for k := range names {
		if strings.Contains(k, "._") {
			delete(names, k)
		}
	}
	var out []difference
	for k := range names {
		o, ok := ours[k]
		if !ok {
			o = absent
		}
		t, ok := theirs[k]
		if !ok {
			t = absent
		}
		if o != t {
			out = append(out, difference{File: file, Packet: pkt, Field: k, Ours: o, Tshark: t})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// Files whose whole point is VXLAN, Geneve or IPv6 extension headers: the
// decoder must agree with tshark on every field of every packet in them.
var protectedFiles = []string{"vxlan", "geneve", "ipv6-covert-dstopts", "ipv6-routing-header", "ipv6-hbh-routing0", "icmpv6", "ip6-ext-trunc"}

// Fields that describe VLANs, VXLAN, Geneve or IPv6 extension headers, in any file.
var protectedFields = []string{"vlan", "vni", "geneve", "tunnel.options", "ipv6.ext", "ip.extensions", "flowhash"}

// protectedReason says why a disagreement on field of file may not be listed
// as a known difference, or "". It is applied to every entry's patterns and to
// every disagreement an entry excuses.
func protectedReason(d difference) string {
	f := strings.ToLower(d.Field)
	for _, p := range protectedFields {
		if strings.Contains(f, p) {
			return fmt.Sprintf("field %q is about %s: the decoder must agree with tshark", d.Field, p)
		}
	}
	for _, p := range protectedFiles {
		if strings.Contains(d.File, p) {
			return fmt.Sprintf("file %q covers %s: the decoder must agree with tshark on all of it", d.File, p)
		}
	}
	if strings.HasSuffix(f, ".type") && (isTunnelName(d.Ours, "vxlan", "geneve") || isTunnelName(d.Tshark, "vxlan", "geneve")) {
		return "tunnel type vxlan/geneve: the decoder must agree with tshark"
	}
	return ""
}

func isTunnelName(v string, names ...string) bool {
	for _, n := range names {
		if v == n {
			return true
		}
	}
	return false
}

// TestKnownDifferencesWellFormed checks the list itself (runs without tshark):
// every entry names a file, packets, field and reason, none is duplicated, and
// none excuses a VXLAN, Geneve, IPv6 extension header or VLAN disagreement.
func TestKnownDifferencesWellFormed(t *testing.T) {
	k := loadKnown(t)
	seen := map[string]bool{}
	for i, d := range k.Differences {
		name := fmt.Sprintf("entry %d (%s)", i, d)
		if d.File == "" || len(d.Packets) == 0 || d.Field == "" || d.Ours == "" || d.Tshark == "" {
			t.Errorf("%s: file, packets, field, ours and tshark are required", name)
		}
		for _, p := range d.Packets {
			if p < 1 {
				t.Errorf("%s: packet numbers start at 1", name)
			}
		}
		if strings.TrimSpace(d.Reason) == "" || strings.EqualFold(strings.TrimSpace(d.Reason), "todo") {
			t.Errorf("%s: needs a reason", name)
		}
		if d.Ours == d.Tshark && !strings.Contains(d.Ours, "*") {
			t.Errorf("%s: ours and tshark are equal, this is not a difference", name)
		}
		// The literal parts of the field pattern must not name a protected field.
		lit := difference{File: d.File, Field: strings.ReplaceAll(d.Field, "*", ""), Ours: d.Ours, Tshark: d.Tshark}
		if r := protectedReason(lit); r != "" {
			t.Errorf("%s: may not be listed: %s", name, r)
		}
		if _, err := os.Stat(pcapDir + "/" + d.File); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if seen[d.String()] {
			t.Errorf("%s: listed twice", name)
		}
		seen[d.String()] = true
	}
}

// pcapDir holds the third-party captures, beside the repository checkout.
const pcapDir = "../../../testdata/pcaps"
