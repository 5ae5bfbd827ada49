package manager

import (
	"context"
	"sync"

	"github.com/keyward/keyward/internal/provider"
)

// revokeConfirmed revokes a key and believes "not found" only when the key is
// indeed gone: a platform (or a proxy in front of it) that answers 404 to a
// DELETE while the key still works must not make keyward forget the key,
// its deadline or its file. It returns nil once the key is gone.
func (m *Manager) revokeConfirmed(ctx context.Context, p provider.Provider, id string) error {
	ctx = context.WithoutCancel(ctx)
	err := p.Revoke(ctx, id)
	if !provider.IsKind(err, provider.KindNotFound) {
		return err
	}
	k, gerr := p.Get(ctx, id)
	switch {
	case provider.IsKind(gerr, provider.KindNotFound):
		return nil // gone indeed
	case gerr != nil:
		return provider.Fail(provider.KindUpstream, provider.ChangedUnknown, p.Name(), 0,
			"%s answered that key %s was not found when asked to revoke it, and keyward could not check (%v); the key may still work", p.Title(), id, gerr).Next(provider.StepCheckKeys)
	}
	return provider.Fail(provider.KindConflict, provider.ChangedNo, p.Name(), 0,
		"%s answered that key %s was not found when asked to revoke it, but still lists it (%q), so it still works; keyward keeps tracking it and tries again", p.Title(), k.ID, k.Name).Next(provider.StepCheckKeys)
}

// keyLocks serialise the changes to one key in this process, so that two
// calls cannot both replace it (one key becoming two) or interleave a
// rotation with a re-issue. A change holds its key's lock from reading the
// key to acting on it, but not while the human decides (that may take
// minutes, and must not hold up an operator's revoke): it lets go, asks,
// takes the lock again and checks that the key is as it was (unchanged).
type keyLocks struct{ m sync.Map }

// heldKey is one key's lock as a change holds it.
type heldKey struct {
	mu   *sync.Mutex
	held bool
}

func (l *keyLocks) lock(providerName, keyID string) *heldKey {
	mu, _ := l.m.LoadOrStore(providerName+"\x00"+keyID, &sync.Mutex{})
	h := &heldKey{mu: mu.(*sync.Mutex)}
	h.relock()
	return h
}

func (h *heldKey) relock() {
	h.mu.Lock()
	h.held = true
}

// release lets go of the lock if held; safe to call more than once.
func (h *heldKey) release() {
	if h.held {
		h.held = false
		h.mu.Unlock()
	}
}
