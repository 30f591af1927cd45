package pattern

import (
	"encoding/json"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"testing"
)

type opCase struct {
	name    string
	pattern string
	event   string
	want    bool
}

var opCases = []opCase{
	// exact strings and types
	{"string equal", `{"a":["x"]}`, `{"a":"x"}`, true},
	{"string differs", `{"a":["x"]}`, `{"a":"y"}`, false},
	{"string list any", `{"a":["x","y","z"]}`, `{"a":"y"}`, true},
	{"string vs number", `{"a":["5"]}`, `{"a":5}`, false},
	{"number vs string", `{"a":[5]}`, `{"a":"5"}`, false},
	{"empty string", `{"a":[""]}`, `{"a":""}`, true},
	{"missing field", `{"a":["x"]}`, `{"b":"x"}`, false},
	{"object is not a leaf", `{"a":["x"]}`, `{"a":{"b":"x"}}`, false},
	{"escaped event string", `{"a":["x\"y"]}`, `{"a":"x\u0022y"}`, true},
	{"unicode escape", `{"a":["é"]}`, `{"a":"\u00e9"}`, true},
	// numbers
	{"number 300 vs 3.0e2", `{"a":[300]}`, `{"a":3.0e2}`, true},
	{"number 300 vs 300.0", `{"a":[300]}`, `{"a":300.0}`, true},
	{"number 3e2 vs 300", `{"a":[3e2]}`, `{"a":300}`, true},
	{"number differs", `{"a":[300]}`, `{"a":301}`, false},
	{"negative zero", `{"a":[0]}`, `{"a":-0.0}`, true},
	{"fraction", `{"a":[0.5]}`, `{"a":5e-1}`, true},
	{"big int literal fallback same text", `{"a":[123456789012345678901234567890]}`, `{"a":123456789012345678901234567890}`, true},
	{"big int literal fallback other text", `{"a":[123456789012345678901234567890]}`, `{"a":1.2345678901234567890123456789e29}`, false},
	{"beyond float range", `{"a":[1e400]}`, `{"a":1e400}`, true},
	// true false null
	{"true", `{"a":[true]}`, `{"a":true}`, true},
	{"true vs string", `{"a":[true]}`, `{"a":"true"}`, false},
	{"false", `{"a":[false]}`, `{"a":false}`, true},
	{"false vs true", `{"a":[false]}`, `{"a":true}`, false},
	{"null", `{"a":[null]}`, `{"a":null}`, true},
	{"null vs missing", `{"a":[null]}`, `{}`, false},
	{"null vs string", `{"a":[null]}`, `{"a":"null"}`, false},
	// IP normalisation and exactly
	{"ip leading zeros", `{"a":["10.0.0.1"]}`, `{"a":"10.0.0.001"}`, true},
	{"ip pattern leading zeros", `{"a":["10.0.0.001"]}`, `{"a":"10.0.0.1"}`, true},
	{"ipv6 forms", `{"a":["2001:db8::1"]}`, `{"a":"2001:0db8:0000::0001"}`, true},
	{"ip differs", `{"a":["10.0.0.1"]}`, `{"a":"10.0.0.2"}`, false},
	{"exactly bypasses ip", `{"a":[{"exactly":"10.0.0.1"}]}`, `{"a":"10.0.0.001"}`, false},
	{"exactly equal", `{"a":[{"exactly":"10.0.0.1"}]}`, `{"a":"10.0.0.1"}`, true},
	// prefix / suffix / equals-ignore-case
	{"prefix", `{"a":[{"prefix":"ab"}]}`, `{"a":"abc"}`, true},
	{"prefix whole", `{"a":[{"prefix":"abc"}]}`, `{"a":"abc"}`, true},
	{"prefix no", `{"a":[{"prefix":"b"}]}`, `{"a":"abc"}`, false},
	{"prefix empty", `{"a":[{"prefix":""}]}`, `{"a":"abc"}`, true},
	{"prefix not number", `{"a":[{"prefix":"1"}]}`, `{"a":12}`, false},
	{"suffix", `{"a":[{"suffix":".png"}]}`, `{"a":"x.png"}`, true},
	{"suffix no", `{"a":[{"suffix":".png"}]}`, `{"a":"x.jpg"}`, false},
	{"equals-ignore-case", `{"a":[{"equals-ignore-case":"AlIcE"}]}`, `{"a":"alice"}`, true},
	{"equals-ignore-case no", `{"a":[{"equals-ignore-case":"alice"}]}`, `{"a":"alicia"}`, false},
	{"equals-ignore-case unicode", `{"a":[{"equals-ignore-case":"ΣΊΣΥΦΟΣ"}]}`, `{"a":"σίσυφος"}`, true},
	{"equals-ignore-case kelvin", `{"a":[{"equals-ignore-case":"k"}]}`, `{"a":"\u212a"}`, true},
	{"prefix ignore case", `{"a":[{"prefix":{"equals-ignore-case":"ABC"}}]}`, `{"a":"abcdef"}`, true},
	{"prefix ignore case no", `{"a":[{"prefix":{"equals-ignore-case":"ABD"}}]}`, `{"a":"abcdef"}`, false},
	{"suffix ignore case", `{"a":[{"suffix":{"equals-ignore-case":".PNG"}}]}`, `{"a":"x.png"}`, true},
	// wildcard
	{"wildcard middle", `{"a":[{"wildcard":"a*c"}]}`, `{"a":"abbbc"}`, true},
	{"wildcard empty star", `{"a":[{"wildcard":"a*c"}]}`, `{"a":"ac"}`, true},
	{"wildcard no", `{"a":[{"wildcard":"a*c"}]}`, `{"a":"abd"}`, false},
	{"wildcard leading", `{"a":[{"wildcard":"*.png"}]}`, `{"a":"dir/x.png"}`, true},
	{"wildcard many", `{"a":[{"wildcard":"*a*b*c*"}]}`, `{"a":"xxaybzc"}`, true},
	{"wildcard order", `{"a":[{"wildcard":"*a*b*"}]}`, `{"a":"ba"}`, false},
	{"wildcard escaped star", `{"a":[{"wildcard":"a\\*b"}]}`, `{"a":"a*b"}`, true},
	{"wildcard escaped star literal", `{"a":[{"wildcard":"a\\*b"}]}`, `{"a":"axb"}`, false},
	{"wildcard escaped backslash", `{"a":[{"wildcard":"a\\\\*"}]}`, `{"a":"a\\bc"}`, true},
	{"wildcard no star exact", `{"a":[{"wildcard":"abc"}]}`, `{"a":"abc"}`, true},
	{"wildcard overlap prefix suffix", `{"a":[{"wildcard":"ab*ba"}]}`, `{"a":"aba"}`, false},
	// anything-but
	{"anything-but string", `{"a":[{"anything-but":"x"}]}`, `{"a":"y"}`, true},
	{"anything-but string excluded", `{"a":[{"anything-but":"x"}]}`, `{"a":"x"}`, false},
	{"anything-but missing", `{"a":[{"anything-but":"x"}]}`, `{"b":"y"}`, false},
	{"anything-but list", `{"a":[{"anything-but":["x","y"]}]}`, `{"a":"y"}`, false},
	{"anything-but list other", `{"a":[{"anything-but":["x","y"]}]}`, `{"a":"z"}`, true},
	{"anything-but numbers", `{"a":[{"anything-but":[100,200]}]}`, `{"a":1e2}`, false},
	{"anything-but numbers other", `{"a":[{"anything-but":[100,200]}]}`, `{"a":150}`, true},
	{"anything-but number vs string", `{"a":[{"anything-but":100}]}`, `{"a":"100"}`, true},
	{"anything-but array one passes", `{"a":[{"anything-but":"x"}]}`, `{"a":["x","y"]}`, true},
	{"anything-but array all excluded", `{"a":[{"anything-but":"x"}]}`, `{"a":["x","x"]}`, false},
	{"anything-but prefix", `{"a":[{"anything-but":{"prefix":"init"}}]}`, `{"a":"running"}`, true},
	{"anything-but prefix excluded", `{"a":[{"anything-but":{"prefix":"init"}}]}`, `{"a":"initialising"}`, false},
	{"anything-but suffix", `{"a":[{"anything-but":{"suffix":".tmp"}}]}`, `{"a":"x.tmp"}`, false},
	{"anything-but ignore case", `{"a":[{"anything-but":{"equals-ignore-case":["ALICE","bob"]}}]}`, `{"a":"Bob"}`, false},
	{"anything-but ignore case other", `{"a":[{"anything-but":{"equals-ignore-case":["ALICE","bob"]}}]}`, `{"a":"carol"}`, true},
	{"anything-but wildcard", `{"a":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"a":"/usr/lib/x"}`, false},
	{"anything-but wildcard other", `{"a":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"a":"/usr/bin/x"}`, true},
	{"anything-but ip", `{"a":[{"anything-but":"10.0.0.1"}]}`, `{"a":"10.0.0.01"}`, false},
	// numeric
	{"numeric eq", `{"a":[{"numeric":["=",300]}]}`, `{"a":3e2}`, true},
	{"numeric eq no", `{"a":[{"numeric":["=",300]}]}`, `{"a":301}`, false},
	{"numeric gt", `{"a":[{"numeric":[">",5]}]}`, `{"a":5.0001}`, true},
	{"numeric gt edge", `{"a":[{"numeric":[">",5]}]}`, `{"a":5}`, false},
	{"numeric ge edge", `{"a":[{"numeric":[">=",5]}]}`, `{"a":5}`, true},
	{"numeric lt", `{"a":[{"numeric":["<",5]}]}`, `{"a":-1e9}`, true},
	{"numeric le edge", `{"a":[{"numeric":["<=",5]}]}`, `{"a":5}`, true},
	{"numeric lt edge", `{"a":[{"numeric":["<",5]}]}`, `{"a":5}`, false},
	{"numeric range in", `{"a":[{"numeric":[">",0,"<=",5]}]}`, `{"a":5}`, true},
	{"numeric range low edge", `{"a":[{"numeric":[">",0,"<=",5]}]}`, `{"a":0}`, false},
	{"numeric range out", `{"a":[{"numeric":[">",0,"<=",5]}]}`, `{"a":6}`, false},
	{"numeric not string", `{"a":[{"numeric":[">",0]}]}`, `{"a":"5"}`, false},
	{"numeric two ranges", `{"a":[{"numeric":[">",0,"<",5]},{"numeric":[">",10]}]}`, `{"a":11}`, true},
	{"numeric two ranges gap", `{"a":[{"numeric":[">",0,"<",5]},{"numeric":[">",10]}]}`, `{"a":7}`, false},
	// cidr
	{"cidr v4", `{"a":[{"cidr":"10.0.0.0/24"}]}`, `{"a":"10.0.0.77"}`, true},
	{"cidr v4 out", `{"a":[{"cidr":"10.0.0.0/24"}]}`, `{"a":"10.0.1.77"}`, false},
	{"cidr v4 leading zeros", `{"a":[{"cidr":"10.0.0.0/24"}]}`, `{"a":"10.0.0.077"}`, true},
	{"cidr v4 host bits", `{"a":[{"cidr":"10.0.0.5/24"}]}`, `{"a":"10.0.0.9"}`, true},
	{"cidr v6", `{"a":[{"cidr":"2001:db8::/32"}]}`, `{"a":"2001:db8:1::5"}`, true},
	{"cidr v6 out", `{"a":[{"cidr":"2001:db8::/32"}]}`, `{"a":"2001:db9::5"}`, false},
	{"cidr v4 vs v6", `{"a":[{"cidr":"10.0.0.0/8"}]}`, `{"a":"::ffff:10.0.0.1"}`, false},
	{"cidr not ip", `{"a":[{"cidr":"10.0.0.0/8"}]}`, `{"a":"10.0.0"}`, false},
	{"cidr /32", `{"a":[{"cidr":"10.1.2.3/32"}]}`, `{"a":"10.1.2.3"}`, true},
	{"cidr /0", `{"a":[{"cidr":"0.0.0.0/0"}]}`, `{"a":"1.2.3.4"}`, true},
	// exists
	{"exists true", `{"a":[{"exists":true}]}`, `{"a":0}`, true},
	{"exists true null", `{"a":[{"exists":true}]}`, `{"a":null}`, true},
	{"exists true missing", `{"a":[{"exists":true}]}`, `{"b":0}`, false},
	{"exists true object", `{"a":[{"exists":true}]}`, `{"a":{"b":1}}`, false},
	{"exists false missing", `{"a":[{"exists":false}]}`, `{"b":0}`, true},
	{"exists false present", `{"a":[{"exists":false}]}`, `{"a":0}`, false},
	{"exists false object", `{"a":[{"exists":false}]}`, `{"a":{"b":1}}`, true},
	{"exists false empty array", `{"a":[{"exists":false}]}`, `{"a":[]}`, true},
	{"value or absent, absent", `{"a":["x",{"exists":false}]}`, `{}`, true},
	{"value or absent, value", `{"a":["x",{"exists":false}]}`, `{"a":"x"}`, true},
	{"value or absent, other", `{"a":["x",{"exists":false}]}`, `{"a":"y"}`, false},
	// $or
	{"or first", `{"$or":[{"a":["x"]},{"b":["y"]}]}`, `{"a":"x"}`, true},
	{"or second", `{"$or":[{"a":["x"]},{"b":["y"]}]}`, `{"b":"y"}`, true},
	{"or none", `{"$or":[{"a":["x"]},{"b":["y"]}]}`, `{"a":"y","b":"x"}`, false},
	{"or with and", `{"s":["k"],"$or":[{"a":["x"]},{"b":["y"]}]}`, `{"s":"k","b":"y"}`, true},
	{"or with and fails", `{"s":["k"],"$or":[{"a":["x"]},{"b":["y"]}]}`, `{"s":"j","b":"y"}`, false},
	{"or nested", `{"$or":[{"a":["x"]},{"$or":[{"b":["y"]},{"c":["z"]}]}]}`, `{"c":"z"}`, true},
	{"or in object", `{"d":{"$or":[{"a":[1]},{"b":[2]}]}}`, `{"d":{"b":2}}`, true},
	{"or as field name", `{"$or":[{"cidr":"10.0.0.0/24"}]}`, `{"$or":"10.0.0.3"}`, true},
	{"or as object field", `{"$or":{"a":["x"]}}`, `{"$or":{"a":"x"}}`, true},
	// dotted names
	{"dotted pattern key", `{"detail.Port":[514]}`, `{"detail":{"Port":514}}`, true},
	{"dotted event key", `{"detail":{"Port":[514]}}`, `{"detail.Port":514}`, true},
	{"dotted both", `{"a.b":{"c":["x"]}}`, `{"a":{"b.c":"x"}}`, true},
	// arrays
	{"array any element", `{"a":["x"]}`, `{"a":["w","x"]}`, true},
	{"nested prim arrays", `{"a":[3]}`, `{"a":[[1,2],[3]]}`, true},
	{"array consistent same", `{"d":{"x":[1],"y":[2]}}`, `{"d":[{"x":1,"y":2}]}`, true},
	{"array consistent split", `{"d":{"x":[1],"y":[2]}}`, `{"d":[{"x":1},{"y":2}]}`, false},
	{"array exists false same element", `{"d":{"x":[1],"y":[{"exists":false}]}}`, `{"d":[{"x":1,"y":2},{"x":1}]}`, true},
	{"array two arrays independent", `{"a":{"x":[1]},"b":{"y":[2]}}`, `{"a":[{"x":0},{"x":1}],"b":[{"y":2}]}`, true},
	// seed rule
	{"seed rule 514", `{"source":["udp.raw"],"detail":{"Destination":{"Port":[514]}}}`,
		`{"version":"0","source":"udp.raw","detail-type":"UdpPacket","detail":{"Destination":{"IP":"10.0.0.2","Port":514},"Protocol":"udp"}}`, true},
	{"seed rule 515", `{"source":["udp.raw"],"detail":{"Destination":{"Port":[514]}}}`,
		`{"version":"0","source":"udp.raw","detail-type":"UdpPacket","detail":{"Destination":{"IP":"10.0.0.2","Port":515},"Protocol":"udp"}}`, false},
	{"seed rule other source", `{"source":["udp.raw"],"detail":{"Destination":{"Port":[514]}}}`,
		`{"source":"wirebridge.udp","detail":{"Destination":{"Port":514}}}`, false},
}

