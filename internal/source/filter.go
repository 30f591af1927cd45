package source

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/bpf"

	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// Filter is the capture filter of afpacket sources, compiled to classic BPF
// so the kernel drops what it rejects before it reaches the ring.
//
// The text form is one or more clauses joined by "and"; inside a clause,
// alternatives are joined by "or" or commas:
//
//	udp or tcp                      IP protocol: udp, tcp, icmp, icmpv6
//	port 514, 5000-5100             UDP/TCP source or destination port (ranges inclusive)
//	host 10.0.0.0/8 or 2001:db8::1  IP source or destination address or network
//
//	udp and port 514 and host 10.1.0.0/16
//
// Each kind of clause appears at most once. A packet passes when every clause
// holds; the port clause only constrains UDP and TCP packets (an ICMP packet
// passes "icmp or udp and port 53"), as in the config's protocols/ports keys.
// The empty filter accepts every frame; any other filter rejects non-IP
// frames, IPv4 fragments other than the first when a port clause is given, and
// IPv6 packets whose transport header follows extension headers when a
// protocol or port clause is given (the protocol is read from the fixed
// header's next-header field).
type Filter struct {
	Protocols []uint8
	Ports     []spec.PortRange
	Hosts     []netip.Prefix
}

const maxFilterItems = 32 // per clause: keeps every jump within a BPF conditional's 255 skip

var protoNumbers = map[string]uint8{"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58}

// Empty reports whether the filter accepts everything.
func (f Filter) Empty() bool { return len(f.Protocols) == 0 && len(f.Ports) == 0 && len(f.Hosts) == 0 }

// ParseFilter parses the text form.
func ParseFilter(s string) (Filter, error) {
	var f Filter
	toks := strings.Fields(strings.ReplaceAll(s, ",", " or "))
	seen := map[string]bool{}
	for len(toks) > 0 {
		kind := toks[0]
		if _, ok := protoNumbers[kind]; ok {
			kind = "proto"
		} else {
			toks = toks[1:]
		}
		if kind != "proto" && kind != "port" && kind != "host" {
			return Filter{}, fmt.Errorf("filter: unknown clause %q (want udp, tcp, icmp, icmpv6, port or host)", kind)
		}
		if seen[kind] {
			return Filter{}, fmt.Errorf("filter: more than one %s clause", kind)
		}
		seen[kind] = true
		var items []string
		for {
			if len(toks) == 0 {
				return Filter{}, fmt.Errorf("filter: %s clause needs a value", kind)
			}
			items = append(items, toks[0])
			toks = toks[1:]
			if len(toks) == 0 || toks[0] == "and" {
				break
			}
			if toks[0] != "or" {
				return Filter{}, fmt.Errorf("filter: want \"and\" or \"or\" before %q", toks[0])
			}
			toks = toks[1:]
		}
		if len(toks) > 0 { // "and"
			toks = toks[1:]
			if len(toks) == 0 {
				return Filter{}, errors.New("filter: nothing after \"and\"")
			}
		}
		if len(items) > maxFilterItems {
			return Filter{}, fmt.Errorf("filter: %s clause has %d values (at most %d)", kind, len(items), maxFilterItems)
		}
		for _, it := range items {
			switch kind {
			case "proto":
				p, ok := protoNumbers[it]
				if !ok {
					return Filter{}, fmt.Errorf("filter: unknown protocol %q", it)
				}
				if !slices.Contains(f.Protocols, p) {
					f.Protocols = append(f.Protocols, p)
				}
			case "port":
				r, err := parsePortRange(it)
				if err != nil {
					return Filter{}, err
				}
				f.Ports = append(f.Ports, r)
			case "host":
				p, err := parseHost(it)
				if err != nil {
					return Filter{}, err
				}
				f.Hosts = append(f.Hosts, p)
			}
		}
	}
	return f, nil
}

func parsePortRange(s string) (spec.PortRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return spec.PortRange{}, fmt.Errorf("filter: bad port %q", s)
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
			return spec.PortRange{}, fmt.Errorf("filter: bad port range %q", s)
		}
	}
	return spec.PortRange{Lo: uint16(a), Hi: uint16(b)}, nil
}

