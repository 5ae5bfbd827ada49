package manager

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/caller"
)

// Reap revokes keys whose keyward-enforced deadline has passed (platforms
// without expiry, grace periods of emulated rotation), and removes their
// secret files. Each revocation is audited. The .previous file of a native
// rotation goes when its grace ends; the platform ends the grace itself, so
// nothing is revoked and nothing audited for it.
func (m *Manager) Reap(ctx context.Context) (int, error) {
	due, err := m.dueManaged(ctx, m.now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, mk := range due {
		if mk.isPreviousSecret() {
			var notes []Note
			m.dropManaged(ctx, mk.provider, mk.keyID, mk, &notes)
			for _, n := range notes {
				if n.Err != nil {
					m.log.Warn("removing a previous secret file whose grace ended failed; delete it by hand", "file", n.Path, "err", n.Err)
				}
			}
			continue
		}
		p, ok := m.providers[mk.provider]
		if !ok {
			m.log.Warn("a key is past its keyward-enforced expiry but its provider is not configured; it will be revoked once it is", "provider", mk.provider, "key_id", mk.keyID)
			continue
		}
		err := m.revokeConfirmed(ctx, p, mk.keyID) // a 404 is believed only when the key is gone
		rec := audit.Record{Tool: "reaper", Provider: mk.provider, KeyID: mk.keyID, KeyName: mk.name, ExpiresAt: mk.expiresAt,
			Detail: "keyward-enforced expiry passed", ClientName: "keyward"}
		if err == nil {
			var notes []Note
			m.dropManaged(ctx, mk.provider, mk.keyID, mk, &notes)
			n++
			caller.Notify(ctx, caller.Notice, fmt.Sprintf("keyward revoked %s key %s (%q): its keyward-enforced expiry passed", mk.provider, mk.keyID, mk.name))
		} else {
			caller.Notify(ctx, caller.Warning, fmt.Sprintf("keyward could not revoke %s key %s (%q), past its keyward-enforced expiry; it will try again: %v", mk.provider, mk.keyID, mk.name, err))
		}
		m.record(ctx, rec, err)
	}
	links, err := m.reapLinks(ctx)
	return n + links, err
}

// RunReaper undoes interrupted creates and reaps, now and then every
// interval until ctx ends.
func (m *Manager) RunReaper(ctx context.Context, interval time.Duration) {
	reap := func() {
		if n, err := m.Reconcile(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("undoing interrupted creates failed", "err", err)
		} else if n > 0 {
			m.log.Warn("settled creates interrupted before their key was delivered and recorded (see the audit log, tool recovery)", "count", n)
		}
		if n, err := m.Reap(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("reaping expired keys failed", "err", err)
		} else if n > 0 {
			m.log.Info("revoked keys past their keyward-enforced expiry", "count", n)
		}
	}
	reap()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			reap()
		}
	}
}

// Purge drops audit records older than retention and, on providers that keep
// them, revoked and expired keys past their retention.
func (m *Manager) Purge(ctx context.Context, retention time.Duration) error {
	if n, err := m.opts.Audit.Purge(ctx, m.now().Add(-retention)); err != nil {
		return err
	} else if n > 0 {
		m.log.Info("purged old audit records", "count", n)
	}
	// Requests and links a week past their end: the audit log keeps what
	// happened to them.
	week := m.now().Add(-7 * 24 * time.Hour)
	if m.opts.Approvals != nil {
		if _, err := m.opts.Approvals.Purge(ctx, week); err != nil {
			return err
		}
	}
	if m.opts.Reveals != nil {
		if _, err := m.opts.Reveals.Purge(ctx, week); err != nil {
			return err
		}
	}
	for _, p := range m.providers {
		if pp, ok := p.(interface {
			Purge(context.Context) (int64, error)
		}); ok {
			n, err := pp.Purge(ctx)
			if err != nil {
				return err
			}
			if n > 0 {
				m.log.Info("purged revoked and expired keys", "provider", p.Name(), "count", n)
			}
		}
	}
	return nil
}