func TestOperators(t *testing.T) {
	for _, c := range opCases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Compile([]byte(c.pattern))
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			got, err := p.MatchJSON([]byte(c.event))
			if err != nil {
				t.Fatalf("match: %v", err)
			}
			if got != c.want {
				t.Errorf("json: got %v, want %v", got, c.want)
			}
			if acc := p.Match(mapEvent(t, []byte(c.event))); acc != c.want {
				t.Errorf("accessor: got %v, want %v", acc, c.want)
			}
			if ref := refMatch(t, p, []byte(c.event)); ref != c.want {
				t.Errorf("reference evaluator: got %v, want %v", ref, c.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name, pattern, path, reason string
	}{
		{"not json", `{`, "", "invalid json: unexpected EOF"},
		{"not object", `["a"]`, "", "a pattern must be a json object"},
		{"trailing data", `{"a":["x"]} x`, "", "invalid json: data after the pattern object"},
		{"empty pattern", `{}`, "", "empty object"},
		{"empty nested", `{"a":{}}`, "a", "empty object"},
		{"scalar field", `{"a":"x"}`, "a", "a field's value must be an array of values or an object"},
		{"empty list", `{"a":[]}`, "a", "empty value list"},
		{"nested array", `{"a":[["x"]]}`, "a[0]", "nested arrays are not allowed in a value list"},
		{"two keys", `{"a":[{"prefix":"x","suffix":"y"}]}`, "a[0]", "a matcher object must have exactly one key, got 2"},
		{"unknown op", `{"a":[{"regex":"x"}]}`, "a[0].regex", `unknown operator "regex"`},
		{"prefix number", `{"a":[{"prefix":5}]}`, "a[0].prefix", "prefix must be a string"},
		{"prefix bad object", `{"a":[{"prefix":{"x":"y"}}]}`, "a[0].prefix", `prefix takes a string or {"equals-ignore-case": string}`},
		{"eic number", `{"a":[{"equals-ignore-case":1}]}`, "a[0].equals-ignore-case", "equals-ignore-case must be a string"},
		{"exactly number", `{"a":[{"exactly":1}]}`, "a[0].exactly", "exactly must be a string"},
		{"wildcard double star", `{"a":[{"wildcard":"a**b"}]}`, "a[0].wildcard", "consecutive wildcard characters (**) are not allowed"},
		{"wildcard bad escape", `{"a":[{"wildcard":"a\\b"}]}`, "a[0].wildcard", `invalid escape at byte 1: only \* and \\ are allowed`},
		{"wildcard trailing escape", `{"a":[{"wildcard":"a\\"}]}`, "a[0].wildcard", `invalid escape at byte 1: only \* and \\ are allowed`},
		{"wildcard too many stars", `{"a":[{"wildcard":"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*"}]}`, "a[0].wildcard", "more than 16 wildcard characters"},
		{"numeric not array", `{"a":[{"numeric":5}]}`, "a[0].numeric", `numeric takes an array like [">", 0, "<=", 5]`},
		{"numeric bad length", `{"a":[{"numeric":[">",1,"<"]}]}`, "a[0].numeric", "numeric takes 2 or 4 elements, got 3"},
		{"numeric upper first", `{"detail":{"Destination":{"Port":[{"numeric":["<",5,">",1]}]}}}`, "detail.Destination.Port[0].numeric", "upper bound before lower bound"},
		{"numeric two lower", `{"a":[{"numeric":[">",1,">",5]}]}`, "a[0].numeric", "two lower bounds"},
		{"numeric empty range", `{"a":[{"numeric":[">",5,"<",1]}]}`, "a[0].numeric", "empty range: lower bound 5 is not below upper bound 1"},
		{"numeric equal exclusive", `{"a":[{"numeric":[">",5,"<=",5]}]}`, "a[0].numeric", "empty range: lower bound 5 is not below upper bound 5"},
		{"numeric bad op", `{"a":[{"numeric":["!=",5]}]}`, "a[0].numeric", `unknown numeric operator "!="`},
		{"numeric string bound", `{"a":[{"numeric":[">","5"]}]}`, "a[0].numeric", "numeric bound must be a number"},
		{"numeric eq range", `{"a":[{"numeric":["=",5,"<",6]}]}`, "a[0].numeric", `"=" takes exactly one number`},
		{"numeric out of range", `{"a":[{"numeric":[">",1e400]}]}`, "a[0].numeric", "numeric bound 1e400 is out of range"},
		{"cidr bad", `{"a":[{"cidr":"10.0.0.0/33"}]}`, "a[0].cidr", `invalid cidr "10.0.0.0/33"`},
		{"cidr number", `{"a":[{"cidr":10}]}`, "a[0].cidr", "cidr must be a string"},
		{"exists string", `{"a":[{"exists":"yes"}]}`, "a[0].exists", "exists takes true or false"},
		{"anything-but empty list", `{"a":[{"anything-but":[]}]}`, "a[0].anything-but", "anything-but list is empty"},
		{"anything-but mixed", `{"a":[{"anything-but":["x",1]}]}`, "a[0].anything-but[1]", "anything-but lists cannot mix strings and numbers"},
		{"anything-but bool", `{"a":[{"anything-but":true}]}`, "a[0].anything-but", "anything-but takes a string, a number, a list or an object"},
		{"anything-but bool in list", `{"a":[{"anything-but":[true]}]}`, "a[0].anything-but[0]", "anything-but lists hold only strings or only numbers"},
		{"anything-but bad op", `{"a":[{"anything-but":{"numeric":[">",1]}}]}`, "a[0].anything-but.numeric", `anything-but does not take "numeric"`},
		{"anything-but prefix list", `{"a":[{"anything-but":{"prefix":["x"]}}]}`, "a[0].anything-but.prefix", "prefix must be a string"},
		{"anything-but wildcard bad", `{"a":[{"anything-but":{"wildcard":["ok","a**"]}}]}`, "a[0].anything-but.wildcard[1]", "consecutive wildcard characters (**) are not allowed"},
		{"or single", `{"$or":[{"a":["x"]}]}`, "$or", "$or needs at least 2 alternatives, got 1"},
		{"or non object", `{"d":{"$or":[{"a":["x"]},{"b":["y"]},[{"c":["z"]}]]}}`, "d.$or[2]", "each $or alternative must be an object"},
		{"or bad inner", `{"$or":[{"a":["x"]},{"b":"y"}]}`, "$or[1].b", "a field's value must be an array of values or an object"},
		{"empty field name", `{"":["x"]}`, "", "empty field name"},
		{"too deep", deepPattern(40), strings.TrimSuffix(strings.Repeat("a.", 32), "."), "nesting deeper than the limit of 32"},
		{"too big", `{"a":["` + string(make([]byte, MaxPatternBytes)) + `"]}`, "", "pattern is 65546 bytes, more than the limit of 65536"},
		{"string too long", `{"a":["` + longString(MaxValueBytes+1) + `"]}`, "a[0]", "string is 4097 bytes, more than the limit of 4096"},
		{"too many values", `{"a":[` + manyValues(MaxValuesPerField+1) + `]}`, "a", "1025 values, more than the limit of 1024"},
		{"or explosion", orExplosion(11), "fk", "pattern expands to more than 1024 alternatives"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile([]byte(c.pattern))
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("want *CompileError, got %v", err)
			}
			if ce.Path != c.path || ce.Reason != c.reason {
				t.Errorf("got path %q reason %q, want path %q reason %q", ce.Path, ce.Reason, c.path, c.reason)
			}
		})
	}
}

