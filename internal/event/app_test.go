package event

import (
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/packet"
)

func TestPayloadText(t *testing.T) {
	long := strings.Repeat("a", 300)
	// 255 ASCII bytes then "é" (2 bytes): the 256-byte cut splits it.
	split := strings.Repeat("b", 255) + "é" + "tail"
	cases := []struct {
		name     string
		payload  string
		capture  int // >0: keep only this many bytes of the frame
		max      int
		wantText string
		wantCut  bool
		absent   bool
	}{
		{name: "http request", payload: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", max: 256, wantText: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "syslog with tab", payload: "<13>Nov 21 host app:\thello", max: 256, wantText: "<13>Nov 21 host app:\thello"},
		{name: "utf-8", payload: "héllo 漢字 😀", max: 256, wantText: "héllo 漢字 😀"},
		{name: "empty", payload: "", max: 256, absent: true},
		{name: "nul byte", payload: "abc\x00def", max: 256, absent: true},
		{name: "escape byte", payload: "abc\x1b[0m", max: 256, absent: true},
		{name: "del", payload: "abc\x7f", max: 256, absent: true},
		{name: "invalid utf-8", payload: "abc\xffdef", max: 256, absent: true},
		{name: "c1 control", payload: "abc\u0085def", max: 256, absent: true},
		{name: "zero width space is format, not graphic", payload: "a\u200bb", max: 256, absent: true},
		{name: "longer than max", payload: long, max: 256, wantText: long[:256], wantCut: true},
		{name: "binary after max is not looked at", payload: long + "\x00\x01", max: 256, wantText: long[:256], wantCut: true},
		{name: "binary before max", payload: long[:100] + "\x00" + long, max: 256, absent: true},
		{name: "cut inside a character", payload: split, max: 256, wantText: split[:255], wantCut: true},
		{name: "ends in a partial character", payload: "abc\xc3", max: 256, absent: true},
		{name: "capture cut", payload: "GET /index.html HTTP/1.1", capture: 14 + 20 + 8 + 5, max: 256, wantText: "GET /", wantCut: true},
		{name: "capture cut inside a character", payload: "ab漢字", capture: 14 + 20 + 8 + 4, max: 256, wantText: "ab", wantCut: true},
		{name: "off", payload: "GET /", max: 0, absent: true},
		{name: "max 1", payload: "GET /", max: 1, wantText: "G", wantCut: true},
		{name: "max 1 multibyte", payload: "é", max: 1, absent: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			frame := packet.Build(packet.Eth{}, packet.IPv4{Src: vIP4a, Dst: vIP4b}, packet.UDP{Src: 40000, Dst: 9}, packet.Payload(c.payload))
			info := packet.CaptureInfo{Timestamp: testTime, LinkType: packet.LinkEthernet, CaptureLength: len(frame), Length: len(frame)}
			if c.capture > 0 {
				frame = frame[:c.capture]
				info.CaptureLength = len(frame)
			}
			p := new(packet.Packet)
			_ = packet.Decode(p, frame, info)
			text, cut := PayloadText(p, c.max)
			if c.absent {
				if text != nil {
					t.Fatalf("PayloadText = %q, want none", text)
				}
				return
			}
			if string(text) != c.wantText || cut != c.wantCut {
				t.Fatalf("PayloadText = %q, %v; want %q, %v", text, cut, c.wantText, c.wantCut)
			}
		})
	}
}
