package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/provider"
)

// A rotation or a re-issue hands the caller a new secret: for what it can do
// with it, that is a new key. These rules keep a replacement within what a
// new key could be, whoever made the key it replaces (an operator's key from
// the platform's dashboard, say).

// ScopesForReplacement refuses to hand out a new secret for access above the
// ceiling: agents may only receive what they could create.
func (p *Policy) ScopesForReplacement(prov provider.Provider, scopes []string) error {
	if !prov.Capabilities().Scopes {
		if !p.rules.AllowFullAccess {
			return &Refusal{
				Reason:  fmt.Sprintf("%s keys have full access to the account, and a new secret for one (by rotation or replacement) is a new full-access key", prov.Title()),
				Setting: "KEYWARD_ALLOW_FULL_ACCESS=true",
			}
		}
		return nil
	}
	ceiling := p.Ceiling(prov)
	var above []string
	for _, s := range scopes {
		if !slices.Contains(ceiling, s) {
			above = append(above, s)
		}
	}
	if len(above) > 0 {
		return &Refusal{
			Reason: fmt.Sprintf("this key holds %s on %s, above what agents may grant (allowed: %s), so keyward will not hand out a new secret for it; only its owner can rotate or replace it",
				strings.Join(above, ", "), prov.Title(), strings.Join(ceiling, ", ")),
			Setting: "KEYWARD_ALLOWED_SCOPES_" + EnvName(prov.Name()),
		}
	}
	return nil
}

// ReplacementExpiry is the deadline of a replacement that keeps its
// predecessor's: never later than the predecessor's, nor than a new key
// could have (now + KEYWARD_MAX_TTL), nor than born + KEYWARD_MAX_TTL when
// the life's start is known; never "never" unless KEYWARD_ALLOW_NO_EXPIRY.
func (p *Policy) ReplacementExpiry(prov provider.Provider, now time.Time, born, current *time.Time) (Expiry, error) {
	if current == nil && p.rules.AllowNoExpiry {
		return p.Keep(prov, now, nil), nil
	}
	deadline := now.Add(p.rules.MaxTTL).UTC().Truncate(time.Second)
	if current != nil && current.Before(deadline) {
		deadline = current.UTC()
	}
	if born != nil {
		if latest := born.Add(p.rules.MaxTTL).UTC().Truncate(time.Second); latest.Before(deadline) {
			deadline = latest
		}
	}
	if !deadline.After(now) {
		return Expiry{}, &Refusal{
			Reason:  fmt.Sprintf("this key was created more than %s ago and never expires, so a replacement would already be past the longest life a key may have; create a new key", FormatDuration(p.rules.MaxTTL)),
			Setting: "KEYWARD_MAX_TTL", Step: provider.StepNewKey,
		}
	}
	e := p.Keep(prov, now, &deadline)
	if current == nil || !deadline.Equal(current.UTC()) {
		e.Note = strings.TrimSpace(fmt.Sprintf("the replacement expires at %s, the longest life a new key may have (KEYWARD_MAX_TTL). %s", deadline.Format(time.RFC3339), e.Note))
	}
	return e, nil
}
