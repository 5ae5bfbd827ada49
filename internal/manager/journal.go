package manager

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/records"
	"github.com/keyward/keyward/internal/secret"
)

// A create is one recoverable unit: the key upstream, its secret delivered,
// keyward's record of it and the audit record. An intent row is written
// before the provider is asked and removed in the transaction that records
// the key; an intent still there after its process died marks a create that
// never finished, and Reconcile revokes the key and removes its secret file
// (or, for a replacement that had taken over the old key's file, puts the
// old secret back into it).

// intentLease is how long an intent whose process may still be running (on
// another host, say) is left alone before it counts as abandoned.
const intentLease = 2 * time.Minute

// intentGiveUp bounds how often Reconcile retries an intent it cannot resolve.
const intentGiveUp = 20

type intent struct {
	id, provider, name, tool string
	journal                  *records.Records
}

// holder names this process in the intents it writes (made on first use:
// start-up does not wait for the host name).
var holder = sync.OnceValue(func() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8])
})

func (m *Manager) beginCreate(ctx context.Context, p provider.Provider, name, tool string) (*intent, error) {
	in := &intent{id: "req_" + strings.ToLower(rand.Text()), provider: p.Name(), name: name, tool: tool, journal: m.rec()}
	// In flight before it is journalled: Reconcile must never see this
	// process's intent without it being in flight until the call is over.
	m.creating.Store(in.id, true)
	err := in.journal.Begin(ctx, records.Intent{ID: in.id, Provider: in.provider, Name: name, Tool: tool, Holder: holder(), StartedAt: m.now()})
	if err != nil {
		m.creating.Delete(in.id)
		return nil, fmt.Errorf("keyward's state (KEYWARD_DB) could not record the create before it starts (%w); nothing was changed", err)
	}
	return in, nil
}

// doneCreating: the create's call is over, whatever became of its intent.
func (m *Manager) doneCreating(in *intent) {
	if in != nil {
		m.creating.Delete(in.id)
	}
}

// noteKey and noteFile record progress, so recovery knows what to undo.
func (m *Manager) noteKey(ctx context.Context, in *intent, keyID string) {
	if in != nil && keyID != "" {
		m.noteIntent(in, in.journal.NoteKey(ctx, in.id, keyID, m.now()))
	}
}

func (m *Manager) noteFile(ctx context.Context, in *intent, path string) {
	if in != nil && path != "" {
		m.noteIntent(in, in.journal.NoteFile(ctx, in.id, path, m.now()))
	}
}

func (m *Manager) noteIntent(in *intent, err error) {
	if err != nil {
		// Recovery can still find the key by its request id or its name.
		m.log.Warn("recording the progress of a create failed", "provider", in.provider, "err", err)
	}
}

// endIntent drops an intent in tx: the create it stood for is recorded or undone.
func endIntent(ctx context.Context, tx *sql.Tx, in *intent) error {
	if in == nil {
		return nil
	}
	return in.journal.EndTx(ctx, tx, in.id)
}

// dropIntent forgets an intent outside any other write.
func (m *Manager) dropIntent(ctx context.Context, in *intent) {
	if in == nil {
		return
	}
	if err := in.journal.End(ctx, in.id); err != nil {
		m.log.Warn("forgetting a finished create failed; recovery will check it again", "provider", in.provider, "err", err)
	}
}

type pendingIntent struct {
	intent
	holder     string
	startedAt  time.Time
	heartbeat  time.Time
	keyID      string
	secretFile string
	attempts   int
}

func pendingFrom(in records.Intent, journal *records.Records) pendingIntent {
	return pendingIntent{intent: intent{id: in.ID, provider: in.Provider, name: in.Name, tool: in.Tool, journal: journal},
		holder: in.Holder, startedAt: in.StartedAt, heartbeat: in.Heartbeat, keyID: in.KeyID, secretFile: in.SecretFile, attempts: in.Attempts}
}

