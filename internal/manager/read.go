package manager

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider"
)

// ProviderInfo describes one provider for list_providers.
type ProviderInfo struct {
	Name          string       `json:"name"`
	Title         string       `json:"title"`
	Configured    bool         `json:"configured"`
	Enable        string       `json:"enable_with,omitempty"`
	Capabilities  Capabilities `json:"capabilities"`
	DefaultScopes []string     `json:"default_scopes"`
	AllowedScopes []string     `json:"allowed_scopes"`
}

// Capabilities is provider.Capabilities as JSON.
type Capabilities struct {
	Manage        bool     `json:"manage"`
	Revoke        bool     `json:"revoke"`
	Scopes        bool     `json:"scopes"`
	ScopesMutable bool     `json:"scopes_mutable"`
	Rename        bool     `json:"rename"`
	Expiry        string   `json:"expiry"`
	ExpiryPresets []string `json:"expiry_presets,omitempty"`
	Toggle        bool     `json:"enable_disable"`
	Rotate        string   `json:"rotate"`
	Validate      bool     `json:"validate"`
	Whoami        bool     `json:"whoami"`
	MaxKeys       int      `json:"max_keys,omitempty"`
	// Narrowing below a whole scope, where the platform offers it.
	Constraints *ConstraintSupport `json:"constraints,omitempty"`
}

// ConstraintSupport is provider.ConstraintSupport as JSON.
type ConstraintSupport struct {
	Targets          []ConstraintTarget `json:"targets,omitempty"`
	Ops              []string           `json:"ops,omitempty"`
	AllowedIPs       bool               `json:"allowed_ips"`
	IPRanges         bool               `json:"ip_ranges"`
	AllowedIPsListed bool               `json:"allowed_ips_listed"`
	Note             string             `json:"note,omitempty"`
}

// ConstraintTarget is one parameter a key can be bounded on.
type ConstraintTarget struct {
	Scope       string `json:"scope"`
	Resource    string `json:"resource"`
	Param       string `json:"param,omitempty"`
	Integer     bool   `json:"integer,omitempty"`
	Description string `json:"description,omitempty"`
}

// PolicyInfo is the policy in force.
type PolicyInfo struct {
	DefaultTTL      string   `json:"default_ttl"`
	MaxTTL          string   `json:"max_ttl"`
	AllowNoExpiry   bool     `json:"allow_no_expiry"`
	AllowFullAccess bool     `json:"allow_full_access"`
	Reveal          string   `json:"reveal"`
	Confirm         string   `json:"confirm"` // true, required or false (KEYWARD_CONFIRM)
	ReadOnly        bool     `json:"read_only"`
	Tools           []string `json:"tools,omitempty"`
	MaxGrace        string   `json:"max_grace"`
}

// ProvidersResult answers list_providers.
type ProvidersResult struct {
	Providers []ProviderInfo `json:"providers"`
	Policy    PolicyInfo     `json:"policy"`
}

func capabilitiesOf(c provider.Capabilities) Capabilities {
	out := Capabilities{
		Manage: c.Manage, Revoke: c.Revoke, Scopes: c.Scopes, ScopesMutable: c.ScopesMutable, Rename: c.Rename,
		Expiry: string(c.Expiry), Toggle: c.Toggle, Validate: c.Validate, Whoami: c.Whoami, MaxKeys: c.MaxKeys,
	}
	for _, d := range c.ExpiryPresets {
		if d == 0 {
			out.ExpiryPresets = append(out.ExpiryPresets, "never")
		} else {
			out.ExpiryPresets = append(out.ExpiryPresets, policy.FormatDuration(d))
		}
	}
	if sup := c.Constraints; len(sup.Targets) > 0 || sup.AllowedIPs {
		cs := &ConstraintSupport{AllowedIPs: sup.AllowedIPs, IPRanges: sup.IPRanges, AllowedIPsListed: sup.AllowedIPsListed, Note: sup.Note}
		for _, t := range sup.Targets {
			cs.Targets = append(cs.Targets, ConstraintTarget{Scope: t.Scope, Resource: t.Resource, Param: t.Param, Integer: t.Integer, Description: t.Description})
		}
		for _, o := range sup.Ops {
			cs.Ops = append(cs.Ops, string(o))
		}
		out.Constraints = cs
	}
	switch {
	case !c.Manage:
		out.Rotate = "none"
	case c.Rotate && c.RotateGrace:
		out.Rotate = "native, with grace"
	case c.Rotate:
		out.Rotate = "native"
	default:
		out.Rotate = "emulated: a replacement key, then the old one is revoked"
	}
	return out
}

