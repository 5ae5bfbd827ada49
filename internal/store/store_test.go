package store

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	require.NoError(t, err)
	return info.Mode().Perm()
}

func userVersion(t *testing.T, s *Store) int {
	t.Helper()
	var v int
	require.NoError(t, s.DB().QueryRow("PRAGMA user_version").Scan(&v))
	return v
}

func TestOpenCreatesPrivateDirAndFile(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b")
	path := filepath.Join(dir, "keyward.db")
	s, err := Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()

	assert.Equal(t, path, s.Path())
	assert.Equal(t, os.FileMode(0o700), mode(t, dir))
	assert.Equal(t, os.FileMode(0o700), mode(t, filepath.Join(base, "a")), "parents too")
	assert.Equal(t, os.FileMode(0o600), mode(t, path))

	// A write creates the WAL; it must be as private as the file.
	_, err = s.DB().ExecContext(ctx, `INSERT INTO audit (at, tool, provider, outcome) VALUES (1, 't', 'local', 'ok')`)
	require.NoError(t, err)
	for _, side := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + side); err == nil {
			assert.Equal(t, os.FileMode(0o600), mode(t, path+side), side)
		}
	}
	_, err = os.Stat(path + "-wal")
	require.NoError(t, err, "WAL mode")
}

func TestOpenSetsPragmasOnEveryConnection(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	require.NoError(t, err)
	defer s.Close()
	// Hold several connections at once so the pool opens more than one.
	var conns []*sql.Conn
	for range 4 {
		c, err := s.DB().Conn(ctx)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	for _, c := range conns {
		var jm string
		var fk, bt int
		require.NoError(t, c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&jm))
		require.NoError(t, c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk))
		require.NoError(t, c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&bt))
		assert.Equal(t, "wal", jm)
		assert.Equal(t, 1, fk)
		assert.Equal(t, 10000, bt)
		c.Close()
	}
}

func TestOpenSchema(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, len(migrations), userVersion(t, s))
	for _, table := range []string{"local_keys", "local_secrets", "audit", "managed_keys"} {
		var n int
		require.NoError(t, s.DB().QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n))
		assert.Equal(t, 1, n, table)
	}
	// Secrets cascade with their key.
	_, err = s.DB().Exec(`INSERT INTO local_keys (id, name, scopes, start, last4, created_at, updated_at) VALUES ('k', 'n', '', 'kw_', 'abcd', 1, 1)`)
	require.NoError(t, err)
	_, err = s.DB().Exec(`INSERT INTO local_secrets (hash, key_id, created_at) VALUES ('h', 'k', 1)`)
	require.NoError(t, err)
	_, err = s.DB().Exec(`INSERT INTO local_secrets (hash, key_id, created_at) VALUES ('h2', 'missing', 1)`)
	require.Error(t, err, "foreign keys enforced")
	_, err = s.DB().Exec(`DELETE FROM local_keys WHERE id = 'k'`)
	require.NoError(t, err)
	var n int
	require.NoError(t, s.DB().QueryRow(`SELECT count(*) FROM local_secrets`).Scan(&n))
	assert.Zero(t, n)
}

func TestReopenIsIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "k.db")
	s, err := Open(ctx, path)
	require.NoError(t, err)
	_, err = s.DB().Exec(`INSERT INTO audit (at, tool, provider, outcome) VALUES (1, 'create_key', 'local', 'ok')`)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	for range 3 {
		s, err = Open(ctx, path)
		require.NoError(t, err)
		assert.Equal(t, len(migrations), userVersion(t, s))
		var n int
		require.NoError(t, s.DB().QueryRow(`SELECT count(*) FROM audit`).Scan(&n))
		assert.Equal(t, 1, n, "data survives reopening")
		require.NoError(t, s.Close())
	}
	assert.Equal(t, os.FileMode(0o600), mode(t, path))
}

func TestTwoStoresOnOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "k.db")
	a, err := Open(ctx, path)
	require.NoError(t, err)
	defer a.Close()
	b, err := Open(ctx, path)
	require.NoError(t, err)
	defer b.Close()
	_, err = a.DB().Exec(`INSERT INTO audit (at, tool, provider, outcome) VALUES (1, 't', 'local', 'ok')`)
	require.NoError(t, err)
	var n int
	require.NoError(t, b.DB().QueryRow(`SELECT count(*) FROM audit`).Scan(&n))
	assert.Equal(t, 1, n)
}

func TestNewerSchemaIsRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "k.db")
	s, err := Open(ctx, path)
	require.NoError(t, err)
	_, err = s.DB().Exec("PRAGMA user_version = 99")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = Open(ctx, path)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "newer keyward")
	assert.Contains(t, msg, "schema 99")
	assert.Contains(t, msg, "upgrade keyward")
	assert.Contains(t, msg, "KEYWARD_DB")
	assert.Contains(t, msg, path)
}

func TestNonSQLiteFileIsRefusedAndLeftAlone(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "notes.txt")
	content := []byte(strings.Repeat("these are my notes, not a database.\n", 200))
	require.NoError(t, os.WriteFile(path, content, 0o600))
	_, err := Open(ctx, path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "KEYWARD_DB")
	assert.Contains(t, err.Error(), path)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, content, got, "the file is not modified")
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	_, err := Open(ctx, "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "KEYWARD_DB")

	base := t.TempDir()
	blocker := filepath.Join(base, "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	_, err = Open(ctx, filepath.Join(blocker, "sub", "k.db"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "KEYWARD_DB")

	_, err = Open(ctx, base) // a directory
	require.Error(t, err)
	assert.Contains(t, err.Error(), "KEYWARD_DB")
}

func TestTx(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	require.NoError(t, err)
	defer s.Close()
	count := func() int {
		var n int
		require.NoError(t, s.DB().QueryRow(`SELECT count(*) FROM audit`).Scan(&n))
		return n
	}
	boom := errors.New("boom")
	err = s.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO audit (at, tool, provider, outcome) VALUES (1, 't', 'local', 'ok')`)
		require.NoError(t, err)
		return boom
	})
	require.ErrorIs(t, err, boom)
	assert.Zero(t, count(), "rolled back")

	require.NoError(t, s.Tx(ctx, func(tx *sql.Tx) error {
		for range 3 {
			if _, err := tx.Exec(`INSERT INTO audit (at, tool, provider, outcome) VALUES (1, 't', 'local', 'ok')`); err != nil {
				return err
			}
		}
		return nil
	}))
	assert.Equal(t, 3, count())

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.Error(t, s.Tx(cctx, func(*sql.Tx) error { return nil }))
}

func TestMillis(t *testing.T) {
	assert.Nil(t, Millis(nil))
	assert.Nil(t, FromMillis(sql.NullInt64{}))
	tm := time.Date(2025, 1, 2, 3, 4, 5, 678_900_000, time.FixedZone("X", 7200))
	ms := Millis(&tm)
	assert.Equal(t, tm.UnixMilli(), ms)
	back := FromMillis(sql.NullInt64{Int64: ms.(int64), Valid: true})
	require.NotNil(t, back)
	assert.True(t, back.Equal(tm.Truncate(time.Millisecond)))
	assert.Equal(t, time.UTC, back.Location())
	zero := FromMillis(sql.NullInt64{Valid: true})
	require.NotNil(t, zero)
	assert.Equal(t, int64(0), zero.UnixMilli())
}

// chmodAll sets modes whatever the umask.
func chmodAll(t *testing.T, m os.FileMode, paths ...string) {
	t.Helper()
	for _, p := range paths {
		require.NoError(t, os.Chmod(p, m))
	}
}

// A state directory and files left readable by others (an older keyward, a
// copy, a restore from backup) are made private at open.
func TestOpenTightensExistingStateDirAndFiles(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keyward")
	path := filepath.Join(dir, "keyward.db")
	s, err := Open(ctx, path)
	require.NoError(t, err)
	_, err = s.DB().ExecContext(ctx, `INSERT INTO audit (at, tool, provider, outcome) VALUES (1, 't', 'local', 'ok')`)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, os.Mkdir(filepath.Join(dir, "secrets"), 0o700))
	for _, side := range []string{"-wal", "-shm"} {
		require.NoError(t, os.WriteFile(path+side, nil, 0o644))
	}
	chmodAll(t, 0o755, dir)
	chmodAll(t, 0o644, path, path+"-wal", path+"-shm")

	s, err = Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, os.FileMode(0o700), mode(t, dir))
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		assert.Equal(t, os.FileMode(0o600), mode(t, p), p)
	}
	var n int
	require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT count(*) FROM audit`).Scan(&n))
	assert.Equal(t, 1, n, "the state is intact")
	_, err = s.DB().ExecContext(ctx, `INSERT INTO audit (at, tool, provider, outcome) VALUES (2, 't', 'local', 'ok')`)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), mode(t, path+"-wal"), "the WAL keyward writes stays private")
}

