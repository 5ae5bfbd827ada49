package secret

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Mode{"": ModeFile, "file": ModeFile, "inline": ModeInline, "elicit": ModeElicit} {
		got, err := ParseMode(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"screen", "stdout", "files", "inline ", "none"} {
		_, err := ParseMode(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), "KEYWARD_REVEAL")
		assert.Contains(t, err.Error(), "file, inline, elicit or url")
	}
}

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	require.NoError(t, err)
	return info.Mode().Perm()
}

func TestFileName(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "vast-123.key", FileName("vast", "123"))
	assert.Equal(t, "local-key_abc.key", FileName("local", "key_abc"))
	for _, id := range []string{"../../etc/passwd", "a/b", `a\b`, "x y", "..", "/", "a:b"} {
		name := FileName("vast", id)
		assert.NotContains(t, name, "/", id)
		assert.NotContains(t, name, `\`, id)
		assert.NotContains(t, name, " ", id)
		assert.True(t, strings.HasPrefix(name, "vast-"), id)
		assert.Equal(t, name, filepath.Base(name), id)
	}
}

func TestWriteFileCreatesPrivateFileInPrivateDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "secrets")
	key := mustGenerate(t)
	path, err := WriteFile(dir, "local", "key_1", key)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "local-key_1.key"), path)
	assert.Equal(t, os.FileMode(0o700), perm(t, dir))
	assert.Equal(t, os.FileMode(0o600), perm(t, path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, key+"\n", string(b))
}

func TestWriteFileTightensExistingDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Chmod(dir, 0o755)) // whatever the umask
	require.Equal(t, os.FileMode(0o755), perm(t, dir))
	path, err := WriteFile(dir, "vast", "9", "s3cret")
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), perm(t, dir))
	assert.Equal(t, os.FileMode(0o600), perm(t, path))
}

func TestEnsurePrivateDir(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir := filepath.Join(base, "x", "y")
	require.NoError(t, EnsurePrivateDir(dir))
	assert.Equal(t, os.FileMode(0o700), perm(t, dir))
	require.NoError(t, EnsurePrivateDir(dir), "idempotent")
	require.NoError(t, os.Chmod(dir, 0o777))
	require.NoError(t, EnsurePrivateDir(dir))
	assert.Equal(t, os.FileMode(0o700), perm(t, dir))

	file := filepath.Join(base, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	err := EnsurePrivateDir(filepath.Join(file, "sub"))
	require.Error(t, err)
}

func TestWriteFileNeverOverwrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, second, third := mustGenerate(t), mustGenerate(t), mustGenerate(t)

	p1, err := WriteFile(dir, "vast", "42", first)
	require.NoError(t, err)
	p2, err := WriteFile(dir, "vast", "42", second)
	require.NoError(t, err)
	p3, err := WriteFile(dir, "vast", "42", third)
	require.NoError(t, err)

	assert.Equal(t, filepath.Join(dir, "vast-42.key"), p1)
	assert.Equal(t, filepath.Join(dir, "vast-42.2.key"), p2)
	assert.Equal(t, filepath.Join(dir, "vast-42.3.key"), p3)
	for path, want := range map[string]string{p1: first, p2: second, p3: third} {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, want+"\n", string(b), path)
		assert.Equal(t, os.FileMode(0o600), perm(t, path))
	}

	// A freed name is reused rather than a later one being skipped to.
	removed, err := RemoveFile(p2)
	require.NoError(t, err)
	assert.True(t, removed)
	p4, err := WriteFile(dir, "vast", "42", "fourth")
	require.NoError(t, err)
	assert.Equal(t, p2, p4)
	b, err := os.ReadFile(p1)
	require.NoError(t, err)
	assert.Equal(t, first+"\n", string(b), "the first file is never touched")
}

func TestWriteFileDoesNotFollowAnExistingSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere")
	require.NoError(t, os.WriteFile(target, []byte("keep me"), 0o644))
	require.NoError(t, os.Symlink(target, filepath.Join(dir, "vast-1.key")))
	path, err := WriteFile(dir, "vast", "1", "s3cret")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "vast-1.2.key"), path)
	b, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "keep me", string(b))
}

func TestWriteFileGivesUpAfterMaxVersions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, EnsurePrivateDir(dir))
	for n := 1; n <= maxFileVersions; n++ {
		name := "vast-7.key"
		if n > 1 {
			name = fmt.Sprintf("vast-7.%d.key", n)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("old"), 0o600))
	}
	key := mustGenerate(t)
	_, err := WriteFile(dir, "vast", "7", key)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "already exist")
	assertNoLeak(t, key, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, maxFileVersions, "nothing extra written")
}

func TestWriteFileErrorNamesSettingNotSecret(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	blocker := filepath.Join(base, "not-a-dir")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	key := mustGenerate(t)
	_, err := WriteFile(filepath.Join(blocker, "secrets"), "local", "k", key)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not-a-dir")
	assertNoLeak(t, key, err)

}

func TestRemoveFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	removed, err := RemoveFile(filepath.Join(dir, "missing.key"))
	require.NoError(t, err)
	assert.False(t, removed)

	path, err := WriteFile(dir, "local", "k", "s")
	require.NoError(t, err)
	removed, err = RemoveFile(path)
	require.NoError(t, err)
	assert.True(t, removed)
	_, err = os.Stat(path)
	assert.True(t, os.IsNotExist(err))

	removed, err = RemoveFile(path)
	require.NoError(t, err, "removing twice is fine")
	assert.False(t, removed)
}

// Secret files left readable by others (an older keyward, a copy, a restore)
// are made 0600 whenever keyward uses the directory; links and other files
// are not touched.
func TestWriteFileTightensExistingSecretFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.Mkdir(dir, 0o755))
	old := filepath.Join(dir, "vast-1.key")
	notes := filepath.Join(dir, "notes.txt")
	outside := filepath.Join(t.TempDir(), "elsewhere.key")
	for _, p := range []string{old, notes, outside} {
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		require.NoError(t, os.Chmod(p, 0o644))
	}
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "lium-2.key")))
	require.NoError(t, os.Chmod(dir, 0o755))

	_, err := WriteFile(dir, "vast", "2", mustGenerate(t))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), perm(t, dir))
	assert.Equal(t, os.FileMode(0o600), perm(t, old))
	assert.Equal(t, os.FileMode(0o644), perm(t, notes), "not a secret file keyward wrote")
	assert.Equal(t, os.FileMode(0o644), perm(t, outside), "a link is not followed")
}

func TestTightenDir(t *testing.T) {
	t.Parallel()
	require.NoError(t, TightenDir(filepath.Join(t.TempDir(), "missing")), "nothing to tighten yet")

	dir := t.TempDir()
	file := filepath.Join(dir, "local-key_1.key")
	require.NoError(t, os.WriteFile(file, []byte("s"), 0o600))
	require.NoError(t, os.Chmod(file, 0o640))
	require.NoError(t, os.Chmod(dir, 0o750))
	require.NoError(t, TightenDir(dir))
	assert.Equal(t, os.FileMode(0o700), perm(t, dir))
	assert.Equal(t, os.FileMode(0o600), perm(t, file))

	err := TightenDir(file)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not a directory; point KEYWARD_SECRETS_DIR at a directory")
}

// When a mode cannot be changed (keyward is not the owner), the error names
// the file and what to run, and never holds the secret in it.
func TestTightenDirSaysHowToFixWhatItCannotChange(t *testing.T) {
	// Not parallel: it replaces the package's chmod.
	chmod = func(name string, _ os.FileMode) error {
		return &fs.PathError{Op: "chmod", Path: name, Err: syscall.EPERM}
	}
	defer func() { chmod = os.Chmod }()

	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	key := mustGenerate(t)
	file := filepath.Join(dir, "local-key_1.key")
	require.NoError(t, os.WriteFile(file, []byte(key+"\n"), 0o644))
	require.NoError(t, os.Chmod(file, 0o644))
	_, err := WriteFile(dir, "local", "key_2", mustGenerate(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "secret file "+file+" is mode 0644, so other users can read it")
	assert.Contains(t, err.Error(), "operation not permitted")
	assert.Contains(t, err.Error(), "run `chmod 600 "+file+"` as its owner")
	assertNoLeak(t, key, err)

	require.NoError(t, os.Chmod(dir, 0o755))
	err = TightenDir(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "directory "+dir+" is mode 0755")
	assert.Contains(t, err.Error(), "run `chmod 700 "+dir+"` as its owner")
}

// A rotation replaces a file's content in place: same path, 0600, and the
// old secret kept beside it when asked; nothing else is left in the directory.
func TestReplaceFileKeepsThePath(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "secrets")
	first, second, third := mustGenerate(t), mustGenerate(t), mustGenerate(t)
	path, err := WriteFile(dir, "local", "key_1", first)
	require.NoError(t, err)

	kept, err := KeepPrevious(path)
	require.NoError(t, err)
	assert.True(t, kept)
	require.NoError(t, ReplaceFile(dir, path, second))
	for p, want := range map[string]string{path: second, PreviousPath(path): first} {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, want+"\n", string(b), p)
		assert.Equal(t, os.FileMode(0o600), perm(t, p), p)
	}

	require.NoError(t, ReplaceFile(dir, path, third))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, third+"\n", string(b))
	b, err = os.ReadFile(PreviousPath(path))
	require.NoError(t, err)
	assert.Equal(t, first+"\n", string(b), "without KeepPrevious the kept secret is not touched")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "no staging file is left")
}

// A planted link at the file's path is replaced, never written through.
func TestReplaceFileDoesNotFollowALink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere")
	require.NoError(t, os.WriteFile(target, []byte("keep me"), 0o644))
	path := filepath.Join(dir, "vast-1.key")
	require.NoError(t, os.Symlink(target, path))
	kept, err := KeepPrevious(path)
	require.NoError(t, err)
	assert.False(t, kept, "a link is not a secret file to keep")
	require.NoError(t, os.Symlink(target, StagingPath(path)))
	require.NoError(t, ReplaceFile(dir, path, "s3cret"))
	b, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "keep me", string(b))
	info, err := os.Lstat(path)
	require.NoError(t, err)
	assert.True(t, info.Mode().IsRegular())
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestReplaceFileRefusesAPathOutsideTheDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := mustGenerate(t)
	err := ReplaceFile(dir, filepath.Join(t.TempDir(), "vast-1.key"), key)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not in KEYWARD_SECRETS_DIR")
	assertNoLeak(t, key, err)
}

func TestKeepPreviousWithNothingToKeep(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kept, err := KeepPrevious(filepath.Join(dir, "vast-1.key"))
	require.NoError(t, err)
	assert.False(t, kept)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// Undoing a take-over puts the kept secret back, whether the new one had
// reached the file or was still staged.
func TestRestorePrevious(t *testing.T) {
	t.Parallel()
	for _, switched := range []bool{true, false} {
		dir := t.TempDir()
		old, next := mustGenerate(t), mustGenerate(t)
		path, err := WriteFile(dir, "vast", "1", old)
		require.NoError(t, err)
		_, err = KeepPrevious(path)
		require.NoError(t, err)
		if switched {
			require.NoError(t, ReplaceFile(dir, path, next))
		} else {
			require.NoError(t, os.WriteFile(StagingPath(path), []byte(next), 0o600))
		}
		require.NoError(t, RestorePrevious(path))
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, old+"\n", string(b))
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Len(t, entries, 1, "only the file itself is left")
	}
}

func TestTightenDirTightensPreviousFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	prev := filepath.Join(dir, "local-key_1.key.previous")
	require.NoError(t, os.WriteFile(prev, []byte("s"), 0o600))
	require.NoError(t, os.Chmod(prev, 0o644))
	require.NoError(t, TightenDir(dir))
	assert.Equal(t, os.FileMode(0o600), perm(t, prev))
}
