package spec

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ByteSize is a size in bytes, written in YAML as a plain integer or a number with a unit:
// B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. "64MiB".
type ByteSize int64

// Byte size units.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
	TiB ByteSize = 1 << 40
)

var byteUnits = map[string]float64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseByteSize parses "64MiB", "1.5GB", "4096" and the like.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.' || t[i] == '_') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional unit such as 64MiB", s)
	}
	mult, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", s, t[i:])
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil && !strings.Contains(num, "_") {
		if n > math.MaxInt64/int64(mult) {
			return 0, fmt.Errorf("invalid size %q: too large", s)
		}
		return ByteSize(n * int64(mult)), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || strings.Contains(num, "_") {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional unit such as 64MiB", s)
	}
	v := f * mult
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	if v != math.Trunc(v) {
		return 0, fmt.Errorf("invalid size %q: not a whole number of bytes", s)
	}
	return ByteSize(v), nil
}

// String formats the size with the largest binary unit that divides it exactly ("64MiB").
func (b ByteSize) String() string {
	for _, u := range []struct {
		n    ByteSize
		name string
	}{{TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if b != 0 && b%u.n == 0 {
			return strconv.FormatInt(int64(b/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// MarshalText implements encoding.TextMarshaler.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(p []byte) error {
	v, err := ParseByteSize(string(p))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

func (b *ByteSize) DecodeScalar(value, tag string) error {
	if tag == TagInt {
		n, err := strconv.ParseInt(value, 0, 64)
		if err != nil {
			return fmt.Errorf("invalid size %q", value)
		}
		*b = ByteSize(n)
		return nil
	}
	if tag != TagStr {
		return fmt.Errorf("expected a size such as 64MiB, got %s", DescribeScalar(value, tag))
	}
	return b.UnmarshalText([]byte(value))
}

// SpeedMode is how a pcap source paces its replay.
type SpeedMode string

// Speed modes.
const (
	SpeedRecorded SpeedMode = "recorded" // the capture's own timing
	SpeedScaled   SpeedMode = "scaled"   // the capture's timing divided by Factor
	SpeedMax      SpeedMode = "max"      // as fast as possible
)

// Speed is written as "recorded", "max", a multiplier such as 2 or "0.5x".
type Speed struct {
	Mode   SpeedMode
	Factor float64 // for SpeedScaled: 2 replays twice as fast as recorded
}

// String formats the speed as it is written in YAML.
func (s Speed) String() string {
	if s.Mode == SpeedScaled {
		return strconv.FormatFloat(s.Factor, 'g', -1, 64) + "x"
	}
	return string(s.Mode)
}

// MarshalText implements encoding.TextMarshaler.
func (s Speed) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Speed) DecodeScalar(value, tag string) error {
	switch v := strings.ToLower(strings.TrimSpace(value)); {
	case tag == TagStr && v == string(SpeedRecorded):
		*s = Speed{Mode: SpeedRecorded, Factor: 1}
	case tag == TagStr && v == string(SpeedMax):
		*s = Speed{Mode: SpeedMax}
	case tag == TagInt || tag == TagFloat || tag == TagStr:
		f, err := strconv.ParseFloat(strings.TrimSuffix(v, "x"), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
			return fmt.Errorf("invalid speed %q: want recorded, max or a positive multiplier such as 2 or 0.5x", value)
		}
		*s = Speed{Mode: SpeedScaled, Factor: f}
	default:
		return fmt.Errorf("invalid speed %s: want recorded, max or a positive multiplier", DescribeScalar(value, tag))
	}
	return nil
}

// PortRange is an inclusive range of ports, written as 514 or "5000-5100".
type PortRange struct {
	Lo, Hi uint16
}

// Contains reports whether p is in the range.
func (r PortRange) Contains(p uint16) bool { return p >= r.Lo && p <= r.Hi }

// String formats the range as it is written in YAML.
func (r PortRange) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(int(r.Lo))
	}
	return strconv.Itoa(int(r.Lo)) + "-" + strconv.Itoa(int(r.Hi))
}

// MarshalText implements encoding.TextMarshaler.
func (r PortRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r *PortRange) DecodeScalar(value, tag string) error {
	if tag != TagInt && tag != TagStr {
		return fmt.Errorf("expected a port or a range such as 5000-5100, got %s", DescribeScalar(value, tag))
	}
	lo, hi, isRange := strings.Cut(value, "-")
	a, err1 := parsePort(lo)
	b, err2 := a, error(nil)
	if isRange {
		b, err2 = parsePort(hi)
	}
	if err1 != nil || err2 != nil {
		return fmt.Errorf("invalid port range %q: want a port 0-65535 or a range such as 5000-5100", value)
	}
	if a > b {
		return fmt.Errorf("invalid port range %q: start is after end", value)
	}
	*r = PortRange{Lo: a, Hi: b}
	return nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	return uint16(n), err
}

// TimePattern is a file path with strftime-style time verbs, expanded in UTC:
// %Y year, %m month, %d day, %H hour, %M minute, %S second, %% a literal percent sign: the
// verbs the file and pcap targets expand (internal/target/internal/rotate).
type TimePattern string

// errBadVerb is returned for an unknown % verb in a TimePattern.
var errBadVerb = errors.New("unknown time verb")

// Check reports an unknown or incomplete % verb.
func (p TimePattern) Check() error {
	s := string(p)
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+1 >= len(s) {
			return fmt.Errorf("%w: trailing %% at the end (write %%%% for a literal percent sign)", errBadVerb)
		}
		i++
		if !strings.ContainsRune("YmdHMS%", rune(s[i])) {
			return fmt.Errorf("%w %%%c (known: %%Y %%m %%d %%H %%M %%S %%%%)", errBadVerb, s[i])
		}
	}
	return nil
}

// HasTime reports whether the pattern contains a time verb, so that it names a new file as time
// passes.
func (p TimePattern) HasTime() bool {
	return strings.ContainsFunc(strings.ReplaceAll(string(p), "%%", ""), func(r rune) bool { return r == '%' })
}

// Format expands the pattern for t (converted to UTC). Unknown verbs are copied literally.
func (p TimePattern) Format(t time.Time) string {
	t = t.UTC()
	s := string(p)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
