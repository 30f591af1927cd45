package file

import (
	"bytes"
	"time"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// Kind is the file target kind: NDJSON archives.
var Kind = &component.TargetKind{
	Description: "append events as NDJSON to rotating, optionally compressed files",
	NewSpec:     func() component.TargetSpec { return new(Spec) },
	Caps:        func(component.TargetSpec) component.Caps { return component.Caps{Body: true} },
	New: func(_ component.Env, _ string, s component.TargetSpec) (component.Target, error) {
		f := s.(*Spec)
		return New(Config{
			Path:          string(f.Path),
			MaxSize:       int64(f.Rotate.Size),
			Interval:      f.Rotate.Interval,
			Compression:   f.Compress,
			Fsync:         f.Fsync,
			FsyncInterval: f.FsyncInterval,
		})
	},
}

// Spec is the configuration of a file target.
type Spec struct {
	// Path is a time pattern; relative paths are placed under data_dir.
	Path          spec.TimePattern `yaml:"path"`
	Rotate        spec.Rotate      `yaml:"rotate"`
	Compress      string           `yaml:"compress"` // none | gzip | zstd
	Fsync         string           `yaml:"fsync"`    // never | rotate | always | interval
	FsyncInterval time.Duration    `yaml:"fsync_interval"`
}

// SetDefaults implements component.TargetSpec.
func (t *Spec) SetDefaults() {
	*t = Spec{Rotate: spec.Rotate{Size: 128 * spec.MiB, Interval: time.Hour}, Compress: "none", Fsync: "rotate", FsyncInterval: time.Second}
}

// Validate implements component.TargetSpec. The path is checked by the configuration
// (component.Output).
func (t *Spec) Validate(c *spec.Checker) {
	t.Rotate.Check(c, "")
	c.OneOf("compress", t.Compress, "none", "gzip", "zstd")
	c.OneOf("fsync", t.Fsync, "never", "rotate", "always", "interval")
	if t.Fsync == "interval" {
		c.Positive("fsync_interval", t.FsyncInterval)
	}
}

// Where implements component.Wherer.
func (t *Spec) Where() string { return string(t.Path) }

// OutputPath implements component.Output.
func (t *Spec) OutputPath() *spec.TimePattern { return &t.Path }

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// LooksLikeArchive implements component.Output: empty, compressed data as configured, or a
// JSON value.
func (t *Spec) LooksLikeArchive(head []byte) bool {
	if len(head) == 0 {
		return true
	}
	switch t.Compress {
	case "gzip":
		return bytes.HasPrefix(head, gzipMagic)
	case "zstd":
		return bytes.HasPrefix(head, zstdMagic)
	}
	head = bytes.TrimLeft(head, " \t\r\n")
	return len(head) > 0 && (head[0] == '{' || head[0] == '[' || head[0] == '"')
}
