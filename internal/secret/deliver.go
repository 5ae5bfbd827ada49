package secret

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Mode is how a new secret reaches the human.
type Mode string

const (
	ModeFile   Mode = "file"   // a 0600 file under a 0700 directory (default)
	ModeInline Mode = "inline" // in the tool result, once
	ModeElicit Mode = "elicit" // shown to the human through MCP elicitation
)

// ParseMode accepts the KEYWARD_REVEAL values.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeFile, ModeInline, ModeElicit:
		return m, nil
	case "":
		return ModeFile, nil
	}
	return "", fmt.Errorf("KEYWARD_REVEAL=%q is not a delivery mode; use file, inline or elicit", s)
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// FileName is where a provider's key lands inside the secrets directory.
func FileName(provider, keyID string) string {
	return unsafeFileChars.ReplaceAllString(provider, "_") + "-" + unsafeFileChars.ReplaceAllString(keyID, "_") + ".key"
}

// WriteFile stores a secret as <dir>/<provider>-<key id>.key, mode 0600, in a
// directory kept at 0700. An existing file is never overwritten: the next free
// name (<provider>-<key id>.2.key, ...) is taken instead, and returned.
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
		_, werr := f.WriteString(secret + "\n")
		cerr := f.Close()
		if werr != nil || cerr != nil {
			os.Remove(path)
			return "", fmt.Errorf("writing secret file %s failed; nothing was kept there; check free space in KEYWARD_SECRETS_DIR", path)
		}
		return path, nil
	}
	return "", fmt.Errorf("%d secret files for %s key %s already exist in %s; remove old ones and retry", maxFileVersions, provider, keyID, dir)
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
// keyward wrote in it (*.key) 0600, so that secrets left readable by an older
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
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".key") {
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
