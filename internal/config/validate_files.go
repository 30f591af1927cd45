package config

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// MinMaxStorage is the smallest nats.max_storage the embedded JetStream store works with. The
// delivery stream gets 3/4 of it and the dead-letter stream 1/8; a stored message (a batch of up
// to 512 KiB, or one event with its frame) must fit in each. Measured with internal/bus
// (TestStorageFloor): below 5 MiB the dead-letter stream refuses a 600 KiB dead letter ("maximum
// bytes exceeded"); at a few bytes the streams' limits round to 0, which JetStream takes as no
// limit at all. 16 MiB leaves room for a few of the largest.
const MinMaxStorage = 16 * MiB

// The checks below look at the file system, as `serve` will find it: a path that cannot work
// (data_dir is a file, a capture that is not there) or that would write where wirebridge has no
// business (a relative path climbing out of data_dir, an existing file that is not one of
// wirebridge's archives) is an error. docs/config.md lists them under "Validation rules".

// dataDir checks that data_dir is a directory, or can be created as one.
func (v *validator) dataDir() {
	d := v.c.DataDir
	if strings.TrimSpace(d) == "" {
		return // reported by top
	}
	st, err := os.Stat(d)
	switch {
	case err == nil && !st.IsDir():
		v.errorf("data_dir", "%s is not a directory", d)
	case err == nil:
	case missing(err):
		if bad := nonDirAncestor(d); bad != "" {
			v.errorf("data_dir", "%s: %s is not a directory", d, bad)
		}
	default:
		v.errorf("data_dir", "%v", err)
	}
}

// nonDirAncestor returns the closest existing ancestor of path (path itself excluded) when it is
// not a directory, so that creating path would fail; "" otherwise.
func nonDirAncestor(path string) string {
	for p := filepath.Dir(filepath.Clean(path)); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err == nil {
			if st.IsDir() {
				return ""
			}
			return p
		}
		if p == filepath.Dir(p) || !missing(err) {
			return ""
		}
	}
}

// missing reports whether err says a path does not exist (or a part of it is not a directory).
func missing(err error) bool { return spec.Missing(err) }

// outputFile checks where a file or pcap target will write (p is the target's YAML path, tp its
// path after data_dir was joined to a relative one):
//   - a relative path must stay inside data_dir;
//   - the directories before the first time verb must be directories, or creatable;
//   - without a time verb, an existing file at the path must be a regular file, and when it lies
//     outside data_dir, one of this kind of target's archives (the target never writes into an
//     existing file: it would create name-1 beside it).
func (v *validator) outputFile(p string, tp TimePattern, kind string, out component.Output) {
	if tp == "" || strings.HasSuffix(string(tp), "/") || tp.Check() != nil {
		return // reported by outputPath
	}
	path := p + ".path"
	raw, ok := v.c.rawPaths[path]
	if !ok {
		raw = string(tp) // built in Go: taken as given
	}
	if last := raw[strings.LastIndexByte(raw, '/')+1:]; last == "." || last == ".." {
		v.errorf(path, "%q names a directory, not a file", raw)
		return
	}
	if !filepath.IsAbs(raw) {
		if c := filepath.Clean(raw); c == ".." || strings.HasPrefix(c, "../") {
			v.errorf(path, "%q leaves data_dir: a relative path must stay inside data_dir (write an absolute path to put files elsewhere)", raw)
			return
		}
	}
	if tp.HasTime() {
		// The fixed directories in front of the first time verb.
		s := string(tp)
		dir := filepath.Dir(s[:strings.IndexByte(s, '%')] + "x")
		if st, err := os.Stat(dir); err == nil && !st.IsDir() {
			v.errorf(path, "%s is not a directory", dir)
		} else if missing(err) {
			if bad := nonDirAncestor(dir); bad != "" {
				v.errorf(path, "%s is not a directory", bad)
			}
		}
		return
	}
	name := tp.Format(time.Time{}) // no time verb: only %% becomes %
	st, err := os.Lstat(name)
	switch {
	case missing(err):
		if bad := nonDirAncestor(name); bad != "" {
			v.errorf(path, "%s is not a directory", bad)
		}
	case err != nil:
		v.errorf(path, "%v", err)
	case st.IsDir():
		v.errorf(path, "%s is a directory", name)
	case !st.Mode().IsRegular():
		v.errorf(path, "%s exists and is not a regular file", name)
	case !within(v.c.DataDir, name) && !looksLikeArchive(name, out):
		v.errorf(path, "%s exists and is not a wirebridge %s archive: use another path (or a time verb such as %%H)", name, kind)
	}
}

// within reports whether name lies inside dir.
func within(dir, name string) bool {
	d, err1 := filepath.Abs(dir)
	n, err2 := filepath.Abs(name)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, n)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// looksLikeArchive reports whether the regular file name starts as the target writes its files
// (component.Output).
func looksLikeArchive(name string, out component.Output) bool {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 64)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false
	}
	return out.LooksLikeArchive(head[:n])
}
