package target

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
	"unsafe"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/pattern"
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
		// Text keeps '<', '>' and '&' as written. body is only read during
		// the call, so viewing it as a string without a copy is safe.
		return pattern.AppendJSONString(dst, unsafe.String(unsafe.SliceData(body), len(body)), false)
	}
	dst = append(dst, `{"base64":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, body)
	return append(dst, `"}`...)
}

// AppendLine appends body as one NDJSON line (AppendValue and '\n').
func AppendLine(dst, body []byte) []byte {
	return append(AppendValue(dst, body), '\n')
}

// AppendDeliveryValue appends d's Body as one JSON value: as it is when
// d.BodyJSON says it already is one (the event JSON wirebridge encoded),
// through AppendValue otherwise.
func AppendDeliveryValue(dst []byte, d *handoff.Delivery) []byte {
	if d.BodyJSON {
		return append(dst, d.Body...)
	}
	return AppendValue(dst, d.Body)
}

// AppendDeliveryLine appends d's Body as one NDJSON line
// (AppendDeliveryValue and '\n').
func AppendDeliveryLine(dst []byte, d *handoff.Delivery) []byte {
	return append(AppendDeliveryValue(dst, d), '\n')
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
