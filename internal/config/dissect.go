package config

import (
	"fmt"
	"strings"

	"github.com/wirebridge/wirebridge/internal/dissect"
)

// dissect validates the dissect section.
func (v *validator) dissect() {
	d := &v.c.Dissect
	seen := map[dissect.PortRule]int{}
	for i, r := range d.DecodeAs {
		p := fmt.Sprintf("dissect.decode_as[%d]", i)
		tr, okT := dissect.ParseTransport(r.Transport)
		if !okT {
			v.errorf(p+".transport", "%q: want udp or tcp", r.Transport)
		}
		if r.Port < 1 || r.Port > 65535 {
			v.errorf(p+".port", "%d: want 1..65535", r.Port)
		}
		proto, okP := dissect.ParseProto(r.Protocol)
		if !okP {
			v.errorf(p+".protocol", "unknown protocol %q (want %s)", r.Protocol, dissect.ProtoNames())
		}
		if !okT || !okP || r.Port < 1 || r.Port > 65535 {
			continue
		}
		if !dissect.Carries(tr, proto) {
			v.errorf(p+".protocol", "%s is not dissected over %s", proto, tr)
			continue
		}
		key := dissect.PortRule{Transport: tr, Port: uint16(r.Port)}
		if j, dup := seen[key]; dup {
			v.errorf(p+".port", "%s port %d already has a rule (dissect.decode_as[%d])", tr, r.Port, j)
		}
		seen[key] = i
	}
	for i, name := range d.Disable {
		if proto, ok := dissect.ParseProto(name); !ok || proto == dissect.None {
			v.errorf(fmt.Sprintf("dissect.disable[%d]", i), "unknown protocol %q (want %s)", name,
				strings.TrimSuffix(dissect.ProtoNames(), ", none"))
		}
	}
	v.intRange("dissect.payload_text_max", d.PayloadTextMax, 0, 65535)
}

// DissectConfig returns the dissector settings of a validated configuration.
func (c *Config) DissectConfig() dissect.Config {
	d := &c.Dissect
	out := dissect.Config{PayloadTextMax: d.PayloadTextMax}
	for _, r := range d.DecodeAs {
		tr, _ := dissect.ParseTransport(r.Transport)
		proto, _ := dissect.ParseProto(r.Protocol)
		out.DecodeAs = append(out.DecodeAs, dissect.PortRule{Transport: tr, Port: uint16(r.Port), Proto: proto})
	}
	for _, name := range d.Disable {
		if proto, ok := dissect.ParseProto(name); ok && proto != dissect.None {
			out.Disable = append(out.Disable, proto)
		}
	}
	return out
}
