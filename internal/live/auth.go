package live

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wirebridge/wirebridge/internal/names"
	"github.com/wirebridge/wirebridge/pattern"
)

// Scope is a set of permissions.
type Scope uint8

// Scopes.
const (
	ScopePublish   Scope = 1 << iota // POST /api/events
	ScopeSubscribe                   // /ws, GET /api/channels
	ScopeAdmin                       // everything, share links for any channel, GET /api/subscribers
)

// ParseScope parses "publish", "subscribe" or "admin" (names.Scope, the rule
// internal/config checks too).
func ParseScope(s string) (Scope, error) {
	switch s {
	case names.ScopePublish:
		return ScopePublish, nil
	case names.ScopeSubscribe:
		return ScopeSubscribe, nil
	case names.ScopeAdmin:
		return ScopeAdmin, nil
	}
	return 0, names.Scope(s)
}

// Has reports whether s grants want (admin grants everything).
func (s Scope) Has(want Scope) bool { return s&ScopeAdmin != 0 || s&want == want }

// Names lists the scopes in s.
func (s Scope) Names() []string {
	var out []string
	for _, x := range []struct {
		s Scope
		n string
	}{{ScopePublish, names.ScopePublish}, {ScopeSubscribe, names.ScopeSubscribe}, {ScopeAdmin, names.ScopeAdmin}} {
		if s&x.s != 0 {
			out = append(out, x.n)
		}
	}
	return out
}

// APIKey is a configured key.
type APIKey struct {
	Name   string
	Key    string
	Scopes Scope
}

// Principal is who made a request.
type Principal struct {
	Name   string // the API key's name, or "share"
	Scopes Scope
	// Share is set for a share token: the only channel (or wildcard) it may
	// read, its filter and its expiry.
	Share *Claims
}

// Allows reports whether p may read channel sub (a channel or wildcard).
func (p *Principal) Allows(sub string) bool {
	if !p.Scopes.Has(ScopeSubscribe) {
		return false
	}
	return p.Share == nil || Covers(p.Share.Channel, sub)
}

// Errors of Authenticate: ErrUnauthorized maps to 401.
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
)

// Claims are what a share token grants.
type Claims struct {
	Channel string    `json:"ch"`
	Filter  string    `json:"f,omitempty"` // an event pattern (JSON), "" for none
	Expires time.Time `json:"-"`
	Issued  time.Time `json:"-"`
}

type wireClaims struct {
	Channel string `json:"ch"`
	Filter  string `json:"f,omitempty"`
	Exp     int64  `json:"exp"`
	Iat     int64  `json:"iat"`
}

// tokenPrefix starts every share token.
const tokenPrefix = "wbs1."

// KeySource returns the current share signing key.
type KeySource func() ([]byte, error)

// StaticKey is a KeySource for a fixed key.
func StaticKey(k []byte) KeySource { return func() ([]byte, error) { return k, nil } }

// FileKey is a KeySource reading a key file, created with a random key when
// it does not exist. The file is read again when it changes, so that
// replacing it (RotateKeyFile) revokes every link signed with the old key at
// once, without a restart.
func FileKey(path string) KeySource {
	var (
		mu   sync.Mutex
		key  []byte
		mod  time.Time
		size int64
	)
	return func() ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		st, err := os.Stat(path)
		if errors.Is(err, os.ErrNotExist) {
			if err := writeKeyFile(path, false); err != nil {
				return nil, err
			}
			st, err = os.Stat(path)
		}
		if err != nil {
			return nil, fmt.Errorf("share key: %w", err)
		}
		if key != nil && st.ModTime().Equal(mod) && st.Size() == size {
			return key, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("share key: %w", err)
		}
		k := []byte(strings.TrimSpace(string(b)))
		if len(k) < 16 {
			return nil, fmt.Errorf("share key %s: shorter than 16 bytes", path)
		}
		key, mod, size = k, st.ModTime(), st.Size()
		return key, nil
	}
}

// RotateKeyFile writes a new random key to path, revoking every share link
// signed with the previous one.
func RotateKeyFile(path string) error { return writeKeyFile(path, true) }

func writeKeyFile(path string, replace bool) error {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("share key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("share key: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".share-key-*")
	if err != nil {
		return fmt.Errorf("share key: %w", err)
	}
	_, werr := tmp.WriteString(hex.EncodeToString(b[:]) + "\n")
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("share key: %w", werr)
	}
	if !replace {
		// Another process may have created it meanwhile: keep theirs.
		if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
			os.Remove(tmp.Name())
			return fmt.Errorf("share key: %w", err)
		}
		os.Remove(tmp.Name())
		return nil
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("share key: %w", err)
	}
	return nil
}

// Auth checks API keys and share tokens.
type Auth struct {
	keys     []APIKey
	hashes   [][32]byte
	shareKey KeySource
	now      func() time.Time
}

