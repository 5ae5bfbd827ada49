package manager

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/store"
)

// managedKey is keyward's own record of a key it created: the deadline it
// enforces where the platform has none, and the secret file it wrote.
type managedKey struct {
	provider   string
	keyID      string
	name       string
	expiresAt  *time.Time
	secretFile string
	createdBy  string
	recordedAt time.Time  // when keyward first recorded the key
	bornAt     *time.Time // the start of the key's life, kept across re-issues
}

func (m *Manager) managed(ctx context.Context, providerName, keyID string) (*managedKey, error) {
	mk := managedKey{provider: providerName, keyID: keyID}
	var exp, born sql.NullInt64
	var recorded int64
	err := m.opts.Store.DB().QueryRowContext(ctx, `SELECT name, expires_at, secret_file, created_by, created_at, born_at FROM managed_keys WHERE provider = ? AND key_id = ?`, providerName, keyID).
		Scan(&mk.name, &exp, &mk.secretFile, &mk.createdBy, &recorded, &born)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	mk.expiresAt, mk.bornAt, mk.recordedAt = store.FromMillis(exp), store.FromMillis(born), time.UnixMilli(recorded).UTC()
	return &mk, nil
}

// managedAll loads every record of a provider at once, for listings.
func (m *Manager) managedAll(ctx context.Context, providerName string) (map[string]*managedKey, error) {
	rows, err := m.opts.Store.DB().QueryContext(ctx, `SELECT key_id, name, expires_at, secret_file, created_by FROM managed_keys WHERE provider = ?`, providerName)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*managedKey{}
	for rows.Next() {
		mk := managedKey{provider: providerName}
		var exp sql.NullInt64
		if err := rows.Scan(&mk.keyID, &mk.name, &exp, &mk.secretFile, &mk.createdBy); err != nil {
			return nil, err
		}
		mk.expiresAt = store.FromMillis(exp)
		out[mk.keyID] = &mk
	}
	return out, rows.Err()
}

func (m *Manager) saveManaged(ctx context.Context, mk managedKey) error {
	return m.saveManagedIn(context.WithoutCancel(ctx), m.opts.Store.DB(), mk)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (m *Manager) saveManagedIn(ctx context.Context, db execer, mk managedKey) error {
	_, err := db.ExecContext(ctx, `INSERT INTO managed_keys (provider, key_id, name, expires_at, secret_file, created_by, created_at, born_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (provider, key_id) DO UPDATE SET name = excluded.name, expires_at = excluded.expires_at, secret_file = excluded.secret_file`,
		mk.provider, mk.keyID, mk.name, store.Millis(mk.expiresAt), mk.secretFile, mk.createdBy, m.now().UnixMilli(), store.Millis(mk.bornAt))
	return err
}

// bornOf is when a key's life began, as far as anyone knows: the earliest of
// the platform's creation time and keyward's records (a replacement inherits
// its original's). nil when neither knows.
func bornOf(k provider.Key, mk *managedKey) *time.Time {
	var out *time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (out == nil || t.Before(*out)) {
			t := t.UTC()
			out = &t
		}
	}
	consider(k.CreatedAt)
	if mk != nil {
		if mk.bornAt != nil {
			consider(*mk.bornAt)
		}
		consider(mk.recordedAt)
	}
	return out
}

func (m *Manager) forgetManaged(ctx context.Context, providerName, keyID string) error {
	_, err := m.opts.Store.DB().ExecContext(context.WithoutCancel(ctx), `DELETE FROM managed_keys WHERE provider = ? AND key_id = ?`, providerName, keyID)
	return err
}

// dueManaged lists keys whose keyward-enforced deadline has passed.
func (m *Manager) dueManaged(ctx context.Context, now time.Time) ([]managedKey, error) {
	rows, err := m.opts.Store.DB().QueryContext(ctx, `SELECT provider, key_id, name, expires_at, secret_file, created_by FROM managed_keys WHERE expires_at IS NOT NULL AND expires_at <= ?`, now.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []managedKey
	for rows.Next() {
		var mk managedKey
		var exp sql.NullInt64
		if err := rows.Scan(&mk.provider, &mk.keyID, &mk.name, &exp, &mk.secretFile, &mk.createdBy); err != nil {
			return nil, err
		}
		mk.expiresAt = store.FromMillis(exp)
		out = append(out, mk)
	}
	return out, rows.Err()
}
