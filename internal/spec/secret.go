package spec

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
)

// maxSecretFile bounds what a file: secret may hold.
const maxSecretFile = 64 << 10

// Secret is a credential given in the configuration as a reference:
//
//	env:NAME   the value of environment variable NAME
//	file:PATH  the content of file PATH (one trailing newline removed)
//	anything   taken literally (discouraged: the secret then lives in the config file)
//
// The reference is resolved when the configuration is loaded. String, GoString, MarshalText,
// MarshalJSON and LogValue never reveal the value: they show the reference, or "[redacted]".
type Secret struct {
	ref   string // "env:NAME", "file:PATH" or "" for a literal
	value string
	set   bool
}

// ParseSecret resolves a secret reference.
func ParseSecret(ref string) (Secret, error) {
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		if name == "" {
			return Secret{}, errors.New("env: needs a variable name, as in env:WEBHOOK_TOKEN")
		}
		v, ok := os.LookupEnv(name)
		if !ok {
			return Secret{}, fmt.Errorf("environment variable %s is not set", name)
		}
		if v == "" {
			return Secret{}, fmt.Errorf("environment variable %s is empty", name)
		}
		return Secret{ref: ref, value: v, set: true}, nil
	case strings.HasPrefix(ref, "file:"):
		path := strings.TrimPrefix(ref, "file:")
		if path == "" {
			return Secret{}, errors.New("file: needs a path, as in file:/run/secrets/token")
		}
		v, err := readSecretFile(path)
		if err != nil {
			return Secret{}, err
		}
		return Secret{ref: ref, value: v, set: true}, nil
	case ref == "":
		return Secret{}, errors.New("empty secret")
	default:
		return Secret{value: ref, set: true}, nil
	}
}

// readSecretFile reads a file: secret. The file is opened with O_NONBLOCK, so that a FIFO (or a
// device) cannot block the open until a writer appears: the open returns at once and the type
// check on the opened descriptor refuses anything but a regular file, with no window between a
// check and the open.
func readSecretFile(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("read secret file %s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("read secret file %s: larger than %d bytes", path, maxSecretFile)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return "", fmt.Errorf("read secret file %s: empty", path)
	}
	return v, nil
}

// LiteralSecret returns a secret holding v (for tests and programmatic configuration).
func LiteralSecret(v string) Secret { return Secret{value: v, set: v != ""} }

// Value returns the secret itself. Do not log it.
func (s Secret) Value() string { return s.value }

// IsSet reports whether the secret was given.
func (s Secret) IsSet() bool { return s.set }

// Ref returns the reference the secret was given as ("env:NAME", "file:PATH"), "literal" for a
// literal and "" when unset. It never contains the value.
func (s Secret) Ref() string {
	switch {
	case !s.set:
		return ""
	case s.ref == "":
		return "literal"
	}
	return s.ref
}

// File returns the path of a file: secret, or "".
func (s Secret) File() string {
	if p, ok := strings.CutPrefix(s.ref, "file:"); ok {
		return p
	}
	return ""
}

// String returns a redacted form: "[redacted env:NAME]", "[redacted]" or "" when unset.
func (s Secret) String() string {
	switch {
	case !s.set:
		return ""
	case s.ref == "":
		return "[redacted]"
	}
	return "[redacted " + s.ref + "]"
}

// GoString keeps %#v redacted.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// Format keeps every fmt verb redacted (%v, %s, %q, %x ...).
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, s.GoString())
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
}

// MarshalText implements encoding.TextMarshaler without revealing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer without revealing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

func (s *Secret) DecodeScalar(value, tag string) error {
	if tag != TagStr && tag != TagInt && tag != TagFloat {
		return fmt.Errorf("expected a secret (env:NAME, file:PATH or a literal), got %s", DescribeScalar(value, tag))
	}
	v, err := ParseSecret(value)
	if err != nil {
		return err
	}
	*s = v
	return nil
}
