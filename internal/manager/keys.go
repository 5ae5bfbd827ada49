package manager

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider"
)

// MaxNameLen bounds key names.
const MaxNameLen = 100

// SecretResult describes a key that has (or may have) a new secret.
type SecretResult struct {
	KeyView
	Delivery
	ReplacedKeyID string     `json:"replaced_key_id,omitempty"`
	OldValidUntil *time.Time `json:"old_secret_valid_until,omitempty"`
	Notes         []string   `json:"notes,omitempty"`
}

// CreateArgs are create_key's arguments.
type CreateArgs struct {
	Provider  string
	Name      string
	Scopes    []string
	ExpiresIn string
}

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", errors.New("name is empty; give the key a name that says what it is for, e.g. \"ci-deploy-read\"")
	case len(name) > MaxNameLen:
		return "", fmt.Errorf("name is %d characters long; use at most %d", len(name), MaxNameLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", errors.New("name contains control characters; use letters, digits, spaces and punctuation")
	}
	return name, nil
}

func keyIDArg(id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", errors.New("key_id is empty; call list_keys to find the key's id")
	}
	return id, nil
}

// managing resolves a provider for a call that manages keys, which platforms
// whose keys live only in their dashboard cannot serve.
func (m *Manager) managing(name string) (provider.Provider, error) {
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
func (m *Manager) CreateKey(ctx context.Context, a CreateArgs) (res SecretResult, err error) {
	rec := audit.Record{Tool: "create_key", Provider: orDefault(a.Provider), KeyName: a.Name}
	defer func() { m.record(ctx, rec, err) }()

	if a.Name, err = checkName(a.Name); err != nil {
		return res, err
	}
	rec.KeyName = a.Name
	p, err := m.managing(a.Provider)
	if err != nil {
		return res, err
	}
	sd, err := m.opts.Policy.ScopesForCreate(p, a.Scopes)
	if err != nil {
		return res, err
	}
	rec.ScopesAfter = nonNil(sd.Scopes)
	now := m.now()
	exp, err := m.opts.Policy.ExpiryForCreate(p, now, a.ExpiresIn)
	if err != nil {
		return res, err
	}
	rec.ExpiresAt = exp.Deadline
	if w := writeScopes(p, sd.Scopes); len(w) > 0 || !p.Capabilities().Scopes {
		msg := fmt.Sprintf("Create key %q on %s with %s, expiring %s?", a.Name, p.Title(), describeScopes(p, sd.Scopes), fmtTime(exp.Deadline))
		if err = m.confirm(ctx, msg); err != nil {
			return res, err
		}
	}
	if err = m.checkDelivery(); err != nil {
		return res, err
	}
	created, err := p.Create(ctx, provider.CreateRequest{Name: a.Name, Scopes: sd.Scopes, ExpiresAt: exp.Upstream})
	if err != nil {
		return res, err
	}
	rec.KeyID = created.Key.ID
	res, err = m.finishNewKey(ctx, p, created, exp)
	if err != nil {
		// The secret could not be delivered: an unusable key is worse than none.
		if rerr := p.Revoke(context.WithoutCancel(ctx), created.Key.ID); rerr != nil {
			err = fmt.Errorf("%v; the new key %s could not be revoked either (%v): revoke it with revoke_key", err, created.Key.ID, rerr)
		} else {
			err = fmt.Errorf("%v; the new key was revoked again, so nothing is left behind", err)
		}
		return SecretResult{}, err
	}
	if sd.Defaulted {
		res.Notes = append(res.Notes, fmt.Sprintf("no scopes given: the minimal default %s was applied (list_scopes shows the others)", strings.Join(sd.Scopes, ", ")))
	}
	if exp.Note != "" {
		res.Notes = append(res.Notes, exp.Note)
	}
	if !p.Capabilities().Scopes {
		res.Notes = append(res.Notes, p.Title()+" keys have no scopes: this key has full access to the account")
	}
	return res, nil
}

// finishNewKey delivers a new secret and records what keyward must remember.
func (m *Manager) finishNewKey(ctx context.Context, p provider.Provider, c provider.Created, exp policy.Expiry) (SecretResult, error) {
	d, notes, err := m.deliver(ctx, p, c)
	if err != nil {
		return SecretResult{}, err
	}
	mk := managedKey{provider: p.Name(), keyID: c.Key.ID, name: c.Key.Name, secretFile: d.SecretFile, createdBy: callerFrom(ctx).ClientName}
	if exp.Enforced {
		mk.expiresAt = exp.Deadline
	}
	if mk.expiresAt != nil || mk.secretFile != "" {
		if err := m.saveManaged(ctx, mk); err != nil {
			return SecretResult{}, fmt.Errorf("recording the new key in the state file failed: %v", err)
		}
	}
	return SecretResult{KeyView: view(p, c.Key, &mk), Delivery: d, Notes: notes}, nil
}

// UpdateArgs are update_key's arguments; nil or empty fields stay unchanged.
type UpdateArgs struct {
	Provider  string
	KeyID     string
	Name      *string
	Scopes    []string
	ExpiresIn string
	Reissue   bool
}

// UpdateKey renames, re-scopes or changes the expiry of a key, in place where
// the platform can and by re-issue (with consent) where it cannot.
func (m *Manager) UpdateKey(ctx context.Context, a UpdateArgs) (res SecretResult, err error) {
	rec := audit.Record{Tool: "update_key", Provider: orDefault(a.Provider), KeyID: a.KeyID}
	defer func() { m.record(ctx, rec, err) }()

	if a.KeyID, err = keyIDArg(a.KeyID); err != nil {
		return res, err
	}
	if a.Name == nil && a.Scopes == nil && strings.TrimSpace(a.ExpiresIn) == "" {
		return res, errors.New("nothing to change: pass name, scopes or expires_in")
	}
	p, err := m.managing(a.Provider)
	if err != nil {
		return res, err
	}
	cur, err := p.Get(ctx, a.KeyID)
	if err != nil {
		return res, err
	}
	mk, err := m.managed(ctx, p.Name(), cur.ID)
	if err != nil {
		return res, err
	}
	rec.KeyName, rec.ScopesBefore = cur.Name, nonNil(cur.Scopes)
	caps := p.Capabilities()
	now := m.now()

	var (
		req       provider.UpdateRequest
		inPlace   bool
		reissueOf []string // what only a re-issue can change
		newName   = cur.Name
		newScopes = cur.Scopes
		exp       = m.opts.Policy.Keep(p, now, view(p, cur, mk).ExpiresAt)
		expChange bool
	)
	if a.Name != nil {
		if newName, err = checkName(*a.Name); err != nil {
			return res, err
		}
		if caps.Rename {
			req.Name, inPlace = &newName, true
		} else {
			reissueOf = append(reissueOf, "its name")
		}
	}
	if a.Scopes != nil {
		if newScopes, err = m.opts.Policy.ScopesForUpdate(p, cur.Scopes, a.Scopes); err != nil {
			return res, err
		}
		if caps.ScopesMutable {
			req.Scopes, inPlace = newScopes, true
		} else if !slices.Equal(newScopes, sortedCopy(cur.Scopes)) {
			reissueOf = append(reissueOf, "its scopes")
		}
	}
	rec.ScopesAfter = nonNil(newScopes)
	if strings.TrimSpace(a.ExpiresIn) != "" {
		if exp, err = m.opts.Policy.ExpiryForCreate(p, now, a.ExpiresIn); err != nil {
			return res, err
		}
		expChange = true
		switch {
		case caps.ExpiryMutable:
			req.SetExpiry, req.ExpiresAt, inPlace = true, exp.Upstream, true
		case caps.Expiry == provider.ExpiryNone:
			// keyward keeps this deadline itself; nothing to send upstream.
		default:
			reissueOf = append(reissueOf, "its expiry")
		}
	}
	rec.ExpiresAt = exp.Deadline

	added := added(cur.Scopes, newScopes)
	if len(reissueOf) > 0 {
		if !a.Reissue {
			return res, provider.Unsupported(p.Name(), "%s cannot change %s in place; pass reissue: true to create a replacement key with the new settings (new id and secret, same or shorter life) and revoke this one", p.Title(), strings.Join(reissueOf, " or "))
		}
		msg := fmt.Sprintf("Replace key %q (%s) on %s with a new key named %q with %s, expiring %s? The old key is revoked.", cur.Name, cur.ID, p.Title(), newName, describeScopes(p, newScopes), fmtTime(exp.Deadline))
		if err = m.confirm(ctx, msg); err != nil {
			return res, err
		}
		res, err = m.reissue(ctx, p, cur, mk, newName, newScopes, exp, 0)
		if err == nil {
			rec.Detail = "re-issued as " + res.KeyID
		}
		return res, err
	}
	if w := writeScopes(p, added); len(w) > 0 {
		msg := fmt.Sprintf("Give key %q (%s) on %s the write scopes %s?", cur.Name, cur.ID, p.Title(), strings.Join(w, ", "))
		if err = m.confirm(ctx, msg); err != nil {
			return res, err
		}
	}
	updated := cur
	if inPlace {
		if updated, err = p.Update(ctx, cur.ID, req); err != nil {
			return res, err
		}
	}
	if expChange && (exp.Enforced || (mk != nil && mk.expiresAt != nil)) {
		if mk == nil {
			mk = &managedKey{provider: p.Name(), keyID: cur.ID, createdBy: callerFrom(ctx).ClientName}
		}
		mk.name, mk.expiresAt = updated.Name, nil
		if exp.Enforced {
			mk.expiresAt = exp.Deadline
		}
		if err = m.saveManaged(ctx, *mk); err != nil {
			return res, fmt.Errorf("recording the new deadline failed: %v", err)
		}
	}
	res.KeyView = view(p, updated, mk)
	if exp.Note != "" && expChange {
		res.Notes = append(res.Notes, exp.Note)
	}
	return res, nil
}

// reissue creates a twin with the given settings, delivers its secret and
// revokes the old key (after grace, by the reaper, when grace > 0).
func (m *Manager) reissue(ctx context.Context, p provider.Provider, old provider.Key, oldMK *managedKey, name string, scopes []string, exp policy.Expiry, grace time.Duration) (SecretResult, error) {
	if err := m.checkDelivery(); err != nil {
		return SecretResult{}, err
	}
	created, err := p.Create(ctx, provider.CreateRequest{Name: name, Scopes: scopes, ExpiresAt: exp.Upstream})
	if err != nil {
		return SecretResult{}, fmt.Errorf("creating the replacement failed, the old key is untouched: %w", err)
	}
	res, err := m.finishNewKey(ctx, p, created, exp)
	if err != nil {
		if rerr := p.Revoke(context.WithoutCancel(ctx), created.Key.ID); rerr == nil {
			err = fmt.Errorf("%v; the replacement was revoked again and the old key is untouched", err)
		}
		return SecretResult{}, err
	}
	res.ReplacedKeyID = old.ID
	if exp.Note != "" {
		res.Notes = append(res.Notes, exp.Note)
	}
	if grace > 0 {
		until := m.now().Add(grace).UTC().Truncate(time.Second)
		mk := managedKey{provider: p.Name(), keyID: old.ID, name: old.Name, expiresAt: &until}
		if oldMK != nil {
			mk.secretFile, mk.createdBy = oldMK.secretFile, oldMK.createdBy
			if oldMK.expiresAt != nil && oldMK.expiresAt.Before(until) {
				mk.expiresAt = oldMK.expiresAt
			}
		}
		if err := m.saveManaged(ctx, mk); err != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("the old key %s could not be scheduled for revocation (%v): revoke it with revoke_key", old.ID, err))
			return res, nil
		}
		res.OldValidUntil = mk.expiresAt
		res.Notes = append(res.Notes, fmt.Sprintf("the old key %s keeps working until %s, then keyward revokes it", old.ID, fmtTime(mk.expiresAt)))
		return res, nil
	}
	if err := p.Revoke(context.WithoutCancel(ctx), old.ID); err != nil && !provider.IsKind(err, provider.KindNotFound) {
		res.Notes = append(res.Notes, fmt.Sprintf("the old key %s could NOT be revoked (%v): revoke it with revoke_key", old.ID, err))
		return res, nil
	}
	m.dropManaged(ctx, p.Name(), old.ID, oldMK, &res.Notes)
	res.Notes = append(res.Notes, fmt.Sprintf("the old key %s was revoked", old.ID))
	return res, nil
}

