// Command gen is a build-time tool beside the event stage of the data path
// (source ──► packet ──► event ──► rule match ──► deliver ──► target): it
// writes the files generated from the event schema definition
// (internal/event/schema): the event package's key constants, detail structs
// and View tables, docs/event.schema.json and the field tables of
// docs/events.md. It is run by `go generate ./internal/event/...` from
// internal/event, so the repository root defaults to ../..
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wirebridge/wirebridge/internal/event/schema"
)

func main() {
	root := flag.String("root", filepath.Join("..", ".."), "repository root")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return fmt.Errorf("repository root %s: %w", root, err)
	}
	for _, o := range schema.Outputs() {
		path := filepath.Join(root, filepath.FromSlash(o.Path))
		old, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("read %s: %w", o.Path, err)
		}
		b, err := o.Render(old)
		if err != nil {
			return fmt.Errorf("render %s: %w", o.Path, err)
		}
		if bytes.Equal(b, old) {
			continue
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", o.Path, err)
		}
		fmt.Println("gen: wrote", o.Path)
	}
	return nil
}
