package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/provider"
)

// Narrowing is what a key holds below its scopes: constraints on single
// operations and an allow-list of source addresses. Known is false when
// nobody recorded it (a key keyward did not create, on a platform whose
// listings do not show it).
type Narrowing struct {
	Constraints []provider.Constraint
	AllowedIPs  []string
	Known       bool
}

// Carry decides what a replacement of a key (re-issue, or rotation by
// re-issue) is narrowed by: exactly what the old key was, restricted to the
// scopes the replacement keeps, so that replacing a key never widens it.
// listed is what the platform shows of the old key; recorded is what keyward
// stored when it created it. restatedIPs, when not nil, is an allow-list the
// caller states for the replacement: it may only narrow a known list, and it
// is the only way to replace a key whose list nobody knows.
func Carry(prov provider.Provider, listed provider.Key, recorded Narrowing, newScopes, restatedIPs []string) ([]provider.Constraint, []string, error) {
	sup := prov.Capabilities().Constraints
	for _, c := range append(slices.Clone(listed.Constraints), recorded.Constraints...) {
		if c.Opaque != "" {
			return nil, nil, &Refusal{Reason: fmt.Sprintf("this key is restricted in a way keyward cannot restate (%s), so a replacement would hold more than it does; replace it in %s's dashboard, or create a new key with the constraints it needs", c.String(), prov.Title())}
		}
	}
	cs := listed.Constraints
	if len(cs) == 0 && recorded.Known {
		cs = recorded.Constraints
	}
	var kept []provider.Constraint
	for _, c := range cs {
		if slices.Contains(newScopes, c.Scope) {
			kept = append(kept, c)
		}
	}

	var ips []string
	known := true
	switch {
	case sup.AllowedIPsListed || !sup.AllowedIPs:
		ips = listed.AllowedIPs
	case recorded.Known:
		ips = recorded.AllowedIPs
	default:
		known = false
	}
	switch {
	case restatedIPs != nil && len(restatedIPs) == 0:
		return nil, nil, &Refusal{Reason: "an empty allow-list would let the replacement work from anywhere; state the addresses it may work from, or leave the allow-list out to keep the key's"}
	case restatedIPs != nil && known && len(ips) > 0:
		for _, ip := range restatedIPs {
			if !slices.Contains(ips, strings.TrimSpace(ip)) {
				return nil, nil, &Refusal{Reason: fmt.Sprintf("a replacement's allow-list may only narrow the key's (%s); %q is not on it", strings.Join(ips, ", "), ip)}
			}
		}
		ips = restatedIPs
	case restatedIPs != nil && known:
		ips = restatedIPs // the key works from anywhere: any list narrows it
	case len(restatedIPs) > 0:
		ips = restatedIPs
	case !known:
		return nil, nil, &Refusal{Reason: fmt.Sprintf("%s does not show a key's IP allow-list and keyward did not create this key, so a replacement could work from addresses the old key did not; the addresses it may work from must be stated", prov.Title()), Step: provider.StepStateIPs}
	}
	return provider.CheckConstraints(prov, newScopes, kept, ips)
}
