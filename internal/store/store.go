// Package store is keyward's one SQLite file: the local authority's keys, the
// audit log and metadata about remote keys keyward manages.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // pure-Go driver: no cgo, one static binary
)

// Store wraps the database handle; packages that own tables use DB().
type Store struct {
	db   *sql.DB
	path string
}

// Open creates (0700 directory, 0600 file) or opens the state file and brings
// its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("no state file given; set KEYWARD_DB to a file path")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the directory for KEYWARD_DB (%s): %w", dir, err)
	}
	if f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		return nil, fmt.Errorf("opening KEYWARD_DB (%s): %w", path, err)
	} else {
		f.Close()
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	// Writers take the lock up front so two keyward processes on one file
	// wait for each other instead of failing with SQLITE_BUSY mid-transaction.
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening KEYWARD_DB (%s): %w", path, err)
	}
	db.SetMaxOpenConns(8)
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("preparing KEYWARD_DB (%s): %w; if the file is not a keyward state file, point KEYWARD_DB elsewhere", path, err)
	}
	return s, nil
}

// DB is the shared handle for packages that own tables (local, audit, manager).
func (s *Store) DB() *sql.DB { return s.db }

// Path is the state file's location.
func (s *Store) Path() string { return s.path }

// Close flushes and closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Tx runs fn in one transaction: committed whole or not at all.
func (s *Store) Tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// migrations are applied in order; PRAGMA user_version counts the applied ones.
var migrations = []string{
	`CREATE TABLE local_keys (
		id           TEXT PRIMARY KEY,
		name         TEXT NOT NULL,
		scopes       TEXT NOT NULL,         -- space-separated
		start        TEXT NOT NULL,         -- visible beginning of the current secret
		last4        TEXT NOT NULL,
		active       INTEGER NOT NULL DEFAULT 1,
		created_at   INTEGER NOT NULL,      -- unix milliseconds
		expires_at   INTEGER,
		last_used_at INTEGER,
		revoked_at   INTEGER,
		updated_at   INTEGER NOT NULL
	);
	CREATE TABLE local_secrets (
		hash        TEXT PRIMARY KEY,       -- SHA-256 of the secret; the secret itself is never stored
		key_id      TEXT NOT NULL REFERENCES local_keys(id) ON DELETE CASCADE,
		created_at  INTEGER NOT NULL,
		valid_until INTEGER                 -- set when rotated away: the end of its grace
	);
	CREATE INDEX local_secrets_key ON local_secrets(key_id);
	CREATE TABLE audit (
		id             INTEGER PRIMARY KEY AUTOINCREMENT,
		at             INTEGER NOT NULL,
		tool           TEXT NOT NULL,
		provider       TEXT NOT NULL,
		key_id         TEXT NOT NULL DEFAULT '',
		key_name       TEXT NOT NULL DEFAULT '',
		scopes_before  TEXT,
		scopes_after   TEXT,
		expires_at     INTEGER,
		outcome        TEXT NOT NULL,
		error          TEXT NOT NULL DEFAULT '',
		detail         TEXT NOT NULL DEFAULT '',
		client_name    TEXT NOT NULL DEFAULT '',
		client_version TEXT NOT NULL DEFAULT '',
		session_id     TEXT NOT NULL DEFAULT '',
		transport      TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX audit_at ON audit(at);
	CREATE INDEX audit_key ON audit(provider, key_id);
	CREATE TABLE managed_keys (
		provider     TEXT NOT NULL,
		key_id       TEXT NOT NULL,
		name         TEXT NOT NULL DEFAULT '',
		expires_at   INTEGER,              -- keyward-enforced deadline (platforms without expiry)
		secret_file  TEXT NOT NULL DEFAULT '',
		created_by   TEXT NOT NULL DEFAULT '',
		created_at   INTEGER NOT NULL,
		PRIMARY KEY (provider, key_id)
	);`,
	// 2: what the human was asked; the start of a key's life across
	// re-issues (KEYWARD_MAX_TTL bounds it); the journal of creates in flight,
	// so a crash between create, delivery and record is undone at start-up.
	`ALTER TABLE audit ADD COLUMN confirmation TEXT NOT NULL DEFAULT '';
	ALTER TABLE managed_keys ADD COLUMN born_at INTEGER;
	ALTER TABLE managed_keys ADD COLUMN constraints TEXT;   -- JSON, as created; NULL: not recorded
	ALTER TABLE managed_keys ADD COLUMN allowed_ips TEXT;   -- JSON, as created; NULL: not recorded
	ALTER TABLE local_keys ADD COLUMN request_id TEXT;
	CREATE UNIQUE INDEX local_keys_request ON local_keys(request_id) WHERE request_id IS NOT NULL;
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
}

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var version int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("the file was written by a newer keyward (schema %d, this build knows %d); upgrade keyward", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("schema step %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}
