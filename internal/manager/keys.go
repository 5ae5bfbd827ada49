package manager

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/delivery"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/sanitize"
	"github.com/keyward/keyward/internal/secret"
)

// MaxNameLen bounds key names.
const MaxNameLen = 100

// CreateArgs are what CreateKey needs.
type CreateArgs struct {
	Provider  string
	Name      string
	Scopes    []string
	ExpiresIn string
	// Constraints and AllowedIPs narrow the key below its scopes, where the
	// platform can (provider.CheckConstraints says what it accepts).
	Constraints []provider.Constraint
	AllowedIPs  []string
	DryRun      bool // check and describe, change nothing
}

// CheckName trims a key name and refuses what would mislead a person reading
// it: control characters (newlines forge rows in a terminal table, escape
// sequences drive the terminal) and invisible or bidirectional format
// characters (U+202E shows "exe.gnp" as "png.exe"; U+200B hides in plain sight).
func CheckName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", errors.New("name is empty; give the key a name that says what it is for, e.g. \"ci-deploy-read\"")
	case utf8.RuneCountInString(name) > MaxNameLen:
		return "", fmt.Errorf("name is %d characters long; use at most %d", utf8.RuneCountInString(name), MaxNameLen)
	case !utf8.ValidString(name):
		return "", errors.New("name is not valid UTF-8; use letters, digits, spaces and punctuation")
	}
	if i := strings.IndexFunc(name, sanitize.Invisible); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return "", fmt.Errorf("name contains the invisible or control character U+%04X at byte %d; use letters, digits, spaces and punctuation", r, i)
	}
	return name, nil
}

func keyIDArg(id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", provider.WithStep(errors.New("no key id given"), provider.StepFindKey)
	}
	return id, nil
}

// providerThatManages resolves a provider for a call that manages keys, which platforms
// whose keys live only in their dashboard cannot serve.
func (m *Manager) providerThatManages(name string) (provider.Provider, error) {
	p, err := m.provider(name)
	if err != nil {
		return nil, err
	}
	if !p.Capabilities().Manage {
		return nil, provider.Unsupported(p.Name(), "%s keys are managed only in its dashboard; keyward can list providers and validate keys there", p.Title())
	}
	return p, nil
}

// CreateKey mints a key with least-privilege defaults and delivers its secret.
func (m *Manager) CreateKey(ctx context.Context, a CreateArgs) (res NewSecret, err error) {
	c := m.begin(ctx, audit.Record{Tool: "create_key", Provider: orDefault(a.Provider), KeyName: a.Name}, a.DryRun)
	defer func() { c.end(err) }()

	if a.Name, err = CheckName(a.Name); err != nil {
		return res, err
	}
	c.rec.KeyName = a.Name
	p, err := m.providerThatManages(a.Provider)
	if err != nil {
		return res, err
	}
	sd, err := m.opts.Policy.ScopesForCreate(p, a.Scopes)
	if err != nil {
		return res, err
	}
	c.rec.ScopesAfter = nonNil(sd.Scopes)
	cs, ips, err := provider.CheckConstraints(p, sd.Scopes, a.Constraints, a.AllowedIPs)
	if err != nil {
		return res, err
	}
	c.rec.Detail = describeNarrowing(cs, ips)
	now := m.now()
	exp, err := m.opts.Policy.ExpiryForCreate(p, now, a.ExpiresIn)
	if err != nil {
		return res, err
	}
	c.rec.ExpiresAt = exp.Deadline
	if w := writeScopes(p, sd.Scopes); len(w) > 0 || !p.Capabilities().Scopes {
		q := fmt.Sprintf("Create key %q on %s with %s%s, expiring %%s?", a.Name, p.Title(), describeScopes(p, sd.Scopes), narrowingClause(cs, ips))
		// The deadline is now + the lifetime: the answer is bound to the lifetime.
		if err = c.confirmAct(fmt.Sprintf(q, fmtTime(exp.Deadline)), fmt.Sprintf(q, lifetime(a.ExpiresIn))); err != nil {
			return res, err
		}
	}
	var notes []Note
	if sd.Defaulted {
		notes = append(notes, Note{Kind: NoteDefaultScopes, Scopes: sd.Scopes})
	}
	if exp.Note != "" {
		notes = append(notes, Note{Kind: NoteExpiry, Text: exp.Note})
	}
	if !p.Capabilities().Scopes {
		notes = append(notes, Note{Kind: NoteFullAccess, Text: p.Title()})
	}
	if plan := c.dryStop(Plan{Action: ActionCreate, Narrowing: c.rec.Detail, Notes: notes}); plan != nil {
		return NewSecret{Plan: plan}, m.checkDelivery()
	}
	res, err = m.mint(ctx, c, p, provider.CreateRequest{Name: a.Name, Scopes: sd.Scopes, ExpiresAt: exp.Upstream, Constraints: cs, AllowedIPs: ips}, exp, nil, nil)
	if err != nil {
		return NewSecret{}, err
	}
	res.Confirmation = c.confirmation()
	res.Notes = append(res.Notes, notes...)
	res.Notes = append(res.Notes, c.notes...)
	return res, nil
}

