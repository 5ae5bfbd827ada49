package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

func listScopes(providers Surface) definition {
	return define(
		newTool("list_scopes",
			"Show a provider's permission vocabulary: every scope, which are read-only, which one a new key gets "+
				"by default, and the ceiling an agent may grant. Use it before create_key or update_key to pick the "+
				"smallest scopes that do the job. Platforms without scopes say so.",
			readOnlyTool("List scopes"),
			[]mcp.ToolOption{providerArg(providers), output[scopesJSON]()}),
		true, func(ctx context.Context, m *manager.Manager, a providerArgs) (any, string, error) {
			scopes, err := m.ListScopes(a.Provider)
			if err != nil {
				return nil, "", err
			}
			res := scopesOut(scopes)
			if !res.HasScope {
				return res, res.Note + ".", nil
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%s scopes (default %s):\n", res.Provider, strings.Join(res.Default, ","))
			for _, s := range res.Scopes {
				var tags []string
				if s.ReadOnly {
					tags = append(tags, "read-only")
				}
				if !s.Allowed {
					tags = append(tags, "not allowed for agents")
				}
				fmt.Fprintf(&b, "- %s: %s %v\n", s.Name, s.Description, tags)
			}
			return res, strings.TrimSpace(b.String()), nil
		})
}