func TestCompileErrorString(t *testing.T) {
	_, err := Compile([]byte(`{"detail":{"Destination":{"Port":[{"numeric":["<",5,">",1]}]}}}`))
	if err == nil || err.Error() != "pattern: detail.Destination.Port[0].numeric: upper bound before lower bound" {
		t.Fatalf("got %v", err)
	}
}

func deepPattern(n int) string {
	s := `["x"]`
	for i := 0; i < n; i++ {
		s = `{"a":` + s + `}`
	}
	return s
}

func longString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'x'
	}
	return string(b)
}

func manyValues(n int) string {
	s := ""
	for i := 0; i < n; i++ {
		if i > 0 {
			s += ","
		}
		s += "1"
	}
	return s
}

// orExplosion gives a pattern of n fields each holding a two-way $or inside
// its own object: 2^n alternatives.
func orExplosion(n int) string {
	s := `{"$or":[{"a":["x"]},{"b":["y"]}]`
	for i := 1; i < n; i++ {
		s += `,"f` + string(rune('a'+i)) + `":{"$or":[{"a":["x"]},{"b":["y"]}]}`
	}
	return s + "}"
}

func TestNumberKey(t *testing.T) {
	cases := []struct {
		name, lit, key string
		exact          bool
	}{
		{"int", "300", "3e2", true},
		{"int negative", "-300", "-3e2", true},
		{"zero", "0", "0", true},
		{"negative zero float", "-0.0", "0", true},
		{"exp", "3.0e2", "3e2", true},
		{"fraction", "300.0", "3e2", true},
		{"small", "0.0012", "12e-3", true},
		{"one", "1", "1e0", true},
		{"long int exact", "9007199254740992", "9007199254740992e15", true},
		{"long int inexact", "9007199254740993", "9007199254740993", false},
		{"too precise", "0.30000000000000001", "0.30000000000000001", false},
		{"overflow", "1e400", "1e400", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, exact, _, _ := numberKey(nil, []byte(c.lit))
			if string(k) != c.key || exact != c.exact {
				t.Errorf("numberKey(%s) = %s %v, want %s %v", c.lit, k, exact, c.key, c.exact)
			}
		})
	}
}

