package tools

import "maps"

// OutputTypes builds every tool and lists the result types with an output
// schema, each with its generator (for TestOutputSchemasAreCurrent).
func OutputTypes() map[string]func() any {
	all(Surface{Configured: []string{"local"}, Known: []string{"local"}, DefaultTTL: "30d", MaxTTL: "90d"})
	outputTypesMu.Lock()
	defer outputTypesMu.Unlock()
	return maps.Clone(outputTypes)
}
