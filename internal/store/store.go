// Package store is keyward's one SQLite file: the local authority's keys, the
// audit log and metadata about remote keys keyward manages.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	_ "modernc.org/sqlite" // pure-Go driver: no cgo, one static binary
)

// Store wraps the database handle; packages that own tables use DB().
type Store struct {
	db   *sql.DB
	path string
}

// Open creates (0700 directory, 0600 file) or opens the state file and brings
// its schema up to date. An existing file, and its -wal, -shm and -journal
// files, that other users could read are made 0600, and a directory of its
// own that they could enter is made 0700 (see makePrivate); when that is not
// possible, Open refuses and says how to fix it.
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
	if err := makePrivate(path); err != nil {
		return nil, err
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

// chmod is os.Chmod; tests replace it to see a refusal (they run as root,
// who may chmod anything).
var chmod = os.Chmod

// sideFiles are the files SQLite keeps beside the state file.
var sideFiles = []string{"-wal", "-shm", "-journal"}

// makePrivate keeps the state where only its owner can reach it:
//
//   - the state file and its side files are made 0600 if other users have
//     any access to them;
//   - the directory is made 0700 if other users have any access to it and it
//     holds nothing but keyward's state (the file, its side files and the
//     secrets directory), as the default ~/.local/share/keyward does;
//   - a directory shared with other things (a home directory, /tmp, a
//     project) is never changed: keyward refuses to start when other users
//     can write to it, since they could replace the state's files, and
//     otherwise leaves it, as the files in it are private.
//
// Windows file modes do not carry these permissions, so nothing is done there.
func makePrivate(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("checking the directory of KEYWARD_DB (%s): %w", dir, err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		own, err := onlyState(dir, filepath.Base(path))
		switch {
		case err != nil:
			return fmt.Errorf("checking the directory of KEYWARD_DB (%s): %w", dir, err)
		case own:
			if err := chmod(dir, 0o700); err != nil {
				return fmt.Errorf("the directory of KEYWARD_DB (%s) is mode %04o, so other users can enter it, and keyward could not make it 0700 (%s); run `chmod 700 %s` as its owner, or set KEYWARD_DB to a file in a directory you own",
					dir, perm, reason(err), dir)
			}
		case perm&0o022 != 0:
			return fmt.Errorf("KEYWARD_DB (%s) is in a directory other users can write to (mode %04o), where they could replace or plant its files; set KEYWARD_DB to a file in a directory of its own, such as ~/.local/share/keyward/keyward.db",
				path, perm)
		}
	}
	for _, p := range append([]string{path}, sidePaths(path)...) {
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("checking %s: %w; check KEYWARD_DB", p, err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			if err := chmod(p, 0o600); err != nil {
				return fmt.Errorf("%s is mode %04o, so other users can read the state in it, and keyward could not make it 0600 (%s); run `chmod 600 %s*` as its owner, or set KEYWARD_DB to a file you own",
					p, perm, reason(err), path)
			}
		}
	}
	return nil
}

func sidePaths(path string) []string {
	out := make([]string, len(sideFiles))
	for i, s := range sideFiles {
		out[i] = path + s
	}
	return out
}

// onlyState reports whether dir holds nothing but the state file named base,
// its side files and the secrets directory.
func onlyState(dir, base string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	entries, err := f.ReadDir(16)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	if len(entries) == 16 {
		return false, nil
	}
	for _, e := range entries {
		name := e.Name()
		if name != base && name != "secrets" && !(strings.HasPrefix(name, base+"-") && slices.Contains(sideFiles, name[len(base):])) {
			return false, nil
		}
	}
	return true, nil
}

// reason is why a chmod failed, without repeating the path.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
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
	ALTER TABLE managed_keys ADD COLUMN superseded_by TEXT NOT NULL DEFAULT ''; -- a replacement's id: this key only works out its grace
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