// mint runs one create as a recoverable unit: journal the intent, create
// upstream, deliver the secret, then record the key, the audit record and the
// end of the intent in one transaction. If anything fails after the key
// exists, the key is revoked again; if even that fails, the intent stays and
// Reconcile finishes the job. born is the start of the key's life when it
// replaces another key (nil: now).
//
// A replacement takes over the secret file of the key it replaces (old):
// the old secret is kept beside it (secret.PreviousPath), the journal notes
// the take-over before the file changes, and the transaction that records
// the new key points the old key's record at the .previous file. Undone, the
// old secret goes back into its file (Secrets.Restore).
func (m *Manager) mint(ctx context.Context, c *call, p provider.Provider, req provider.CreateRequest, exp policy.Expiry, born *time.Time, old *managedKey) (NewSecret, error) {
	if err := m.checkDelivery(); err != nil {
		return NewSecret{}, err
	}
	in, err := m.beginCreate(ctx, p, req.Name, c.rec.Tool)
	if err != nil {
		return NewSecret{}, err
	}
	defer m.doneCreating(in)
	req.RequestID = in.id
	created, err := p.Create(ctx, req)
	if err != nil {
		var pe *provider.Error
		if errors.As(err, &pe) && pe.Changed == provider.ChangedUnknown {
			// The key may exist upstream: the intent stays, and Reconcile
			// revokes whatever the create made.
			return NewSecret{}, fmt.Errorf("%w; if the key was made anyway, keyward revokes it at its next check", err)
		}
		m.dropIntent(ctx, in)
		return NewSecret{}, err
	}
	c.rec.KeyID = created.Key.ID
	m.noteKey(ctx, in, created.Key.ID)

	undo := func(cause error) error {
		if rerr := m.revokeConfirmed(ctx, p, created.Key.ID); rerr != nil {
			return provider.WithStep(fmt.Errorf("%w; the new key %s could not be revoked either (%w): keyward retries at its next check, or revoke it by hand", cause, created.Key.ID, rerr), provider.StepRevoke)
		}
		m.dropIntent(ctx, in)
		return fmt.Errorf("%w; the new key was revoked again, so nothing is left behind", cause)
	}

	var at delivery.Place
	if path := m.lineFile(old); path != "" && isFile(path) {
		// The .previous file is about to hold the old key's secret: whatever
		// record named it lets go first, so that none removes the new content.
		m.release(ctx, p.Name(), secret.PreviousPath(path), "")
		at = delivery.Place{Path: path, KeepPrevious: true, Claim: func(path string) { m.noteFile(ctx, in, path) }}
	}
	d, notes, err := m.deliver(ctx, p, created, at)
	if err != nil {
		return NewSecret{}, undo(err)
	}
	tookOver := d.Previous != ""
	if !tookOver {
		m.noteFile(ctx, in, d.File)
	}
	mk := managedKey{provider: p.Name(), keyID: created.Key.ID, name: created.Key.Name, secretFile: d.File,
		createdBy: creator(ctx), bornAt: born,
		constraints: req.Constraints, allowedIPs: req.AllowedIPs, narrowing: true}
	if exp.Enforced {
		mk.expiresAt = exp.Deadline
	}
	if mk.bornAt == nil {
		t := m.now().UTC().Truncate(time.Millisecond)
		mk.bornAt = &t
	}
	err = m.opts.Store.Tx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		if err := m.saveManagedIn(ctx, tx, mk); err != nil {
			return err
		}
		if tookOver {
			prev := *old
			prev.secretFile = d.Previous
			if err := m.saveManagedIn(ctx, tx, prev); err != nil {
				return err
			}
		}
		if err := c.recordIn(tx); err != nil {
			return err
		}
		return endIntent(ctx, tx, in)
	})
	if err != nil {
		if tookOver {
			if rerr := m.opts.Secrets.Restore(at.Path); rerr != nil {
				m.log.Warn("putting the old secret back into its file failed; keyward tries again at its next check", "file", at.Path, "err", rerr)
			}
		} else if _, n := m.removeSecretFile(d.File, NoteFileRemoved); n != nil && n.Err != nil {
			m.log.Warn("removing the secret file of an unrecorded key failed", "file", d.File, "err", n.Err)
		}
		return NewSecret{}, undo(fmt.Errorf("recording the new key in keyward's state (KEYWARD_DB) failed (%w)", err))
	}
	for _, n := range created.Notes {
		notes = append(notes, Note{Kind: NoteProvider, Text: n})
	}
	return NewSecret{Key: view(p, created.Key, &mk), Delivery: d, Notes: notes}, nil
}

// UpdateArgs are what UpdateKey needs; nil or empty fields stay unchanged.
type UpdateArgs struct {
	Provider  string
	KeyID     string
	Name      *string
	Scopes    []string
	ExpiresIn string
	DryRun    bool // check and describe, change nothing
}

// ReissueArgs are what ReissueKey needs; nil or empty fields are kept from
// the old key. AllowedIPs may narrow the old key's allow-list, and must be
// given where neither the platform nor keyward knows it.
type ReissueArgs struct {
	UpdateArgs
	AllowedIPs []string
}

