package secret

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// MaxFileSize bounds what ReadFile reads: a secret file keyward writes holds
// one key and a newline.
const MaxFileSize = 4096

// ReadFile reads the secret in a file keyward wrote, so it can be checked
// without passing through anyone's hands. Only a regular file named as
// keyward names secret files (IsFileName), directly inside dir once every
// link in both is resolved, and at most MaxFileSize long, is read; anything
// else is refused with a sentence that says why and never holds what the
// file contains.
func ReadFile(dir, path string) (string, error) {
	const only = "keyward reads only the secret files it wrote there"
	if dir == "" {
		return "", errors.New("no secrets directory is set (KEYWARD_SECRETS_DIR), so there is no secret file keyward could read")
	}
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("the path %s is not absolute; give the full path of the secret file as keyward reported it, inside KEYWARD_SECRETS_DIR (%s)", path, dir)
	}
	if slices.Contains(strings.FieldsFunc(filepath.ToSlash(path), func(r rune) bool { return r == '/' }), "..") {
		return "", fmt.Errorf("the path %s contains \"..\"; give the path of the secret file exactly as keyward reported it, inside KEYWARD_SECRETS_DIR (%s)", path, dir)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("KEYWARD_SECRETS_DIR (%s) cannot be read (%s), so it holds no secret file keyward could read", dir, reason(err))
	}
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("there is no file at %s; keyward removes a key's file when the key is revoked, and a .previous file when its grace ends; give the path from the latest create_key, rotate_key or reissue_key answer", path)
	}
	if err != nil {
		return "", fmt.Errorf("checking %s failed (%s)", path, reason(err))
	}
	link := info.Mode()&fs.ModeSymlink != 0
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("%s is a link that leads nowhere (%s); %s", path, reason(err), only)
	}
	if real == realDir {
		return "", fmt.Errorf("%s is KEYWARD_SECRETS_DIR itself; give the path of a secret file in it", path)
	}
	if filepath.Dir(real) != realDir {
		if link {
			return "", fmt.Errorf("%s is a link to a file outside KEYWARD_SECRETS_DIR (%s); %s", path, dir, only)
		}
		return "", fmt.Errorf("%s is not inside KEYWARD_SECRETS_DIR (%s); %s", path, dir, only)
	}
	f, err := os.Open(real)
	if err != nil {
		return "", fmt.Errorf("opening %s failed (%s)", path, reason(err))
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return "", fmt.Errorf("checking %s failed (%s)", path, reason(err))
	}
	switch {
	case info.IsDir():
		return "", fmt.Errorf("%s is a directory, not a secret file; give the path of the file keyward wrote a secret to", path)
	case !info.Mode().IsRegular():
		return "", fmt.Errorf("%s is not a regular file; %s", path, only)
	case !IsFileName(filepath.Base(real)):
		return "", fmt.Errorf("%s is not a secret file keyward wrote (their names end in .key or .key.previous); %s", path, only)
	case info.Size() > MaxFileSize:
		return "", fmt.Errorf("%s is %d bytes long; a secret file keyward wrote holds one key (at most %d bytes), so it was not read", path, info.Size(), MaxFileSize)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return "", fmt.Errorf("reading %s failed (%s)", path, reason(err))
	}
	if len(b) > MaxFileSize {
		return "", fmt.Errorf("%s is more than %d bytes long; a secret file keyward wrote holds one key, so it was not read", path, MaxFileSize)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty; it holds no secret to check", path)
	}
	return s, nil
}
