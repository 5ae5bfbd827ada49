package secret

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
)

// Mode is how a new secret reaches the human.
type Mode string

const (
	ModeFile   Mode = "file"   // a 0600 file under a 0700 directory (default)
	ModeInline Mode = "inline" // in the tool result, once
	ModeElicit Mode = "elicit" // shown to the human through MCP elicitation
	ModeURL    Mode = "url"    // behind a one-time link to a page keyward serves
)

// ParseMode accepts the KEYWARD_REVEAL values.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeFile, ModeInline, ModeElicit, ModeURL:
		return m, nil
	case "":
		return ModeFile, nil
	}
	return "", fmt.Errorf("KEYWARD_REVEAL=%q is not a delivery mode; use file, inline, elicit or url", s)
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// FileName is where a provider's key lands inside the secrets directory.
func FileName(provider, keyID string) string {
	return unsafeFileChars.ReplaceAllString(provider, "_") + "-" + unsafeFileChars.ReplaceAllString(keyID, "_") + ".key"
}

// WriteFile stores a secret as <dir>/<provider>-<key id>.key, mode 0600, in a
// directory kept at 0700. An existing file is never overwritten: the next free
// name (<provider>-<key id>.2.key, ...) is taken instead, and returned. It
// starts a key's file; a rotation replaces the content at the same path
// (ReplaceFile).
func WriteFile(dir, provider, keyID, secret string) (string, error) {
	if err := EnsurePrivateDir(dir); err != nil {
		return "", err
	}
	base := strings.TrimSuffix(FileName(provider, keyID), ".key")
	for n := 1; n <= maxFileVersions; n++ {
		name := base + ".key"
		if n > 1 {
			name = fmt.Sprintf("%s.%d.key", base, n)
		}
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("creating a secret file in %s failed (%v); check KEYWARD_SECRETS_DIR", dir, err)
		}
		if err := fill(f, secret); err != nil {
			os.Remove(path)
			return "", fmt.Errorf("writing secret file %s failed; nothing was kept there; check free space in KEYWARD_SECRETS_DIR", path)
		}
		return path, nil
	}
	return "", fmt.Errorf("%d secret files for %s key %s already exist in %s; remove old ones and retry", maxFileVersions, provider, keyID, dir)
}

// fill writes a secret to a new file, flushes it to disk and closes it.
func fill(f *os.File, secret string) error {
	_, werr := f.WriteString(secret + "\n")
	serr := f.Sync()
	cerr := f.Close()
	return errors.Join(werr, serr, cerr)
}

// The files beside a key's secret file <path>: the secret it held before its
// last rotation, while that still works (<path>.previous), and the staging
// files a replacement is written to before it is renamed into place. No key's
// file name (FileName, always ending in .key) can take one of these names.
const (
	PreviousSuffix = ".previous"
	stagingSuffix  = ".new"
)

// PreviousPath is where the secret a rotation replaced in path stays readable.
func PreviousPath(path string) string { return path + PreviousSuffix }

// StagingPath is where a new secret for path is written before it is renamed
// into place; a crash can leave one behind.
func StagingPath(path string) string { return path + stagingSuffix }

// IsFileName reports whether name is one keyward gives the files it writes
// secrets to: a key's file or the previous secret beside it.
func IsFileName(name string) bool {
	return strings.HasSuffix(name, ".key") || strings.HasSuffix(name, ".key"+PreviousSuffix)
}

// ReplaceFile puts secret into path atomically, so that a program reading
// path sees the old secret or the new one, never a part or nothing: the new
// secret is written to a staging file beside it (0600, flushed) and renamed
// over it. path must be a file directly inside dir.
func ReplaceFile(dir, path, secret string) error {
	if err := EnsurePrivateDir(dir); err != nil {
		return err
	}
	if filepath.Dir(path) != filepath.Clean(dir) {
		return fmt.Errorf("secret file %s is not in KEYWARD_SECRETS_DIR (%s), so keyward does not write there", path, dir)
	}
	if err := writeAtomically(path, func(f *os.File) error { return fill(f, secret) }); err != nil {
		return fmt.Errorf("writing secret file %s failed (%s); it still holds what it held; check free space in KEYWARD_SECRETS_DIR", path, reason(err))
	}
	return nil
}