// live loads a key that may still be changed: it exists, and it has not
// passed its deadline (an expired key is final).
// A key superseded by a replacement (it works out a grace) is final too. The
// caller holds the key's lock (m.keys) for the whole change.
func (m *Manager) live(ctx context.Context, c *call, p provider.Provider, keyID string) (provider.Key, *managedKey, *time.Time, error) {
	cur, err := p.Get(ctx, keyID)
	if err != nil {
		return cur, nil, nil, err
	}
	mk, err := m.managed(ctx, p.Name(), cur.ID)
	if err != nil {
		return cur, nil, nil, err
	}
	c.rec.KeyName, c.rec.ScopesBefore = cur.Name, nonNil(cur.Scopes)
	deadline := view(p, cur, mk).ExpiresAt
	if err := policy.Final(cur.ID, m.now(), deadline); err != nil {
		return cur, mk, deadline, err
	}
	if mk != nil && mk.supersededBy != "" {
		return cur, mk, deadline, &policy.Refusal{Reason: fmt.Sprintf("key %s was replaced by %s and only works until %s for the switch-over; it cannot be changed, rotated or replaced (it may be revoked)",
			cur.ID, mk.supersededBy, fmtTime(deadline)), Step: provider.StepRevoke}
	}
	return cur, mk, deadline, nil
}

// target is a key a call is about to change: a provider that manages keys,
// the key's lock (held), the key, keyward's record of it and its deadline.
type target struct {
	p        provider.Provider
	key      *heldKey
	cur      provider.Key
	mk       *managedKey
	deadline *time.Time
}

// openKey resolves the key a change is for and takes its lock; the caller
// releases t.key. It fails, holding nothing, when the provider cannot manage
// keys or the key is not live (see live).
func (m *Manager) openKey(ctx context.Context, c *call, providerName, keyID string) (*target, error) {
	p, err := m.providerThatManages(providerName)
	if err != nil {
		return nil, err
	}
	key := m.keys.lock(p.Name(), keyID)
	cur, mk, deadline, err := m.live(ctx, c, p, keyID)
	if err != nil {
		key.release()
		return nil, err
	}
	return &target{p: p, key: key, cur: cur, mk: mk, deadline: deadline}, nil
}

// unchanged re-reads a key after the human was asked and refuses when it
// changed meanwhile: what they confirmed is not what would be done.
func (m *Manager) unchanged(ctx context.Context, p provider.Provider, before provider.Key) error {
	now, err := p.Get(ctx, before.ID)
	if err != nil {
		return err
	}
	if now.Name != before.Name || !slices.Equal(sortedCopy(now.Scopes), sortedCopy(before.Scopes)) || now.Active != before.Active ||
		!sameTime(now.ExpiresAt, before.ExpiresAt) || !slices.Equal(now.Constraints, before.Constraints) {
		return provider.Errorf(provider.KindConflict, p.Name(), "key %s changed while the human was deciding, so what they confirmed is not what would be done; nothing was changed", before.ID).Next(provider.StepCheckKey)
	}
	return nil
}

func sameTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

// planned is what a change to a key would make of it.
type planned struct {
	name      string
	scopes    []string
	exp       policy.Expiry
	expChange bool
	req       provider.UpdateRequest
	inPlace   bool
	reissueOf []string // what only a re-issue can change
}

// plan checks the settings of an update or a re-issue against the policy.
func (m *Manager) plan(p provider.Provider, cur provider.Key, mk *managedKey, deadline *time.Time, name *string, scopes []string, expiresIn string) (planned, error) {
	caps := p.Capabilities()
	now := m.now()
	pl := planned{name: cur.Name, scopes: cur.Scopes, exp: m.opts.Policy.Keep(p, now, deadline)}
	var err error
	if name != nil {
		if pl.name, err = CheckName(*name); err != nil {
			return pl, err
		}
		if caps.Rename {
			pl.req.Name, pl.inPlace = &pl.name, true
		} else if pl.name != cur.Name {
			pl.reissueOf = append(pl.reissueOf, "its name")
		}
	}
	if scopes != nil {
		if pl.scopes, err = m.opts.Policy.ScopesForUpdate(p, cur.Scopes, scopes); err != nil {
			return pl, err
		}
		if caps.ScopesMutable {
			pl.req.Scopes, pl.inPlace = pl.scopes, true
		} else if !slices.Equal(pl.scopes, sortedCopy(cur.Scopes)) {
			pl.reissueOf = append(pl.reissueOf, "its scopes")
		}
	}
	if strings.TrimSpace(expiresIn) != "" {
		if pl.exp, err = m.opts.Policy.ExpiryForUpdate(p, now, bornOf(cur, mk), deadline, expiresIn); err != nil {
			return pl, err
		}
		pl.expChange = true
		switch {
		case caps.ExpiryMutable:
			pl.req.SetExpiry, pl.req.ExpiresAt, pl.inPlace = true, pl.exp.Upstream, true
		case caps.Expiry == provider.ExpiryNone:
			// keyward keeps this deadline itself; nothing to send upstream.
		default:
			pl.reissueOf = append(pl.reissueOf, "its expiry")
		}
	}
	return pl, nil
}

