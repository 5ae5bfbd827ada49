package manager

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/records"
)

// managedKey is keyward's own record of a key it created: the deadline it
// enforces where the platform has none, and the secret file it wrote.
type managedKey struct {
	provider   string
	keyID      string
	name       string
	expiresAt  *time.Time
	secretFile string
	createdBy  string
	recordedAt time.Time  // when keyward first recorded the key
	bornAt     *time.Time // the start of the key's life, kept across re-issues
	// What the key was created with below its scopes. A platform may not
	// list them (Vast.ai does not list allow-lists), and a replacement must
	// carry them: nil means keyward did not record them.
	constraints []provider.Constraint
	allowedIPs  []string
	narrowing   bool // constraints and allowedIPs were recorded
	// supersededBy is the replacement of a key that only works out the grace
	// of a rotation or re-issue: such a key is final, like an expired one.
	supersededBy string
}

// rec is keyward's records (managed keys, the create journal) in the store.
func (m *Manager) rec() *records.Records { return records.New(m.opts.Store, m.now) }

// A key's secret file keeps one path for its whole line: a native rotation
// replaces its content, a replacement key takes it over, and the secret a
// rotation replaced stays readable beside it (secret.PreviousPath) while it
// still works. Each such .previous file is named by exactly one record,
// which removes it when that secret stops:
//
//   - after a replacement, the replaced key's own record (superseded, with
//     the grace as its deadline): the reaper revokes the key and removes it;
//   - after a native rotation, which keeps the key's id, a previous-secret
//     record: key id <id>#previous, superseded by the key itself, with the
//     end of the platform's grace as its deadline. The reaper removes the
//     file then and revokes nothing (the platform ends the grace itself).
//
// No managed_keys column is needed for it, and no platform's key id has the
// form <id>#previous with itself as its replacement.
const previousMark = "#previous"

// previousOf is the previous-secret record of a key's .previous file.
func previousOf(providerName, keyID, name, file string, until time.Time) managedKey {
	return managedKey{provider: providerName, keyID: keyID + previousMark, name: name, expiresAt: &until, secretFile: file, supersededBy: keyID}
}

// isPreviousSecret reports whether the record is a previous-secret record,
// not a key.
func (mk *managedKey) isPreviousSecret() bool {
	return mk != nil && mk.supersededBy != "" && mk.keyID == mk.supersededBy+previousMark
}

// lineFile is the secret file a key's successor (its next secret, or a key
// that replaces it) takes over: the key's own file, when keyward wrote it in
// the secrets directory in force. "" when there is none; the successor then
// starts a file named after itself.
func (m *Manager) lineFile(mk *managedKey) string {
	if mk == nil || mk.secretFile == "" || m.opts.SecretsDir == "" || mk.isPreviousSecret() {
		return ""
	}
	if filepath.Dir(mk.secretFile) != filepath.Clean(m.opts.SecretsDir) || !strings.HasSuffix(mk.secretFile, ".key") {
		return ""
	}
	return mk.secretFile
}

// managedByFile lists the records that name a secret file.
func (m *Manager) managedByFile(ctx context.Context, providerName, path string) ([]*managedKey, error) {
	return fromRecords(m.rec().ByFile(ctx, providerName, path))
}

// managedWithFiles lists every record that names a secret file.
func (m *Manager) managedWithFiles(ctx context.Context) ([]*managedKey, error) {
	return fromRecords(m.rec().WithFiles(ctx))
}

func fromRecords(rs []*records.Managed, err error) ([]*managedKey, error) {
	out := make([]*managedKey, len(rs))
	for i, r := range rs {
		out[i] = fromRecord(r)
	}
	return out, err
}

// release makes every record but keep's let go of a file that is about to
// hold another secret: a key keeps its record with no file, a
// previous-secret record goes.
func (m *Manager) release(ctx context.Context, providerName, path, keep string) {
	holders, err := m.managedByFile(ctx, providerName, path)
	if err != nil {
		m.log.Warn("reading which records name a secret file failed", "file", path, "err", err)
		return
	}
	for _, mk := range holders {
		if mk.keyID == keep {
			continue
		}
		if mk.isPreviousSecret() {
			err = m.forgetManaged(ctx, providerName, mk.keyID)
		} else {
			mk.secretFile = ""
			err = m.saveManaged(ctx, *mk)
		}
		if err != nil {
			m.log.Warn("releasing a secret file from a record failed", "file", path, "key_id", mk.keyID, "err", err)
		}
	}
}

func fromRecord(r *records.Managed) *managedKey {
	if r == nil {
		return nil
	}
	return &managedKey{provider: r.Provider, keyID: r.KeyID, name: r.Name, expiresAt: r.ExpiresAt, secretFile: r.SecretFile,
		createdBy: r.CreatedBy, recordedAt: r.RecordedAt, bornAt: r.BornAt,
		constraints: r.Constraints, allowedIPs: r.AllowedIPs, narrowing: r.Narrowing, supersededBy: r.SupersededBy}
}

func (mk managedKey) record() records.Managed {
	return records.Managed{Provider: mk.provider, KeyID: mk.keyID, Name: mk.name, ExpiresAt: mk.expiresAt, SecretFile: mk.secretFile,
		CreatedBy: mk.createdBy, BornAt: mk.bornAt,
		Constraints: mk.constraints, AllowedIPs: mk.allowedIPs, Narrowing: mk.narrowing, SupersededBy: mk.supersededBy}
}

func (m *Manager) managed(ctx context.Context, providerName, keyID string) (*managedKey, error) {
	r, err := m.rec().Get(ctx, providerName, keyID)
	return fromRecord(r), err
}

// managedAll loads every record of a provider at once, for listings.
func (m *Manager) managedAll(ctx context.Context, providerName string) (map[string]*managedKey, error) {
	all, err := m.rec().All(ctx, providerName)
	out := make(map[string]*managedKey, len(all))
	for id, r := range all {
		out[id] = fromRecord(r)
	}
	return out, err
}

func (m *Manager) saveManaged(ctx context.Context, mk managedKey) error {
	return m.rec().Save(ctx, mk.record())
}

// saveManagedIn saves mk inside tx.
func (m *Manager) saveManagedIn(ctx context.Context, tx *sql.Tx, mk managedKey) error {
	return m.rec().SaveTx(ctx, tx, mk.record())
}

// bornOf is when a key's life began, as far as anyone knows: the earliest of
// the platform's creation time and keyward's records (a replacement inherits
// its original's). nil when neither knows.
func bornOf(k provider.Key, mk *managedKey) *time.Time {
	var out *time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (out == nil || t.Before(*out)) {
			t := t.UTC()
			out = &t
		}
	}
	consider(k.CreatedAt)
	if mk != nil {
		if mk.bornAt != nil {
			consider(*mk.bornAt)
		}
		consider(mk.recordedAt)
	}
	return out
}

func (m *Manager) forgetManaged(ctx context.Context, providerName, keyID string) error {
	return m.rec().Forget(ctx, providerName, keyID)
}

// dueManaged lists the records whose keyward-enforced deadline has passed:
// keys, and previous-secret records whose grace ended.
func (m *Manager) dueManaged(ctx context.Context, now time.Time) ([]*managedKey, error) {
	return fromRecords(m.rec().Due(ctx, now))
}