func TestOpenTightensAGroupReadableFileInAPrivateDir(t *testing.T) {
	dir := t.TempDir()
	chmodAll(t, 0o700, dir)
	path := filepath.Join(dir, "k.db")
	require.NoError(t, os.WriteFile(path, nil, 0o640))
	chmodAll(t, 0o640, path)
	s, err := Open(context.Background(), path)
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, os.FileMode(0o600), mode(t, path))
}

// When keyward cannot tighten them (not the owner), it refuses to start and
// says what to run.
func TestOpenRefusesWhatItCannotMakePrivate(t *testing.T) {
	denied := func(name string, _ os.FileMode) error {
		return &fs.PathError{Op: "chmod", Path: name, Err: syscall.EPERM}
	}
	t.Run("directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state")
		require.NoError(t, os.Mkdir(dir, 0o755))
		chmodAll(t, 0o755, dir)
		path := filepath.Join(dir, "keyward.db")
		chmod = denied
		defer func() { chmod = os.Chmod }()

		s, err := Open(context.Background(), path)
		require.Error(t, err)
		assert.Nil(t, s)
		msg := err.Error()
		assert.Contains(t, msg, "the directory of KEYWARD_DB ("+dir+") is mode 0755")
		assert.Contains(t, msg, "operation not permitted")
		assert.Contains(t, msg, "run `chmod 700 "+dir+"` as its owner")
		assert.Equal(t, os.FileMode(0o755), mode(t, dir))
	})
	privateDir := func(t *testing.T) string {
		dir := t.TempDir()
		chmodAll(t, 0o700, dir)
		return dir
	}
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(privateDir(t), "keyward.db")
		require.NoError(t, os.WriteFile(path, nil, 0o644))
		chmodAll(t, 0o644, path)
		chmod = denied
		defer func() { chmod = os.Chmod }()

		_, err := Open(context.Background(), path)
		require.Error(t, err)
		msg := err.Error()
		assert.Contains(t, msg, path+" is mode 0644, so other users can read the state in it")
		assert.Contains(t, msg, "run `chmod 600 "+path+"*` as its owner")
	})
	t.Run("WAL file", func(t *testing.T) {
		path := filepath.Join(privateDir(t), "keyward.db")
		require.NoError(t, os.WriteFile(path+"-wal", nil, 0o644))
		chmodAll(t, 0o644, path+"-wal")
		chmod = denied
		defer func() { chmod = os.Chmod }()

		_, err := Open(context.Background(), path)
		require.Error(t, err)
		assert.Contains(t, err.Error(), path+"-wal is mode 0644")
	})
}

// A directory that holds other things than keyward's state (a home
// directory, a project) is never chmod-ed: only the state files are made
// private in it. One that other users can write to is refused.
func TestOpenDoesNotChangeASharedDirectory(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644))
	chmodAll(t, 0o755, dir)
	path := filepath.Join(dir, "keyward.db")
	s, err := Open(context.Background(), path)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	assert.Equal(t, os.FileMode(0o755), mode(t, dir), "not keyward's to change")
	assert.Equal(t, os.FileMode(0o600), mode(t, path))

	for _, m := range []os.FileMode{0o777, 0o777 | os.ModeSticky, 0o775} {
		chmodAll(t, m, dir)
		_, err := Open(context.Background(), path)
		require.Error(t, err, "mode %v", m)
		assert.Contains(t, err.Error(), "is in a directory other users can write to")
		assert.Contains(t, err.Error(), "set KEYWARD_DB to a file in a directory of its own")
		info, err := os.Stat(dir)
		require.NoError(t, err)
		assert.Equal(t, m, info.Mode()&(os.ModePerm|os.ModeSticky), "left as it was")
	}
	chmodAll(t, 0o700, dir)
}
