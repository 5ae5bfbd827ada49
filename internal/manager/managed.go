package manager

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
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

// A key's secret file keeps one path for its whole line: a native rotation
// replaces its content, a replacement key takes it over, and the secret a
// rotation replaced stays readable beside it (secret.PreviousPath) while it
// still works. Each such .previous file is named by exactly one record,
// which removes it when that secret stops:
//
//   - after a replacement, the replaced key's own record (superseded, with
//     the grace as its deadline): the reaper revokes the key and removes it;
//   - after a native rotation, which keeps the key's id, a previous-secret
//     record: key id <id>#previous, superseded by the key itself, with the
//     end of the platform's grace as its deadline. The reaper removes the
//     file then and revokes nothing (the platform ends the grace itself).
//
// No managed_keys column is needed for it, and no platform's key id has the
// form <id>#previous with itself as its replacement.
const previousMark = "#previous"

// previousOf is the previous-secret record of a key's .previous file.
func previousOf(providerName, keyID, name, file string, until time.Time) managedKey {
	return managedKey{provider: providerName, keyID: keyID + previousMark, name: name, expiresAt: &until, secretFile: file, supersededBy: keyID}
}

// isPreviousSecret reports whether the record is a previous-secret record,
// not a key.
func (mk *managedKey) isPreviousSecret() bool {
	return mk != nil && mk.supersededBy != "" && mk.keyID == mk.supersededBy+previousMark
}

// lineFile is the secret file a key's successor (its next secret, or a key
// that replaces it) takes over: the key's own file, when keyward wrote it in
// the secrets directory in force. "" when there is none; the successor then
// starts a file named after itself.
func (m *Manager) lineFile(mk *managedKey) string {
	if mk == nil || mk.secretFile == "" || m.opts.SecretsDir == "" || mk.isPreviousSecret() {
		return ""
	}
	if filepath.Dir(mk.secretFile) != filepath.Clean(m.opts.SecretsDir) || !strings.HasSuffix(mk.secretFile, ".key") {
		return ""
	}
	return mk.secretFile
}

// managedByFile lists the records that name a secret file.
func (m *Manager) managedByFile(ctx context.Context, providerName, path string) ([]*managedKey, error) {
	return m.queryManaged(ctx, `provider = ? AND secret_file = ?`, providerName, path)
}

// release makes every record but keep's let go of a file that is about to
// hold another secret: a key keeps its record with no file, a
// previous-secret record goes.
func (m *Manager) release(ctx context.Context, providerName, path, keep string) {
	holders, err := m.managedByFile(ctx, providerName, path)
	if err != nil {
		m.log.Warn("reading which records name a secret file failed", "file", path, "err", err)
		return
	}
	for _, mk := range holders {
		if mk.keyID == keep {
			continue
		}
		if mk.isPreviousSecret() {
			err = m.forgetManaged(ctx, providerName, mk.keyID)
		} else {
			mk.secretFile = ""
			err = m.saveManaged(ctx, *mk)
		}
		if err != nil {
			m.log.Warn("releasing a secret file from a record failed", "file", path, "key_id", mk.keyID, "err", err)
		}
	}
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

// dueManaged lists the records whose keyward-enforced deadline has passed:
// keys, and previous-secret records whose grace ended.
func (m *Manager) dueManaged(ctx context.Context, now time.Time) ([]*managedKey, error) {
	return m.queryManaged(ctx, `expires_at IS NOT NULL AND expires_at <= ?`, now.UnixMilli())
}
