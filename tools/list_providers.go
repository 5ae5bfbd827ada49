package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

func listProviders() definition {
	return define(
		newTool("list_providers",
			"List the key providers keyward is configured for (always \"local\", keyward's own key authority; "+
				"Vast.ai, Lyceum, Lium and Lurus when their API keys are set), what each can do (scopes, expiry, "+
				"enable/disable, rotation), and the policy in force (default and maximum expiry, whether full-access "+
				"or never-expiring keys are allowed, how new secrets are delivered). Call this first.",
			readOnlyTool("List providers"), []mcp.ToolOption{output[providersJSON]()}),
		true, func(ctx context.Context, m *manager.Manager, _ struct{}) (any, string, error) {
			res := providersOut(m.ListProviders())
			var b strings.Builder
			for _, p := range res.Providers {
				if !p.Configured {
					fmt.Fprintf(&b, "%s: not configured (%s)\n", p.Name, p.Enable)
					continue
				}
				fmt.Fprintf(&b, "%s (%s): scopes=%t expiry=%s rotate=%s\n", p.Name, p.Title, p.Capabilities.Scopes, p.Capabilities.Expiry, p.Capabilities.Rotate)
			}
			fmt.Fprintf(&b, "Policy: default expiry %s, maximum %s, secrets delivered by %s.", res.Policy.DefaultTTL, res.Policy.MaxTTL, res.Policy.Reveal)
			return res, b.String(), nil
		})
}
