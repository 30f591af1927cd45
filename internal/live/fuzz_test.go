package live

import (
	"errors"
	"testing"
	"time"
)

// FuzzVerify: any string given as a share token is refused with
// ErrUnauthorized unless it is a token this key signed.
func FuzzVerify(f *testing.F) {
	a := NewAuth(nil, StaticKey([]byte("0123456789abcdef0123456789abcdef")), func() time.Time { return time.Unix(1_800_000_000, 0) })
	tok, _, err := a.Sign("/packets/all", `{"a":["b"]}`, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("wbs1..")
	f.Add("wbs1.e30.AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := a.Verify(s)
		if err != nil {
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("error %v does not wrap ErrUnauthorized", err)
			}
			return
		}
		if s != tok || c.Channel != "/packets/all" {
			t.Fatalf("accepted %q as %+v", s, c)
		}
	})
}

// FuzzDecodeItem: decoding arbitrary lines never panics, and EventOf agrees
// with DecodeItem on lines AppendItem wrote.
func FuzzDecodeItem(f *testing.F) {
	f.Add([]byte(`{"ts":1,"link":1,"len":4,"frame":"AAECAw==","event":{"a":1}}`))
	f.Add([]byte(`{"event":"x"}`))
	f.Add([]byte(`{"event":`))
	f.Fuzz(func(t *testing.T, line []byte) {
		EventOf(line)
		it, err := DecodeItem(line)
		if err != nil {
			return
		}
		ev, err := CompactEvent(it.Event)
		if err != nil {
			return
		}
		again := AppendItem(nil, &Item{Event: ev, Frame: it.Frame, LinkType: it.LinkType, OrigLen: it.OrigLen})
		if string(EventOf(again)) != string(ev) {
			t.Fatalf("EventOf(%s) = %s, want %s", again, EventOf(again), ev)
		}
	})
}
