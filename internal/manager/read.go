package manager

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
)

// ListProviders reports configured providers, how to enable the others, and the policy.
func (m *Manager) ListProviders() Providers {
	var res Providers
	for _, name := range m.order {
		p := m.providers[name]
		res.Providers = append(res.Providers, ProviderInfo{
			Name: name, Title: p.Title(), Configured: true, Capabilities: p.Capabilities(),
			DefaultScopes: nonNil(m.scopesOrNil(p, m.opts.Policy.DefaultScopes(p))), AllowedScopes: nonNil(m.scopesOrNil(p, m.opts.Policy.Ceiling(p))),
		})
	}
	for _, n := range m.UnconfiguredNames() {
		res.Providers = append(res.Providers, ProviderInfo{Name: n, Title: n, EnableWith: m.opts.Unconfigured[n], DefaultScopes: []string{}, AllowedScopes: []string{}})
	}
	res.Policy = PolicyInfo{
		Rules: m.opts.Policy.Rules(), Reveal: m.opts.Reveal, Confirm: m.opts.Confirm,
		ReadOnly: m.opts.ReadOnly, Tools: m.opts.Tools, MaxGrace: MaxGrace,
	}
	return res
}

func (m *Manager) scopesOrNil(p provider.Provider, s []string) []string {
	if !p.Capabilities().Scopes {
		return nil
	}
	return s
}

// ListScopes reports a provider's permission vocabulary and the policy on it.
func (m *Manager) ListScopes(providerName string) (Scopes, error) {
	p, err := m.provider(providerName)
	if err != nil {
		return Scopes{}, err
	}
	res := Scopes{Provider: p.Name(), Title: p.Title(), HasScopes: p.Capabilities().Scopes, Scopes: []ScopeInfo{}, Default: []string{}, Ceiling: []string{},
		FullAccessAllowed: m.opts.Policy.Rules().AllowFullAccess}
	if !res.HasScopes {
		return res, nil
	}
	res.Default, res.Ceiling = nonNil(m.opts.Policy.DefaultScopes(p)), nonNil(m.opts.Policy.Ceiling(p))
	for _, s := range p.ScopeVocabulary() {
		res.Scopes = append(res.Scopes, ScopeInfo{Scope: s, Allowed: slices.Contains(res.Ceiling, s.Name), Default: slices.Contains(res.Default, s.Name)})
	}
	return res, nil
}

// ListArgs are ListKeys' arguments.
type ListArgs struct {
	Provider string
	Active   *bool
	Name     string // case-insensitive substring
	Limit    int
	Cursor   string
}

// Limits of one page of keys.
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
)

// ListKeys lists keys, masked, filtered and paged.
func (m *Manager) ListKeys(ctx context.Context, a ListArgs) (Listing, error) {
	p, err := m.providerThatManages(a.Provider)
	if err != nil {
		return Listing{}, err
	}
	if a.Limit == 0 {
		a.Limit = DefaultListLimit
	}
	if a.Limit < 1 || a.Limit > MaxListLimit {
		return Listing{}, fmt.Errorf("limit %d is out of range; use 1 to %d", a.Limit, MaxListLimit)
	}
	keys, err := p.List(ctx)
	if err != nil {
		return Listing{}, err
	}
	sortByCreation(keys)
	mks, err := m.managedAll(ctx, p.Name())
	if err != nil {
		return Listing{}, err
	}
	needle := strings.ToLower(strings.TrimSpace(a.Name))
	matching := keys[:0]
	for _, k := range keys {
		if a.Active != nil && k.Active != *a.Active {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(k.Name), needle) {
			continue
		}
		matching = append(matching, k)
	}
	start := 0
	if a.Cursor != "" {
		after, ok := strings.CutPrefix(a.Cursor, "after:")
		i := slices.IndexFunc(matching, func(k provider.Key) bool { return k.ID == after })
		if !ok || i < 0 {
			return Listing{}, errors.New("the cursor is not valid (the key it points at may be gone); start again from the first page")
		}
		start = i + 1
	}
	end := min(start+a.Limit, len(matching))
	res := Listing{Provider: p.Name(), Total: len(matching), Keys: make([]Key, 0, end-start)}
	for _, k := range matching[start:end] {
		res.Keys = append(res.Keys, view(p, k, mks[k.ID]))
	}
	if end < len(matching) {
		res.NextCursor = "after:" + matching[end-1].ID
	}
	return res, nil
}

// GetKey returns one key's metadata.
func (m *Manager) GetKey(ctx context.Context, providerName, keyID string) (Key, error) {
	keyID, err := keyIDArg(keyID)
	if err != nil {
		return Key{}, err
	}
	p, err := m.providerThatManages(providerName)
	if err != nil {
		return Key{}, err
	}
	k, err := p.Get(ctx, keyID)
	if err != nil {
		return Key{}, err
	}
	return m.viewWithRecord(ctx, p, k), nil
}

// MaxKeyLen bounds a secret to validate, so a pasted document is refused early.
const MaxKeyLen = 512

