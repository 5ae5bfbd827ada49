// Package reveal keeps new secrets behind one-time links (KEYWARD_REVEAL=url):
// the secret is encrypted under a key derived from KEYWARD_STATE_KEY and the
// link's token, and stored with the SHA-256 of the token, never the token or
// the secret itself. The link is <base>/reveal/<token>; the token (128 random
// bits and more) carries no secret and grants nothing alone: the page that
// serves it checks who opens it. A link is viewed once: the row is marked
// and the ciphertext deleted in the same statement that wins the race.
// Everything lives in the database, so any replica serves any link.
package reveal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/sanitize"
	"github.com/keyward/keyward/internal/seal"
	"github.com/keyward/keyward/internal/store"
)

// Schema is the links table, for store.Open.
var Schema = store.Schema{Name: "reveal", Steps: []store.Step{
	{
		SQLite: `CREATE TABLE reveal_links (
			id          TEXT PRIMARY KEY,       -- public: the elicitation id, audit records
			token_hash  TEXT NOT NULL UNIQUE,   -- SHA-256 of the link's token
			provider    TEXT NOT NULL,
			key_id      TEXT NOT NULL,
			key_name    TEXT NOT NULL DEFAULT '',
			sealed      BLOB,                   -- the encrypted secret; NULL once viewed or settled
			session_id  TEXT NOT NULL DEFAULT '',
			created_at  INTEGER NOT NULL,
			expires_at  INTEGER NOT NULL,
			viewed_at   INTEGER,
			settled_at  INTEGER                 -- expired unviewed, and the key revoked (or gone)
		);
		CREATE INDEX reveal_open ON reveal_links(expires_at) WHERE viewed_at IS NULL AND settled_at IS NULL;
		CREATE INDEX reveal_key ON reveal_links(provider, key_id);`,
		Postgres: `CREATE TABLE reveal_links (
			id          TEXT PRIMARY KEY,
			token_hash  TEXT NOT NULL UNIQUE,
			provider    TEXT NOT NULL,
			key_id      TEXT NOT NULL,
			key_name    TEXT NOT NULL DEFAULT '',
			sealed      BYTEA,
			session_id  TEXT NOT NULL DEFAULT '',
			created_at  BIGINT NOT NULL,
			expires_at  BIGINT NOT NULL,
			viewed_at   BIGINT,
			settled_at  BIGINT
		);
		CREATE INDEX reveal_open ON reveal_links(expires_at) WHERE viewed_at IS NULL AND settled_at IS NULL;
		CREATE INDEX reveal_key ON reveal_links(provider, key_id);`,
	},
}}

// DefaultTTL is how long a link works by default (KEYWARD_REVEAL_TTL).
const DefaultTTL = 10 * time.Minute

// Store keeps the links of a store opened with Schema.
type Store struct {
	st     *store.Store
	sealer *seal.Sealer
	ttl    time.Duration
	now    func() time.Time
	base   atomic.Pointer[string]
}

// New uses st; sealer's key (KEYWARD_STATE_KEY) encrypts the secrets.
func New(st *store.Store, sealer *seal.Sealer, ttl time.Duration, now func() time.Time) *Store {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Store{st: st, sealer: sealer, ttl: ttl, now: now}
}

// SetBase sets the address links start with: KEYWARD_PUBLIC_URL or the
// listener's (keyward serve), or the loopback page's (stdio).
func (s *Store) SetBase(base string) { b := strings.TrimRight(base, "/"); s.base.Store(&b) }

// Ready fails when no page serves links yet.
func (s *Store) Ready() error {
	if b := s.base.Load(); b == nil || *b == "" {
		return ErrNoPage
	}
	return nil
}

// TTL is how long a new link works.
func (s *Store) TTL() time.Duration { return s.ttl }

// Link is a link to one key's new secret, as keyward keeps it.
type Link struct {
	ID        string
	Provider  string
	KeyID     string
	KeyName   string
	SessionID string // the MCP session the secret was made in, if any
	CreatedAt time.Time
	ExpiresAt time.Time
	ViewedAt  *time.Time
	SettledAt *time.Time
}

