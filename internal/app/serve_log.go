package app

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/wirebridge/wirebridge/internal/config"
)

// newLogger returns the process logger: text on a TTY, JSON otherwise (or
// what log.format forces), at log.level.
func newLogger(c config.Log, w io.Writer) (*slog.Logger, *slog.LevelVar, error) {
	lv := new(slog.LevelVar)
	if err := setLevel(lv, c.Level); err != nil {
		return nil, nil, err
	}
	opts := &slog.HandlerOptions{Level: lv}
	format := c.Format
	if format == "" || format == "auto" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), lv, nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), lv, nil
	}
	return nil, nil, fmt.Errorf("log format %q: want auto, text or json", c.Format)
}

func setLevel(lv *slog.LevelVar, level string) error {
	switch strings.ToLower(level) {
	case "", "info":
		lv.Set(slog.LevelInfo)
	case "debug":
		lv.Set(slog.LevelDebug)
	case "warn", "warning":
		lv.Set(slog.LevelWarn)
	case "error":
		lv.Set(slog.LevelError)
	default:
		return fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	return nil
}