// ValidateKey checks a secret; with no secret it answers "who am I" for the
// credential keyward itself uses on that provider.
func (m *Manager) ValidateKey(ctx context.Context, providerName, key string) (Validation, error) {
	p, err := m.provider(providerName)
	if err != nil {
		return Validation{}, err
	}
	res := Validation{Provider: p.Name()}
	key = strings.TrimSpace(key)
	if key == "" {
		if !p.Capabilities().Whoami {
			return res, provider.Unsupported(p.Name(), "%s cannot tell who a key belongs to", p.Title())
		}
		id, err := p.Whoami(ctx)
		if err != nil {
			return res, err
		}
		res.Valid, res.Whoami = true, &id
		return res, nil
	}
	if len(key) > MaxKeyLen {
		return res, fmt.Errorf("the key is %d characters long; an API key is at most %d — pass only the key itself", len(key), MaxKeyLen)
	}
	if !p.Capabilities().Validate {
		return res, provider.Unsupported(p.Name(), "%s offers no way to check a key", p.Title())
	}
	if err := notForeign(p, key); err != nil {
		return res, err
	}
	v, err := p.Validate(ctx, key)
	if err != nil {
		return res, err
	}
	res.Validation, res.Valid = v, v.Status == provider.StatusValid
	if v.Status != provider.StatusInvalidFormat {
		// The mask of the secret that was checked, not of the key's current
		// one (they differ for a secret rotated away).
		res.Masked = secret.Mask(key)
	}
	return res, nil
}

// ValidateSecretFile checks the secret in a file keyward wrote (a key's file
// or the .previous beside it), so that it never has to pass through the
// caller to be checked. Only such files inside the secrets directory are
// read (secret.ReadFile says what is refused); the answer is ValidateKey's,
// its mask the mask of the secret in the file.
func (m *Manager) ValidateSecretFile(ctx context.Context, providerName, path string) (Validation, error) {
	if _, err := m.provider(providerName); err != nil {
		return Validation{}, err
	}
	key, err := secret.ReadFile(m.opts.SecretsDir, path)
	if err != nil {
		return Validation{}, err
	}
	if len(key) > MaxKeyLen {
		return Validation{}, fmt.Errorf("%s holds %d characters, and an API key is at most %d, so it is not a secret file keyward wrote; nothing was checked", path, len(key), MaxKeyLen)
	}
	return m.ValidateKey(ctx, providerName, key)
}

// AuditArgs are AuditLog's arguments.
type AuditArgs struct {
	Provider string
	KeyID    string
	Outcome  string
	Tool     string // the tool (or keyward's own actor: reaper, recovery, console)
	Since    string // a duration back from now ("24h") or an RFC 3339 time
	Limit    int
	Cursor   string
}

// Outcomes lists the values the audit log's outcome filter accepts.
var Outcomes = []string{audit.OutcomeOK, audit.OutcomeError, audit.OutcomeRefused, audit.OutcomeDeclined, audit.OutcomeDryRun, audit.OutcomeAwaiting}

// AuditLog reads what was done through keyward, newest first.
func (m *Manager) AuditLog(ctx context.Context, a AuditArgs) (AuditPage, error) {
	f := audit.Filter{Provider: a.Provider, KeyID: a.KeyID, Outcome: a.Outcome, Tool: a.Tool, Limit: a.Limit, Cursor: a.Cursor}
	if a.Outcome != "" && !slices.Contains(Outcomes, a.Outcome) {
		return AuditPage{}, fmt.Errorf("outcome %q is not one of %s", a.Outcome, strings.Join(Outcomes, ", "))
	}
	if a.Limit < 0 || a.Limit > audit.MaxLimit {
		return AuditPage{}, fmt.Errorf("limit %d is out of range; use 1 to %d", a.Limit, audit.MaxLimit)
	}
	if s := strings.TrimSpace(a.Since); s != "" {
		since, err := ParseSince(s, m.now())
		if err != nil {
			return AuditPage{}, err
		}
		f.Since = since
	}
	recs, next, err := m.opts.Audit.Query(ctx, f)
	if err != nil {
		return AuditPage{}, err
	}
	if recs == nil {
		recs = []audit.Record{}
	}
	return AuditPage{Records: recs, NextCursor: next}, nil
}

// ParseSince reads "24h"/"7d" (back from now) or an RFC 3339 time.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := policy.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration such as 24h or 7d nor an RFC 3339 time such as 2026-01-02T15:04:05Z", s)
	}
	return now.Add(-d), nil
}

// notForeign refuses to send a platform a secret that is recognisably of
// another kind (a keyward key, another platform's key, a session token):
// checking it there would hand a credential to a third party.
func notForeign(p provider.Provider, key string) error {
	want := p.Capabilities().KeyShape
	for _, f := range secret.Scan(key) {
		kind := string(f.Kind)
		if f.Kind == secret.KindKeywardPart {
			kind = string(secret.KindKeyward)
		}
		switch {
		case kind == want:
		case f.Kind == secret.KindJWT || f.Kind == secret.KindBearer:
			return provider.Errorf(provider.KindInvalid, p.Name(), "this looks like a session or bearer token, not a %s API key, so keyward does not send it to %s", p.Title(), p.Title())
		case f.Kind == secret.KindToken:
			// A random token of no known shape: it may be this platform's.
		default:
			return provider.Errorf(provider.KindInvalid, p.Name(), "this looks like a %s key, not a %s key, so keyward does not send it to %s; check it on the provider it belongs to", kind, p.Title(), p.Title()).Next(provider.StepListProvider)
		}
	}
	return nil
}