// UpdateKey renames, re-scopes or changes the expiry of a key in place. It
// never revokes anything: what a platform cannot change in place needs
// ReissueKey, which is destructive and says so.
func (m *Manager) UpdateKey(ctx context.Context, a UpdateArgs) (res NewSecret, err error) {
	c := m.begin(ctx, audit.Record{Tool: "update_key", Provider: orDefault(a.Provider), KeyID: a.KeyID}, a.DryRun)
	defer func() { c.end(err) }()

	if a.KeyID, err = keyIDArg(a.KeyID); err != nil {
		return res, err
	}
	if a.Name == nil && a.Scopes == nil && strings.TrimSpace(a.ExpiresIn) == "" {
		return res, errors.New("nothing to change: give a new name, scopes or expiry")
	}
	t, err := m.openKey(ctx, c, a.Provider, a.KeyID)
	if err != nil {
		return res, err
	}
	defer t.key.release()
	p, key, cur, mk, deadline := t.p, t.key, t.cur, t.mk, t.deadline
	pl, err := m.plan(p, cur, mk, deadline, a.Name, a.Scopes, a.ExpiresIn)
	if err != nil {
		return res, err
	}
	c.rec.ScopesAfter, c.rec.ExpiresAt = nonNil(pl.scopes), pl.exp.Deadline
	if len(pl.reissueOf) > 0 {
		return res, provider.Unsupported(p.Name(), "%s cannot change %s in place; a replacement key (new id and secret, same or shorter life) can have the new settings, and this one is then revoked", p.Title(), strings.Join(pl.reissueOf, " or ")).Next(provider.StepReissue)
	}
	if w := writeScopes(p, added(cur.Scopes, pl.scopes)); len(w) > 0 {
		msg := fmt.Sprintf("Give key %q (%s) on %s the write scopes %s?", cur.Name, cur.ID, p.Title(), strings.Join(w, ", "))
		if err = c.confirmAbout(key, msg); err != nil {
			return res, err
		}
		if err = m.unchanged(ctx, p, cur); err != nil {
			return res, err
		}
	}
	var notes []Note
	if pl.exp.Note != "" && pl.expChange {
		notes = append(notes, Note{Kind: NoteExpiry, Text: pl.exp.Note})
	}
	if plan := c.dryStop(Plan{Action: ActionUpdate, Name: pl.name, Notes: notes}); plan != nil {
		return NewSecret{Plan: plan}, nil
	}
	updated := cur
	if pl.inPlace {
		if updated, err = p.Update(ctx, cur.ID, pl.req); err != nil {
			return res, err
		}
	}
	if pl.expChange && (pl.exp.Enforced || (mk != nil && mk.expiresAt != nil)) {
		if mk == nil {
			mk = &managedKey{provider: p.Name(), keyID: cur.ID, bornAt: bornOf(cur, nil)} // a record of its deadline; keyward did not create it
		}
		mk.name, mk.expiresAt = updated.Name, nil
		if pl.exp.Enforced {
			mk.expiresAt = pl.exp.Deadline
		}
		if err = m.saveManaged(ctx, *mk); err != nil {
			return res, fmt.Errorf("recording the new deadline failed: %w", err)
		}
	}
	res.Key = view(p, updated, mk)
	res.Confirmation = c.confirmation()
	res.Notes = append(notes, c.notes...)
	return res, nil
}

// ReissueKey replaces a key with a new one (new id and secret) with the given
// settings, then revokes the old one. The replacement keeps the old key's
// deadline unless a shorter one is asked for, and inherits its life: it can
// never be renewed past the original's creation + KEYWARD_MAX_TTL.
func (m *Manager) ReissueKey(ctx context.Context, ra ReissueArgs) (res NewSecret, err error) {
	a := ra.UpdateArgs
	c := m.begin(ctx, audit.Record{Tool: "reissue_key", Provider: orDefault(a.Provider), KeyID: a.KeyID}, a.DryRun)
	defer func() { c.end(err) }()

	if a.KeyID, err = keyIDArg(a.KeyID); err != nil {
		return res, err
	}
	t, err := m.openKey(ctx, c, a.Provider, a.KeyID)
	if err != nil {
		return res, err
	}
	defer t.key.release()
	p, key, cur, mk, deadline := t.p, t.key, t.cur, t.mk, t.deadline
	pl, err := m.plan(p, cur, mk, deadline, a.Name, a.Scopes, a.ExpiresIn)
	if err != nil {
		return res, err
	}
	if err = m.opts.Policy.ScopesForReplacement(p, pl.scopes); err != nil {
		return res, err
	}
	if !pl.expChange {
		if pl.exp, err = m.opts.Policy.ReplacementExpiry(p, m.now(), bornOf(cur, mk), deadline); err != nil {
			return res, err
		}
	}
	c.rec.ScopesAfter, c.rec.ExpiresAt = nonNil(pl.scopes), pl.exp.Deadline
	if !p.Capabilities().Revoke {
		return res, provider.Unsupported(p.Name(), "%s keys cannot be revoked through its API, so a replacement would leave the old key working; replace it in the dashboard", p.Title())
	}
	cs, ips, err := policy.Carry(p, cur, mk.narrowingOf(), pl.scopes, ra.AllowedIPs)
	if err != nil {
		return res, err
	}
	c.rec.Detail = describeNarrowing(cs, ips)
	q := fmt.Sprintf("Replace key %q (%s) on %s with a new key named %q with %s%s, expiring %%s? The old key is revoked.", cur.Name, cur.ID, p.Title(), pl.name, describeScopes(p, pl.scopes), narrowingClause(cs, ips))
	act := fmt.Sprintf(q, fmtTime(pl.exp.Deadline))
	if pl.expChange {
		act = fmt.Sprintf(q, lifetime(a.ExpiresIn))
	}
	key.release()
	err = c.confirmAct(fmt.Sprintf(q, fmtTime(pl.exp.Deadline)), act)
	key.relock()
	if err != nil {
		return res, err
	}
	if err = m.unchanged(ctx, p, cur); err != nil {
		return res, err
	}
	if plan := c.dryStop(Plan{Action: ActionReplace, Name: pl.name, Narrowing: c.rec.Detail, Notes: expiryNote(pl.exp)}); plan != nil {
		return NewSecret{Plan: plan}, m.checkDelivery()
	}
	return m.reissue(ctx, c, p, cur, mk, provider.CreateRequest{Name: pl.name, Scopes: pl.scopes, ExpiresAt: pl.exp.Upstream, Constraints: cs, AllowedIPs: ips}, pl.exp, 0)
}

