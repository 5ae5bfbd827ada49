package manager

import (
	"context"
	"database/sql"
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

// dueManaged lists keys whose keyward-enforced deadline has passed.
func (m *Manager) dueManaged(ctx context.Context, now time.Time) ([]*managedKey, error) {
	due, err := m.rec().Due(ctx, now)
	out := make([]*managedKey, len(due))
	for i, r := range due {
		out[i] = fromRecord(r)
	}
	return out, err
}