// ListProviders reports configured providers, how to enable the others, and the policy.
func (m *Manager) ListProviders() ProvidersResult {
	var res ProvidersResult
	for _, name := range m.order {
		p := m.providers[name]
		res.Providers = append(res.Providers, ProviderInfo{
			Name: name, Title: p.Title(), Configured: true, Capabilities: capabilitiesOf(p.Capabilities()),
			DefaultScopes: nonNil(m.scopesOrNil(p, m.opts.Policy.DefaultScopes(p))), AllowedScopes: nonNil(m.scopesOrNil(p, m.opts.Policy.Ceiling(p))),
		})
	}
	names := make([]string, 0, len(m.opts.Unconfigured))
	for n := range m.opts.Unconfigured {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		res.Providers = append(res.Providers, ProviderInfo{Name: n, Title: n, Enable: "set " + m.opts.Unconfigured[n], DefaultScopes: []string{}, AllowedScopes: []string{}})
	}
	r := m.opts.Policy.Rules()
	res.Policy = PolicyInfo{
		DefaultTTL: policy.FormatDuration(r.DefaultTTL), MaxTTL: policy.FormatDuration(r.MaxTTL),
		AllowNoExpiry: r.AllowNoExpiry, AllowFullAccess: r.AllowFullAccess,
		Reveal: string(m.opts.Reveal), Confirm: string(m.opts.Confirm), ReadOnly: m.opts.ReadOnly, Tools: m.opts.Tools,
		MaxGrace: policy.FormatDuration(MaxGrace),
	}
	return res
}

func (m *Manager) scopesOrNil(p provider.Provider, s []string) []string {
	if !p.Capabilities().Scopes {
		return nil
	}
	return s
}

// ScopeInfo is one scope for list_scopes.
type ScopeInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	ReadOnly    bool   `json:"read_only"`
	Allowed     bool   `json:"allowed"`
	Default     bool   `json:"default"`
}

// ScopesResult answers list_scopes.
type ScopesResult struct {
	Provider string      `json:"provider"`
	HasScope bool        `json:"has_scopes"`
	Scopes   []ScopeInfo `json:"scopes"`
	Default  []string    `json:"default"`
	Ceiling  []string    `json:"ceiling"`
	Note     string      `json:"note,omitempty"`
}

// ListScopes reports a provider's permission vocabulary and the policy on it.
func (m *Manager) ListScopes(providerName string) (ScopesResult, error) {
	p, err := m.provider(providerName)
	if err != nil {
		return ScopesResult{}, err
	}
	res := ScopesResult{Provider: p.Name(), HasScope: p.Capabilities().Scopes, Scopes: []ScopeInfo{}, Default: []string{}, Ceiling: []string{}}
	if !res.HasScope {
		res.Note = p.Title() + " keys have no scopes: every key has full access to the account"
		if !m.opts.Policy.Rules().AllowFullAccess {
			res.Note += ", so keyward refuses to create them unless the operator sets KEYWARD_ALLOW_FULL_ACCESS=true"
		}
		return res, nil
	}
	res.Default, res.Ceiling = m.opts.Policy.DefaultScopes(p), m.opts.Policy.Ceiling(p)
	for _, s := range p.ScopeVocabulary() {
		res.Scopes = append(res.Scopes, ScopeInfo{
			Name: s.Name, Description: s.Description, ReadOnly: s.ReadOnly,
			Allowed: slices.Contains(res.Ceiling, s.Name), Default: slices.Contains(res.Default, s.Name),
		})
	}
	return res, nil
}

// ListArgs are list_keys' arguments.
type ListArgs struct {
	Provider string
	Active   *bool
	Name     string // case-insensitive substring
	Limit    int
	Cursor   string
}

// ListResult answers list_keys.
type ListResult struct {
	Provider   string    `json:"provider"`
	Keys       []KeyView `json:"keys"`
	Total      int       `json:"total"` // matching keys, across all pages
	NextCursor string    `json:"next_cursor,omitempty"`
}

// Limits of one list_keys page.
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
)

// ListKeys lists keys, masked, filtered and paged.
func (m *Manager) ListKeys(ctx context.Context, a ListArgs) (ListResult, error) {
	p, err := m.managing(a.Provider)
	if err != nil {
		return ListResult{}, err
	}
	if a.Limit == 0 {
		a.Limit = DefaultListLimit
	}
	if a.Limit < 1 || a.Limit > MaxListLimit {
		return ListResult{}, fmt.Errorf("limit %d is out of range; use 1 to %d", a.Limit, MaxListLimit)
	}
	keys, err := p.List(ctx)
	if err != nil {
		return ListResult{}, err
	}
	sortedKeys(keys)
	mks, err := m.managedAll(ctx, p.Name())
	if err != nil {
		return ListResult{}, err
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
			return ListResult{}, fmt.Errorf("cursor %q is not valid (the key it points at may be gone); call list_keys again without a cursor", a.Cursor)
		}
		start = i + 1
	}
	end := min(start+a.Limit, len(matching))
	res := ListResult{Provider: p.Name(), Total: len(matching), Keys: make([]KeyView, 0, end-start)}
	for _, k := range matching[start:end] {
		res.Keys = append(res.Keys, view(p, k, mks[k.ID]))
	}
	if end < len(matching) {
		res.NextCursor = "after:" + matching[end-1].ID
	}
	return res, nil
}

// GetKey returns one key's metadata.
func (m *Manager) GetKey(ctx context.Context, providerName, keyID string) (KeyView, error) {
	keyID, err := keyIDArg(keyID)
	if err != nil {
		return KeyView{}, err
	}
	p, err := m.managing(providerName)
	if err != nil {
		return KeyView{}, err
	}
	k, err := p.Get(ctx, keyID)
	if err != nil {
		return KeyView{}, err
	}
	return m.view1(ctx, p, k), nil
}

