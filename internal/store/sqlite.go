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
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // pure-Go driver: no cgo, one static binary
)

// openSQLite creates (0700 directory, 0600 file) or opens the state file.
// An existing file, and its -wal, -shm and -journal files, that other users
// could read are made 0600, and a directory of its own that they could enter
// is made 0700 (see makePrivate); when that is not possible, it refuses and
// says how to fix it.
func openSQLite(ctx context.Context, path string, o Options) (*Store, error) {
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
	// busy_timeout first: setting WAL mode on a new file takes a lock that
	// another process starting at the same moment may hold.
	for _, p := range []string{"busy_timeout(" + strconv.FormatInt(o.Timeout.Milliseconds(), 10) + ")", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	// Writers take the lock up front so two keyward processes on one file
	// wait for each other instead of failing with SQLITE_BUSY mid-transaction.
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening KEYWARD_DB (%s): %w", path, err)
	}
	db.SetMaxOpenConns(o.MaxConns)
	// The first connection turns a new file to WAL, which needs the file to
	// itself; SQLite answers "locked" at once, without waiting, when another
	// process starting at the same moment holds it. Try again, within the
	// timeout.
	deadline := time.Now().Add(o.Timeout)
	for {
		err := db.PingContext(ctx)
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "SQLITE_BUSY") && !strings.Contains(err.Error(), "database is locked") || time.Now().After(deadline) {
			db.Close()
			return nil, fmt.Errorf("opening KEYWARD_DB (%s): %w; if the file is not a keyward state file, point KEYWARD_DB elsewhere", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &Store{db: db, engine: SQLite, path: path, display: path, opts: o}, nil
}

// chmod is os.Chmod; tests replace it to see a refusal (they run as root,
// who may chmod anything).
var chmod = os.Chmod

// sideFiles are the files SQLite keeps beside the state file.
var sideFiles = []string{"-wal", "-shm", "-journal", "-lock"}

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
