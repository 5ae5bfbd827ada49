package keyward

import (
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/httpapi"
	"github.com/keyward/keyward/internal/provider/platforms"
)

// remoteProviders builds the providers of every platform whose API key is
// set, and names the variable that would enable each of the others.
func remoteProviders(cfg *config.Config) ([]provider.Provider, map[string]string) {
	var out []provider.Provider
	unconfigured := map[string]string{}
	retries := cfg.ProviderRetries
	if retries == 0 {
		retries = -1 // httpapi reads 0 as "the default"
	}
	for _, p := range platforms.All() {
		ps := cfg.Platform(p.Name)
		if ps.APIKey == "" {
			for _, name := range p.Providers {
				unconfigured[name] = p.KeyVar()
			}
			continue
		}
		// Every client redacts every configured credential, not only its own:
		// an upstream error may quote any of them (Lium's two clients, say).
		s := httpapi.Settings{APIKey: ps.APIKey, Redact: cfg.Credentials(), BaseURL: ps.APIURL, Timeout: cfg.ProviderTimeout, MaxRetries: retries}
		out = append(out, p.Build(s, ps.Extra)...)
	}
	return out, unconfigured
}
