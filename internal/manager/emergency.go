package manager

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Creator is a client (and principal) that created keys through keyward, as
// the console's emergency revoke offers them.
type Creator struct {
	Name string // as Key.CreatedBy says it
	Keys int    // keys keyward still records for it
}

// Creators lists who created the keys keyward still records, by name.
func (m *Manager) Creators(ctx context.Context) ([]Creator, error) {
	all, err := fromRecords(m.rec().WithCreator(ctx))
	if err != nil {
		return nil, fmt.Errorf("reading keyward's records failed: %w", err)
	}
	counts := map[string]int{}
	for _, mk := range all {
		if !mk.isPreviousSecret() {
			counts[mk.createdBy]++
		}
	}
	out := make([]Creator, 0, len(counts))
	for name, n := range counts {
		out = append(out, Creator{Name: name, Keys: n})
	}
	slices.SortFunc(out, func(a, b Creator) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out, nil
}

// KeyRef names a key keyward created, as an emergency revoke lists it.
type KeyRef struct {
	Provider   string
	KeyID      string
	Name       string
	CreatedBy  string
	RecordedAt time.Time
	ExpiresAt  *time.Time // keyward's deadline, if it enforces one
}

// CreatedBy lists the keys createdBy made through keyward that keyward still
// records (revoked ones are forgotten), recorded at or after since (zero:
// any time), oldest first.
func (m *Manager) CreatedBy(ctx context.Context, createdBy string, since time.Time) ([]KeyRef, error) {
	list, err := fromRecords(m.rec().ByCreator(ctx, createdBy, since))
	if err != nil {
		return nil, fmt.Errorf("reading keyward's records failed: %w", err)
	}
	var out []KeyRef
	for _, mk := range list {
		if mk.isPreviousSecret() {
			continue
		}
		out = append(out, KeyRef{Provider: mk.provider, KeyID: mk.keyID, Name: mk.name, CreatedBy: mk.createdBy, RecordedAt: mk.recordedAt, ExpiresAt: mk.expiresAt})
	}
	return out, nil
}
