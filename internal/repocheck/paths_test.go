package repocheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// root is the repository root relative to this package's directory.
const root = "../.."

// allowMarker on a line lets it name a path outside the repository on
// purpose (a test of path-traversal rejection, say).
const allowMarker = "outside-ok"

var (
	// relPath is a relative path that climbs one or more levels.
	relPath = regexp.MustCompile(`(?:\.\./)+[A-Za-z0-9_.*\-][A-Za-z0-9_.*\-/]*`)
	// joinCall is filepath.Join / path.Join over string literals only.
	joinCall = regexp.MustCompile(`(?:filepath|path)\.Join\(((?:\s*"[^"]*"\s*,)*\s*"[^"]*"\s*)\)`)
	// absShared names this machine's layout, which a clone does not have.
	absShared = regexp.MustCompile(`/work/(?:shared|main)\b`)
)

// trackedFiles lists the repository's files: git's list when this is a
// checkout, else every file below the root.
func trackedFiles(t *testing.T) []string {
	t.Helper()
	if out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output(); err == nil && len(out) > 0 {
		var files []string
		for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			files = append(files, filepath.FromSlash(f))
		}
		return files
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// inside reports whether the repository-relative path p stays inside the
// repository and (as a glob) names something that exists.
func inside(p string) (stays, exists bool) {
	p = filepath.Clean(p)
	if p == ".." || strings.HasPrefix(p, ".."+string(filepath.Separator)) || filepath.IsAbs(p) {
		return false, false
	}
	m, _ := filepath.Glob(filepath.Join(root, p))
	return true, len(m) > 0
}

// escapes reports whether a relative path written in file (repository-
// relative) leaves the repository under every reading: relative to the
// file's directory (Go tests, includes) and relative to the repository root
// (scripts, configs run from the root). A reading that stays inside and
// names an existing file wins.
func escapes(file, ref string) bool {
	anyOut := false
	for _, base := range []string{filepath.Dir(file), "."} {
		stays, exists := inside(filepath.Join(base, ref))
		if stays && exists {
			return false
		}
		if !stays {
			anyOut = true
		}
	}
	return anyOut
}

// outsideRefs returns the references in content (of the repository file
// name) that point outside the repository.
func outsideRefs(name string, content []byte) []string {
	var bad []string
	for i, line := range strings.Split(string(content), "\n") {
		if strings.Contains(line, allowMarker) {
			continue
		}
		where := name + ":" + strconv.Itoa(i+1) + ": "
		if m := absShared.FindString(line); m != "" {
			bad = append(bad, where+m)
		}
		for _, m := range relPath.FindAllString(line, -1) {
			if escapes(name, m) {
				bad = append(bad, where+m)
			}
		}
		for _, m := range joinCall.FindAllStringSubmatch(line, -1) {
			var parts []string
			for _, a := range strings.Split(m[1], ",") {
				s, err := strconv.Unquote(strings.TrimSpace(a))
				if err != nil {
					parts = nil
					break
				}
				parts = append(parts, s)
			}
			if len(parts) == 0 || parts[0] != ".." {
				continue
			}
			if ref := filepath.Join(parts...); escapes(name, ref) {
				bad = append(bad, where+ref)
			}
		}
	}
	return bad
}

// TestNoPathOutsideRepository fails when any file of the repository refers to
// a path outside it (a shared/ directory beside the checkout, this
// machine's absolute paths): a user's clone has nothing beside it. This
// package's own files are left out: they quote such paths as test cases.
func TestNoPathOutsideRepository(t *testing.T) {
	files := trackedFiles(t)
	if len(files) < 50 {
		t.Fatalf("found only %d files below %s", len(files), root)
	}
	for _, f := range files {
		if s := filepath.ToSlash(f); strings.HasPrefix(s, "testdata/") || strings.HasPrefix(s, "internal/repocheck/") {
			continue // third-party data quoted as it came; this check's own cases
		}
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree, not yet committed
			}
			t.Fatal(err)
		}
		if len(b) > 1<<20 || bytes.IndexByte(b, 0) >= 0 {
			continue // binary
		}
		for _, r := range outsideRefs(f, b) {
			t.Errorf("%s (outside the repository; copy what it needs into testdata/)", r)
		}
	}
}

// TestOutsideRefs checks the detector itself on named cases.
func TestOutsideRefs(t *testing.T) {
	tests := []struct {
		name, file, content string
		bad                 int
	}{
		{"shared beside the checkout, from a script", "scripts/x.sh", "cat .." + "/shared/pcaps/*.pcap", 1},
		{"shared from a Go test", "internal/app/x_test.go", `const d = "../../..` + `/shared/pcaps"`, 1},
		{"join of dot-dots", "internal/app/x_test.go", `filepath.Join("..", "..", "..", "shared", "pcaps")`, 1},
		{"absolute machine path", "docs/x.md", "see /work" + "/shared/pcaps", 1},
		{"repository testdata from a Go test", "internal/app/x_test.go", `filepath.Join("..", "..", "testdata", "pcaps")`, 0},
		{"sibling package", "internal/app/x_test.go", `"../../examples/captures/loopback-demo.pcap"`, 0},
		{"script that climbs to the root", "scripts/x.sh", `cd "$(dirname "$0")/.."`, 0},
		{"marked on purpose", "internal/config/x_test.go", `{"../../etc/passwd"}, // outside-ok`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := outsideRefs(tc.file, []byte(tc.content)); len(got) != tc.bad {
				t.Errorf("outsideRefs = %q, want %d findings", got, tc.bad)
			}
		})
	}
}
