package event

import (
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/wirebridge/wirebridge/internal/dissect"
	"github.com/wirebridge/wirebridge/internal/packet"
)

// appLayer is the application layer of one packet's event: detail.PayloadText
// and the blocks of the dissected protocol (detail.DNS, detail.HTTP, ...).
// Each is computed on first need and kept until reset, so a packet is
// dissected at most once whether the matcher, the encoder or both ask, and
// packets whose patterns never name an application field are never
// dissected before they match. The parsed values live in the appLayer and
// are reused from packet to packet: a View holds one, the Encoder takes one
// from a pool per call.
type appLayer struct {
	tab  *dissect.Table
	p    *packet.Packet
	have appHave

	proto dissect.Proto    // the block the event has (None: none)
	msgs  dissect.Messages // the parsed values
	num   [64]byte         // scratch for a value written as text ("TYPE65280", a MAC, a time)
	json  []byte           // the block's JSON once encoded (the buffer is reused across packets)
	fix   []byte           // scratch: a string with its invalid UTF-8 replaced

	text    []byte // detail.PayloadText (nil: absent); points into the packet
	textCut bool   // detail.PayloadTextTruncated
	textEsc int    // bytes JSON escaping adds to text
}

type appHave uint8

const (
	haveText appHave = 1 << iota
	haveProto
	haveJSON
)

// reset makes a the application layer of p as table tab chooses it.
func (a *appLayer) reset(tab *dissect.Table, p *packet.Packet) {
	a.tab, a.p, a.have = tab, p, 0
}

var appPool = sync.Pool{New: func() any { return new(appLayer) }}

// getApp returns a pooled appLayer reset for p; putApp gives it back.
func getApp(tab *dissect.Table, p *packet.Packet) *appLayer {
	a := appPool.Get().(*appLayer)
	a.reset(tab, p)
	return a
}

func putApp(a *appLayer) {
	a.p = nil
	appPool.Put(a)
}

// payloadText returns detail.PayloadText (nil when absent) and
// detail.PayloadTextTruncated.
func (a *appLayer) payloadText() ([]byte, bool) {
	if a.have&haveText == 0 {
		a.text, a.textCut, a.textEsc = payloadText(a.p, a.tab.PayloadTextMax())
		a.have |= haveText
	}
	return a.text, a.textCut
}

// PayloadText returns detail.PayloadText of p's event with at most max bytes
// (nil when the event has none) and whether it is shorter than the payload
// on the wire (detail.PayloadTextTruncated): the payload's first bytes, up to
// max and cut back to a whole character, when they are all printable UTF-8
// (graphic characters, spaces, tab, CR, LF) and there is at least one.
func PayloadText(p *packet.Packet, max int) (text []byte, cut bool) {
	text, cut, _ = payloadText(p, max)
	return text, cut
}

// payloadText is PayloadText, with the bytes the JSON escaping of text adds.
func payloadText(p *packet.Packet, max int) (text []byte, cut bool, esc int) {
	b := p.Payload()
	n := min(len(b), max)
	if n <= 0 {
		return nil, false, 0
	}
	wire := PayloadLength(p.Inner())
	if n < wire {
		// More bytes follow (beyond max, or cut by the capture): drop a last
		// character that is not whole.
		s := n - 1
		for s > 0 && s > n-utf8.UTFMax && !utf8.RuneStart(b[s]) {
			s--
		}
		if !utf8.FullRune(b[s:n]) {
			n = s
		}
	}
	if n == 0 {
		return nil, false, 0
	}
	esc, ok := printable(b[:n])
	if !ok {
		return nil, false, 0
	}
	return b[:n], n < wire, esc
}

// asciiClass classifies ASCII bytes for printable: 0 printable as is, 1
// printable and escaped in 2 bytes (\t \n \r \" \\), 2 printable and escaped
// in 6 (< > &, as \u003c), 3 not printable.
var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		switch {
		case c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\\':
			t[c] = 1
		case c == '<' || c == '>' || c == '&':
			t[c] = 2
		case c < 0x20 || c == 0x7f:
			t[c] = 3
		}
	}
	return t
}()

// printable reports whether b is valid UTF-8 made of graphic characters,
// spaces, tab, CR and LF only, and how many bytes the JSON escaping of b
// (appendString) adds.
func printable(b []byte) (esc int, ok bool) {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			switch asciiClass[c] {
			case 0:
			case 1:
				esc++
			case 2:
				esc += 5
			default:
				return 0, false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 || !unicode.IsGraphic(r) {
			return 0, false
		}
		if r == '\u2028' || r == '\u2029' {
			esc += 3 // \u2028
		}
		i += size
	}
	return esc, true
}