// NewAuth returns an Auth for the keys and the share signing key (nil: no
// share links). now is the clock; nil is time.Now.
func NewAuth(keys []APIKey, shareKey KeySource, now func() time.Time) *Auth {
	if now == nil {
		now = time.Now
	}
	a := &Auth{keys: keys, shareKey: shareKey, now: now}
	for _, k := range keys {
		a.hashes = append(a.hashes, sha256.Sum256([]byte(k.Key)))
	}
	return a
}

// Authenticate returns the principal a credential stands for, or an error
// wrapping ErrUnauthorized. API keys are compared in constant time (every
// key is compared, on fixed-length digests).
func (a *Auth) Authenticate(cred string) (*Principal, error) {
	if cred == "" {
		return nil, fmt.Errorf("%w: no credentials", ErrUnauthorized)
	}
	if strings.HasPrefix(cred, tokenPrefix) {
		c, err := a.Verify(cred)
		if err != nil {
			return nil, err
		}
		return &Principal{Name: "share", Scopes: ScopeSubscribe, Share: c}, nil
	}
	h := sha256.Sum256([]byte(cred))
	found := -1
	for i := range a.hashes {
		if subtle.ConstantTimeCompare(h[:], a.hashes[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return nil, fmt.Errorf("%w: unknown key", ErrUnauthorized)
	}
	k := a.keys[found]
	return &Principal{Name: k.Name, Scopes: k.Scopes}, nil
}

// Sign returns a share token for the claims, valid for ttl.
func (a *Auth) Sign(channel, filter string, ttl time.Duration) (string, *Claims, error) {
	if a.shareKey == nil {
		return "", nil, errors.New("share links are not configured")
	}
	if err := CheckSubscription(channel); err != nil {
		return "", nil, err
	}
	if filter != "" {
		if _, err := pattern.Compile([]byte(filter)); err != nil {
			return "", nil, fmt.Errorf("share filter: %w", err)
		}
	}
	if ttl <= 0 {
		return "", nil, errors.New("share ttl must be positive")
	}
	if ttl < time.Second {
		return "", nil, fmt.Errorf("share ttl %s is shorter than 1s (a link expires on a whole second)", ttl)
	}
	key, err := a.shareKey()
	if err != nil {
		return "", nil, err
	}
	now := a.now()
	// The exp claim is in whole seconds: round up, so the link lives at
	// least ttl (rounding down, a 1s link could be expired when printed).
	exp := now.Add(ttl)
	if t := exp.Truncate(time.Second); !t.Equal(exp) {
		exp = t.Add(time.Second)
	}
	w := wireClaims{Channel: channel, Filter: filter, Exp: exp.Unix(), Iat: now.Unix()}
	b, err := json.Marshal(w)
	if err != nil {
		return "", nil, fmt.Errorf("share token: %w", err)
	}
	body := tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	tok := body + "." + base64.RawURLEncoding.EncodeToString(mac(key, body))
	return tok, &Claims{Channel: channel, Filter: filter, Expires: time.Unix(w.Exp, 0), Issued: time.Unix(w.Iat, 0)}, nil
}

func mac(key []byte, body string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

// Verify checks a share token's signature and expiry and returns its claims.
// Every failure wraps ErrUnauthorized.
func (a *Auth) Verify(tok string) (*Claims, error) {
	if a.shareKey == nil {
		return nil, fmt.Errorf("%w: share links are not configured", ErrUnauthorized)
	}
	body, sig, ok := strings.Cut(tok, ".")
	if ok {
		var payload string
		payload, sig, ok = strings.Cut(sig, ".")
		body += "." + payload
	}
	if !ok || !strings.HasPrefix(tok, tokenPrefix) || len(tok) > 8192 {
		return nil, fmt.Errorf("%w: malformed share token", ErrUnauthorized)
	}
	key, err := a.shareKey()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	// The signature is compared as text with the one spelling Sign writes:
	// decoding it first would let other spellings of the same bytes through
	// (the base64 decoder skips \r and \n, whatever Strict says of padding
	// bits), and a token is meant to have exactly one form.
	want := base64.RawURLEncoding.EncodeToString(mac(key, body))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return nil, fmt.Errorf("%w: bad share token signature", ErrUnauthorized)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimPrefix(body, tokenPrefix))
	if err != nil {
		return nil, fmt.Errorf("%w: malformed share token", ErrUnauthorized)
	}
	var w wireClaims
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("%w: malformed share token", ErrUnauthorized)
	}
	if CheckSubscription(w.Channel) != nil {
		return nil, fmt.Errorf("%w: malformed share token", ErrUnauthorized)
	}
	if !a.now().Before(time.Unix(w.Exp, 0)) {
		return nil, fmt.Errorf("%w: share token expired", ErrUnauthorized)
	}
	return &Claims{Channel: w.Channel, Filter: w.Filter, Expires: time.Unix(w.Exp, 0), Issued: time.Unix(w.Iat, 0)}, nil
}
