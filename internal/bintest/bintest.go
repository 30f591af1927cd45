// Package bintest is test support, not a stage of the data path: it builds
// the wirebridge binary (cmd/wirebridge) for integration tests that run it
// as a user does, in one place, so that every such test builds it the same
// way (CGO_ENABLED=0, as the Makefile and releases build it).
package bintest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Package is the import path of the wirebridge command.
const Package = "github.com/wirebridge/wirebridge/cmd/wirebridge"

// build compiles the command into dir and returns the binary's path.
func build(dir string) (string, error) {
	bin := filepath.Join(dir, "wirebridge")
	cmd := exec.Command("go", "build", "-o", bin, Package)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building wirebridge: %w\n%s", err, out)
	}
	return bin, nil
}

// Build compiles the binary into a directory the test removes at its end.
func Build(t testing.TB) string {
	t.Helper()
	bin, err := build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Main is a TestMain for a package whose tests share one binary: it builds
// it, sets *bin to its path, runs the tests, removes it and exits with the
// tests' code.
func Main(m *testing.M, bin *string) {
	dir, err := os.MkdirTemp("", "wirebridge-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *bin, err = build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
