package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

func updateKey(providers []string) definition {
	return definition{
		tool: newTool("update_key",
			"Rename a key, change its scopes or set a new expiry (counted from now). Narrowing scopes is always "+
				"allowed; widening only within the operator's ceiling. Where a platform cannot change a setting in "+
				"place, pass reissue: true to replace the key with a new one (new id and secret) and revoke the old.",
			writeTool("Update key", false, true),
			[]mcp.ToolOption{
				providerArg(providers), keyIDArg(),
				nameArg(false, "New name."),
				scopesArg("The complete new set of scopes (replaces the current ones)."),
				expiresInArg("New lifetime from now, e.g. 7d; \"never\" only if the operator allows it."),
				mcp.WithBoolean("reissue", mcp.DefaultBool(false), mcp.Description("Allow replacing the key when the platform cannot change it in place.")),
				mcp.WithOutputSchema[manager.SecretResult](),
			}),
		run: func(ctx context.Context, m *manager.Manager, a *args) (any, string, error) {
			ua := manager.UpdateArgs{Provider: a.str("provider"), KeyID: a.str("key_id"), Name: a.strPtr("name"),
				Scopes: a.strings("scopes"), ExpiresIn: a.str("expires_in")}
			if r := a.boolPtr("reissue"); r != nil {
				ua.Reissue = *r
			}
			if err := a.err(); err != nil {
				return nil, "", err
			}
			res, err := m.UpdateKey(ctx, ua)
			if err != nil {
				return nil, "", err
			}
			verb := "Updated"
			if res.ReplacedKeyID != "" {
				verb = "Re-issued as"
			}
			return res, secretText(verb, res), nil
		},
	}
}