// Made is a new link: URL holds the token, and is given only to whoever
// will hand it to the human.
type Made struct {
	ID        string
	URL       string
	ExpiresAt time.Time
}

// ErrNoPage: keyward serves no page links could be opened on yet.
var ErrNoPage = errors.New("new secrets go to one-time links (KEYWARD_REVEAL=url), but keyward has no page to serve them on yet; nothing was changed")

// Make stores secret behind a new link.
func (s *Store) Make(ctx context.Context, provider, keyID, keyName, sessionID, secret string) (Made, error) {
	base := s.base.Load()
	if base == nil || *base == "" {
		return Made{}, ErrNoPage
	}
	token := randomToken()
	id := newID()
	sealed, err := s.sealer.Encrypt([]byte(secret), sealedFor(token))
	if err != nil {
		return Made{}, fmt.Errorf("sealing the new secret failed: %w", err)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	exp := now.Add(s.ttl)
	_, err = s.st.DB().ExecContext(keep(ctx), s.st.Q(`INSERT INTO reveal_links (id, token_hash, provider, key_id, key_name, sealed, session_id, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		id, hashToken(token), store.Text(provider), store.Text(keyID), store.Text(sanitize.Bound(keyName, 512)), sealed, store.Text(sanitize.Bound(sessionID, 200)), now.UnixMilli(), exp.UnixMilli())
	if err != nil {
		return Made{}, fmt.Errorf("keeping the one-time link failed: %w", s.st.Scrub(err))
	}
	return Made{ID: id, URL: *base + "/reveal/" + token, ExpiresAt: exp}, nil
}

// State is where a link stands, as its page says.
type State string

const (
	Unknown State = "unknown" // no such link (mistyped, forged, or purged)
	Ready   State = "ready"   // not viewed yet, still valid
	Viewed  State = "viewed"
	Expired State = "expired" // not viewed in time
)

// Look finds the link of token without using it.
func (s *Store) Look(ctx context.Context, token string) (Link, State, error) {
	if !IsToken(token) {
		return Link{}, Unknown, nil
	}
	l, err := s.scan(s.st.DB().QueryRowContext(ctx, s.st.Q(`SELECT `+columns+` FROM reveal_links WHERE token_hash = ?`), hashToken(token)))
	if errors.Is(err, sql.ErrNoRows) {
		return Link{}, Unknown, nil
	}
	if err != nil {
		return Link{}, Unknown, fmt.Errorf("reading the link failed: %w", s.st.Scrub(err))
	}
	return l, s.state(l), nil
}

func (s *Store) state(l Link) State {
	switch {
	case l.ViewedAt != nil:
		return Viewed
	case l.SettledAt != nil || !s.now().Before(l.ExpiresAt):
		return Expired
	}
	return Ready
}

// ErrUndecryptable: the secret was sealed by a keyward with another
// KEYWARD_STATE_KEY (or a process since restarted without one).
var ErrUndecryptable = errors.New("this keyward cannot open the secret behind this link: it was sealed with another KEYWARD_STATE_KEY (replicas must share one; without one, each process has its own, lost at restart)")

// View uses the link of token up: it answers the secret once, and marks the
// link viewed and deletes its ciphertext in the same transaction. A second
// view, a racing one, or one past the expiry gets the state instead and no
// secret.
func (s *Store) View(ctx context.Context, token string) (Link, State, string, error) {
	if !IsToken(token) {
		return Link{}, Unknown, "", nil
	}
	var (
		l      Link
		st     State
		secret string
	)
	err := s.st.Tx(ctx, func(tx *sql.Tx) error {
		var sealed []byte
		row := tx.QueryRowContext(ctx, s.st.Q(`SELECT `+columns+`, sealed FROM reveal_links WHERE token_hash = ?`), hashToken(token))
		var err error
		l, err = s.scan(row, &sealed)
		if errors.Is(err, sql.ErrNoRows) {
			st = Unknown
			return nil
		}
		if err != nil {
			return err
		}
		if st = s.state(l); st != Ready {
			return nil
		}
		plain, err := s.sealer.Decrypt(sealed, sealedFor(token))
		if err != nil {
			return ErrUndecryptable
		}
		now := s.now()
		r, err := tx.ExecContext(ctx, s.st.Q(`UPDATE reveal_links SET viewed_at = ?, sealed = NULL WHERE id = ? AND viewed_at IS NULL AND settled_at IS NULL AND expires_at > ?`), now.UnixMilli(), l.ID, now.UnixMilli())
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			st = Viewed // another view won
			return nil
		}
		t := now.UTC()
		l.ViewedAt, secret = &t, string(plain)
		return nil
	})
	if errors.Is(err, ErrUndecryptable) {
		return l, st, "", err
	}
	if err != nil {
		return l, Unknown, "", fmt.Errorf("opening the link failed: %w", s.st.Scrub(err))
	}
	return l, st, secret, nil
}

// Unviewed lists links that expired unviewed and are not settled yet: the
// reaper revokes their keys.
func (s *Store) Unviewed(ctx context.Context) ([]Link, error) {
	rows, err := s.st.DB().QueryContext(ctx, s.st.Q(`SELECT `+columns+` FROM reveal_links WHERE viewed_at IS NULL AND settled_at IS NULL AND expires_at <= ? ORDER BY expires_at LIMIT 500`), s.now().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("reading expired links failed: %w", s.st.Scrub(err))
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		l, err := s.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, s.st.Scrub(rows.Err())
}

// Settle closes a link that expired unviewed (its key was revoked, or is
// gone), deleting its ciphertext.
func (s *Store) Settle(ctx context.Context, id string) error {
	_, err := s.st.DB().ExecContext(keep(ctx), s.st.Q(`UPDATE reveal_links SET settled_at = ?, sealed = NULL WHERE id = ? AND viewed_at IS NULL`), s.now().UnixMilli(), id)
	return s.st.Scrub(err)
}

// ForgetKey closes every open link of a key that was revoked: its secret
// works nowhere, and the page says so.
func (s *Store) ForgetKey(ctx context.Context, provider, keyID string) error {
	_, err := s.st.DB().ExecContext(keep(ctx), s.st.Q(`UPDATE reveal_links SET settled_at = ?, sealed = NULL WHERE provider = ? AND key_id = ? AND viewed_at IS NULL AND settled_at IS NULL`), s.now().UnixMilli(), store.Text(provider), store.Text(keyID))
	return s.st.Scrub(err)
}

// Purge deletes links that ended before before.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	r, err := s.st.DB().ExecContext(ctx, s.st.Q(`DELETE FROM reveal_links WHERE expires_at < ? AND (viewed_at IS NOT NULL OR settled_at IS NOT NULL)`), before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("purging old links failed: %w", s.st.Scrub(err))
	}
	return r.RowsAffected()
}

const columns = `id, provider, key_id, key_name, session_id, created_at, expires_at, viewed_at, settled_at`

type scanner interface{ Scan(dest ...any) error }

func (s *Store) scan(r scanner, extra ...any) (Link, error) {
	var (
		l                Link
		created, expires int64
		viewed, settled  sql.NullInt64
	)
	if err := r.Scan(append([]any{&l.ID, &l.Provider, &l.KeyID, &l.KeyName, &l.SessionID, &created, &expires, &viewed, &settled}, extra...)...); err != nil {
		return l, err
	}
	l.CreatedAt, l.ExpiresAt = time.UnixMilli(created).UTC(), time.UnixMilli(expires).UTC()
	l.ViewedAt, l.SettledAt = store.FromMillis(viewed), store.FromMillis(settled)
	return l, nil
}

// tokenLen is the length of a token: 32 random bytes in unpadded base64url.
const tokenLen = 43

// IsToken reports whether s has the form of a link token, so nothing else
// reaches the database.
func IsToken(s string) bool {
	if len(s) != tokenLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// HashToken is the SHA-256 of a token, which the database keeps (hex).
func HashToken(token string) string { return hashToken(token) }

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func randomToken() string {
	b := make([]byte, 32) // 256 bits
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "link_" + hex.EncodeToString(b)
}

// sealedFor is what a link's secret is encrypted for: only its token opens it.
func sealedFor(token string) string { return "reveal/" + token }

// keep keeps a write going when the request that asked for it ends.
func keep(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
