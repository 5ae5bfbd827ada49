package config

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/caarlos0/env/v11"

	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider/platforms"
)

// clientVariables are KEYWARD_* variables that keyward's own clients read,
// not keyward: an operator may have them set in the same shell.
var clientVariables = []string{
	"KEYWARD_URL", // the example agents' server address (examples/agent)
}

// The per-provider settings: the suffix is the provider (LOCAL, VAST, ...).
const (
	defaultScopesPrefix = "KEYWARD_DEFAULT_SCOPES_"
	allowedScopesPrefix = "KEYWARD_ALLOWED_SCOPES_"
)

var perProviderPrefixes = []string{defaultScopesPrefix, allowedScopesPrefix}

// variables lists every variable keyward reads: Config's env tags, each
// registered platform's variables, and the per-provider scope lists of every
// provider keyward knows. All are fixed when the program is built, and
// reading the tags is most of what loading the settings costs at start-up,
// so the list is made once; callers must not change it.
var variables = sync.OnceValue(listVariables)

func listVariables() []string {
	params, err := env.GetFieldParams(&Config{})
	if err != nil {
		panic(err) // only an unknown tag option fails: every test that loads settings would
	}
	var out []string
	for _, p := range params {
		out = append(out, p.Key)
	}
	for _, name := range providerNames() {
		for _, prefix := range perProviderPrefixes {
			out = append(out, prefix+policy.EnvName(name))
		}
	}
	for _, p := range platforms.All() {
		for _, v := range p.Vars() {
			out = append(out, v.Name)
		}
	}
	return out
}

type variableCheck struct {
	errs     []error
	warnings []string
}

// checkVariables refuses KEYWARD_* variables keyward does not read, with the
// nearest name when there is one: a typo such as KEYWARD_MAX_TLL would
// otherwise be ignored, and the limit with it. Near misses of a platform's
// variables (VAST_APIKEY) are only warned about: those prefixes are not
// keyward's alone.
func checkVariables(environ map[string]string) variableCheck {
	known := variables()
	isKnown := map[string]bool{}
	for _, k := range append(slices.Clone(known), clientVariables...) {
		isKnown[k] = true
	}
	names := make([]string, 0, len(environ))
	for name := range environ {
		names = append(names, name)
	}
	slices.Sort(names)

	var out variableCheck
	for _, name := range names {
		if isKnown[name] || environ[name] == "" { // empty is unset, whatever the name
			continue
		}
		upper := strings.ToUpper(name)
		if strings.HasPrefix(upper, "KEYWARD_") {
			out.errs = append(out.errs, unknownSetting(name, known))
			continue
		}
		for _, p := range platforms.Names() {
			if !strings.HasPrefix(upper, policy.EnvName(p)+"_") {
				continue
			}
			if s := nearest(upper, platformVariables(known, p), 2); s != "" {
				out.warnings = append(out.warnings, fmt.Sprintf("%s is not read by keyward; did you mean %s?", name, s))
			}
		}
	}
	return out
}

func unknownSetting(name string, known []string) error {
	upper := strings.ToUpper(name)
	msg := name + " is not a keyward setting"
	suggestion := nearest(upper, known, 2)
	for _, prefix := range perProviderPrefixes {
		suffix, ok := strings.CutPrefix(upper, prefix)
		if !ok || suffix == "" || slices.Contains(known, upper) {
			continue
		}
		msg += fmt.Sprintf(": keyward has no provider %s (the providers are %s)", suffix, strings.Join(providerSuffixes(), ", "))
		// Provider names are short: judge the typo on the suffix alone.
		suggestion = ""
		if s := nearest(suffix, providerSuffixes(), max(1, len(suffix)/3)); s != "" {
			suggestion = prefix + s
		}
	}
	if rest, ok := strings.CutPrefix(upper, "KEYWARD_"); ok && slices.Contains(known, rest) {
		suggestion = rest // KEYWARD_VAST_API_KEY → VAST_API_KEY
	}
	switch {
	case suggestion != "":
		msg += "; did you mean " + suggestion + "?"
	case !strings.Contains(msg, "no provider"):
		msg += "; remove it, or use one of " + strings.Join(settingNames(known), ", ")
	}
	return fmt.Errorf("%s", msg)
}

// providerSuffixes are the per-provider suffixes: LOCAL, VAST, ...
func providerSuffixes() []string {
	var out []string
	for _, name := range providerNames() {
		out = append(out, policy.EnvName(name))
	}
	return out
}

// settingNames are the KEYWARD_* variables, per-provider ones written once
// with a <PROVIDER> placeholder.
func settingNames(known []string) []string {
	var out []string
	for _, k := range known {
		if !strings.HasPrefix(k, "KEYWARD_") {
			continue
		}
		for _, prefix := range perProviderPrefixes {
			if strings.HasPrefix(k, prefix) {
				k = prefix + "<PROVIDER>"
			}
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func platformVariables(known []string, platform string) []string {
	var out []string
	for _, k := range known {
		if strings.HasPrefix(k, policy.EnvName(platform)+"_") {
			out = append(out, k)
		}
	}
	return out
}

// nearest is the candidate closest to name if it is within limit edits,
// a swap of two neighbouring letters counting as one: a likely typo.
func nearest(name string, candidates []string, limit int) string {
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of adjacent bytes.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
