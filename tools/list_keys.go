package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

func listKeys(providers []string) definition {
	return definition{
		readOnly: true,
		tool: newTool("list_keys",
			"List a provider's API keys, masked (never secrets), oldest first: id, name, scopes, active, created, "+
				"expiry, last use. Filter by active state or by a name fragment; page with limit and the next_cursor "+
				"of the previous answer.",
			readOnlyTool("List keys"),
			[]mcp.ToolOption{
				providerArg(providers),
				mcp.WithBoolean("active", mcp.Description("Only active (true) or only disabled (false) keys. Leave out for both.")),
				mcp.WithString("name", mcp.MaxLength(100), mcp.Description("Only keys whose name contains this text (case-insensitive).")),
				mcp.WithInteger("limit", mcp.Min(1), mcp.Max(manager.MaxListLimit), mcp.DefaultNumber(manager.DefaultListLimit), mcp.Description("Keys per page.")),
				mcp.WithString("cursor", mcp.Description("next_cursor from the previous page.")),
				mcp.WithOutputSchema[manager.ListResult](),
			}),
		run: func(ctx context.Context, m *manager.Manager, a *args) (any, string, error) {
			la := manager.ListArgs{Provider: a.str("provider"), Active: a.boolPtr("active"), Name: a.str("name"),
				Limit: a.integer("limit", 1, manager.MaxListLimit), Cursor: a.str("cursor")}
			if err := a.err(); err != nil {
				return nil, "", err
			}
			res, err := m.ListKeys(ctx, la)
			if err != nil {
				return nil, "", err
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%d of %d keys on %s", len(res.Keys), res.Total, res.Provider)
			for i, k := range res.Keys {
				if i == maxTextLines {
					fmt.Fprintf(&b, "\n… %d more in the structured result", len(res.Keys)-i)
					break
				}
				b.WriteString("\n- " + keyLine(k))
			}
			if res.NextCursor != "" {
				fmt.Fprintf(&b, "\nMore: pass cursor %q.", res.NextCursor)
			}
			return res, b.String(), nil
		},
	}
}
