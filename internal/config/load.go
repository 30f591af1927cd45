package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"syscall"

	"go.yaml.in/yaml/v4"

	"github.com/wirebridge/wirebridge/internal/component"
)

// defaultYAML is the configuration `wirebridge serve` runs when no -c is given.
//
//go:embed default.yaml
var defaultYAML []byte

// DefaultFile is the name errors in the embedded default configuration are reported under.
const DefaultFile = "default.yaml"

// DefaultYAML returns the text of the embedded default configuration.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Default parses the embedded default configuration.
func Default(kinds *component.Registry) (*Config, error) {
	return Parse(DefaultFile, defaultYAML, kinds)
}

// Load reads and parses the configuration file at path. See Parse.
// The file is opened with O_NONBLOCK: a FIFO with no writer would block the open until one
// appears (validate and serve stood deaf to SIGTERM); now it reads as empty at once and is
// refused. A pipe with a writer (-c <(envsubst < tmpl.yaml)) is read to its end. Devices and
// directories are refused (a device may never end).
func Load(path string, kinds *component.Registry) (*Config, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	switch {
	case err != nil:
		return nil, fmt.Errorf("read config: %w", err)
	case st.IsDir():
		return nil, fmt.Errorf("read config: %s is a directory", path)
	case !st.Mode().IsRegular() && st.Mode()&os.ModeNamedPipe == 0:
		return nil, fmt.Errorf("read config: %s is not a regular file", path)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(data) == 0 && st.Mode()&os.ModeNamedPipe != 0 {
		return nil, fmt.Errorf("read config: %s is a FIFO with nothing written to it (no writer)", path)
	}
	return Parse(path, data, kinds)
}

// Parse decodes a configuration, applies defaults, resolves secrets and validates it. name is
// used in error messages. On failure the error is an Errors holding every problem found, each
// formatted "name:line:column: path: reason", and the *Config is nil. kinds lists the target
// types the file may name (internal/kinds.Default()).
func Parse(name string, data []byte, kinds *component.Registry) (*Config, error) {
	c := &Config{File: name, pos: map[string]Pos{}, patterns: map[string]*patternAt{}, kinds: kinds}
	c.setDefaults()
	d := &decoder{file: name, pos: c.pos, patterns: c.patterns, kinds: kinds}

	root, err := parseNode(name, data)
	if err != nil {
		return nil, err
	}
	if root != nil {
		d.decode(root, reflect.ValueOf(c).Elem(), "")
	}
	c.finish()
	errs := append(d.errs, c.validate(d.errs)...)
	if err := errs.asError(); err != nil {
		return nil, err
	}
	return c, nil
}

// parseNode parses exactly one YAML document; nil for an empty one.
func parseNode(name string, data []byte) (*yaml.Node, error) {
	loader, err := yaml.NewLoader(bytes.NewReader(data))
	if err != nil {
		return nil, Errors{{File: name, Msg: err.Error(), Err: err}}
	}
	var doc yaml.Node
	if err := loader.Load(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, Errors{syntaxError(name, err)}
	}
	var extra yaml.Node
	if err := loader.Load(&extra); err == nil {
		return nil, Errors{{File: name, Line: extra.Line, Column: extra.Column, Msg: "more than one YAML document; a configuration is a single document"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, Errors{syntaxError(name, err)}
	}
	n := &doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, nil
		}
		n = n.Content[0]
	}
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, Errors{{File: name, Line: n.Line, Column: n.Column, Msg: "the configuration must be a mapping of keys such as sources:, rules:, targets:"}}
	}
	return n, nil
}

func syntaxError(name string, err error) *Error {
	e := &Error{File: name, Msg: err.Error(), Err: err}
	var le *yaml.LoadError
	if errors.As(err, &le) {
		e.Line, e.Column = le.Mark.Line, le.Mark.Column
		e.Msg = "invalid YAML: " + le.Message
	} else {
		e.Msg = "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")
	}
	return e
}

// Check loads the configuration at path and returns every problem found, each formatted
// "file:line:column: path: reason"; nil when the configuration is valid. It is what
// `wirebridge validate -c FILE` prints.
func Check(path string, kinds *component.Registry) []error {
	_, err := Load(path, kinds)
	if err == nil {
		return nil
	}
	var es Errors
	if errors.As(err, &es) {
		return es.Unwrap()
	}
	return []error{err}
}

// Position returns where the value at a YAML path (such as "targets[2].url") was written, or the
// position of its closest written parent.
func (c *Config) Position(path string) (Pos, bool) {
	for p := path; ; {
		if pos, ok := c.pos[p]; ok && p != "" {
			return pos, true
		}
		if p == "" {
			return Pos{}, false
		}
		p = parentPath(p)
	}
}

// ErrorAt returns err as an *Error placed at the YAML path, for errors found when building
// components from the configuration.
func (c *Config) ErrorAt(path string, err error) *Error {
	e := &Error{File: c.File, Path: path, Msg: err.Error(), Err: err}
	if pos, ok := c.Position(path); ok {
		e.Line, e.Column = pos.Line, pos.Column
	}
	return e
}

// parentPath strips the last element of a YAML path: a.b[2] -> a.b -> a -> "".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}
