package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

type listKeysArgs struct {
	Provider string `json:"provider,omitempty"`
	Active   *bool  `json:"active,omitempty"`
	Name     string `json:"name,omitempty"`
	Limit    int    `json:"limit,omitempty"`
	Cursor   string `json:"cursor,omitempty"`
}

func listKeys(providers Surface) definition {
	return define(
		newTool("list_keys",
			"List a provider's API keys, masked (never secrets), oldest first: id, name, scopes, active, created, "+
				"expiry, last use. Filter by active state or by a name fragment; page with limit and the next_cursor "+
				"of the previous answer.",
			readOnlyTool("List keys"),
			[]mcp.ToolOption{
				providerArg(providers),
				mcp.WithBoolean("active", mcp.Description("Only active (true) or only disabled (false) keys. Leave out for both.")),
				mcp.WithString("name", mcp.MaxLength(manager.MaxNameLen), mcp.Pattern(namePattern), mcp.Description("Only keys whose name contains this text (case-insensitive).")),
				mcp.WithInteger("limit", mcp.Min(1), mcp.Max(manager.MaxListLimit), mcp.DefaultNumber(manager.DefaultListLimit), mcp.Description("Keys per page.")),
				mcp.WithString("cursor", mcp.MaxLength(256), mcp.Pattern(listCursor), mcp.Description("next_cursor from the previous page.")),
				output[listJSON](),
			}),
		true, func(ctx context.Context, m *manager.Manager, a listKeysArgs) (any, string, error) {
			listing, err := m.ListKeys(ctx, manager.ListArgs{Provider: a.Provider, Active: a.Active, Name: a.Name, Limit: a.Limit, Cursor: a.Cursor})
			if err != nil {
				return nil, "", err
			}
			res := listOut(listing)
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
		})
}