// reissue creates a twin with the given settings, delivers its secret and
// revokes the old key (after grace, by the reaper, when grace > 0). The twin
// takes over the old key's secret file; the old secret stays beside it
// until the old key is revoked.
func (m *Manager) reissue(ctx context.Context, c *call, p provider.Provider, old provider.Key, oldMK *managedKey, req provider.CreateRequest, exp policy.Expiry, grace time.Duration) (NewSecret, error) {
	c.rec.Detail = strings.TrimPrefix(c.rec.Detail+"; replaces "+old.ID, "; ")
	res, err := m.mint(ctx, c, p, req, exp, bornOf(old, oldMK), oldMK)
	if err != nil {
		return NewSecret{}, fmt.Errorf("creating the replacement failed, the old key is untouched: %w", err)
	}
	res.ReplacedKeyID = old.ID
	res.Confirmation = c.confirmation()
	res.Notes = append(res.Notes, c.notes...)
	res.Notes = append(res.Notes, expiryNote(exp)...)
	// What mint recorded of the old key: its file is now the .previous one.
	var oldNow *managedKey
	if oldMK != nil {
		o := *oldMK
		if res.Delivery.Previous != "" {
			o.secretFile = res.Delivery.Previous
		}
		oldNow = &o
	}
	// The replacement is recorded; what follows is about the old key, which
	// gets an audit record of its own.
	oldRec := audit.Record{Tool: c.rec.Tool, Provider: p.Name(), KeyID: old.ID, KeyName: old.Name, ScopesBefore: nonNil(old.Scopes),
		Confirmation: string(c.confirmation())}
	if grace > 0 {
		until := m.now().Add(grace).UTC().Truncate(time.Second)
		mk := managedKey{provider: p.Name(), keyID: old.ID, name: old.Name, expiresAt: &until, supersededBy: res.Key.ID}
		if oldNow != nil {
			mk.secretFile, mk.createdBy, mk.bornAt = oldNow.secretFile, oldNow.createdBy, oldNow.bornAt
			if oldNow.expiresAt != nil && oldNow.expiresAt.Before(until) {
				mk.expiresAt = oldNow.expiresAt
			}
		}
		oldRec.ExpiresAt, oldRec.Detail = mk.expiresAt, "replaced by "+res.Key.ID+"; revoked by keyward when its grace ends"
		if err := m.saveManaged(ctx, mk); err != nil {
			res.Notes = append(res.Notes, Note{Kind: NoteOldKeyNotScheduled, KeyID: old.ID, Err: err})
			m.record(ctx, oldRec, err)
			return res, nil
		}
		m.record(ctx, oldRec, nil)
		res.OldValidUntil = mk.expiresAt
		res.Notes = append(res.Notes, Note{Kind: NoteOldKeyGrace, KeyID: old.ID, At: mk.expiresAt})
		if res.Delivery.Previous != "" {
			res.Notes = append(res.Notes, Note{Kind: NotePreviousSecretKept, Path: res.Delivery.Previous, At: mk.expiresAt})
		}
		return res, nil
	}
	oldRec.Detail = "revoked: replaced by " + res.Key.ID
	if err := m.revokeConfirmed(ctx, p, old.ID); err != nil {
		// The old key still works, and its secret stays beside the file.
		res.Notes = append(res.Notes, Note{Kind: NoteOldKeyNotRevoked, KeyID: old.ID, Err: err})
		if res.Delivery.Previous != "" {
			res.Notes = append(res.Notes, Note{Kind: NotePreviousSecretKept, Path: res.Delivery.Previous})
		}
		m.record(ctx, oldRec, err)
		return res, nil
	}
	var dropped []Note
	m.dropManaged(ctx, p.Name(), old.ID, oldNow, &dropped)
	for _, n := range dropped {
		// The .previous file lived only for the switch-over; only a failure
		// to remove it is news.
		if res.Delivery.Previous == "" || n.Kind == NoteFileNotRemoved {
			res.Notes = append(res.Notes, n)
		}
	}
	res.Delivery.Previous = ""
	m.record(ctx, oldRec, nil)
	res.Notes = append(res.Notes, Note{Kind: NoteOldKeyRevoked, KeyID: old.ID})
	return res, nil
}