// dropManaged forgets an old key and removes the secret file keyward wrote for it.
func (m *Manager) dropManaged(ctx context.Context, providerName, keyID string, mk *managedKey, notes *[]string) string {
	if mk == nil {
		return ""
	}
	removed, err := m.removeSecretFile(mk.secretFile)
	if err != nil {
		*notes = append(*notes, err.Error())
	} else if removed != "" {
		*notes = append(*notes, "its secret file "+removed+" was removed")
	}
	if err := m.forgetManaged(ctx, providerName, keyID); err != nil {
		m.log.Warn("forgetting a managed key failed", "provider", providerName, "key_id", keyID, "err", err)
	}
	return removed
}

// SetKeyActive enables or disables a key without deleting it.
func (m *Manager) SetKeyActive(ctx context.Context, providerName, keyID string, active bool) (res SecretResult, err error) {
	tool := "set_key_active"
	rec := audit.Record{Tool: tool, Provider: orDefault(providerName), KeyID: keyID, Detail: fmt.Sprintf("active=%t", active)}
	defer func() { m.record(ctx, rec, err) }()
	if keyID, err = keyIDArg(keyID); err != nil {
		return res, err
	}
	p, err := m.managing(providerName)
	if err != nil {
		return res, err
	}
	if !p.Capabilities().Toggle {
		return res, provider.Unsupported(p.Name(), "%s keys cannot be enabled or disabled; revoke_key removes a key for good", p.Title())
	}
	k, err := p.SetActive(ctx, keyID, active)
	if err != nil {
		return res, err
	}
	rec.KeyName, rec.ScopesBefore, rec.ScopesAfter = k.Name, nonNil(k.Scopes), nonNil(k.Scopes)
	res.KeyView = m.view1(ctx, p, k)
	return res, nil
}

