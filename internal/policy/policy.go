// Package policy holds keyward's least-privilege rules: default scopes, the
// ceiling an agent may grant, and expiry. It decides; the manager enforces.
package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/provider"
)

// Rules is what the operator configured. Zero values mean the documented defaults.
type Rules struct {
	DefaultTTL      time.Duration       // KEYWARD_DEFAULT_TTL, 30d
	MaxTTL          time.Duration       // KEYWARD_MAX_TTL, 90d
	AllowNoExpiry   bool                // KEYWARD_ALLOW_NO_EXPIRY
	AllowFullAccess bool                // KEYWARD_ALLOW_FULL_ACCESS
	DefaultScopes   map[string][]string // KEYWARD_DEFAULT_SCOPES_<P>, by provider name
	AllowedScopes   map[string][]string // KEYWARD_ALLOWED_SCOPES_<P>, by provider name
}

// Defaults for Rules fields left zero.
const (
	DefaultTTL = 30 * Day
	MaxTTL     = 90 * Day
)

// Policy applies Rules to providers.
type Policy struct{ rules Rules }

// New fills in defaults.
func New(r Rules) *Policy {
	if r.DefaultTTL == 0 {
		r.DefaultTTL = DefaultTTL
	}
	if r.MaxTTL == 0 {
		r.MaxTTL = MaxTTL
	}
	return &Policy{rules: r}
}

// Rules returns the rules in force, defaults applied.
func (p *Policy) Rules() Rules { return p.rules }

// Refusal is a request the policy does not allow. It names the setting an
// operator would change, so the model can tell the human what to ask for.
type Refusal struct {
	Reason  string
	Setting string
	Step    provider.Step // what the caller can do instead, when something can
}

// NextStep implements provider.Stepper.
func (r *Refusal) NextStep() provider.Step { return r.Step }

func (r *Refusal) Error() string {
	if r.Setting == "" {
		return "refused by keyward policy: " + r.Reason
	}
	return fmt.Sprintf("refused by keyward policy: %s (an operator can change this with %s)", r.Reason, r.Setting)
}

// EnvName is the per-provider suffix of a setting: "vast" → "VAST",
// "lyceum-org" → "LYCEUM_ORG".
func EnvName(providerName string) string {
	return strings.ToUpper(strings.ReplaceAll(providerName, "-", "_"))
}

// DefaultScopes is what a key gets when the caller names none.
func (p *Policy) DefaultScopes(prov provider.Provider) []string {
	if s, ok := p.rules.DefaultScopes[prov.Name()]; ok && len(s) > 0 {
		return slices.Clone(s)
	}
	return prov.DefaultScopes()
}

// Ceiling is every scope an agent may grant on a provider: the operator's
// list, or all scopes that touch neither money, team nor key management.
func (p *Policy) Ceiling(prov provider.Provider) []string {
	if s, ok := p.rules.AllowedScopes[prov.Name()]; ok && len(s) > 0 {
		return slices.Clone(s)
	}
	var out []string
	for _, sc := range prov.ScopeVocabulary() {
		if !sc.Sensitive {
			out = append(out, sc.Name)
		}
	}
	return out
}

// ScopeDecision is the outcome of ScopesForCreate.
type ScopeDecision struct {
	Scopes    []string
	Defaulted bool // no scopes were asked for; the default was applied
}

// ScopesForCreate picks the scopes of a new key, or refuses.
func (p *Policy) ScopesForCreate(prov provider.Provider, requested []string) (ScopeDecision, error) {
	caps := prov.Capabilities()
	if !caps.Scopes {
		if len(requested) > 0 {
			return ScopeDecision{}, provider.WithStep(fmt.Errorf("%s keys have no scopes: every key has full access to the account, so name none", prov.Title()), provider.StepOmitScopes)
		}
		if !p.rules.AllowFullAccess {
			return ScopeDecision{}, &Refusal{
				Reason:  fmt.Sprintf("%s keys have no scopes, so a new key would have full access to the account", prov.Title()),
				Setting: "KEYWARD_ALLOW_FULL_ACCESS=true",
			}
		}
		return ScopeDecision{}, nil
	}
	if len(requested) == 0 {
		def := p.DefaultScopes(prov)
		if len(def) == 0 {
			return ScopeDecision{}, provider.WithStep(fmt.Errorf("%s has no read-only scope to give a key by default; name the scopes the key needs", prov.Title()), provider.StepListScopes)
		}
		return ScopeDecision{Scopes: def, Defaulted: true}, nil
	}
	scopes, err := p.normalize(prov, requested)
	if err != nil {
		return ScopeDecision{}, err
	}
	if err := p.withinCeiling(prov, scopes, nil); err != nil {
		return ScopeDecision{}, err
	}
	return ScopeDecision{Scopes: scopes}, nil
}

