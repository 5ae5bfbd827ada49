package manager

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
)

// checkDelivery fails before anything changes upstream if the secret could
// not be stored afterwards.
func (m *Manager) checkDelivery() error {
	if m.opts.Reveal == secret.ModeInline {
		return nil
	}
	if err := secret.EnsurePrivateDir(m.opts.SecretsDir); err != nil {
		return fmt.Errorf("new secrets go to KEYWARD_SECRETS_DIR, which is not usable: %w; nothing was changed", err)
	}
	return nil
}

// deliver hands the new secret to the place the operator chose. Elicitation
// falls back to a file whenever the human did not see it, so no secret is lost.
func (m *Manager) deliver(ctx context.Context, p provider.Provider, c provider.Created) (Delivery, []Note, error) {
	switch m.opts.Reveal {
	case secret.ModeInline:
		return Delivery{Mode: secret.ModeInline, Secret: c.Secret}, []Note{{Kind: NoteSecretInline}}, nil
	case secret.ModeElicit:
		h := humanFrom(ctx)
		if h == nil {
			d, notes, err := m.deliverFile(p, c)
			return d, append(notes, Note{Kind: NoteElicitUnavailable}), err
		}
		msg := fmt.Sprintf("New secret for key %q (%s) on %s:\n\n%s\n\nCopy it now: it is shown only once and keyward keeps no copy.", c.Key.Name, c.Key.ID, p.Title(), c.Secret)
		ack, err := h.ShowSecret(ctx, msg)
		if err == nil && ack {
			t := true
			return Delivery{Mode: secret.ModeElicit, Acknowledged: &t}, []Note{{Kind: NoteSecretShown}}, nil
		}
		d, notes, ferr := m.deliverFile(p, c)
		f := false
		d.Acknowledged = &f
		why := NoteElicitNotAcknowledged
		if err != nil {
			why = NoteElicitFailed
		}
		return d, append(notes, Note{Kind: why}), ferr
	}
	return m.deliverFile(p, c)
}

func (m *Manager) deliverFile(p provider.Provider, c provider.Created) (Delivery, []Note, error) {
	path, err := secret.WriteFile(m.opts.SecretsDir, p.Name(), c.Key.ID, c.Secret)
	if err != nil {
		return Delivery{}, nil, err
	}
	return Delivery{Mode: secret.ModeFile, File: path}, []Note{{Kind: NoteSecretFile, Path: path}}, nil
}

// removeSecretFile removes a secret file keyward wrote; it answers the path
// when a file was there, or a note saying it must be deleted by hand.
func (m *Manager) removeSecretFile(path string, removedKind NoteKind) (string, *Note) {
	if path == "" {
		return "", nil
	}
	removed, err := secret.RemoveFile(path)
	if err != nil {
		return "", &Note{Kind: NoteFileNotRemoved, Path: path, Err: err}
	}
	if !removed {
		return "", nil
	}
	return path, &Note{Kind: removedKind, Path: path}
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