// Reconcile undoes creates whose process died before they were recorded:
// the key is revoked, its secret file removed, and an audit record says so.
// It returns how many it undid.
func (m *Manager) Reconcile(ctx context.Context) (int, error) {
	journal := m.rec()
	intents, err := journal.Pending(ctx)
	if err != nil {
		return 0, err
	}
	var pending []pendingIntent
	for _, in := range intents {
		pending = append(pending, pendingFrom(in, journal))
	}
	reconcileListed()
	defer m.sweep(ctx, pending)
	n := 0
	for _, pi := range pending {
		if abandoned, err := m.abandoned(ctx, pi); err != nil || !abandoned {
			continue
		}
		done, err := m.undo(ctx, pi)
		if err != nil {
			m.log.Warn("undoing an interrupted create failed; keyward will try again", "provider", pi.provider, "key_id", pi.keyID, "err", err)
		}
		if done {
			n++
		}
	}
	return n, nil
}

// reconcileListed runs once Reconcile has listed the intents; tests use it
// to end a create between the listing and the checks.
var reconcileListed = func() {}

// abandoned: the intent's process is gone (same host, dead pid or an earlier
// process with this pid), or it has not been heard of for intentLease.
func (m *Manager) abandoned(ctx context.Context, pi pendingIntent) (bool, error) {
	if pi.holder == holder() {
		if _, inFlight := m.creating.Load(pi.id); inFlight {
			return false, nil
		}
		// Ours and over: left by an undo that failed — or finished since
		// the listing, and then it is no longer journalled. (A finished
		// create ends its intent before its call is over.)
		return pi.journal.Open(ctx, pi.id)
	}
	if m.now().Sub(pi.heartbeat) >= intentLease {
		return true, nil
	}
	parts := strings.SplitN(pi.holder, "/", 3)
	host, _ := os.Hostname()
	if len(parts) != 3 || parts[0] != host {
		return false, nil
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil {
		return true, nil
	}
	return pid == os.Getpid() || !processAlive(pid), nil
}

// undo revokes what an abandoned create left behind. done reports that the
// intent is settled (undone, or nothing was there).
func (m *Manager) undo(ctx context.Context, pi pendingIntent) (done bool, err error) {
	rec := audit.Record{Tool: "recovery", Provider: pi.provider, KeyID: pi.keyID, KeyName: pi.name, ClientName: "keyward",
		Detail: fmt.Sprintf("%s was interrupted before the new key's secret was delivered and recorded (started %s)", pi.tool, pi.startedAt.Format(time.RFC3339))}
	p, ok := m.providers[pi.provider]
	if !ok {
		return false, fmt.Errorf("provider %s is not configured; the interrupted create is undone once it is", pi.provider)
	}
	if pi.keyID == "" {
		id, found, ferr := m.findCreated(ctx, p, pi)
		if ferr != nil {
			return false, m.retryLater(ctx, pi, rec, ferr)
		}
		if !found {
			// The provider never made the key: nothing to undo.
			return true, m.settle(ctx, pi.id, nil)
		}
		pi.keyID, rec.KeyID = id, id
	}
	if rerr := m.revokeConfirmed(ctx, p, pi.keyID); rerr != nil {
		return false, m.retryLater(ctx, pi, rec, rerr)
	}
	removed := m.removeSecretFiles(ctx, pi)
	rec.Detail += "; the key was revoked"
	if len(removed) > 0 {
		rec.Detail += " and its secret file removed"
	}
	r := rec
	err = m.settle(ctx, pi.id, func(tx *sql.Tx) error {
		if err := pi.journal.ForgetTx(ctx, tx, pi.provider, pi.keyID); err != nil {
			return err
		}
		r.Outcome = audit.OutcomeOK
		return m.opts.Audit.WriteTx(ctx, tx, r)
	})
	return err == nil, err
}

// findCreated asks the provider which key the create made: by its request
// id where the provider keeps it, else the one key of that name created in
// the intent's window that keyward has no record of.
func (m *Manager) findCreated(ctx context.Context, p provider.Provider, pi pendingIntent) (string, bool, error) {
	if f, ok := p.(provider.CreatedFinder); ok {
		k, found, err := f.FindCreated(ctx, pi.id)
		return k.ID, found, err
	}
	keys, err := p.List(ctx)
	if err != nil {
		return "", false, err
	}
	known, err := m.managedAll(ctx, p.Name())
	if err != nil {
		return "", false, err
	}
	var match []string
	for _, k := range keys {
		if k.Name != pi.name || known[k.ID] != nil {
			continue
		}
		if !k.CreatedAt.IsZero() && (k.CreatedAt.Before(pi.startedAt.Add(-time.Minute)) || k.CreatedAt.After(pi.heartbeat.Add(intentLease))) {
			continue
		}
		match = append(match, k.ID)
	}
	switch len(match) {
	case 0:
		return "", false, nil
	case 1:
		return match[0], true, nil
	}
	return "", false, fmt.Errorf("%d keys named %q could be the one the interrupted create made (%s); revoke the wrong ones by hand", len(match), pi.name, strings.Join(match, ", "))
}

// retryLater counts a failed attempt; past intentGiveUp the intent is
// dropped and the audit log says what a human must check.
func (m *Manager) retryLater(ctx context.Context, pi pendingIntent, rec audit.Record, cause error) error {
	if pi.attempts+1 < intentGiveUp {
		return errors.Join(cause, pi.journal.Attempted(ctx, pi.id))
	}
	rec.Outcome, rec.Error = audit.OutcomeError, cause.Error()
	rec.Detail += fmt.Sprintf("; keyward gave up after %d attempts: check the provider for a key named %q", intentGiveUp, pi.name)
	if m.tookOver(ctx, pi) {
		// The key it replaces keeps its file, whatever became of the new key.
		if err := m.opts.Secrets.Restore(pi.secretFile); err != nil {
			m.log.Warn("putting the old secret back into the file an undone replacement took over failed; move the .previous file back by hand", "file", pi.secretFile, "err", err)
		}
	}
	return errors.Join(cause, m.settle(ctx, pi.id, func(tx *sql.Tx) error { return m.opts.Audit.WriteTx(ctx, tx, rec) }))
}

func (m *Manager) settle(ctx context.Context, intentID string, fn func(*sql.Tx) error) error {
	return m.opts.Store.Tx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		if fn != nil {
			if err := fn(tx); err != nil {
				return err
			}
		}
		return m.rec().EndTx(ctx, tx, intentID)
	})
}

