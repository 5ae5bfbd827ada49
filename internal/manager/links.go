package manager

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/provider"
)

// closeLinks closes the open one-time links of a key that is gone: its
// secret works nowhere, and its page says the link is no longer valid.
func (m *Manager) closeLinks(ctx context.Context, providerName, keyID string) {
	if m.opts.Reveals == nil {
		return
	}
	if err := m.opts.Reveals.ForgetKey(ctx, providerName, keyID); err != nil {
		m.log.Warn("closing the one-time links of a revoked key failed; they expire on their own", "provider", providerName, "key_id", keyID, "err", err)
	}
}

// reapLinks revokes the keys whose one-time link expired unviewed: nobody
// received the secret, so the key ends as an undelivered secret does. Each
// revocation is audited and told to the clients that listen.
func (m *Manager) reapLinks(ctx context.Context) (int, error) {
	if m.opts.Reveals == nil {
		return 0, nil
	}
	links, err := m.opts.Reveals.Unviewed(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range links {
		p, ok := m.providers[l.Provider]
		if !ok {
			m.log.Warn("a one-time link expired unviewed but its provider is not configured; its key will be revoked once it is", "provider", l.Provider, "key_id", l.KeyID)
			continue
		}
		rec := audit.Record{Tool: "reaper", Provider: l.Provider, KeyID: l.KeyID, KeyName: l.KeyName, ClientName: "keyward",
			Detail: fmt.Sprintf("the one-time link to its new secret (%s) expired unviewed at %s, so nobody received the secret: the key was revoked", l.ID, l.ExpiresAt.UTC().Format(time.RFC3339))}
		key := m.keys.lock(p.Name(), l.KeyID)
		err := m.revokeConfirmed(ctx, p, l.KeyID)
		if err == nil || provider.IsKind(err, provider.KindNotFound) {
			mk, _ := m.managed(ctx, p.Name(), l.KeyID)
			var notes []Note
			m.dropManaged(ctx, p.Name(), l.KeyID, mk, &notes)
			if serr := m.opts.Reveals.Settle(ctx, l.ID); serr != nil {
				m.log.Warn("settling an expired one-time link failed", "link", l.ID, "err", serr)
			}
			n++
			if err == nil {
				caller.Notify(ctx, caller.Notice, fmt.Sprintf("keyward revoked %s key %s (%q): the one-time link to its secret expired unviewed", l.Provider, l.KeyID, l.KeyName))
			} else {
				rec.Detail = fmt.Sprintf("the one-time link to its new secret (%s) expired unviewed; the key was already gone", l.ID)
				err = nil
			}
		} else {
			caller.Notify(ctx, caller.Warning, fmt.Sprintf("keyward could not revoke %s key %s (%q), whose one-time link expired unviewed; it will try again: %v", l.Provider, l.KeyID, l.KeyName, err))
		}
		key.release()
		m.record(ctx, rec, err)
	}
	return n, nil
}

// RecordLinkEvent audits what happened on a one-time link's page (ctx names
// who opened it).
func (m *Manager) RecordLinkEvent(ctx context.Context, providerName, keyID, keyName, detail string) {
	m.record(ctx, audit.Record{Tool: "reveal", Provider: providerName, KeyID: keyID, KeyName: keyName, Detail: detail}, nil)
}