// ScopesForUpdate allows any narrowing, and widening only inside the ceiling.
func (p *Policy) ScopesForUpdate(prov provider.Provider, current, requested []string) ([]string, error) {
	if !prov.Capabilities().Scopes {
		return nil, fmt.Errorf("%s keys have no scopes, so they cannot be re-scoped", prov.Title())
	}
	if len(requested) == 0 {
		return nil, provider.WithStep(errors.New("a key keeps at least one scope"), provider.StepTakeAway)
	}
	scopes, err := p.normalize(prov, requested)
	if err != nil {
		return nil, err
	}
	if err := p.withinCeiling(prov, scopes, current); err != nil {
		return nil, err
	}
	return scopes, nil
}

// normalize de-duplicates, sorts and checks names against the vocabulary.
func (p *Policy) normalize(prov provider.Provider, requested []string) ([]string, error) {
	known := make(map[string]bool)
	var names []string
	for _, sc := range prov.ScopeVocabulary() {
		known[sc.Name] = true
		names = append(names, sc.Name)
	}
	var out []string
	for _, s := range requested {
		s = strings.TrimSpace(s)
		if !known[s] {
			return nil, provider.WithStep(fmt.Errorf("%q is not a scope on %s; valid scopes are %s", s, prov.Title(), strings.Join(names, ", ")), provider.StepListScopes)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (p *Policy) withinCeiling(prov provider.Provider, scopes, alreadyHeld []string) error {
	ceiling := p.Ceiling(prov)
	for _, s := range scopes {
		if !slices.Contains(ceiling, s) && !slices.Contains(alreadyHeld, s) {
			return &Refusal{
				Reason:  fmt.Sprintf("scope %q on %s is above what agents may grant (allowed: %s)", s, prov.Title(), strings.Join(ceiling, ", ")),
				Setting: "KEYWARD_ALLOWED_SCOPES_" + EnvName(prov.Name()),
			}
		}
	}
	return nil
}

// Expiry is when a key stops working, and how that deadline is kept.
type Expiry struct {
	Deadline *time.Time // what the key promises; nil: never expires
	Upstream *time.Time // what to send the platform; nil: nothing (or never)
	Enforced bool       // keyward itself revokes the key at Deadline
	Note     string     // what was chosen and why, for the result
}

// ExpiryForCreate turns expires_in ("" = the default) into a deadline.
func (p *Policy) ExpiryForCreate(prov provider.Provider, now time.Time, expiresIn string) (Expiry, error) {
	ttl := p.rules.DefaultTTL
	defaulted := strings.TrimSpace(expiresIn) == ""
	if !defaulted {
		d, err := ParseExpiry(expiresIn)
		if err != nil {
			return Expiry{}, err
		}
		ttl = d
	}
	if err := p.checkTTL(ttl); err != nil {
		return Expiry{}, err
	}
	if caps := prov.Capabilities(); ttl == Never && caps.Expiry == provider.ExpiryPresets && !slices.Contains(caps.ExpiryPresets, 0) {
		return Expiry{}, fmt.Errorf("%s has no never-expiring keys; ask for a duration", prov.Title())
	}
	var deadline *time.Time
	if ttl != Never {
		t := now.Add(ttl).UTC().Truncate(time.Second)
		deadline = &t
	}
	e := p.Keep(prov, now, deadline)
	if defaulted && deadline != nil {
		e.Note = strings.TrimSpace(fmt.Sprintf("no lifetime asked for: the key expires in %s (KEYWARD_DEFAULT_TTL). %s", FormatDuration(ttl), e.Note))
	}
	return e, nil
}

// ExpiryForUpdate turns expires_in (counted from now) into a new deadline for
// an existing key. KEYWARD_MAX_TTL bounds a key's whole life, not each
// renewal: no deadline may end later than born + MaxTTL, however often the key
// is renewed. born is when the key's life began (for a replacement, when its
// original was created); nil when nobody knows, and then a key may only be
// brought nearer its current deadline, never pushed past it.
func (p *Policy) ExpiryForUpdate(prov provider.Provider, now time.Time, born, current *time.Time, expiresIn string) (Expiry, error) {
	ttl, err := ParseExpiry(expiresIn)
	if err != nil {
		return Expiry{}, err
	}
	if err := p.checkTTL(ttl); err != nil {
		return Expiry{}, err
	}
	if caps := prov.Capabilities(); ttl == Never && caps.Expiry == provider.ExpiryPresets && !slices.Contains(caps.ExpiryPresets, 0) {
		return Expiry{}, fmt.Errorf("%s has no never-expiring keys; ask for a duration", prov.Title())
	}
	if ttl == Never {
		return p.Keep(prov, now, nil), nil
	}
	deadline := now.Add(ttl).UTC().Truncate(time.Second)
	switch {
	case born != nil:
		latest := born.Add(p.rules.MaxTTL).UTC().Truncate(time.Second)
		if deadline.After(latest) {
			return Expiry{}, &Refusal{
				Reason: fmt.Sprintf("a key lives at most %s from its creation (%s), so this key may expire at %s at the latest (a lifetime of %s at most); for a longer life, create a new key",
					FormatDuration(p.rules.MaxTTL), born.UTC().Format(time.RFC3339), latest.Format(time.RFC3339), FormatDuration(max(0, latest.Sub(now).Truncate(time.Minute)))),
				Setting: "KEYWARD_MAX_TTL", Step: provider.StepNewKey,
			}
		}
	case current != nil && deadline.After(*current):
		return Expiry{}, &Refusal{
			Reason:  fmt.Sprintf("keyward cannot tell when this key was created, so it may only shorten its life, not extend it past %s; for a longer life, create a new key", current.UTC().Format(time.RFC3339)),
			Setting: "KEYWARD_MAX_TTL", Step: provider.StepNewKey,
		}
	}
	return p.Keep(prov, now, &deadline), nil
}

// Final refuses any change to a key past its deadline: an expired key is as
// final as a revoked one, so nothing may renew, enable, rotate or replace it.
func Final(keyID string, now time.Time, deadline *time.Time) error {
	if deadline == nil || now.Before(*deadline) {
		return nil
	}
	return &Refusal{Reason: fmt.Sprintf("key %s expired at %s; an expired key is final, like a revoked one, and cannot be renewed, enabled, rotated or changed (it may still be revoked); create a new key",
		keyID, deadline.UTC().Format(time.RFC3339)), Step: provider.StepNewKey}
}

func (p *Policy) checkTTL(ttl time.Duration) error {
	if ttl == Never {
		if !p.rules.AllowNoExpiry {
			return &Refusal{Reason: fmt.Sprintf("keys that never expire are not allowed; ask for at most %s", FormatDuration(p.rules.MaxTTL)), Setting: "KEYWARD_ALLOW_NO_EXPIRY=true"}
		}
		return nil
	}
	if ttl > p.rules.MaxTTL {
		return &Refusal{Reason: fmt.Sprintf("a lifetime of %s is longer than the maximum of %s", FormatDuration(ttl), FormatDuration(p.rules.MaxTTL)), Setting: "KEYWARD_MAX_TTL"}
	}
	return nil
}

// Keep expresses an existing deadline on a provider: rotation and re-issue
// use it so a replacement never outlives its predecessor.
func (p *Policy) Keep(prov provider.Provider, now time.Time, deadline *time.Time) Expiry {
	caps := prov.Capabilities()
	e := Expiry{Deadline: deadline}
	switch caps.Expiry {
	case provider.ExpiryAny:
		e.Upstream = deadline
	case provider.ExpiryNone:
		if deadline != nil {
			e.Enforced = true
			e.Note = fmt.Sprintf("%s keys have no expiry of their own: keyward will revoke this key at %s.", prov.Title(), deadline.Format(time.RFC3339))
		}
	case provider.ExpiryPresets:
		e = choosePreset(prov.Title(), caps.ExpiryPresets, now, deadline)
	}
	return e
}

// choosePreset takes the longest preset not above the deadline; when even the
// shortest is longer, it uses that and keyward enforces the exact deadline.
func choosePreset(title string, presets []time.Duration, now time.Time, deadline *time.Time) Expiry {
	e := Expiry{Deadline: deadline}
	if deadline == nil {
		if slices.Contains(presets, 0) {
			e.Note = fmt.Sprintf("%s preset chosen: never.", title)
			return e
		}
		e.Enforced = true
		return e
	}
	want := deadline.Sub(now.Truncate(time.Second)) // deadlines are whole seconds
	var best, shortest time.Duration
	for _, d := range presets {
		if d <= 0 {
			continue
		}
		if d <= want && d > best {
			best = d
		}
		if shortest == 0 || d < shortest {
			shortest = d
		}
	}
	if best == 0 {
		best = shortest
		e.Enforced = true
	}
	up := now.Add(best).UTC().Truncate(time.Second)
	e.Upstream = &up
	if best > want {
		// Upstream would outlive the deadline: keyward revokes it on time.
		e.Note = fmt.Sprintf("%s only offers fixed expiries; preset %s chosen and keyward will revoke the key at %s.", title, FormatDuration(best), deadline.Format(time.RFC3339))
		return e
	}
	e.Deadline = &up
	e.Note = fmt.Sprintf("%s only offers fixed expiries; preset %s chosen, the longest not above the request.", title, FormatDuration(best))
	return e
}