// removeSecretFiles removes the file the intent recorded and any file keyward
// names after the key (a crash may have come between writing and recording
// it). A file the create took over from the key it replaces (another record
// still names it: the create was never recorded) is not removed: the old
// secret, kept beside it, goes back into it.
func (m *Manager) removeSecretFiles(ctx context.Context, pi pendingIntent) []string {
	var removed []string
	candidates := []string{pi.secretFile}
	if m.tookOver(ctx, pi) {
		candidates = nil
		if err := m.opts.Secrets.Restore(pi.secretFile); err != nil {
			m.log.Warn("putting the old secret back into the file an undone replacement took over failed; move the .previous file back by hand", "file", pi.secretFile, "err", err)
		}
	}
	if pi.keyID != "" && m.opts.SecretsDir != "" {
		base := strings.TrimSuffix(secret.FileName(pi.provider, pi.keyID), ".key")
		if matches, err := filepath.Glob(filepath.Join(m.opts.SecretsDir, globEscape(base)+"*.key")); err == nil {
			for _, f := range matches {
				name := strings.TrimSuffix(filepath.Base(f), ".key")
				if rest, ok := strings.CutPrefix(name, base); ok && (rest == "" || isVersionSuffix(rest)) && f != pi.secretFile {
					candidates = append(candidates, f)
				}
			}
		}
	}
	for _, f := range candidates {
		if f == "" {
			continue
		}
		if ok, err := secret.RemoveFile(f); err != nil {
			m.log.Warn("removing the secret file of an undone create failed; delete it by hand", "file", f, "err", err)
		} else if ok {
			removed = append(removed, f)
		}
	}
	return removed
}

