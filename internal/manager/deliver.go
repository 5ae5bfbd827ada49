package manager

import (
	"context"
	"os"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/delivery"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
)

// checkDelivery fails before anything changes upstream if the secret could
// not be delivered afterwards.
func (m *Manager) checkDelivery() error { return m.opts.Secrets.Ready() }

// deliver hands a new secret to its place and says so in notes. The caller
// says what became of the secret it replaced (Delivery.Previous).
func (m *Manager) deliver(ctx context.Context, p provider.Provider, c provider.Created, at delivery.Place) (Delivery, []Note, error) {
	r, err := m.opts.Secrets.Deliver(ctx, p.Name(), p.Title(), c, at)
	if err != nil {
		return Delivery{}, nil, err
	}
	d := Delivery{Mode: r.Mode, File: r.File, Secret: r.Secret, Acknowledged: r.Acknowledged, Pending: r.Pending, Previous: r.Previous, Link: r.Link}
	if r.Link != "" {
		t := r.LinkExpiresAt
		d.LinkExpiresAt = &t
	}
	var notes []Note
	switch {
	case r.Pending:
	case r.Link != "":
		notes = append(notes, Note{Kind: NoteSecretLink, Path: r.Link, At: d.LinkExpiresAt})
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
	if r.Retired != "" {
		notes = append(notes, Note{Kind: NotePreviousFileRemoved, Path: r.Retired})
	}
	return d, notes, nil
}

// dropPrevious forgets a key's previous-secret record and removes its file.
func (m *Manager) dropPrevious(ctx context.Context, providerName, keyID string, notes *[]Note) {
	pm, err := m.managed(ctx, providerName, keyID+previousMark)
	if err != nil {
		m.log.Warn("reading the record of a previous secret file failed; the reaper removes the file when its grace ends", "provider", providerName, "key_id", keyID, "err", err)
		return
	}
	if pm == nil || !pm.isPreviousSecret() {
		return
	}
	if _, n := m.removeSecretFile(pm.secretFile, NotePreviousFileRemoved); n != nil {
		*notes = append(*notes, *n)
		if n.Err != nil {
			return // the record stays, so the reaper tries again
		}
	}
	if err := m.forgetManaged(ctx, providerName, pm.keyID); err != nil {
		m.log.Warn("forgetting the record of a previous secret file failed", "provider", providerName, "key_id", keyID, "err", err)
	}
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

// FinishReveal settles a secret put to the human in an earlier round of the
// call named tool: acknowledged, its file goes and the human alone has it;
// not, it stays in its file. Either way the audit log says which.
func (m *Manager) FinishReveal(ctx context.Context, tool, providerName, keyID, file string, acknowledged bool) (res NewSecret, err error) {
	c := m.begin(ctx, audit.Record{Tool: tool, Provider: orDefault(providerName), KeyID: keyID}, false)
	defer func() { c.end(err) }()
	p, err := m.providerThatManages(providerName)
	if err != nil {
		return res, err
	}
	key := m.keys.lock(p.Name(), keyID)
	defer key.release()
	k, err := p.Get(ctx, keyID)
	if err != nil {
		return res, err
	}
	mk, err := m.managed(ctx, p.Name(), keyID)
	if err != nil {
		return res, err
	}
	c.rec.KeyName = k.Name
	yes, no := true, false
	defer func() {
		if err == nil {
			m.notePrevious(ctx, p.Name(), file, &res)
		}
	}()
	if acknowledged && mk != nil && mk.secretFile == file {
		if _, n := m.removeSecretFile(file, NoteFileRemoved); n != nil && n.Err != nil {
			res.Notes = append(res.Notes, *n)
		} else {
			mk.secretFile = ""
			if err := m.saveManaged(ctx, *mk); err != nil {
				m.log.Warn("recording that a secret file was removed failed", "provider", p.Name(), "key_id", keyID, "err", err)
			}
			c.rec.Detail = "the secret was shown to the human and acknowledged; its file was removed"
			res.Key, res.Delivery = view(p, k, mk), Delivery{Mode: m.opts.Reveal, Acknowledged: &yes}
			res.Notes = append(res.Notes, Note{Kind: NoteSecretShown})
			return res, nil
		}
	}
	c.rec.Detail = "the secret was shown to the human but not acknowledged; it stays in its file"
	res.Key, res.Delivery = view(p, k, mk), Delivery{Mode: "file", File: file, Acknowledged: &no}
	res.Notes = append(res.Notes, Note{Kind: NoteSecretFile, Path: file}, Note{Kind: NoteElicitNotAcknowledged})
	return res, nil
}

// notePrevious tells, in the last round of a reveal, where the secret that
// the revealed one replaced stays readable: the .previous file beside the
// key's file, while a record keeps it.
func (m *Manager) notePrevious(ctx context.Context, providerName, file string, res *NewSecret) {
	if file == "" {
		return
	}
	holders, err := m.managedByFile(ctx, providerName, secret.PreviousPath(file))
	if err != nil || len(holders) == 0 {
		return
	}
	if _, err := os.Lstat(holders[0].secretFile); err != nil {
		return
	}
	res.Delivery.Previous = holders[0].secretFile
	res.Notes = append(res.Notes, Note{Kind: NotePreviousSecretKept, Path: holders[0].secretFile, At: holders[0].expiresAt})
}

// LinkShown answers the round after a new secret's one-time link was put to
// the human through the client (URL-mode elicitation): the key as it stands
// and where its secret waits. Nothing changes, so nothing is audited: the
// round that made the secret was.
func (m *Manager) LinkShown(ctx context.Context, providerName, keyID, link string, until time.Time, opened bool) (NewSecret, error) {
	p, err := m.providerThatManages(providerName)
	if err != nil {
		return NewSecret{}, err
	}
	k, err := p.Get(ctx, keyID)
	if err != nil {
		return NewSecret{}, err
	}
	u := until.UTC()
	res := NewSecret{Key: m.viewWithRecord(ctx, p, k), Delivery: Delivery{Mode: secret.ModeURL, Link: link, LinkExpiresAt: &u, LinkShown: &opened}}
	kind := NoteLinkShown
	if !opened {
		kind = NoteLinkNotOpened
	}
	res.Notes = []Note{{Kind: kind, Path: link, At: &u}}
	return res, nil
}
