package target

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestAppendLine(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"compact json object", []byte(`{"a":1}`), `{"a":1}`},
		{"json with newlines is compacted", []byte("{\n  \"a\": [1, 2]\n}"), `{"a":[1,2]}`},
		{"json number", []byte(`42`), `42`},
		{"json string", []byte(`"x"`), `"x"`},
		{"plain text becomes string", []byte(`<13>hello & "world"`), `"<13>hello & \"world\""`},
		{"text with newline and control", []byte("a\nb\x01c\t"), `"a\nb\u0001c\t"`},
		{"text with backspace and form feed", []byte("a\bb\fc\x7f"), `"a\bb\fc` + "\x7f" + `"`},
		{"utf-8 text", []byte("héllo \u2028"), `"héllo \u2028"`},
		{"empty body", []byte{}, `""`},
		{"binary becomes base64", []byte{0xff, 0x00, 0x01}, `{"base64":"/wAB"}`},
		{"all byte values", all, `{"base64":"` + b64(all) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendLine(nil, tt.body)
			if string(got) != tt.want+"\n" {
				t.Fatalf("AppendLine = %q, want %q", got, tt.want+"\n")
			}
			if bytes.Count(got, []byte("\n")) != 1 {
				t.Fatalf("line has %d newlines", bytes.Count(got, []byte("\n")))
			}
			if !json.Valid(got) {
				t.Fatalf("line is not valid JSON: %q", got)
			}
			back, err := DecodeValue(got)
			if err != nil {
				t.Fatal(err)
			}
			wantBack := tt.body
			if len(tt.body) > 0 && tt.body[0] == '"' {
				var str string // a JSON string body reads back as its contents
				if err := json.Unmarshal(tt.body, &str); err != nil {
					t.Fatal(err)
				}
				wantBack = []byte(str)
			} else if json.Valid(tt.body) {
				var c bytes.Buffer
				_ = json.Compact(&c, tt.body)
				wantBack = c.Bytes()
			}
			if !bytes.Equal(back, wantBack) {
				t.Fatalf("DecodeValue = %q, want %q", back, wantBack)
			}
		})
	}
}

func TestDecodeValueErrors(t *testing.T) {
	for _, tt := range []struct{ name, in string }{
		{"empty", ""},
		{"not json", "abc"},
		{"bad string", `"abc`},
		{"bad base64", `{"base64":"!!"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeValue([]byte(tt.in)); err == nil {
				t.Fatalf("DecodeValue(%q) succeeded", tt.in)
			}
		})
	}
}

func FuzzAppendLine(f *testing.F) {
	f.Add([]byte(`{"a":1}`))
	f.Add([]byte("text\n"))
	f.Add([]byte{0xff, 0xfe})
	f.Fuzz(func(t *testing.T, body []byte) {
		line := AppendLine(nil, body)
		if bytes.IndexByte(line, '\n') != len(line)-1 {
			t.Fatalf("line break inside %q", line)
		}
		if !json.Valid(line) {
			t.Fatalf("invalid JSON line %q", line)
		}
		back, err := DecodeValue(line)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(body) && !bytes.Equal(back, body) {
			t.Fatalf("round trip %q -> %q", body, back)
		}
	})
}

func b64(b []byte) string {
	s, _ := json.Marshal(b)
	return string(s[1 : len(s)-1])
}