// dropManaged forgets an old key and removes the secret file keyward wrote
// for it, and the previous secret kept beside it after a native rotation.
func (m *Manager) dropManaged(ctx context.Context, providerName, keyID string, mk *managedKey, notes *[]Note) string {
	if mk == nil {
		return ""
	}
	removed, n := m.removeSecretFile(mk.secretFile, NoteFileRemoved)
	if n != nil {
		*notes = append(*notes, *n)
	}
	if err := m.forgetManaged(ctx, providerName, keyID); err != nil {
		m.log.Warn("forgetting a managed key failed", "provider", providerName, "key_id", keyID, "err", err)
	}
	m.closeLinks(ctx, providerName, keyID)
	if !mk.isPreviousSecret() {
		m.dropPrevious(ctx, providerName, keyID, notes)
	}
	return removed
}

// SetActiveArgs are what SetKeyActive needs.
type SetActiveArgs struct {
	Provider string
	KeyID    string
	Active   bool
	DryRun   bool // check and describe, change nothing
}

// SetKeyActive enables or disables a key without deleting it.
func (m *Manager) SetKeyActive(ctx context.Context, a SetActiveArgs) (res NewSecret, err error) {
	providerName, keyID, active := a.Provider, a.KeyID, a.Active
	c := m.begin(ctx, audit.Record{Tool: "set_key_active", Provider: orDefault(providerName), KeyID: keyID, Detail: fmt.Sprintf("active=%t", active)}, a.DryRun)
	defer func() { c.end(err) }()
	if keyID, err = keyIDArg(keyID); err != nil {
		return res, err
	}
	p, err := m.providerThatManages(providerName)
	if err != nil {
		return res, err
	}
	if !p.Capabilities().Toggle {
		return res, provider.Unsupported(p.Name(), "%s keys cannot be enabled or disabled; revoking removes a key for good", p.Title()).Next(provider.StepRevoke)
	}
	key := m.keys.lock(p.Name(), keyID)
	defer key.release()
	cur, _, deadline, err := m.live(ctx, c, p, keyID)
	if err != nil {
		return res, err
	}
	c.rec.ScopesAfter, c.rec.ExpiresAt = nonNil(cur.Scopes), deadline
	action := ActionDisable
	if active {
		action = ActionEnable
	}
	if plan := c.dryStop(Plan{Action: action}); plan != nil {
		return NewSecret{Plan: plan}, nil
	}
	k, err := p.SetActive(ctx, cur.ID, active)
	if err != nil {
		return res, err
	}
	c.rec.KeyName, c.rec.ScopesBefore, c.rec.ScopesAfter = k.Name, nonNil(k.Scopes), nonNil(k.Scopes)
	res.Key = m.viewWithRecord(ctx, p, k)
	return res, nil
}

// RotateArgs are what RotateKey needs.
type RotateArgs struct {
	Provider string
	KeyID    string
	Grace    string // "" or "0s": the old secret stops at once
	DryRun   bool   // check and describe, change nothing
}

