package repocheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wirebridge/wirebridge/internal/kinds"
)

// The component model (internal/component): what a source or target type is
// lives in its kind's file, and the type name appears in one place only, the
// registry (internal/kinds). These tests keep it so.

// registryDir is the one package allowed to name a component type.
const registryDir = "internal/kinds"

// typeNames are the names the registry gives the source, target and mirror provider kinds.
func typeNames() map[string]bool {
	r := kinds.Default()
	names := map[string]bool{}
	for _, n := range slices.Concat(r.SourceTypes(), r.TargetTypes(), r.MirrorProviders()) {
		names[n] = true
	}
	return names
}

// typeLike matches the name of an expression holding a component type: a
// field or variable such as t.Type, s.Type, typ, kind, m.Provider.
var typeLike = regexp.MustCompile(`(?i)^(type|typ|kind|provider|[a-z]*type)$`)

// exprName is the identifier an expression ends in (x.Type: "Type"), or "".
func exprName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	case *ast.CallExpr:
		if id, ok := e.Fun.(*ast.Ident); ok && id.Name == "string" && len(e.Args) == 1 {
			return exprName(e.Args[0]) // a conversion: string(t.Type)
		}
		return exprName(e.Fun)
	case *ast.ParenExpr:
		return exprName(e.X)
	}
	return ""
}

// typeLit returns the component type a string literal names, or "".
func typeLit(e ast.Expr, names map[string]bool) string {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return ""
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil || !names[s] {
		return ""
	}
	return s
}

// oldConstant matches the per-type constants internal/config had before the
// registry (TargetHTTP, SourceUDP ...); their lists (config.TargetTypes) are
// matched as a package's names only.
func oldConstant(name string, names map[string]bool) bool {
	l := strings.ToLower(name)
	for _, prefix := range []string{"source", "target"} {
		if rest, ok := strings.CutPrefix(l, prefix); ok && names[rest] {
			return true
		}
	}
	return false
}

// typeNameUses lists where a file names a component type: a type-name string
// compared with or switched on a type-like value, or one of the old per-type
// constants (config.TargetFile, or TargetFile in its own package).
func typeNameUses(fset *token.FileSet, f *ast.File, names map[string]bool) []string {
	var out []string
	pkgs := map[string]bool{} // the names the file's imports go by
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := p[strings.LastIndexByte(p, '/')+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		pkgs[name] = true
	}
	report := func(n ast.Node, format string, args ...any) {
		out = append(out, fmt.Sprintf("%s: %s", fset.Position(n.Pos()), fmt.Sprintf(format, args...)))
	}
	var visit func(ast.Node) bool
	visit = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if n.Op != token.EQL && n.Op != token.NEQ {
				break
			}
			for _, p := range [][2]ast.Expr{{n.X, n.Y}, {n.Y, n.X}} {
				if name := typeLit(p[0], names); name != "" && typeLike.MatchString(exprName(p[1])) {
					report(n, "compares %s with the type name %q", exprName(p[1]), name)
				}
			}
		case *ast.SwitchStmt:
			if n.Tag == nil || !typeLike.MatchString(exprName(n.Tag)) {
				break
			}
			for _, st := range n.Body.List {
				for _, e := range st.(*ast.CaseClause).List {
					if name := typeLit(e, names); name != "" {
						report(e, "switches on %s with the type name %q", exprName(n.Tag), name)
					}
				}
			}
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && pkgs[id.Name] {
				if l := strings.ToLower(n.Sel.Name); oldConstant(n.Sel.Name, names) || l == "sourcetypes" || l == "targettypes" {
					report(n, "names the per-type constant %s", n.Sel.Name)
				}
				return false
			}
			ast.Inspect(n.X, visit) // a field's name (t.TargetFile) is not a constant
			return false
		case *ast.Ident:
			if ast.IsExported(n.Name) && oldConstant(n.Name, names) {
				report(n, "names the per-type constant %s", n.Name)
			}
		}
		return true
	}
	ast.Inspect(f, visit)
	return out
}

