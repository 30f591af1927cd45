package app

import (
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"

	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/config"
	"github.com/wirebridge/wirebridge/internal/live"
	"github.com/wirebridge/wirebridge/web"
)

// liveState is the live-channel side of `wirebridge serve`: the hub the live
// targets publish to (over the bus when there is one, so that every
// wirebridge on the same NATS sees every channel), the API keys and share
// links, and the /api, /ws and UI handlers.
type liveState struct {
	hub    *live.Hub
	auth   *live.Auth
	server *live.Server
}

// newLive builds the hub and the HTTP side from the live section. b may be nil.
func newLive(cfg *config.Config, b *bus.Bus) (*liveState, error) {
	auth, err := liveAuth(cfg)
	if err != nil {
		return nil, err
	}
	hc := live.HubConfig{Replay: cfg.Live.Replay, QueueSize: cfg.Live.SubscriberQueue}
	if b != nil {
		hc.Conn = b.Conn()
	}
	hub, err := live.NewHub(hc)
	if err != nil {
		return nil, err
	}
	return &liveState{hub: hub, auth: auth, server: live.NewServer(live.ServerConfig{
		Hub: hub, Auth: auth, ShareTTL: cfg.Live.ShareTTL, MaxShareTTL: cfg.Live.MaxShareTTL(),
	})}, nil
}

// liveAuth maps the API keys and the share signing key of the configuration.
func liveAuth(cfg *config.Config) (*live.Auth, error) {
	var keys []live.APIKey
	for _, k := range cfg.Live.APIKeys {
		var sc live.Scope
		for _, s := range k.Scopes {
			x, err := live.ParseScope(s)
			if err != nil {
				return nil, err
			}
			sc |= x
		}
		keys = append(keys, live.APIKey{Name: k.Name, Key: k.Key.Value(), Scopes: sc})
	}
	return live.NewAuth(keys, shareKeySource(cfg), nil), nil
}

// shareKeyFile is where the share signing key lives when live.share_key is not set.
func shareKeyFile(cfg *config.Config) string { return dataPath(cfg, "live/share.key") }

func shareKeySource(cfg *config.Config) live.KeySource {
	if cfg.Live.ShareKey.IsSet() {
		return live.StaticKey([]byte(cfg.Live.ShareKey.Value()))
	}
	return live.FileKey(shareKeyFile(cfg))
}

// mount puts the live API, /ws and the UI on the HTTP server. The UI's files
// are mounted one by one ("GET /{$}", "GET /app.js" ...) so that no catch-all
// pattern conflicts with other handlers such as /api/dlq/.
func (l *liveState) mount(m live.Mux) error {
	api := http.NewServeMux()
	l.server.Mount(liveAPIOnly{api})
	for _, p := range []string{"POST /api/events", "GET /api/channels", "POST /api/share", "GET /api/subscribers", "GET /ws"} {
		m.Handle(p, api)
	}
	ui := live.NewServer(live.ServerConfig{Hub: l.hub, Auth: l.auth, UI: web.FS})
	uiMux := http.NewServeMux()
	ui.Mount(uiMux)
	entries, err := fs.ReadDir(web.FS, ".")
	if err != nil {
		return fmt.Errorf("live ui: %w", err)
	}
	m.Handle("GET /{$}", uiMux)
	for _, e := range entries {
		if !e.IsDir() && e.Name() != "index.html" {
			m.Handle("GET /"+e.Name(), uiMux)
		}
	}
	return nil
}

// liveAPIOnly drops the UI's catch-all pattern (the UI is mounted file by file).
type liveAPIOnly struct{ m *http.ServeMux }

func (a liveAPIOnly) Handle(p string, h http.Handler) {
	if p != "GET /" {
		a.m.Handle(p, h)
	}
}

func (l *liveState) close() {
	if l != nil {
		l.hub.Close()
	}
}

// liveNeedsBus: live channels use the bus when other processes can reach it
// (an external cluster, or the embedded server with a listener); otherwise
// the hub fans out in-process and no bus is started for it.
func liveNeedsBus(c *config.Config) bool {
	return len(c.NATS.URLs) > 0 || (c.NATS.Embedded && c.NATS.Listen != "")
}

// uiBase is the UI's URL for an HTTP listener address.
func uiBase(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// liveBanner prints a share link to the UI for the first live target's
// channel (what `wirebridge share` would print) when the banner goes to a
// terminal; otherwise the command that prints one, so that a working token
// never lands in a log.
func (s *server) liveBanner(w io.Writer, terminal bool) {
	if s.live == nil || s.http.Addr() == nil {
		return
	}
	for i := range s.cfg.Targets {
		lc, ok := s.cfg.Targets[i].Spec.(component.LiveChannel)
		if !ok {
			continue
		}
		channel := lc.LiveChannel()
		if !terminal {
			cmd := "wirebridge share " + channel
			if s.path != "" {
				cmd += " -c " + s.path
			}
			fmt.Fprintf(w, "\nWatch it live: a share link to %s is printed only to a terminal (this output may be kept in logs); get one with:\n  %s\n",
				channel, cmd)
			return
		}
		tok, c, err := s.live.auth.Sign(channel, "", s.cfg.Live.ShareTTL)
		if err != nil {
			s.log.Error("cannot sign a share link", "error", err)
			return
		}
		fmt.Fprintf(w, "\nWatch it live (read-only link to %s, valid until %s; wirebridge share %s --ttl 24h for another):\n  %s\n",
			c.Channel, c.Expires.Format("15:04 MST"), c.Channel, live.ShareURL(uiBase(s.http.Addr()), tok))
		return
	}
}
