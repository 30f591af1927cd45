package dissect

import "net/netip"

// wrapped is an error with context around one of the error kinds; built once
// at package initialisation so that parsers return errors without allocating.
type wrapped struct {
	msg  string
	kind error
}

func (e *wrapped) Error() string { return e.msg + ": " + e.kind.Error() }
func (e *wrapped) Unwrap() error { return e.kind }

func wrapErr(msg string, kind error) error { return &wrapped{msg: msg, kind: kind} }

// appendIPv6 appends the RFC 5952 text of the 16-byte address a.
func appendIPv6(dst, a []byte) []byte {
	return netip.AddrFrom16([16]byte(a)).AppendTo(dst)
}

// appendUint appends v in decimal.
func appendUint(dst []byte, v uint64) []byte {
	var d [20]byte
	i := len(d)
	for {
		i--
		d[i] = '0' + byte(v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, d[i:]...)
}
