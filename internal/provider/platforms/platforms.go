// Package platforms is the one list of the remote platforms keyward knows.
// Each registration says what the platform is called, which variables
// configure it and how to build its providers; settings, their checks, the
// help text and assembly are all derived from it, so adding a platform is
// its own package and one entry here.
package platforms

import (
	"strings"

	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/httpapi"
	"github.com/keyward/keyward/internal/provider/lium"
	"github.com/keyward/keyward/internal/provider/lurus"
	"github.com/keyward/keyward/internal/provider/lyceum"
	"github.com/keyward/keyward/internal/provider/vast"
)

// Var is one environment variable a platform reads.
type Var struct {
	Name    string // e.g. LIUM_SESSION_TOKEN
	Meaning string // for the help text and the README
	Secret  bool   // a credential: redacted from every message
}

// Platform is one registration.
type Platform struct {
	Name  string // the provider name, and (upper-cased) the prefix of its variables
	Title string
	// Providers names every provider Build may make: usually just Name; a
	// platform with separate key spaces makes more (Lyceum organisations).
	Providers []string
	// Extra are variables beyond <NAME>_API_KEY and <NAME>_API_URL.
	Extra []Var
	// build makes the platform's providers; extra holds Extra's values by name.
	build func(s httpapi.Settings, extra map[string]string) []provider.Provider
}

// KeyVar is the variable whose presence enables the platform.
func (p Platform) KeyVar() string { return EnvName(p.Name) + "_API_KEY" }

// URLVar overrides the platform's base URL (staging, tests).
func (p Platform) URLVar() string { return EnvName(p.Name) + "_API_URL" }

// Vars are every variable the platform reads.
func (p Platform) Vars() []Var {
	return append([]Var{
		{Name: p.KeyVar(), Meaning: "enables " + p.Title, Secret: true},
		{Name: p.URLVar(), Meaning: "base-URL override for " + p.Title},
	}, p.Extra...)
}

// Build makes the platform's providers from their settings.
func (p Platform) Build(s httpapi.Settings, extra map[string]string) []provider.Provider {
	return p.build(s, extra)
}

// Offline makes the platform's providers without credentials: enough to
// read their scope vocabularies, nothing more.
func (p Platform) Offline() []provider.Provider {
	return p.build(httpapi.Settings{}, nil)
}

// EnvName is a provider name as it appears in variables: "lyceum-org" → "LYCEUM_ORG".
func EnvName(providerName string) string { return policy.EnvName(providerName) }

var all = []Platform{
	{
		Name: vast.Name, Title: vast.Title, Providers: []string{vast.Name},
		build: func(s httpapi.Settings, _ map[string]string) []provider.Provider {
			return []provider.Provider{vast.New(s)}
		},
	},
	{
		Name: lyceum.Name, Title: lyceum.Title, Providers: []string{lyceum.Name, lyceum.OrgName},
		Extra: []Var{{Name: lyceum.OrgEnvKey, Meaning: "a Lyceum organisation slug: its keys are also managed, as provider lyceum-org"}},
		build: func(s httpapi.Settings, extra map[string]string) []provider.Provider {
			out := []provider.Provider{lyceum.New(s)}
			if org := strings.TrimSpace(extra[lyceum.OrgEnvKey]); org != "" {
				out = append(out, lyceum.NewOrg(s, org))
			}
			return out
		},
	},
	{
		Name: lium.Name, Title: lium.Title, Providers: []string{lium.Name},
		Extra: []Var{{Name: "LIUM_SESSION_TOKEN", Meaning: "a Lium browser session; lets keyward manage Lium keys (Lium's API keys cannot)", Secret: true}},
		build: func(s httpapi.Settings, extra map[string]string) []provider.Provider {
			return []provider.Provider{lium.NewWithSession(s, extra["LIUM_SESSION_TOKEN"])}
		},
	},
	{
		Name: lurus.Name, Title: lurus.Title, Providers: []string{lurus.Name},
		build: func(s httpapi.Settings, _ map[string]string) []provider.Provider {
			return []provider.Provider{lurus.New(s)}
		},
	},
}

// All is every platform, in display order.
func All() []Platform { return append([]Platform(nil), all...) }

// Lookup finds a platform by name.
func Lookup(name string) (Platform, bool) {
	for _, p := range all {
		if p.Name == name {
			return p, true
		}
	}
	return Platform{}, false
}

// Names lists the platforms' names, in display order.
func Names() []string {
	out := make([]string, len(all))
	for i, p := range all {
		out[i] = p.Name
	}
	return out
}

// ProviderNames lists every provider name a platform may build, in display order.
func ProviderNames() []string {
	var out []string
	for _, p := range all {
		out = append(out, p.Providers...)
	}
	return out
}