// RotateArgs are rotate_key's arguments.
type RotateArgs struct {
	Provider string
	KeyID    string
	Grace    string // "" or "0s": the old secret stops at once
}

// RotateKey gives a key a new secret with the same scopes and the same
// deadline; the old secret may keep working for a grace period.
func (m *Manager) RotateKey(ctx context.Context, a RotateArgs) (res SecretResult, err error) {
	rec := audit.Record{Tool: "rotate_key", Provider: orDefault(a.Provider), KeyID: a.KeyID}
	defer func() { m.record(ctx, rec, err) }()
	if a.KeyID, err = keyIDArg(a.KeyID); err != nil {
		return res, err
	}
	var grace time.Duration
	if g := strings.TrimSpace(a.Grace); g != "" && g != "0" {
		if grace, err = policy.ParseDuration(g); err != nil {
			return res, fmt.Errorf("grace: %v", err)
		}
		if grace > MaxGrace {
			return res, fmt.Errorf("grace %s is longer than the maximum of %s; the old secret should stop soon after the new one is in place", g, policy.FormatDuration(MaxGrace))
		}
	}
	p, err := m.managing(a.Provider)
	if err != nil {
		return res, err
	}
	cur, err := p.Get(ctx, a.KeyID)
	if err != nil {
		return res, err
	}
	mk, err := m.managed(ctx, p.Name(), cur.ID)
	if err != nil {
		return res, err
	}
	deadline := view(p, cur, mk).ExpiresAt
	rec.KeyName, rec.ScopesBefore, rec.ScopesAfter, rec.ExpiresAt = cur.Name, nonNil(cur.Scopes), nonNil(cur.Scopes), deadline
	stop := "at once"
	if grace > 0 {
		stop = "after a grace of " + policy.FormatDuration(grace)
	}
	if err = m.confirm(ctx, fmt.Sprintf("Rotate key %q (%s) on %s, with %s? A new secret is issued and the old one stops working %s.", cur.Name, cur.ID, p.Title(), describeScopes(p, cur.Scopes), stop)); err != nil {
		return res, err
	}
	caps := p.Capabilities()
	if caps.Rotate && (grace == 0 || caps.RotateGrace) {
		if err = m.checkDelivery(); err != nil {
			return res, err
		}
		created, rerr := p.Rotate(ctx, cur.ID, provider.RotateRequest{Grace: grace})
		if rerr != nil {
			return res, rerr
		}
		var previous string
		if mk != nil {
			previous = mk.secretFile
		}
		if res, err = m.finishNewKey(ctx, p, created, policy.Expiry{Deadline: deadline, Enforced: mk != nil && mk.expiresAt != nil}); err != nil {
			return res, fmt.Errorf("the key was rotated but its new secret could not be delivered (%v); rotate it again once that is fixed", err)
		}
		if previous != "" && previous != res.SecretFile {
			if removed, rmErr := m.removeSecretFile(previous); rmErr == nil && removed != "" {
				res.Notes = append(res.Notes, "the previous secret file "+removed+" was removed")
			}
		}
		if grace > 0 {
			until := m.now().Add(grace).UTC()
			res.OldValidUntil = &until
			res.Notes = append(res.Notes, "the old secret keeps working until "+fmtTime(&until))
		}
		return res, nil
	}
	// No native rotation (or none with grace): a twin with the same settings
	// and deadline, then the old key goes — after the grace, if any.
	exp := m.opts.Policy.Keep(p, m.now(), deadline)
	res, err = m.reissue(ctx, p, cur, mk, cur.Name, cur.Scopes, exp, grace)
	if err == nil {
		rec.Detail = "rotated by re-issue as " + res.KeyID
		res.Notes = append(res.Notes, p.Title()+" has no rotation of its own, so keyward created a replacement key with the same name, scopes and deadline")
	}
	return res, err
}

