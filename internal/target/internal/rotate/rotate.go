// Package rotate names and creates the rotating files of the file and pcap
// targets (the end of the data path: deliver ──► target/file, target/pcap),
// and holds what the two targets share around them (Archive: locking, the
// files created, the kept error, the background loop, Close; Finish).
//
// A path pattern may hold time directives, expanded with the time a file is
// opened: %Y (year, 4 digits), %m, %d, %H, %M, %S (2 digits each) and %% (a
// percent sign). A file is never appended to or overwritten: when the
// expanded name exists, "-1", "-2", ... is inserted before the extension
// (events.ndjson, events-1.ndjson, ...).
package rotate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Validate checks that pattern names a file and uses only known directives.
func Validate(pattern string) error {
	if pattern == "" {
		return errors.New("path is empty")
	}
	for i := 0; i < len(pattern); i++ {
		if pattern[i] != '%' {
			continue
		}
		if i+1 == len(pattern) {
			return fmt.Errorf("path %q: trailing %%", pattern)
		}
		i++
		if !strings.ContainsRune("YmdHMS%", rune(pattern[i])) {
			return fmt.Errorf("path %q: unknown directive %%%c (want %%Y %%m %%d %%H %%M %%S or %%%%)", pattern, pattern[i])
		}
	}
	if strings.HasSuffix(pattern, "/") {
		return fmt.Errorf("path %q names a directory", pattern)
	}
	return nil
}

// HasTime reports whether pattern holds a time directive.
func HasTime(pattern string) bool {
	return strings.Contains(strings.ReplaceAll(pattern, "%%", ""), "%")
}

// Expand replaces the directives of pattern with fields of t.
func Expand(pattern string, t time.Time) string {
	if !strings.Contains(pattern, "%") {
		return pattern
	}
	b := make([]byte, 0, len(pattern)+16)
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' || i+1 == len(pattern) {
			b = append(b, c)
			continue
		}
		i++
		switch pattern[i] {
		case 'Y':
			b = appendInt(b, t.Year(), 4)
		case 'm':
			b = appendInt(b, int(t.Month()), 2)
		case 'd':
			b = appendInt(b, t.Day(), 2)
		case 'H':
			b = appendInt(b, t.Hour(), 2)
		case 'M':
			b = appendInt(b, t.Minute(), 2)
		case 'S':
			b = appendInt(b, t.Second(), 2)
		case '%':
			b = append(b, '%')
		default:
			b = append(b, '%', pattern[i])
		}
	}
	return string(b)
}

func appendInt(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for n := len(s); n < width; n++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// WithSuffix returns name with "-n" inserted before its extension.
func WithSuffix(name string, n int) string { return Insert(name, strconv.Itoa(n)) }

// Insert returns name with "-s" inserted before its extension (the part of
// the base name from its first '.', ignoring a leading dot).
func Insert(name, s string) string {
	dir, base := filepath.Split(name)
	cut := strings.IndexByte(base[min(1, len(base)):], '.')
	if cut < 0 {
		return name + "-" + s
	}
	cut += min(1, len(base))
	return dir + base[:cut] + "-" + s + base[cut:]
}

// Create creates a new file named name (or name with the first free "-n"
// suffix), making parent directories as needed. It never opens an existing
// file.
func Create(name string, perm fs.FileMode) (*os.File, string, error) {
	if dir := filepath.Dir(name); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, "", fmt.Errorf("create directory: %w", err)
		}
	}
	try := name
	for n := 1; ; n++ {
		f, err := os.OpenFile(try, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err == nil {
			return f, try, nil
		}
		if !errors.Is(err, fs.ErrExist) || n > 100000 {
			return nil, "", fmt.Errorf("create file: %w", err)
		}
		try = WithSuffix(name, n)
	}
}

// NextBoundary returns the first multiple of interval (counted from the Unix
// epoch, so hourly files start on the hour in UTC) after t; the zero time
// when interval is not positive.
func NextBoundary(t time.Time, interval time.Duration) time.Time {
	if interval <= 0 {
		return time.Time{}
	}
	return t.Truncate(interval).Add(interval)
}

// CheckLimits validates the size and interval settings of a rotating
// target: neither negative, and an interval of at least a second.
func CheckLimits(maxSize int64, interval time.Duration) error {
	if maxSize < 0 || interval < 0 {
		return errors.New("max size and interval must not be negative")
	}
	if interval > 0 && interval < time.Second {
		return fmt.Errorf("interval %s is shorter than a second", interval)
	}
	return nil
}

// Defaults returns perm, loc and now with the unset ones replaced by their
// defaults: 0644, UTC and time.Now.
func Defaults(perm fs.FileMode, loc *time.Location, now func() time.Time) (fs.FileMode, *time.Location, func() time.Time) {
	if perm == 0 {
		perm = 0o644
	}
	if loc == nil {
		loc = time.UTC
	}
	if now == nil {
		now = time.Now
	}
	return perm, loc, now
}
