// Package records holds keyward's own records, beside the keys the providers
// keep: managed keys (a key keyward created — the deadline it enforces where
// the platform has none, its secret file, the start of its life, the
// narrowing it was created with) and the create journal (creates in flight,
// so one interrupted by a crash is undone at the next start). It owns their
// tables and SQL on both engines; the manager decides what they mean.
package records

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/store"
)

// Schema is the records' tables, for store.Open. Steps 1 and 2 are those of
// the single list SQLite files had before schemas were versioned per owner.
var Schema = store.Schema{Name: "records", Steps: []store.Step{
	{
		SQLite: `CREATE TABLE managed_keys (
			provider     TEXT NOT NULL,
			key_id       TEXT NOT NULL,
			name         TEXT NOT NULL DEFAULT '',
			expires_at   INTEGER,              -- keyward-enforced deadline (platforms without expiry)
			secret_file  TEXT NOT NULL DEFAULT '',
			created_by   TEXT NOT NULL DEFAULT '',
			created_at   INTEGER NOT NULL,
			PRIMARY KEY (provider, key_id)
		)`,
		Postgres: `CREATE TABLE managed_keys (
			provider     TEXT NOT NULL,
			key_id       TEXT NOT NULL,
			name         TEXT NOT NULL DEFAULT '',
			expires_at   BIGINT,
			secret_file  TEXT NOT NULL DEFAULT '',
			created_by   TEXT NOT NULL DEFAULT '',
			created_at   BIGINT NOT NULL,
			PRIMARY KEY (provider, key_id)
		)`,
	},
	// 2: the start of a key's life across re-issues (KEYWARD_MAX_TTL bounds
	// it), the narrowing it was created with, and the journal of creates.
	{
		SQLite: `ALTER TABLE managed_keys ADD COLUMN born_at INTEGER;
		ALTER TABLE managed_keys ADD COLUMN constraints TEXT;   -- JSON, as created; NULL: not recorded
		ALTER TABLE managed_keys ADD COLUMN allowed_ips TEXT;   -- JSON, as created; NULL: not recorded
		ALTER TABLE managed_keys ADD COLUMN superseded_by TEXT NOT NULL DEFAULT ''; -- a replacement's id: this key only works out its grace
		CREATE TABLE create_intents (
			id           TEXT PRIMARY KEY,     -- also the request id sent to the provider
			provider     TEXT NOT NULL,
			name         TEXT NOT NULL,
			tool         TEXT NOT NULL,
			holder       TEXT NOT NULL,        -- host/pid/nonce of the process making the call
			started_at   INTEGER NOT NULL,
			heartbeat_at INTEGER NOT NULL,
			key_id       TEXT NOT NULL DEFAULT '',
			secret_file  TEXT NOT NULL DEFAULT '',
			attempts     INTEGER NOT NULL DEFAULT 0
		);`,
		Postgres: `ALTER TABLE managed_keys ADD COLUMN born_at BIGINT;
		ALTER TABLE managed_keys ADD COLUMN constraints TEXT;
		ALTER TABLE managed_keys ADD COLUMN allowed_ips TEXT;
		ALTER TABLE managed_keys ADD COLUMN superseded_by TEXT NOT NULL DEFAULT '';
		CREATE TABLE create_intents (
			id           TEXT PRIMARY KEY,
			provider     TEXT NOT NULL,
			name         TEXT NOT NULL,
			tool         TEXT NOT NULL,
			holder       TEXT NOT NULL,
			started_at   BIGINT NOT NULL,
			heartbeat_at BIGINT NOT NULL,
			key_id       TEXT NOT NULL DEFAULT '',
			secret_file  TEXT NOT NULL DEFAULT '',
			attempts     INTEGER NOT NULL DEFAULT 0
		);`,
	},
	// 3: the answers to questions put to the human over several rounds that
	// were used, until they expire, so no answer is used twice on any replica.
	{
		SQLite: `CREATE TABLE spent_answers (
			nonce TEXT PRIMARY KEY,
			until INTEGER NOT NULL
		);
		CREATE INDEX spent_answers_until ON spent_answers(until);`,
		Postgres: `CREATE TABLE spent_answers (
			nonce TEXT PRIMARY KEY,
			until BIGINT NOT NULL
		);
		CREATE INDEX spent_answers_until ON spent_answers(until);`,
	},
}}

// Records reads and writes keyward's records in a store opened with Schema.
type Records struct {
	st  *store.Store
	now func() time.Time
}

// New uses st; now stamps when a key was first recorded (nil: time.Now).
func New(st *store.Store, now func() time.Time) *Records {
	if now == nil {
		now = time.Now
	}
	return &Records{st: st, now: now}
}

// Managed is keyward's record of a key it created.
type Managed struct {
	Provider   string
	KeyID      string
	Name       string
	ExpiresAt  *time.Time // the deadline keyward enforces; nil: none
	SecretFile string
	CreatedBy  string
	RecordedAt time.Time  // when keyward first recorded the key (set by Save)
	BornAt     *time.Time // the start of the key's life, kept across re-issues
	// What the key was created with below its scopes. A platform may not
	// list them, and a replacement must carry them; Narrowing says they
	// were recorded (nil lists then mean none).
	Constraints []provider.Constraint
	AllowedIPs  []string
	Narrowing   bool
	// SupersededBy is the replacement of a key that only works out the grace
	// of a rotation or re-issue.
	SupersededBy string
}

const managedColumns = `provider, key_id, name, expires_at, secret_file, created_by, created_at, born_at, constraints, allowed_ips, superseded_by`

type scanner interface{ Scan(dest ...any) error }