// tookOver reports whether an unfinished create had taken over the secret
// file of another key: a record other than the new key's still names it.
// When that cannot be read, it answers true, so that the file is kept.
func (m *Manager) tookOver(ctx context.Context, pi pendingIntent) bool {
	if pi.secretFile == "" {
		return false
	}
	holders, err := m.managedByFile(ctx, pi.provider, pi.secretFile)
	if err != nil {
		m.log.Warn("reading which record names a secret file failed; the file is kept", "file", pi.secretFile, "err", err)
		return true
	}
	for _, mk := range holders {
		if mk.keyID != pi.keyID {
			return true
		}
	}
	return false
}

// sweep settles what a crash left in the secrets directory around the
// secret files, outside every create still journalled (Reconcile settles
// those): a staging file is a secret that never reached its place, and a
// .previous file no record names is one nothing would ever remove. Only files
// older than intentLease are touched, so a change in flight in any process
// is left alone; their age is real time, read from the file system.
func (m *Manager) sweep(ctx context.Context, pending []pendingIntent) {
	dir := m.opts.SecretsDir
	if dir == "" {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // no directory yet: nothing to settle
	}
	claimed := map[string]bool{}
	for _, pi := range pending {
		claimed[pi.secretFile] = true
	}
	var named map[string]bool
	isNamed := func(path string) (bool, error) {
		if named == nil {
			all, err := m.managedWithFiles(ctx)
			if err != nil {
				return false, err
			}
			named = map[string]bool{}
			for _, mk := range all {
				named[mk.secretFile] = true
			}
		}
		return named[path], nil
	}
	for _, e := range entries {
		name := e.Name()
		var line string // the key file the entry belongs to
		for _, suffix := range []string{".key" + secret.PreviousSuffix + ".new", ".key.new", ".key" + secret.PreviousSuffix} {
			if strings.HasSuffix(name, suffix) {
				line = filepath.Join(dir, strings.TrimSuffix(name, strings.TrimPrefix(suffix, ".key")))
				break
			}
		}
		if line == "" || !e.Type().IsRegular() || claimed[line] {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < intentLease {
			continue
		}
		path := filepath.Join(dir, name)
		switch {
		case path == secret.StagingPath(line):
			// A rotation stopped between writing the new secret and moving
			// it into place: the platform issued it, so it goes there.
			live, err := isNamed(line)
			if err != nil {
				m.log.Warn("reading which records name the secret files failed; leftover files are settled at the next check", "err", err)
				return
			}
			if live {
				if err := os.Rename(path, line); err != nil {
					m.log.Warn("moving an interrupted rotation's new secret into its file failed; rotate the key again", "file", line, "err", err)
				} else {
					m.log.Warn("moved the new secret of a rotation interrupted before it reached its file into place", "file", line)
				}
				continue
			}
			m.removeLeftover(path, "a new secret for a file no key has any more")
		case path == secret.PreviousPath(line):
			kept, err := isNamed(path)
			if err != nil {
				m.log.Warn("reading which records name the secret files failed; leftover files are settled at the next check", "err", err)
				return
			}
			if !kept {
				m.removeLeftover(path, "an old secret no record keeps")
			}
		default:
			m.removeLeftover(path, "an interrupted copy of a secret that is still in its file")
		}
	}
}

func (m *Manager) removeLeftover(path, what string) {
	if _, err := secret.RemoveFile(path); err != nil {
		m.log.Warn("removing a leftover secret file failed; delete it by hand", "file", path, "what", what, "err", err)
		return
	}
	m.log.Warn("removed a leftover secret file", "file", path, "what", what)
}

func isVersionSuffix(s string) bool {
	n, ok := strings.CutPrefix(s, ".")
	if !ok || n == "" {
		return false
	}
	_, err := strconv.Atoi(n)
	return err == nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}