func parseHost(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("filter: bad network %q: %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("filter: bad host %q", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// FilterFrom converts the config's protocols/ports keys.
func FilterFrom(c spec.Filter) (Filter, error) {
	var f Filter
	for _, p := range c.Protocols {
		n, ok := protoNumbers[p]
		if !ok {
			return Filter{}, fmt.Errorf("filter: unknown protocol %q", p)
		}
		f.Protocols = append(f.Protocols, n)
	}
	f.Ports = c.Ports
	f.Hosts = c.Hosts
	if len(f.Protocols) > maxFilterItems || len(f.Ports) > maxFilterItems || len(f.Hosts) > maxFilterItems {
		return Filter{}, fmt.Errorf("filter: at most %d protocols, port ranges and hosts each", maxFilterItems)
	}
	return f, nil
}

func (f Filter) String() string {
	var cl []string
	if len(f.Protocols) > 0 {
		var ps []string
		for _, p := range f.Protocols {
			for k, v := range protoNumbers {
				if v == p {
					ps = append(ps, k)
				}
			}
		}
		cl = append(cl, strings.Join(ps, " or "))
	}
	if len(f.Ports) > 0 {
		var ps []string
		for _, p := range f.Ports {
			ps = append(ps, p.String())
		}
		cl = append(cl, "port "+strings.Join(ps, " or "))
	}
	if len(f.Hosts) > 0 {
		var hs []string
		for _, h := range f.Hosts {
			hs = append(hs, h.String())
		}
		cl = append(cl, "host "+strings.Join(hs, " or "))
	}
	return strings.Join(cl, " and ")
}

// asm assembles classic BPF with symbolic jump targets.
type asm struct {
	ins    []asmIns
	labels map[string]int
	n      int
}

type asmIns struct {
	in        bpf.Instruction
	jt, jf, j string // label targets ("" = next instruction)
}

func (a *asm) label() string { a.n++; return "L" + strconv.Itoa(a.n) }
func (a *asm) mark(l string) { a.labels[l] = len(a.ins) }
func (a *asm) op(in bpf.Instruction) {
	a.ins = append(a.ins, asmIns{in: in})
}
func (a *asm) jmp(c bpf.JumpTest, v uint32, jt, jf string) {
	a.ins = append(a.ins, asmIns{in: bpf.JumpIf{Cond: c, Val: v}, jt: jt, jf: jf})
}
func (a *asm) ja(l string) { a.ins = append(a.ins, asmIns{in: bpf.Jump{}, j: l}) }

func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	skip := func(i int, l string) (uint32, error) {
		if l == "" {
			return 0, nil
		}
		t, ok := a.labels[l]
		if !ok || t <= i {
			return 0, fmt.Errorf("filter: internal error: bad label %s", l)
		}
		return uint32(t - i - 1), nil
	}
	out := make([]bpf.Instruction, len(a.ins))
	for i, x := range a.ins {
		switch in := x.in.(type) {
		case bpf.JumpIf:
			t, err := skip(i, x.jt)
			if err != nil {
				return nil, err
			}
			f, err := skip(i, x.jf)
			if err != nil {
				return nil, err
			}
			if t > 255 || f > 255 {
				return nil, errors.New("filter: too large to compile")
			}
			in.SkipTrue, in.SkipFalse = uint8(t), uint8(f)
			out[i] = in
		case bpf.Jump:
			s, err := skip(i, x.j)
			if err != nil {
				return nil, err
			}
			in.Skip = s
			out[i] = in
		default:
			out[i] = x.in
		}
	}
	return bpf.Assemble(out)
}

// Compile returns the filter as a classic BPF program for frames of the given
// link type (LinkEthernet, also used by Linux loopback, or LinkRaw). Accepted
// frames are cut to snaplen bytes.
func (f Filter) Compile(link packet.LinkType, snaplen int) ([]bpf.RawInstruction, error) {
	if snaplen <= 0 {
		snaplen = 0xffff
	}
	a := &asm{labels: map[string]int{}}
	accept, reject := "accept", "reject"
	if f.Empty() {
		a.op(bpf.RetConstant{Val: uint32(snaplen)})
		return a.assemble()
	}
	v4, v6 := a.label(), a.label()
	var l3 uint32
	switch link {
	case packet.LinkEthernet:
		l3 = 14
		a.op(bpf.LoadAbsolute{Off: 12, Size: 2})
		a.jmp(bpf.JumpEqual, 0x0800, v4, "")
		a.jmp(bpf.JumpEqual, 0x86dd, v6, reject)
	case packet.LinkRaw, packet.LinkIPv4, packet.LinkIPv6:
		a.op(bpf.LoadAbsolute{Off: 0, Size: 1})
		a.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
		a.jmp(bpf.JumpEqual, 4, v4, "")
		a.jmp(bpf.JumpEqual, 6, v6, reject)
	default:
		return nil, fmt.Errorf("filter: link type %d not supported", link)
	}
	for _, ver := range []int{4, 6} {
		if ver == 4 {
			a.mark(v4)
		} else {
			a.mark(v6)
		}
		protoOff, hdrLen := l3+9, uint32(0)
		if ver == 6 {
			protoOff, hdrLen = l3+6, 40
		}
		if len(f.Protocols) > 0 {
			ok := a.label()
			a.op(bpf.LoadAbsolute{Off: protoOff, Size: 1})
			for i, p := range f.Protocols {
				jf := ""
				if i == len(f.Protocols)-1 {
					jf = reject
				}
				a.jmp(bpf.JumpEqual, uint32(p), ok, jf)
			}
			a.mark(ok)
		}
		if len(f.Hosts) > 0 {
			ok := a.label()
			for _, h := range f.Hosts {
				if (ver == 4) != h.Addr().Is4() {
					continue
				}
				addrOff := []uint32{l3 + 12, l3 + 16}
				if ver == 6 {
					addrOff = []uint32{l3 + 8, l3 + 24}
				}
				for _, off := range addrOff {
					a.hostMatch(h, off, ok)
				}
			}
			a.ja(reject)
			a.mark(ok)
		}
		if len(f.Ports) > 0 {
			check, done := a.label(), a.label()
			a.op(bpf.LoadAbsolute{Off: protoOff, Size: 1})
			a.jmp(bpf.JumpEqual, 17, check, "")
			a.jmp(bpf.JumpEqual, 6, check, done)
			a.mark(check)
			if ver == 4 {
				a.op(bpf.LoadAbsolute{Off: l3 + 6, Size: 2})
				a.jmp(bpf.JumpBitsSet, 0x1fff, reject, "")
				a.op(bpf.LoadMemShift{Off: l3})
			} else {
				a.op(bpf.LoadConstant{Dst: bpf.RegX, Val: hdrLen})
			}
			for _, off := range []uint32{l3, l3 + 2} {
				a.op(bpf.LoadIndirect{Off: off, Size: 2})
				for _, r := range f.Ports {
					next := a.label()
					a.jmp(bpf.JumpGreaterOrEqual, uint32(r.Lo), "", next)
					a.jmp(bpf.JumpGreaterThan, uint32(r.Hi), next, done)
					a.mark(next)
				}
			}
			a.ja(reject)
			a.mark(done)
		}
		a.ja(accept)
	}
	a.mark(accept)
	a.op(bpf.RetConstant{Val: uint32(snaplen)})
	a.mark(reject)
	a.op(bpf.RetConstant{Val: 0})
	return a.assemble()
}

// hostMatch jumps to ok when the address at off is inside h; otherwise it
// falls through.
func (a *asm) hostMatch(h netip.Prefix, off uint32, ok string) {
	b := h.Addr().AsSlice()
	bits := h.Bits()
	miss := a.label()
	words := len(b) / 4
	for w := 0; w < words; w++ {
		wb := min(max(bits-32*w, 0), 32)
		if wb == 0 {
			break
		}
		mask := ^uint32(0) << (32 - wb)
		val := uint32(b[4*w])<<24 | uint32(b[4*w+1])<<16 | uint32(b[4*w+2])<<8 | uint32(b[4*w+3])
		a.op(bpf.LoadAbsolute{Off: off + uint32(4*w), Size: 4})
		if wb < 32 {
			a.op(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
		}
		last := w == words-1 || bits <= 32*(w+1)
		if last {
			a.jmp(bpf.JumpEqual, val&mask, ok, miss)
		} else {
			a.jmp(bpf.JumpEqual, val&mask, "", miss)
		}
	}
	if bits == 0 {
		a.ja(ok)
	}
	a.mark(miss)
}
