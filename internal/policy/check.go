package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/provider"
)

// Check reports every way the per-provider scope settings contradict the
// providers they apply to, each problem naming its variable:
//
//   - a setting for a provider not among providers;
//   - a default or a ceiling for a provider whose keys have no scopes;
//   - a default or ceiling scope that is not in the provider's vocabulary;
//   - a default scope above the ceiling (the operator's or the built-in one),
//     since create_key would then mint by default what agents may not grant.
//
// Pass every provider whose vocabulary is known, configured or not: settings
// for a platform without credentials are checked too, so they are right on
// the day its key is set. Check is pure; keyward calls it at start-up.
func (p *Policy) Check(providers []provider.Provider) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	known := map[string]bool{}
	var names []string
	for _, prov := range providers {
		known[prov.Name()] = true
		names = append(names, EnvName(prov.Name()))
	}
	for _, set := range []struct {
		prefix string
		rules  map[string][]string
	}{{defaultsVar, p.rules.DefaultScopes}, {ceilingVar, p.rules.AllowedScopes}} {
		for _, name := range slices.Sorted(maps.Keys(set.rules)) {
			if !known[name] {
				bad("%s%s is set, but keyward has no provider %q; the providers are %s", set.prefix, EnvName(name), name, strings.Join(names, ", "))
			}
		}
	}

	for _, prov := range providers {
		def, hasDef := p.rules.DefaultScopes[prov.Name()]
		ceil, hasCeil := p.rules.AllowedScopes[prov.Name()]
		hasDef, hasCeil = hasDef && len(def) > 0, hasCeil && len(ceil) > 0 // empty lists mean the built-in ones
		defVar, ceilVar := defaultsVar+EnvName(prov.Name()), ceilingVar+EnvName(prov.Name())

		if !prov.Capabilities().Scopes {
			for _, v := range []struct {
				name string
				set  bool
			}{{defVar, hasDef}, {ceilVar, hasCeil}} {
				if v.set {
					bad("%s is set, but %s keys have no scopes: every key has the account's full access; unset it (KEYWARD_ALLOW_FULL_ACCESS decides whether agents may create such keys)", v.name, prov.Title())
				}
			}
			continue
		}

		vocab := map[string]bool{}
		var vocabNames []string
		for _, sc := range prov.ScopeVocabulary() {
			vocab[sc.Name] = true
			vocabNames = append(vocabNames, sc.Name)
		}
		unknown := func(v string, list []string) {
			for _, s := range list {
				if !vocab[s] {
					bad("%s names %q, which is not a scope of %s; %s", v, s, prov.Title(), vocabularyOf(prov, vocabNames))
				}
			}
		}
		unknown(defVar, def)
		unknown(ceilVar, ceil)
		if !hasDef && !hasCeil {
			continue // the built-in default and ceiling agree by construction
		}

		ceiling := p.Ceiling(prov)
		var above []string
		for _, s := range p.DefaultScopes(prov) {
			if vocab[s] && !slices.Contains(ceiling, s) {
				above = append(above, s)
			}
		}
		if len(above) == 0 {
			continue
		}
		list, these := strings.Join(above, ", "), "it"
		if len(above) > 1 {
			these = "them"
		}
		switch {
		case hasDef && hasCeil:
			bad("%s gives %s, which %s (%s) does not allow: keys created without scopes would get what agents may not grant; take %s out of the default or add %s to the ceiling",
				defVar, list, ceilVar, strings.Join(ceiling, ", "), these, these)
		case hasDef:
			bad("%s gives %s, which is above the default ceiling on %s (%s): keys created without scopes would get what agents may not grant; take %s out of the default, or set %s to allow %s",
				defVar, list, prov.Title(), strings.Join(ceiling, ", "), these, ceilVar, these)
		default:
			bad("%s (%s) leaves out %s, which keys created on %s without scopes get by default; set %s to scopes within the ceiling, or add %s to the ceiling",
				ceilVar, strings.Join(ceiling, ", "), list, prov.Title(), defVar, these)
		}
	}
	return errors.Join(errs...)
}

const (
	defaultsVar = "KEYWARD_DEFAULT_SCOPES_"
	ceilingVar  = "KEYWARD_ALLOWED_SCOPES_"
)

// vocabularyOf says which scopes a provider has and, for the local
// authority, where they come from.
func vocabularyOf(prov provider.Provider, names []string) string {
	if prov.Name() == "local" {
		return fmt.Sprintf("its scopes are %s (KEYWARD_LOCAL_SCOPES); use one of them, or add the scope to KEYWARD_LOCAL_SCOPES", strings.Join(names, ", "))
	}
	return fmt.Sprintf("its scopes are %s", strings.Join(names, ", "))
}