// RotateKey gives a key a new secret with the same scopes and the same
// deadline; the old secret may keep working for a grace period.
func (m *Manager) RotateKey(ctx context.Context, a RotateArgs) (res NewSecret, err error) {
	c := m.begin(ctx, audit.Record{Tool: "rotate_key", Provider: orDefault(a.Provider), KeyID: a.KeyID}, a.DryRun)
	defer func() { c.end(err) }()
	if a.KeyID, err = keyIDArg(a.KeyID); err != nil {
		return res, err
	}
	var grace time.Duration
	if g := strings.TrimSpace(a.Grace); g != "" && g != "0" {
		if grace, err = policy.ParseDuration(g); err != nil {
			return res, fmt.Errorf("grace: %w", err)
		}
		if grace > MaxGrace {
			return res, fmt.Errorf("grace %s is longer than the maximum of %s; the old secret should stop soon after the new one is in place", policy.FormatDuration(grace), policy.FormatDuration(MaxGrace))
		}
	}
	t, err := m.openKey(ctx, c, a.Provider, a.KeyID)
	if err != nil {
		return res, err
	}
	defer t.key.release()
	p, key, cur, mk, deadline := t.p, t.key, t.cur, t.mk, t.deadline
	if err = m.opts.Policy.ScopesForReplacement(p, cur.Scopes); err != nil {
		return res, err
	}
	c.rec.ScopesAfter, c.rec.ExpiresAt = nonNil(cur.Scopes), deadline
	caps := p.Capabilities()
	stop := "at once"
	if grace > 0 {
		stop = "after a grace of " + policy.FormatDuration(grace)
	}
	if err = c.confirmAbout(key, fmt.Sprintf("Rotate key %q (%s) on %s, with %s? A new secret is issued and the old one stops working %s.", cur.Name, cur.ID, p.Title(), describeScopes(p, cur.Scopes), stop)); err != nil {
		return res, err
	}
	if err = m.unchanged(ctx, p, cur); err != nil {
		return res, err
	}
	if caps.Rotate && (grace == 0 || caps.RotateGrace) {
		if err = m.checkDelivery(); err != nil {
			return res, err
		}
		if plan := c.dryStop(Plan{Action: ActionRotate, Grace: grace}); plan != nil {
			return NewSecret{Plan: plan}, nil
		}
		created, rerr := p.Rotate(ctx, cur.ID, provider.RotateRequest{Grace: grace})
		if rerr != nil {
			return res, rerr
		}
		var until *time.Time // when the platform stops the old secret
		if grace > 0 {
			u := m.now().Add(grace).UTC()
			until = &u
		}
		if res, err = m.finishRotation(ctx, p, created, mk, until); err != nil {
			return res, fmt.Errorf("the key was rotated but its new secret could not be delivered (%w); rotate it again once that is fixed", err)
		}
		if until != nil {
			res.OldValidUntil = until
			res.Notes = append(res.Notes, Note{Kind: NoteOldSecretGrace, At: until})
		}
		res.Confirmation = c.confirmation()
		res.Notes = append(res.Notes, c.notes...)
		return res, nil
	}
	// No native rotation (or none with grace): a twin with the same settings,
	// narrowing and deadline, then the old key goes — after the grace, if any.
	if !caps.Revoke {
		return res, provider.Unsupported(p.Name(), "%s keys cannot be revoked through its API, so a rotation by replacement would leave the old key working; rotate without grace, or in the dashboard", p.Title())
	}
	cs, ips, err := policy.Carry(p, cur, mk.narrowingOf(), cur.Scopes, nil)
	if err != nil {
		return res, err
	}
	exp, err := m.opts.Policy.ReplacementExpiry(p, m.now(), bornOf(cur, mk), deadline)
	if err != nil {
		return res, err
	}
	if plan := c.dryStop(Plan{Action: ActionRotateByReplace, Grace: grace, Narrowing: describeNarrowing(cs, ips), Notes: expiryNote(exp)}); plan != nil {
		return NewSecret{Plan: plan}, m.checkDelivery()
	}
	res, err = m.reissue(ctx, c, p, cur, mk, provider.CreateRequest{Name: cur.Name, Scopes: cur.Scopes, ExpiresAt: exp.Upstream, Constraints: cs, AllowedIPs: ips}, exp, grace)
	if err == nil {
		c.rec.Detail = "rotated by re-issue as " + res.Key.ID
		res.Notes = append(res.Notes, Note{Kind: NoteRotatedByReissue, Text: p.Title()})
	}
	return res, err
}

// finishRotation delivers a rotated key's new secret into the key's file and
// updates keyward's record. With a grace (until: its end), the old secret
// stays readable beside the file, named by a previous-secret record that
// removes it when the grace ends; without, the platform ended every earlier
// grace too, and an older .previous file goes.
func (m *Manager) finishRotation(ctx context.Context, p provider.Provider, created provider.Created, mk *managedKey, until *time.Time) (NewSecret, error) {
	path := m.lineFile(mk)
	at := delivery.Place{Path: path}
	if until != nil && path != "" {
		// Recorded before the file is written, so the .previous file is
		// never there unrecorded.
		rec := previousOf(p.Name(), created.Key.ID, created.Key.Name, secret.PreviousPath(path), *until)
		if err := m.saveManaged(ctx, rec); err != nil {
			m.log.Warn("recording the previous secret's file failed; the old secret is not kept beside the new one", "provider", p.Name(), "key_id", created.Key.ID, "err", err)
		} else {
			m.release(ctx, p.Name(), rec.secretFile, rec.keyID)
			at.KeepPrevious = true
		}
	}
	d, notes, err := m.deliver(ctx, p, created, at)
	if err != nil {
		return NewSecret{}, err
	}
	if until == nil {
		m.dropPrevious(ctx, p.Name(), created.Key.ID, &notes)
	}
	if d.Previous != "" {
		notes = append(notes, Note{Kind: NotePreviousSecretKept, Path: d.Previous, At: until})
	}
	next := managedKey{provider: p.Name(), keyID: created.Key.ID, name: created.Key.Name, secretFile: d.File}
	if mk != nil {
		next.createdBy, next.bornAt, next.expiresAt = mk.createdBy, mk.bornAt, mk.expiresAt
	}
	if next.bornAt == nil {
		next.bornAt = bornOf(created.Key, mk)
	}
	if err := m.saveManaged(ctx, next); err != nil {
		return NewSecret{}, fmt.Errorf("recording the rotated key in keyward's state (KEYWARD_DB) failed: %w", err)
	}
	if old := mkFile(mk); old != "" && path == "" && old != d.File {
		// A file keyward cannot take over (outside the secrets directory in
		// force) holds a secret that no longer works, or soon will not.
		if _, n := m.removeSecretFile(old, NotePreviousFileRemoved); n != nil {
			notes = append(notes, *n)
		}
	}
	return NewSecret{Key: view(p, created.Key, &next), Delivery: d, Notes: notes}, nil
}

