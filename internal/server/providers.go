package server

import (
	"strings"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/provider"
)

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
		out = append(out, build(cfg, p))
	}
	return out, unconfigured
}

// platformConstructors is filled by the platform packages' wiring (platforms.go).
var platformConstructors = map[string]func(*config.Config, config.Platform) provider.Provider{}
