package server

import (
	"strings"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/httpapi"
	"github.com/keyward/keyward/internal/provider/lium"
	"github.com/keyward/keyward/internal/provider/lurus"
	"github.com/keyward/keyward/internal/provider/lyceum"
	"github.com/keyward/keyward/internal/provider/vast"
)

// platformConstructors builds each remote platform's provider from its settings.
var platformConstructors = map[string]func(httpapi.Settings, config.Platform) provider.Provider{
	vast.Name:   func(s httpapi.Settings, _ config.Platform) provider.Provider { return vast.New(s) },
	lyceum.Name: func(s httpapi.Settings, _ config.Platform) provider.Provider { return lyceum.New(s) },
	lium.Name: func(s httpapi.Settings, p config.Platform) provider.Provider {
		return lium.NewWithSession(s, p.SessionToken)
	},
	lurus.Name: func(s httpapi.Settings, _ config.Platform) provider.Provider { return lurus.New(s) },
}

// remoteProviders builds a provider for every platform whose API key is set,
// and names the variable that would enable each of the others.
func remoteProviders(cfg *config.Config) ([]provider.Provider, map[string]string) {
	var out []provider.Provider
	unconfigured := map[string]string{}
	for _, name := range config.Platforms {
		p := cfg.Platform(name)
		build, known := platformConstructors[name]
		if p.APIKey == "" || !known {
			unconfigured[name] = strings.ToUpper(name) + "_API_KEY"
			continue
		}
		retries := cfg.ProviderRetries
		if retries == 0 {
			retries = -1 // httpapi reads 0 as "the default"
		}
		// Every client redacts every configured credential, not only its own:
		// an upstream error may quote any of them (Lium's two clients, say).
		s := httpapi.Settings{APIKey: p.APIKey, Redact: cfg.Credentials(), BaseURL: p.APIURL, Timeout: cfg.ProviderTimeout, MaxRetries: retries}
		out = append(out, build(s, p))
		if name == lyceum.Name && strings.TrimSpace(p.Org) != "" {
			// LYCEUM_ORG: the organisation's keys, as a provider of their own.
			out = append(out, lyceum.NewOrg(s, p.Org))
		}
	}
	return out, unconfigured
}
