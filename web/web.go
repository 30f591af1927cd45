// Package web holds the browser UI of live channels, embedded in the binary
// (no CDN, no external fonts: it works offline). It sits at the very end of
// the data path, in the browser:
//
//	target live ──► internal/live Hub ──► /ws ──► web UI (live table, layer tree, hex dump, pcap export)
//
// The UI decodes frames again in the browser (static/decode.js), down to the
// application layers the server's dissectors know, for the packet list's
// Protocol and Info columns, colours, statistics and follow stream.
// internal/live serves FS on "/". The browser tests live in web/e2e.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// FS is the UI's files, index.html at the root.
var FS fs.FS = mustSub(static, "static")

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return s
}
