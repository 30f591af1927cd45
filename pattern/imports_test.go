package pattern

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsOnlyStandardLibrary: pattern is a public package that others can
// use on its own, so it imports only the standard library (its JSON scanner
// and escaper, jsontext.go, included).
func TestImportsOnlyStandardLibrary(t *testing.T) {
	for _, c := range []struct {
		name, dir string
		allowed   []string // module packages it may import
	}{
		{"pattern", ".", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join(c.dir, "*.go"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no Go files in %s: %v", c.dir, err)
			}
			for _, f := range files {
				if strings.HasSuffix(f, "_test.go") {
					continue
				}
				af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
				if err != nil {
					t.Fatal(err)
				}
				for _, imp := range af.Imports {
					path, _ := strconv.Unquote(imp.Path.Value)
					first, _, _ := strings.Cut(path, "/")
					if !strings.Contains(first, ".") {
						continue // the standard library
					}
					ok := false
					for _, a := range c.allowed {
						ok = ok || path == a
					}
					if !ok {
						t.Errorf("%s imports %s: only the standard library is allowed", f, path)
					}
				}
			}
		})
	}
}
