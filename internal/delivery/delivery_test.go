package delivery

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
)

func newSecret(t *testing.T, id string) provider.Created {
	t.Helper()
	s, err := secret.Generate()
	require.NoError(t, err)
	return provider.Created{Key: provider.Key{ID: id, Name: "svc"}, Secret: s}
}

func content(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// A replacement takes the old key's file over: the journal hears of it once
// the old secret is safe beside the file and before the file changes.
func TestDeliverTakesAFileOver(t *testing.T) {
	dir := t.TempDir()
	f := Files{Mode: secret.ModeFile, Dir: dir}
	old := newSecret(t, "1")
	path, err := secret.WriteFile(dir, "vast", old.Key.ID, old.Secret)
	require.NoError(t, err)

	next := newSecret(t, "2")
	var claimed string
	at := Place{Path: path, KeepPrevious: true, Claim: func(p string) {
		claimed = p
		assert.Equal(t, old.Secret+"\n", content(t, secret.PreviousPath(p)), "the old secret is kept before the take-over is claimed")
		assert.Equal(t, old.Secret+"\n", content(t, p), "and the file is not changed yet")
	}}
	r, err := f.Deliver(context.Background(), "vast", "Vast.ai", next, at)
	require.NoError(t, err)
	assert.Equal(t, path, claimed)
	assert.Equal(t, path, r.File)
	assert.Equal(t, secret.PreviousPath(path), r.Previous)
	assert.Equal(t, next.Secret+"\n", content(t, path))
	assert.ElementsMatch(t, []string{"vast-1.key", "vast-1.key.previous"}, names(t, dir))
}

// With no old secret on disk there is nothing to take over: the new key's
// file is its own.
func TestDeliverWithNothingToTakeOver(t *testing.T) {
	dir := t.TempDir()
	f := Files{Mode: secret.ModeFile, Dir: dir}
	next := newSecret(t, "2")
	r, err := f.Deliver(context.Background(), "vast", "Vast.ai", next, Place{Path: filepath.Join(dir, "vast-1.key"), KeepPrevious: true,
		Claim: func(string) { t.Error("nothing was taken over") }})
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "vast-2.key"), r.File)
	assert.Empty(t, r.Previous)
}

// A replacement that cannot be written leaves the file as it was.
func TestDeliverThatFailsPutsTheOldSecretBack(t *testing.T) {
	dir := t.TempDir()
	f := Files{Mode: secret.ModeFile, Dir: dir}
	old := newSecret(t, "1")
	path, err := secret.WriteFile(dir, "vast", old.Key.ID, old.Secret)
	require.NoError(t, err)
	// A directory where the staging file goes makes the write fail.
	require.NoError(t, os.MkdirAll(filepath.Join(secret.StagingPath(path), "x"), 0o700))

	next := newSecret(t, "2")
	_, err = f.Deliver(context.Background(), "vast", "Vast.ai", next, Place{Path: path, KeepPrevious: true, Claim: func(string) {}})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), next.Secret)
	assert.NotContains(t, err.Error(), old.Secret)
	assert.Equal(t, old.Secret+"\n", content(t, path))
	_, err = os.Stat(secret.PreviousPath(path))
	assert.True(t, os.IsNotExist(err), "the kept copy went back into the file")
}

// Inline mode writes no file; the old secret's file would mislead whoever
// reads it, so it goes (kept beside its path when asked).
func TestDeliverInlineRetiresTheOldFile(t *testing.T) {
	for _, keep := range []bool{true, false} {
		dir := t.TempDir()
		f := Files{Mode: secret.ModeInline, Dir: dir}
		old := newSecret(t, "1")
		path, err := secret.WriteFile(dir, "local", old.Key.ID, old.Secret)
		require.NoError(t, err)
		next := newSecret(t, "1")
		r, err := f.Deliver(context.Background(), "local", "keyward", next, Place{Path: path, KeepPrevious: keep})
		require.NoError(t, err)
		assert.Equal(t, next.Secret, r.Secret)
		assert.Empty(t, r.File)
		assert.Equal(t, path, r.Retired)
		if keep {
			assert.Equal(t, secret.PreviousPath(path), r.Previous)
			assert.Equal(t, []string{"local-1.key.previous"}, names(t, dir))
		} else {
			assert.Empty(t, r.Previous)
			assert.Empty(t, names(t, dir))
		}
	}
}
