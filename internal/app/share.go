package app

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/wirebridge/wirebridge/internal/live"
)

const shareHelp = `
Print a read-only, expiring link to a live channel in the web UI. The link
carries an HMAC-signed token bound to the channel (a wildcard such as
/packets/* covers the channels below it) and, with --filter, to an event
pattern the server applies to every event before sending it.

The signing key is live.share_key, or the key file data_dir/live/share.key
that ` + "`wirebridge serve`" + ` uses (created on first use). --rotate-key replaces
that file: every link signed before stops working at once, even on a running
server.

Examples:
  wirebridge share /packets/all --ttl 1h
  wirebridge share /packets/all --filter '{"detail":{"Protocol":["udp"]}}'
  wirebridge share --rotate-key`

func runShare(ctx context.Context, args []string, stdio Stdio) int {
	var (
		path, filter, base string
		ttl                time.Duration
		rotate             bool
	)
	fs := newFlagSet("share", "CHANNEL [--ttl 1h] [--filter PATTERN] [-c FILE]", shareHelp, stdio)
	fs.StringVar(&path, "c", "", "the configuration `FILE` whose http.listen, data_dir and live keys to use (default: the embedded default)")
	fs.DurationVar(&ttl, "ttl", 0, "how long the link is valid (default: live.share_ttl; at most live.share_max_ttl, 24h unless configured)")
	fs.StringVar(&filter, "filter", "", "an event `PATTERN` the link is bound to")
	fs.StringVar(&base, "url", "", "the UI's base `URL` (default: from http.listen; with port 0, the address of the serve running on data_dir)")
	fs.BoolVar(&rotate, "rotate-key", false, "replace the share key file, revoking every link signed with it")
	pos, code, done := parseFlags(fs, args, stdio)
	if done {
		return code
	}
	cfg, err := loadConfig(path)
	if err != nil {
		fmt.Fprintln(stdio.Err, err)
		return exitFail
	}
	if rotate {
		if cfg.Live.ShareKey.IsSet() {
			fmt.Fprintln(stdio.Err, "wirebridge share: live.share_key is set in the configuration: change it there and restart to revoke links")
			return exitFail
		}
		if err := live.RotateKeyFile(shareKeyFile(cfg)); err != nil {
			fmt.Fprintf(stdio.Err, "wirebridge share: %v\n", err)
			return exitFail
		}
		fmt.Fprintf(stdio.Out, "rotated %s: every share link signed before is revoked\n", shareKeyFile(cfg))
		if len(pos) == 0 {
			return exitOK
		}
	}
	if len(pos) != 1 {
		fmt.Fprintln(stdio.Err, "wirebridge share: want one CHANNEL, such as /packets/all")
		fs.Usage()
		return exitUsage
	}
	if ttl == 0 {
		ttl = cfg.Live.ShareTTL
	}
	if ttl > cfg.Live.MaxShareTTL() {
		fmt.Fprintf(stdio.Err, "wirebridge share: --ttl %s is longer than live.share_max_ttl (%s): ask for less, or raise live.share_max_ttl in the configuration\n", ttl, cfg.Live.MaxShareTTL())
		return exitUsage
	}
	if c, err := withServingAddr(cfg); err == nil {
		cfg = c
	} else if base == "" { // with --url, the link is the caller's to place
		fmt.Fprintf(stdio.Err, "wirebridge share: %v\n", err)
		return exitFail
	}
	// The link must work on the running server (share_check.go).
	guard, err := newShareGuard(cfg, filter)
	if err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge share: %v\n", err)
		return exitUsage
	}
	auth, err := liveAuth(cfg)
	if err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge share: %v\n", err)
		return exitFail
	}
	tok, c, err := auth.Sign(pos[0], filter, ttl)
	if err != nil {
		guard.undo()
		fmt.Fprintf(stdio.Err, "wirebridge share: %v\n", err)
		return exitFail
	}
	if err := guard.verify(ctx, tok, c.Channel, stdio.Err); err != nil {
		fmt.Fprintf(stdio.Err, "wirebridge share: %v\n", err)
		return exitFail
	}
	if base == "" {
		base = "http://" + cfg.HTTP.Listen + "/"
		if a, err := net.ResolveTCPAddr("tcp", cfg.HTTP.Listen); err == nil {
			base = uiBase(a)
		}
	}
	fmt.Fprintln(stdio.Out, live.ShareURL(base, tok))
	fmt.Fprintf(stdio.Err, "read-only link to %s, valid until %s\n", c.Channel, c.Expires.Format(time.RFC3339))
	return exitOK
}
