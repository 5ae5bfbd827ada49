package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
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
