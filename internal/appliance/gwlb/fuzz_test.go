package gwlb

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/packet"
)

// FuzzReturn: any datagram coming back gives either a whole inner IP packet
// of a known flow, or a counted drop; nothing panics.
func FuzzReturn(f *testing.F) {
	g := newTest(f, nil)
	var seeds [][]byte
	for _, inner := range [][]byte{
		udp4(client, server, 40000, 3000, "weakly typed"),
		tcp4(client, server, 40001, 80, "GET /"),
		udp6(client6, server6, 40002, 53, "six"),
		icmp4(client, server, 5),
	} {
		b, _ := out(f, g, inner)
		seeds = append(seeds, echo(b))
		f.Add(echo(b), binary.BigEndian.Uint16(b[20:22]))
	}
	f.Add([]byte{}, uint16(50000))
	f.Add(seeds[0][:genevePrefix+1], uint16(50000))
	f.Fuzz(func(t *testing.T, b []byte, port uint16) {
		before := g.Stats().Returns
		var p packet.Packet
		orig := bytes.Clone(b)
		inner, fl, r := g.checkReturn(b, port, &p)
		g.c.returns[r].Add(1) // as handleReturn counts
		after := g.Stats().Returns
		if after[r.String()] != before[r.String()]+1 {
			t.Fatalf("outcome %s not counted", r)
		}
		if !bytes.Equal(b, orig) {
			t.Fatal("checkReturn changed its input")
		}
		if r != ReturnOK {
			if inner != nil {
				t.Fatalf("%s with an inner packet", r)
			}
			return
		}
		var q packet.Packet
		if err := packet.Decode(&q, inner, packet.CaptureInfo{LinkType: packet.LinkRaw}); err != nil && q.Outer().IPOff < 0 {
			t.Fatalf("accepted inner packet does not decode: %v", err)
		}
		if q.Outer().IPTotalLen != len(inner) {
			t.Fatalf("accepted inner packet of %d bytes claims %d", len(inner), q.Outer().IPTotalLen)
		}
		if k, ok := keyOf(&q); !ok || fl == nil || k != fl.key || port != fl.port {
			t.Fatal("accepted inner packet is not of its cookie's flow")
		}
	})
}

// FuzzOut: any bytes read from the TUN are either encapsulated whole or
// dropped and counted; nothing panics.
func FuzzOut(f *testing.F) {
	f.Add(udp4(client, server, 40000, 3000, "x"))
	f.Add(udp6(client6, server6, 1, 2, "y"))
	f.Add(icmp4(client, server, 1))
	f.Add([]byte{0x45})
	g := newTest(f, func(c *Config) { c.MaxFlows = 1000 })
	f.Fuzz(func(t *testing.T, inner []byte) {
		if len(inner) > maxIPPacket {
			return
		}
		drops := func() (n uint64) {
			for _, v := range g.Stats().Drops {
				n += v
			}
			return n
		}
		before := drops()
		b := append(make([]byte, Headroom), inner...)
		var p packet.Packet
		_, ok := g.prepare(b, &p, time.Now())
		if ok == (drops() == before+1) {
			t.Fatalf("sent %v, drops %d -> %d", ok, before, drops())
		}
		if ok && !bytes.Equal(b[Headroom:], inner) {
			t.Fatal("inner packet changed")
		}
		if g.flows.len() > 900 {
			g.flows.expire(time.Now().Add(time.Hour))
		}
	})
}
