package manager

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/delivery"
	"github.com/keyward/keyward/internal/provider"
)

// checkDelivery fails before anything changes upstream if the secret could
// not be delivered afterwards.
func (m *Manager) checkDelivery() error { return m.opts.Secrets.Ready() }

// deliver hands a new secret to its place and says so in notes.
func (m *Manager) deliver(ctx context.Context, p provider.Provider, c provider.Created) (Delivery, []Note, error) {
	r, err := m.opts.Secrets.Deliver(ctx, p.Name(), p.Title(), c)
	if err != nil {
		return Delivery{}, nil, err
	}
	d := Delivery{Mode: r.Mode, File: r.File, Secret: r.Secret, Acknowledged: r.Acknowledged}
	var notes []Note
	switch {
	case r.Secret != "":
		notes = append(notes, Note{Kind: NoteSecretInline})
	case r.File != "":
		notes = append(notes, Note{Kind: NoteSecretFile, Path: r.File})
	case r.Acknowledged != nil && *r.Acknowledged:
		notes = append(notes, Note{Kind: NoteSecretShown})
	}
	switch r.Fallback {
	case delivery.FallbackUnavailable:
		notes = append(notes, Note{Kind: NoteElicitUnavailable})
	case delivery.FallbackNotAcknowledged:
		notes = append(notes, Note{Kind: NoteElicitNotAcknowledged})
	case delivery.FallbackFailed:
		notes = append(notes, Note{Kind: NoteElicitFailed})
	}
	return d, notes, nil
}

// removeSecretFile removes a secret file keyward wrote; it answers the path
// when a file was there, and a note: removedKind, or one saying it must be
// deleted by hand.
func (m *Manager) removeSecretFile(path string, removedKind NoteKind) (string, *Note) {
	if path == "" {
		return "", nil
	}
	removed, err := m.opts.Secrets.Remove(path)
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
