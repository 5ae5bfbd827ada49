package secret

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadFileReadsWhatKeywardWrote(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir := filepath.Join(base, "secrets")
	key := mustGenerate(t)
	path, err := WriteFile(dir, "local", "key_1", key)
	require.NoError(t, err)
	_, err = KeepPrevious(path)
	require.NoError(t, err)

	for _, p := range []string{path, PreviousPath(path)} {
		got, err := ReadFile(dir, p)
		require.NoError(t, err, p)
		assert.Equal(t, key, got, "the newline is not part of the secret")
	}

	// Links are resolved on both sides: a directory reached through a link,
	// and a link inside it to a file keyward wrote there, are inside.
	via := filepath.Join(base, "via")
	require.NoError(t, os.Symlink(dir, via))
	got, err := ReadFile(via, filepath.Join(via, filepath.Base(path)))
	require.NoError(t, err)
	assert.Equal(t, key, got)
	alias := filepath.Join(dir, "local-key_alias.key")
	require.NoError(t, os.Symlink(path, alias))
	got, err = ReadFile(dir, alias)
	require.NoError(t, err)
	assert.Equal(t, key, got)
}

func TestReadFileRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := mustGenerate(t)
	outside := filepath.Join(t.TempDir(), "vast-1.key")
	require.NoError(t, os.WriteFile(outside, []byte(key), 0o600))
	link := filepath.Join(dir, "vast-2.key")
	require.NoError(t, os.Symlink(outside, link))
	dangling := filepath.Join(dir, "vast-3.key")
	require.NoError(t, os.Symlink(filepath.Join(dir, "gone"), dangling))
	big := filepath.Join(dir, "vast-4.key")
	require.NoError(t, os.WriteFile(big, make([]byte, MaxFileSize+1), 0o600))
	odd := filepath.Join(dir, "vast-5.txt")
	require.NoError(t, os.WriteFile(odd, []byte(key), 0o600))

	for path, want := range map[string]string{
		outside:                    "is not inside KEYWARD_SECRETS_DIR",
		link:                       "is a link to a file outside KEYWARD_SECRETS_DIR",
		dangling:                   "is a link that leads nowhere",
		big:                        "bytes long",
		odd:                        "is not a secret file keyward wrote",
		dir + "/../x/vast-1.key":   `contains ".."`,
		"vast-1.key":               "is not absolute",
		filepath.Join(dir, "none"): "there is no file at",
		dir:                        "is KEYWARD_SECRETS_DIR itself",
	} {
		_, err := ReadFile(dir, path)
		require.Error(t, err, path)
		assert.Contains(t, err.Error(), want, path)
		assertNoLeak(t, key, err)
	}
	_, err := ReadFile("", outside)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "KEYWARD_SECRETS_DIR")
}
