package manager

import (
	"context"
	"database/sql"
	"encoding/json"
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
	// What the key was created with below its scopes. A platform may not
	// list them (Vast.ai does not list allow-lists), and a replacement must
	// carry them: nil means keyward did not record them.
	constraints []provider.Constraint
	allowedIPs  []string
	narrowing   bool // constraints and allowedIPs were recorded
	// supersededBy is the replacement of a key that only works out the grace
	// of a rotation or re-issue: such a key is final, like an expired one.
	supersededBy string
}

const managedColumns = `provider, key_id, name, expires_at, secret_file, created_by, created_at, born_at, constraints, allowed_ips, superseded_by`

type rowScanner interface{ Scan(dest ...any) error }

func scanManaged(r rowScanner) (*managedKey, error) {
	var (
		mk        managedKey
		exp, born sql.NullInt64
		recorded  int64
		cs, ips   sql.NullString
	)
	if err := r.Scan(&mk.provider, &mk.keyID, &mk.name, &exp, &mk.secretFile, &mk.createdBy, &recorded, &born, &cs, &ips, &mk.supersededBy); err != nil {
		return nil, err
	}
	mk.expiresAt, mk.bornAt, mk.recordedAt = store.FromMillis(exp), store.FromMillis(born), time.UnixMilli(recorded).UTC()
	if cs.Valid && ips.Valid {
		if json.Unmarshal([]byte(cs.String), &mk.constraints) == nil && json.Unmarshal([]byte(ips.String), &mk.allowedIPs) == nil {
			mk.narrowing = true
		}
	}
	return &mk, nil
}

func (m *Manager) managed(ctx context.Context, providerName, keyID string) (*managedKey, error) {
	mk, err := scanManaged(m.opts.Store.DB().QueryRowContext(ctx, `SELECT `+managedColumns+` FROM managed_keys WHERE provider = ? AND key_id = ?`, providerName, keyID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return mk, err
}

func (m *Manager) queryManaged(ctx context.Context, where string, args ...any) ([]*managedKey, error) {
	rows, err := m.opts.Store.DB().QueryContext(ctx, `SELECT `+managedColumns+` FROM managed_keys WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*managedKey
	for rows.Next() {
		mk, err := scanManaged(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, mk)
	}
	return out, rows.Err()
}

// managedAll loads every record of a provider at once, for listings.
func (m *Manager) managedAll(ctx context.Context, providerName string) (map[string]*managedKey, error) {
	list, err := m.queryManaged(ctx, `provider = ?`, providerName)
	out := make(map[string]*managedKey, len(list))
	for _, mk := range list {
		out[mk.keyID] = mk
	}
	return out, err
}

func (m *Manager) saveManaged(ctx context.Context, mk managedKey) error {
	return m.saveManagedIn(context.WithoutCancel(ctx), m.opts.Store.DB(), mk)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (m *Manager) saveManagedIn(ctx context.Context, db execer, mk managedKey) error {
	var cs, ips any // NULL: not recorded
	if mk.narrowing {
		c, _ := json.Marshal(nonNilSlice(mk.constraints))
		i, _ := json.Marshal(nonNil(mk.allowedIPs))
		cs, ips = string(c), string(i)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO managed_keys (provider, key_id, name, expires_at, secret_file, created_by, created_at, born_at, constraints, allowed_ips, superseded_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (provider, key_id) DO UPDATE SET name = excluded.name, expires_at = excluded.expires_at, secret_file = excluded.secret_file,
			constraints = coalesce(excluded.constraints, managed_keys.constraints), allowed_ips = coalesce(excluded.allowed_ips, managed_keys.allowed_ips),
			superseded_by = excluded.superseded_by`,
		mk.provider, mk.keyID, mk.name, store.Millis(mk.expiresAt), mk.secretFile, mk.createdBy, m.now().UnixMilli(), store.Millis(mk.bornAt), cs, ips, mk.supersededBy)
	return err
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
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
func (m *Manager) dueManaged(ctx context.Context, now time.Time) ([]*managedKey, error) {
	return m.queryManaged(ctx, `expires_at IS NOT NULL AND expires_at <= ?`, now.UnixMilli())
}