func scanManaged(r scanner) (*Managed, error) {
	var (
		mk        Managed
		exp, born sql.NullInt64
		recorded  int64
		cs, ips   sql.NullString
	)
	if err := r.Scan(&mk.Provider, &mk.KeyID, &mk.Name, &exp, &mk.SecretFile, &mk.CreatedBy, &recorded, &born, &cs, &ips, &mk.SupersededBy); err != nil {
		return nil, err
	}
	mk.ExpiresAt, mk.BornAt, mk.RecordedAt = store.FromMillis(exp), store.FromMillis(born), time.UnixMilli(recorded).UTC()
	if cs.Valid && ips.Valid {
		if json.Unmarshal([]byte(cs.String), &mk.Constraints) == nil && json.Unmarshal([]byte(ips.String), &mk.AllowedIPs) == nil {
			mk.Narrowing = true
		}
	}
	return &mk, nil
}

// Get is the record of one key; nil (and no error) when there is none.
func (r *Records) Get(ctx context.Context, providerName, keyID string) (*Managed, error) {
	mk, err := scanManaged(r.st.DB().QueryRowContext(ctx, r.st.Q(`SELECT `+managedColumns+` FROM managed_keys WHERE provider = ? AND key_id = ?`), providerName, store.Text(keyID)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return mk, r.st.Scrub(err)
}

func (r *Records) query(ctx context.Context, where string, args ...any) ([]*Managed, error) {
	rows, err := r.st.DB().QueryContext(ctx, r.st.Q(`SELECT `+managedColumns+` FROM managed_keys WHERE `+where+` ORDER BY created_at, provider, key_id`), args...)
	if err != nil {
		return nil, r.st.Scrub(err)
	}
	defer rows.Close()
	var out []*Managed
	for rows.Next() {
		mk, err := scanManaged(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, mk)
	}
	return out, r.st.Scrub(rows.Err())
}

// All is every record of a provider, by key id.
func (r *Records) All(ctx context.Context, providerName string) (map[string]*Managed, error) {
	list, err := r.query(ctx, `provider = ?`, providerName)
	out := make(map[string]*Managed, len(list))
	for _, mk := range list {
		out[mk.KeyID] = mk
	}
	return out, err
}

// ByFile lists the records of a provider that name the secret file path.
func (r *Records) ByFile(ctx context.Context, providerName, path string) ([]*Managed, error) {
	return r.query(ctx, `provider = ? AND secret_file = ?`, providerName, store.Text(path))
}

// WithFiles lists every record that names a secret file.
func (r *Records) WithFiles(ctx context.Context) ([]*Managed, error) {
	return r.query(ctx, `secret_file <> ''`)
}

// Due lists the keys whose keyward-enforced deadline is at or before now.
func (r *Records) Due(ctx context.Context, now time.Time) ([]*Managed, error) {
	return r.query(ctx, `expires_at IS NOT NULL AND expires_at <= ?`, now.UnixMilli())
}

// Save writes mk, replacing the record of the same key: its name, deadline,
// secret file and replacement, and its narrowing when mk has one. The first recording
// time and the start of life stay as first written.
func (r *Records) Save(ctx context.Context, mk Managed) error {
	return r.save(context.WithoutCancel(ctx), r.st.DB(), mk)
}

// SaveTx is Save inside tx, so the record commits with what it records.
func (r *Records) SaveTx(ctx context.Context, tx *sql.Tx, mk Managed) error {
	return r.save(ctx, tx, mk)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (r *Records) save(ctx context.Context, db execer, mk Managed) error {
	var cs, ips any // NULL: not recorded
	if mk.Narrowing {
		c, _ := json.Marshal(nonNil(mk.Constraints))
		i, _ := json.Marshal(nonNil(mk.AllowedIPs))
		cs, ips = string(c), string(i)
	}
	_, err := db.ExecContext(ctx, r.st.Q(`INSERT INTO managed_keys (provider, key_id, name, expires_at, secret_file, created_by, created_at, born_at, constraints, allowed_ips, superseded_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (provider, key_id) DO UPDATE SET name = excluded.name, expires_at = excluded.expires_at, secret_file = excluded.secret_file,
			constraints = coalesce(excluded.constraints, managed_keys.constraints), allowed_ips = coalesce(excluded.allowed_ips, managed_keys.allowed_ips),
			superseded_by = excluded.superseded_by`),
		mk.Provider, store.Text(mk.KeyID), store.Text(mk.Name), store.Millis(mk.ExpiresAt), store.Text(mk.SecretFile), store.Text(mk.CreatedBy),
		r.now().UnixMilli(), store.Millis(mk.BornAt), cs, ips, store.Text(mk.SupersededBy))
	return r.st.Scrub(err)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Forget deletes the record of one key (none is not an error).
func (r *Records) Forget(ctx context.Context, providerName, keyID string) error {
	return r.ForgetTx(context.WithoutCancel(ctx), nil, providerName, keyID)
}

// ForgetTx is Forget inside tx (nil: on its own).
func (r *Records) ForgetTx(ctx context.Context, tx *sql.Tx, providerName, keyID string) error {
	var db execer = r.st.DB()
	if tx != nil {
		db = tx
	}
	_, err := db.ExecContext(ctx, r.st.Q(`DELETE FROM managed_keys WHERE provider = ? AND key_id = ?`), providerName, store.Text(keyID))
	return r.st.Scrub(err)
}

// ByCreator lists the records of keys created by createdBy (as Managed.CreatedBy
// names them) at or after since, oldest first.
func (r *Records) ByCreator(ctx context.Context, createdBy string, since time.Time) ([]*Managed, error) {
	return r.query(ctx, `created_by = ? AND created_at >= ?`, store.Text(createdBy), since.UnixMilli())
}

// WithCreator lists every record that names who created its key.
func (r *Records) WithCreator(ctx context.Context) ([]*Managed, error) {
	return r.query(ctx, `created_by <> ''`)
}