// RevokeResult answers revoke_key.
type RevokeResult struct {
	Provider          string   `json:"provider"`
	KeyID             string   `json:"key_id"`
	Name              string   `json:"name"`
	Revoked           bool     `json:"revoked"`
	SecretFileRemoved string   `json:"secret_file_removed,omitempty"`
	Notes             []string `json:"notes,omitempty"`
}

// RevokeKey deletes a key for good.
func (m *Manager) RevokeKey(ctx context.Context, providerName, keyID string) (res RevokeResult, err error) {
	rec := audit.Record{Tool: "revoke_key", Provider: orDefault(providerName), KeyID: keyID}
	defer func() { m.record(ctx, rec, err) }()
	if keyID, err = keyIDArg(keyID); err != nil {
		return res, err
	}
	p, err := m.managing(providerName)
	if err != nil {
		return res, err
	}
	cur, err := p.Get(ctx, keyID)
	if err != nil {
		return res, err
	}
	rec.KeyName, rec.ScopesBefore = cur.Name, nonNil(cur.Scopes)
	if err = m.confirm(ctx, fmt.Sprintf("Revoke key %q (%s) on %s, with %s? It stops working at once and cannot be restored.", cur.Name, cur.ID, p.Title(), describeScopes(p, cur.Scopes))); err != nil {
		return res, err
	}
	if err = p.Revoke(ctx, cur.ID); err != nil {
		return res, err
	}
	mk, _ := m.managed(ctx, p.Name(), cur.ID)
	res = RevokeResult{Provider: p.Name(), KeyID: cur.ID, Name: cur.Name, Revoked: true}
	res.SecretFileRemoved = m.dropManaged(ctx, p.Name(), cur.ID, mk, &res.Notes)
	return res, nil
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
