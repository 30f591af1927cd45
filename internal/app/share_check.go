package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/wirebridge/wirebridge/internal/config"
)

// `wirebridge share` signs links with the key of its configuration:
// live.share_key, or the key file under data_dir (created on first use). Run
// with another configuration or from another working directory (a relative
// data_dir), it would sign with another key — a new one, made on the spot —
// and print a link the running server rejects. shareGuard checks the link
// against the server answering on http.listen and undoes what share created
// when the server rejects it.

// shareGuard remembers what share may create and checks the signed link.
type shareGuard struct {
	cfg     *config.Config
	keyFile string   // absolute; "" with live.share_key
	created []string // paths that did not exist before share signed, deepest last
}

// newShareGuard checks the filter and records what exists before signing.
func newShareGuard(cfg *config.Config, filter string) (*shareGuard, error) {
	if filter != "" {
		if _, err := compilePatternArg("--filter", []byte(filter)); err != nil {
			return nil, fmt.Errorf("--filter: %w", err)
		}
	}
	g := &shareGuard{cfg: cfg}
	if cfg.Live.ShareKey.IsSet() {
		return g, nil
	}
	kf, err := filepath.Abs(shareKeyFile(cfg))
	if err != nil {
		return nil, err
	}
	g.keyFile = kf
	// The key file, its directory and data_dir: the ones missing now are
	// what signing creates.
	var missing []string
	for p := kf; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || !errors.Is(err, os.ErrNotExist) {
			break
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		g.created = append(g.created, missing[i])
	}
	return g, nil
}

// undo removes what signing created (nothing when it all existed).
func (g *shareGuard) undo() {
	for i := len(g.created) - 1; i >= 0; i-- {
		os.Remove(g.created[i]) // a directory only when empty
	}
}

// withServingAddr returns cfg, or, when http.listen has port 0 (a free port
// picked at start), a copy with the address the serve running on data_dir
// wrote into its lock file (datalock.go): a link to port 0 reaches nothing.
func withServingAddr(cfg *config.Config) (*config.Config, error) {
	_, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil || port != "0" {
		return cfg, nil
	}
	lock := filepath.Join(cfg.DataDir, lockFileName)
	if h := readLockHolder(lock); h.HTTP != "" && flockHolder(lock) != 0 {
		c := *cfg
		c.HTTP.Listen = h.HTTP
		return &c, nil
	}
	return nil, fmt.Errorf("http.listen %s picks its port when serve starts, and no wirebridge serve running on data_dir %s names its address (in %s): start serve first, or give --url", cfg.HTTP.Listen, cfg.DataDir, lock)
}

// dialAddr is the address to reach an HTTP listener at: a listener on
// every address (0.0.0.0, ::, or no host) is reached on the loopback.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// verify asks the server on http.listen whether it accepts tok for channel.
// A rejection is an error (and what signing created is removed); no server
// answering, or an answer that is not wirebridge's, is a note on w.
func (g *shareGuard) verify(ctx context.Context, tok, channel string, w io.Writer) error {
	addr := dialAddr(g.cfg.HTTP.Listen)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/channels?channel="+url.QueryEscape(channel), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(w, "note: no wirebridge serve answers on %s to check the link (%v); it works with a serve signing with %s\n", addr, err, g.keyName())
		return nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized:
		g.undo()
		return fmt.Errorf("the wirebridge serve answering on %s rejects links signed with %s: it signs with another key, so it runs with another data_dir or live.share_key. "+
			"Run share with the configuration serve runs and from its working directory (a relative data_dir is relative to the working directory), or give data_dir as an absolute path; nothing was created",
			addr, g.keyName())
	}
	fmt.Fprintf(w, "note: could not check the link with the server on %s: it answered %s\n", addr, resp.Status)
	return nil
}

func (g *shareGuard) keyName() string {
	if g.keyFile == "" {
		return "live.share_key"
	}
	return "the key in " + g.keyFile
}