// TestIsJSONNumber: the JSON number grammar (the flattener's check of a
// number it skips, and canonNumber's first step) accepts exactly what
// encoding/json accepts, on edge cases and on every literal of up to five
// bytes over the characters numbers are made of; and for every literal it
// accepts, canonNumber's form has the literal's exact value, one form per
// value (checked with math/big).
func TestIsJSONNumber(t *testing.T) {
	cases := []struct {
		name, lit string
		want      bool
	}{
		{"zero", "0", true},
		{"negative zero", "-0", true},
		{"int", "514", true},
		{"fraction", "1.25", true},
		{"exponent", "1e9", true},
		{"signed exponent", "-2.5E-3", true},
		{"plus exponent", "7e+2", true},
		{"empty", "", false},
		{"minus", "-", false},
		{"leading zero", "01", false},
		{"leading zeros negative", "-00", false},
		{"plus sign", "+1", false},
		{"trailing dot", "1.", false},
		{"leading dot", ".5", false},
		{"empty exponent", "1e", false},
		{"sign only exponent", "1e-", false},
		{"two dots", "1.2.3", false},
		{"minus inside", "1-2", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := isJSONNumber([]byte(c.lit)); got != c.want {
				t.Errorf("isJSONNumber(%q) = %v, want %v", c.lit, got, c.want)
			}
		})
	}
	const alphabet = "0123456789+-.eE"
	formOf := map[string]string{} // exact value -> canonical form
	valid := 0
	lit := make([]byte, 0, 5)
	var walk func()
	walk = func() {
		ok := isJSONNumber(lit)
		if std := json.Valid(lit); ok != std {
			t.Errorf("%q: isJSONNumber %v, json.Valid %v", lit, ok, std)
		}
		form, canon := canonNumber(nil, lit)
		if canon != ok {
			t.Errorf("%q: canonNumber ok %v, isJSONNumber %v", lit, canon, ok)
		}
		if ok {
			valid++
			v, ok1 := new(big.Rat).SetString(string(lit))
			fv, ok2 := formValue(string(form))
			switch {
			case !ok1 || !ok2:
				t.Errorf("%q -> %q: not parsable by math/big", lit, form)
			case v.Cmp(fv) != 0:
				t.Errorf("%q -> %q: another value", lit, form)
			case formOf[v.RatString()] != "" && formOf[v.RatString()] != string(form):
				t.Errorf("%q -> %q: the same value had the form %q", lit, form, formOf[v.RatString()])
			default:
				formOf[v.RatString()] = string(form)
			}
		}
		if len(lit) == cap(lit) {
			return
		}
		for i := range len(alphabet) {
			lit = append(lit, alphabet[i])
			walk()
			lit = lit[:len(lit)-1]
		}
	}
	walk()
	if valid < 10000 {
		t.Fatalf("only %d valid literals walked", valid)
	}
}

// formValue is the value of a canonNumber form: the significant digits
// d1 d2 ... dn and the exponent e of d1 denote d1.d2...dn × 10^e.
func formValue(form string) (*big.Rat, bool) {
	neg := strings.HasPrefix(form, "-")
	form = strings.TrimPrefix(form, "-")
	if form == "0" {
		return new(big.Rat), !neg
	}
	digits, exp, ok := strings.Cut(form, "e")
	if !ok {
		return nil, false
	}
	e, err := strconv.Atoi(exp)
	if err != nil {
		return nil, false
	}
	v, ok := new(big.Rat).SetString(digits + "e" + strconv.Itoa(e-(len(digits)-1)))
	if ok && neg {
		v.Neg(v)
	}
	return v, ok
}
