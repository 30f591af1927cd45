package dissect_test

import "encoding/binary"

// dnsMsg builds DNS messages for tests: the header, then sections appended
// with the helpers (names are written uncompressed unless given as a
// pointer with ptr).
type dnsMsg struct{ b []byte }

func newDNS(id, flags, qd, an, ns, ar uint16) *dnsMsg {
	m := &dnsMsg{}
	for _, v := range []uint16{id, flags, qd, an, ns, ar} {
		m.b = binary.BigEndian.AppendUint16(m.b, v)
	}
	return m
}

// name appends a name as labels ("www.example.org"; "" is the root).
func (m *dnsMsg) name(n string) *dnsMsg {
	for len(n) > 0 {
		l := n
		for i := 0; i < len(n); i++ {
			if n[i] == '.' {
				l = n[:i]
				break
			}
		}
		m.b = append(m.b, byte(len(l)))
		m.b = append(m.b, l...)
		if len(l) == len(n) {
			n = ""
		} else {
			n = n[len(l)+1:]
		}
	}
	m.b = append(m.b, 0)
	return m
}

// ptr appends a compression pointer to offset off.
func (m *dnsMsg) ptr(off int) *dnsMsg {
	m.b = append(m.b, 0xc0|byte(off>>8), byte(off))
	return m
}

func (m *dnsMsg) u16(v ...uint16) *dnsMsg {
	for _, x := range v {
		m.b = binary.BigEndian.AppendUint16(m.b, x)
	}
	return m
}

func (m *dnsMsg) u32(v uint32) *dnsMsg {
	m.b = binary.BigEndian.AppendUint32(m.b, v)
	return m
}

func (m *dnsMsg) raw(b ...byte) *dnsMsg {
	m.b = append(m.b, b...)
	return m
}

// rr appends TYPE, CLASS, TTL and RDATA (with its length) after an owner
// name already appended.
func (m *dnsMsg) rr(typ, class uint16, ttl uint32, rdata func(m *dnsMsg)) *dnsMsg {
	m.u16(typ, class).u32(ttl)
	at := len(m.b)
	m.u16(0)
	rdata(m)
	binary.BigEndian.PutUint16(m.b[at:], uint16(len(m.b)-at-2))
	return m
}

// tcp returns the message with its two-byte length prefix.
func (m *dnsMsg) tcp() []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(m.b))), m.b...)
}
