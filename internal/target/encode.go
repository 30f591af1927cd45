package target

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Body encoding for line- and array-oriented outputs (the file and stdout
// targets' NDJSON, the http target's ndjson and json-array batches).
//
// A Body is usually the event JSON, but a rule's input transformer may turn
// it into anything. So that every line of an NDJSON output is one JSON value
// and nothing is lost, a body is encoded as:
//
//   - valid JSON: as it is; if it spans several lines it is compacted
//     (insignificant whitespace removed), which keeps its meaning;
//   - otherwise, valid UTF-8 text: a JSON string holding the text;
//   - otherwise (binary): a JSON object {"base64":"<standard base64>"}.
//
// DecodeValue reverses this, except for two ambiguous shapes: a body that is
// itself a JSON string reads back as the string's contents, and a body that
// is a JSON object with the single key "base64" reads back as binary.

// AppendValue appends body encoded as one JSON value with no line breaks.
func AppendValue(dst, body []byte) []byte {
	if json.Valid(body) {
		if bytes.ContainsAny(body, "\r\n") {
			var b bytes.Buffer
			if err := json.Compact(&b, body); err == nil {
				return append(dst, b.Bytes()...)
			}
		}
		return append(dst, body...)
	}
	if utf8.Valid(body) {
		return appendJSONString(dst, body)
	}
	dst = append(dst, `{"base64":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, body)
	return append(dst, `"}`...)
}

// AppendLine appends body as one NDJSON line (AppendValue and '\n').
func AppendLine(dst, body []byte) []byte {
	return append(AppendValue(dst, body), '\n')
}

// DecodeValue returns the body a value written by AppendValue stands for
// (surrounding whitespace and a trailing newline are ignored). The result
// never aliases v.
func DecodeValue(v []byte) ([]byte, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, errors.New("decode value: empty")
	}
	switch v[0] {
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("decode value: %w", err)
		}
		return []byte(s), nil
	case '{':
		if bytes.HasPrefix(v, []byte(`{"base64":"`)) && bytes.HasSuffix(v, []byte(`"}`)) {
			var o map[string]string
			if err := json.Unmarshal(v, &o); err == nil && len(o) == 1 {
				b, err := base64.StdEncoding.DecodeString(o["base64"])
				if err != nil {
					return nil, fmt.Errorf("decode value: base64: %w", err)
				}
				return b, nil
			}
		}
	}
	if !json.Valid(v) {
		return nil, errors.New("decode value: not json")
	}
	return bytes.Clone(v), nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s (valid UTF-8) as a JSON string. Unlike
// encoding/json it does not escape <, > and &, so text reads back as written.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