func isFile(path string) bool {
	info, err := os.Lstat(path)
	return err == nil && info.Mode().IsRegular()
}

func mkFile(mk *managedKey) string {
	if mk == nil {
		return ""
	}
	return mk.secretFile
}

// RevokeArgs are what RevokeKey needs.
type RevokeArgs struct {
	Provider string
	KeyID    string
	DryRun   bool // check and describe, change nothing
	// ByOperator: the operator revokes it from the console, which is their
	// confirmation; Detail says why, for the audit record. (No tool sets it.)
	ByOperator bool
	Detail     string
}

// RevokeKey deletes a key for good. An expired key may be revoked too: that
// only makes it more final.
func (m *Manager) RevokeKey(ctx context.Context, a RevokeArgs) (res Revoked, err error) {
	providerName, keyID := a.Provider, a.KeyID
	c := m.begin(ctx, audit.Record{Tool: "revoke_key", Provider: orDefault(providerName), KeyID: keyID, Detail: a.Detail}, a.DryRun)
	c.operator = a.ByOperator
	defer func() { c.end(err) }()
	if keyID, err = keyIDArg(keyID); err != nil {
		return res, err
	}
	p, err := m.providerThatManages(providerName)
	if err != nil {
		return res, err
	}
	key := m.keys.lock(p.Name(), keyID)
	defer key.release()
	cur, err := p.Get(ctx, keyID)
	if err != nil {
		return res, err
	}
	c.rec.KeyName, c.rec.ScopesBefore = cur.Name, nonNil(cur.Scopes)
	if err = c.confirmAbout(key, fmt.Sprintf("Revoke key %q (%s) on %s, with %s? It stops working at once and cannot be restored.", cur.Name, cur.ID, p.Title(), describeScopes(p, cur.Scopes))); err != nil {
		return res, err
	}
	if plan := c.dryStop(Plan{Action: ActionRevoke}); plan != nil {
		return Revoked{Plan: plan}, nil
	}
	if err = m.revokeConfirmed(ctx, p, cur.ID); err != nil {
		return res, err
	}
	mk, err := m.managed(ctx, p.Name(), cur.ID)
	if err != nil {
		// The key is revoked; only keyward's bookkeeping is behind.
		m.log.Warn("reading keyward's record of a revoked key failed; its secret file, if any, is left behind", "provider", p.Name(), "key_id", cur.ID, "err", err)
		err = nil
	}
	res = Revoked{Provider: p.Name(), KeyID: cur.ID, Name: cur.Name, Confirmation: c.confirmation()}
	res.FileRemoved = m.dropManaged(ctx, p.Name(), cur.ID, mk, &res.Notes)
	res.Notes = append(res.Notes, c.notes...)
	return res, nil
}

// lifetime is expires_in as a question's bound form says it.
func lifetime(expiresIn string) string {
	if s := strings.TrimSpace(expiresIn); s != "" {
		return "after " + s
	}
	return "after the default lifetime"
}

// expiryNote says how a deadline is kept, when the policy has something to say.
func expiryNote(exp policy.Expiry) []Note {
	if exp.Note == "" {
		return nil
	}
	return []Note{{Kind: NoteExpiry, Text: exp.Note}}
}

func orDefault(name string) string {
	if name == "" {
		return DefaultProvider
	}
	return name
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// added lists scopes in next that are not in prev.
func added(prev, next []string) []string {
	var out []string
	for _, s := range next {
		if !slices.Contains(prev, s) {
			out = append(out, s)
		}
	}
	return out
}

// narrowingOf is what keyward recorded of a key's narrowing; unknown without a record.
func (mk *managedKey) narrowingOf() policy.Narrowing {
	if mk == nil || !mk.narrowing {
		return policy.Narrowing{}
	}
	return policy.Narrowing{Constraints: mk.constraints, AllowedIPs: mk.allowedIPs, Known: true}
}

// describeNarrowing is the audit record's note of a key's narrowing.
func describeNarrowing(cs []provider.Constraint, ips []string) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.String())
	}
	if len(ips) > 0 {
		parts = append(parts, "allowed IPs: "+strings.Join(ips, ", "))
	}
	return strings.Join(parts, "; ")
}

// narrowingClause is the narrowing in a question to the human.
func narrowingClause(cs []provider.Constraint, ips []string) string {
	d := describeNarrowing(cs, ips)
	if d == "" {
		return ""
	}
	return " (narrowed: " + d + ")"
}

// creator names who creates a key through keyward: the client, and over
// HTTP the principal that authenticated ("claude-code 1.2 as token").
func creator(ctx context.Context) string {
	id := caller.From(ctx)
	who := strings.TrimSpace(id.ClientName + " " + id.ClientVersion)
	if id.Principal != "" {
		who = strings.TrimSpace(who + " as " + id.Principal)
	}
	return who
}
