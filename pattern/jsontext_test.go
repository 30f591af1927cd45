package pattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// marshal is s as encoding/json writes it, with or without its default HTML
// escaping.
func marshal(t testing.TB, s string, html bool) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

var escapeCases = []struct{ name, s string }{
	{"empty", ""},
	{"plain", "plain"},
	{"quote and backslash", `q"b\s`},
	{"control characters", "\x00\x01\b\f\n\r\t\x1f\x7f"},
	{"html", "<&>"},
	{"multibyte", "é漢字😀"},
	{"line separators", "\u2028\u2029"},
	{"invalid utf-8", "\xff\xfe"},
	{"cut sequence", "a\xc3"},
	{"surrogate as utf-8", "\xed\xa0\x80"},
}

func TestAppendQuotedMatchesEncodingJSON(t *testing.T) {
	for _, c := range escapeCases {
		t.Run(c.name, func(t *testing.T) {
			for _, html := range []bool{true, false} {
				if got, want := AppendJSONString(nil, c.s, html), marshal(t, c.s, html); !bytes.Equal(got, want) {
					t.Errorf("html=%v: got %s want %s", html, got, want)
				}
			}
		})
	}
	if got := string(AppendJSONString([]byte("x"), "<a&b>", false)); got != `x"<a&b>"` {
		t.Errorf("text mode escapes HTML characters: %s", got)
	}
}

func TestAppendUnquoted(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
		end            int    // index after the string; 0: len(in)
		err            string // "" no error
	}{
		{name: "plain", in: `"abc"`, want: "abc"},
		{name: "short escapes", in: `"\"\\\/\b\f\n\r\t"`, want: "\"\\/\b\f\n\r\t"},
		{name: "unicode escape", in: `"\u00e9\u6F22"`, want: "é漢"},
		{name: "surrogate pair", in: `"\ud83d\ude00"`, want: "😀"},
		{name: "lone high surrogate", in: `"\ud83dx"`, want: "\uFFFDx"},
		{name: "lone low surrogate", in: `"\ude00"`, want: "\uFFFD"},
		{name: "high then non-surrogate", in: `"\ud83d\u0041"`, want: "\uFFFDA"},
		{name: "followed by more", in: `"a",1`, want: "a", end: 3},
		{name: "bad escape", in: `"\x"`, err: "invalid json at byte 2: invalid escape"},
		{name: "bad unicode escape", in: `"\u12g4"`, err: "invalid json at byte 3: invalid \\u escape"},
		{name: "control character", in: "\"a\nb\"", err: "invalid json at byte 2: control character in string"},
		{name: "unterminated", in: `"abc`, err: "unexpected end of input"},
		{name: "backslash at end", in: `"abc\`, err: "unexpected end of input"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, end, err := AppendJSONUnquoted([]byte("pre:"), []byte(c.in), 0)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("err = %v, want %s", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantEnd := c.end
			if wantEnd == 0 {
				wantEnd = len(c.in)
			}
			if string(got) != "pre:"+c.want || end != wantEnd {
				t.Errorf("got %q end %d, want %q end %d", got, end, "pre:"+c.want, wantEnd)
			}
			// JSONSkipString ends where AppendJSONUnquoted does.
			if e, _, err := JSONSkipString([]byte(c.in), 0); err != nil || e != wantEnd {
				t.Errorf("JSONSkipString: end %d err %v, want %d", e, err, wantEnd)
			}
		})
	}
}

func TestSkipValue(t *testing.T) {
	for _, c := range []struct {
		name, in string
		end      int // -1: an error
	}{
		{"string", `"a\"b" x`, 6},
		{"number", `-1.5e+3,`, 7},
		{"bad number", `01`, -1},
		{"literals", `true`, 4},
		{"bad literal", `nul`, -1},
		{"empty object", `{ }`, 3},
		{"object", `{"a": [1, {"b": null}], "c": "d"}`, 33},
		{"missing colon", `{"a" 1}`, -1},
		{"trailing comma", `[1,]`, -1},
		{"missing comma", `[1 2]`, -1},
		{"key not a string", `{a:1}`, -1},
		{"unterminated", `[1, 2`, -1},
		{"too deep", strings.Repeat("[", MaxEventDepth+2) + strings.Repeat("]", MaxEventDepth+2), -1},
		{"deep enough", strings.Repeat("[", MaxEventDepth+1) + strings.Repeat("]", MaxEventDepth+1), 2*MaxEventDepth + 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			end, err := JSONSkipValue([]byte(c.in), 0, 0)
			if c.end < 0 {
				var se *syntaxError
				if err == nil || !(errors.As(err, &se) || errors.Is(err, errUnexpectedEnd)) {
					t.Fatalf("end %d err %v, want a syntax error", end, err)
				}
				return
			}
			if err != nil || end != c.end {
				t.Fatalf("end %d err %v, want %d", end, err, c.end)
			}
		})
	}
}

// FuzzJSONText checks the scanner and the escaper against encoding/json:
// JSONSkipValue accepts exactly the documents json.Valid accepts, a string
// decodes as json.Unmarshal decodes it, and AppendJSONString writes what
// json.Marshal writes.
func FuzzJSONText(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x\u00e9",null]}`, `"\ud83d\ude00"`, `-0.5e10`, `[{}]`, "<\u2028\xff>", `"\"\\\n"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		i := JSONSkipSpace(b, 0)
		end, err := JSONSkipValue(b, i, 0)
		ok := err == nil && JSONSkipSpace(b, end) == len(b)
		deep := strings.Count(s, "[")+strings.Count(s, "{") > MaxEventDepth
		if valid := json.Valid(b); ok != valid && !(deep && valid) {
			t.Fatalf("%q: JSONSkipValue ok %v (end %d, err %v), json.Valid %v", s, ok, end, err, valid)
		}
		// Bytes that are not UTF-8 are kept as they are (encoding/json
		// replaces them with U+FFFD).
		if ok && i < len(b) && b[i] == '"' && utf8.Valid(b) {
			var want string
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			got, e, err := AppendJSONUnquoted(nil, b, i)
			if err != nil || string(got) != want || e != end {
				t.Fatalf("%q: AppendJSONUnquoted %q end %d err %v, want %q end %d", s, got, e, err, want, end)
			}
		}
		for _, html := range []bool{true, false} {
			if got, want := AppendJSONString(nil, s, html), marshal(t, s, html); !bytes.Equal(got, want) {
				t.Fatalf("%q html=%v: got %s want %s", s, html, got, want)
			}
		}
	})
}