// TestTypeNameUses: the check finds each way of naming a type outside the
// registry, and leaves alone what is not one (a protocol called udp).
func TestTypeNameUses(t *testing.T) {
	names := map[string]bool{"udp": true, "file": true, "http": true, "linux": true}
	tests := []struct {
		name string
		src  string
		want int
	}{
		{"compare type field", `if t.Type == "file" {}`, 1},
		{"compare reversed", `if "http" != s.Type {}`, 1},
		{"compare typ variable", `if typ == "udp" {}`, 1},
		{"compare converted", `if string(t.Type) == "udp" {}`, 1},
		{"switch on type", `switch t.Type { case "file", "http": ; case "x": }`, 2},
		{"old constant", `_ = config.TargetFile`, 1},
		{"old list", `_ = config.SourceTypes`, 1},
		{"method named like a list", `_ = r.sourceTypes()`, 0},
		{"constant in its package", `switch t.Type { case TargetFile: }`, 1},
		{"declared constant", `const SourceUDP = 1`, 1},
		{"registry method", `_ = reg.TargetTypes()`, 0},
		{"field named like one", `_ = t.TargetFile`, 0},
		{"protocol named udp", `if proto == "udp" {}`, 0},
		{"switch on protocol", `switch p { case "udp": }`, 0},
		{"other type name", `if t.Type == "stdout" {}`, 0},
		{"compare mirror provider", `if m.Provider == "linux" {}`, 1},
		{"type name as data", `x := []string{"udp"}; _ = x`, 0},
		{"switch without tag", `switch { case t.Type == "x": }`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fset := token.NewFileSet()
			src := "package x\nimport \"example.com/config\"\nfunc f() {\n" + tt.src + "\n}\n"
			f, err := parser.ParseFile(fset, "x.go", src, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := typeNameUses(fset, f, names); len(got) != tt.want {
				t.Errorf("found %d uses, want %d: %q", len(got), tt.want, got)
			}
		})
	}
}

// internalGoFiles lists the production Go files under internal/ (tests are
// left out: their YAML and tables name types on purpose).
func internalGoFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, f := range trackedFiles(t) {
		f = filepath.ToSlash(f)
		if strings.HasPrefix(f, "internal/") && strings.HasSuffix(f, ".go") && !strings.HasSuffix(f, "_test.go") {
			files = append(files, f)
		}
	}
	if len(files) < 50 {
		t.Fatalf("found only %d Go files under internal/: the walk is broken", len(files))
	}
	return files
}

// TestOnlyTheRegistryNamesTypes: no package under internal/ other than the
// registry names a source or target type by its string, so that adding a
// kind is one new file (or package) and one registry line.
func TestOnlyTheRegistryNamesTypes(t *testing.T) {
	names := typeNames()
	if len(names) < 10 {
		t.Fatalf("the registry lists only %d types", len(names))
	}
	fset := token.NewFileSet()
	for _, rel := range internalGoFiles(t) {
		if filepath.Dir(rel) == registryDir {
			continue
		}
		src, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, rel, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range typeNameUses(fset, f, names) {
			t.Errorf("%s (type names belong in %s; give the kind a capability or an optional interface instead)", u, registryDir)
		}
	}
}

// configUsers are the packages that may import internal/config: the
// application that reads the file. Every stage takes its own spec.
var configUsers = []string{"internal/app", "internal/config"}

// leafOnly are the component model's packages, which import the standard
// library and leaf packages only (the ones listed with them).
var leafOnly = map[string][]string{
	"internal/spec":      nil,
	"internal/component": {"internal/spec", "internal/event", "internal/handoff", "github.com/nats-io/nats.go"},
}

// TestStagesDoNotImportConfig: only internal/app imports internal/config, and
// the component model's packages stay leaves.
func TestStagesDoNotImportConfig(t *testing.T) {
	const module = "github.com/wirebridge/wirebridge/"
	fset := token.NewFileSet()
	for _, rel := range internalGoFiles(t) {
		dir := filepath.Dir(rel)
		f, err := parser.ParseFile(fset, filepath.Join(root, rel), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == module+"internal/config" && !slices.Contains(configUsers, dir) {
				t.Errorf("%s imports internal/config: a stage takes its own spec (its kind's, or a Spec type of its package)", rel)
			}
			allowed, leaf := leafOnly[dir]
			if !leaf || !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") {
				continue // not a leaf package, or a standard library import
			}
			if !slices.Contains(allowed, strings.TrimPrefix(path, module)) && !slices.Contains(allowed, path) {
				t.Errorf("%s imports %s: %s may import only the standard library and %v", rel, path, dir, allowed)
			}
		}
	}
}