// KeepPrevious copies the secret in path to PreviousPath(path), atomically
// and 0600, replacing whatever was there. It answers false, changing
// nothing, when path is not a regular file (there is nothing to keep).
func KeepPrevious(path string) (bool, error) {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !info.Mode().IsRegular()) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking secret file %s: %s", path, reason(err))
	}
	src, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("reading secret file %s to keep it beside the new one failed (%s); nothing was changed", path, reason(err))
	}
	defer src.Close()
	prev := PreviousPath(path)
	err = writeAtomically(prev, func(f *os.File) error {
		_, cerr := io.Copy(f, src)
		return errors.Join(cerr, f.Sync(), f.Close())
	})
	if err != nil {
		return false, fmt.Errorf("keeping the old secret in %s failed (%s); nothing was changed; check free space in KEYWARD_SECRETS_DIR", prev, reason(err))
	}
	return true, nil
}

// RestorePrevious undoes an unfinished replacement of path: a staging file
// is removed, and the secret kept at PreviousPath(path) moves back into path.
// It is only right when the secret at PreviousPath(path) is the one path held
// before (KeepPrevious ran for this replacement).
func RestorePrevious(path string) error {
	var errs []error
	if _, err := RemoveFile(StagingPath(path)); err != nil {
		errs = append(errs, fmt.Errorf("removing %s: %s", StagingPath(path), reason(err)))
	}
	if err := os.Rename(PreviousPath(path), path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("moving %s back to %s: %s", PreviousPath(path), path, reason(err)))
	}
	if len(errs) == 0 {
		errs = append(errs, syncDir(filepath.Dir(path)))
	}
	return errors.Join(errs...)
}

// writeAtomically writes path through its staging file: a leftover staging
// file is replaced, the new one is created 0600 without following links,
// write fills (and closes) it, and it is renamed over path.
func writeAtomically(path string, write func(*os.File) error) error {
	tmp := StagingPath(path)
	if _, err := RemoveFile(tmp); err != nil {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir flushes a directory, so a rename in it survives a crash. Where
// directories cannot be flushed (Windows), that is not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && runtime.GOOS != "windows" {
		return err
	}
	return nil
}

const maxFileVersions = 100

// RemoveFile deletes a secret file keyward wrote; a missing file is not an error.
func RemoveFile(path string) (bool, error) {
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// EnsurePrivateDir creates dir (and parents) and makes sure only the owner
// can reach it and the secrets in it (see TightenDir): a world-readable
// secrets directory is tightened, not trusted.
func EnsurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating directory %s: %w", dir, err)
	}
	return TightenDir(dir)
}

// chmod is os.Chmod; tests replace it to see a refusal (they run as root,
// who may chmod anything).
var chmod = os.Chmod

// TightenDir makes an existing secrets directory 0700 and the secret files
// keyward wrote in it (*.key, *.key.previous) 0600, so that secrets left readable by an older
// keyward, a copy or a restore do not stay so; a missing directory is fine.
// Symbolic links are not followed and other files are not touched. When a
// mode cannot be changed (keyward is not the owner), the error says what to
// run.
func TightenDir(dir string) error {
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking directory %s: %w", dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory; point KEYWARD_SECRETS_DIR at a directory", dir)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		if err := chmod(dir, 0o700); err != nil {
			return fmt.Errorf("directory %s is mode %04o and could not be made 0700 (%s); run `chmod 700 %s` as its owner, or point KEYWARD_SECRETS_DIR at a directory you own",
				dir, perm, reason(err), dir)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading directory %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !IsFileName(e.Name()) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return fmt.Errorf("checking secret file %s: %w", filepath.Join(dir, e.Name()), err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			path := filepath.Join(dir, e.Name())
			if err := chmod(path, 0o600); err != nil {
				return fmt.Errorf("secret file %s is mode %04o, so other users can read it, and keyward could not make it 0600 (%s); run `chmod 600 %s` as its owner, or remove the file",
					path, perm, reason(err), path)
			}
		}
	}
	return nil
}

// reason is why a file operation failed, without repeating the path.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