// ValidateResult answers validate_key.
type ValidateResult struct {
	Provider    string           `json:"provider"`
	Valid       bool             `json:"valid"`
	Status      string           `json:"status,omitempty"`
	Reason      string           `json:"reason,omitempty"`
	KeyID       string           `json:"key_id,omitempty"`
	Name        string           `json:"name,omitempty"`
	Owner       string           `json:"owner,omitempty"`
	Scopes      []string         `json:"scopes,omitempty"`
	ExpiresAt   *time.Time       `json:"expires_at,omitempty"`
	Masked      string           `json:"masked,omitempty"`
	Constraints []ConstraintView `json:"constraints,omitempty"`
	Whoami      *Whoami          `json:"whoami,omitempty"`
}

// Whoami is the configured credential's identity.
type Whoami struct {
	Account     string           `json:"account"`
	KeyName     string           `json:"key_name,omitempty"`
	Scopes      []string         `json:"scopes,omitempty"`
	Detail      string           `json:"detail,omitempty"`
	Constraints []ConstraintView `json:"constraints,omitempty"`
}

// MaxKeyLen bounds what validate_key accepts, so a pasted document is refused early.
const MaxKeyLen = 512

// ValidateKey checks a secret; with no secret it answers "who am I" for the
// credential keyward itself uses on that provider.
func (m *Manager) ValidateKey(ctx context.Context, providerName, key string) (ValidateResult, error) {
	p, err := m.provider(providerName)
	if err != nil {
		return ValidateResult{}, err
	}
	res := ValidateResult{Provider: p.Name()}
	key = strings.TrimSpace(key)
	if key == "" {
		if !p.Capabilities().Whoami {
			return res, provider.Unsupported(p.Name(), "%s cannot tell who a key belongs to", p.Title())
		}
		id, err := p.Whoami(ctx)
		if err != nil {
			return res, err
		}
		res.Valid = true
		res.Whoami = &Whoami{Account: id.Account, KeyName: id.KeyName, Scopes: id.Scopes, Detail: id.Detail, Constraints: constraintViews(id.Constraints)}
		return res, nil
	}
	if len(key) > MaxKeyLen {
		return res, fmt.Errorf("key is %d characters long; an API key is at most %d — pass only the key itself", len(key), MaxKeyLen)
	}
	if !p.Capabilities().Validate {
		return res, provider.Unsupported(p.Name(), "%s offers no way to check a key", p.Title())
	}
	v, err := p.Validate(ctx, key)
	if err != nil {
		return res, err
	}
	res.Valid = v.Status == provider.StatusValid
	res.Status, res.Reason, res.KeyID, res.Name, res.Owner, res.Scopes, res.ExpiresAt, res.Masked =
		string(v.Status), v.Reason, v.KeyID, v.Name, v.Owner, v.Scopes, v.ExpiresAt, v.Masked
	res.Constraints = constraintViews(v.Constraints)
	return res, nil
}

// AuditArgs are audit_log's arguments.
type AuditArgs struct {
	Provider string
	KeyID    string
	Outcome  string
	Since    string // a duration back from now ("24h") or an RFC 3339 time
	Limit    int
	Cursor   string
}

// AuditResult answers audit_log.
type AuditResult struct {
	Records    []audit.Record `json:"records"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// Outcomes lists the values audit_log's outcome filter accepts.
var Outcomes = []string{audit.OutcomeOK, audit.OutcomeError, audit.OutcomeRefused, audit.OutcomeDeclined}

// AuditLog reads what was done through keyward, newest first.
func (m *Manager) AuditLog(ctx context.Context, a AuditArgs) (AuditResult, error) {
	f := audit.Filter{Provider: a.Provider, KeyID: a.KeyID, Outcome: a.Outcome, Limit: a.Limit, Cursor: a.Cursor}
	if a.Outcome != "" && !slices.Contains(Outcomes, a.Outcome) {
		return AuditResult{}, fmt.Errorf("outcome %q is not one of %s", a.Outcome, strings.Join(Outcomes, ", "))
	}
	if a.Limit < 0 || a.Limit > audit.MaxLimit {
		return AuditResult{}, fmt.Errorf("limit %d is out of range; use 1 to %d", a.Limit, audit.MaxLimit)
	}
	if s := strings.TrimSpace(a.Since); s != "" {
		since, err := ParseSince(s, m.now())
		if err != nil {
			return AuditResult{}, err
		}
		f.Since = since
	}
	recs, next, err := m.opts.Audit.Query(ctx, f)
	if err != nil {
		return AuditResult{}, err
	}
	if recs == nil {
		recs = []audit.Record{}
	}
	return AuditResult{Records: recs, NextCursor: next}, nil
}

// ParseSince reads "24h"/"7d" (back from now) or an RFC 3339 time.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := policy.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("since %q is neither a duration such as 24h or 7d nor an RFC 3339 time such as 2026-01-02T15:04:05Z", s)
	}
	return now.Add(-d), nil
}
