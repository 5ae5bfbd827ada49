package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

func updateKey(providers Surface) definition {
	return define(
		newTool("update_key",
			"Rename a key, change its scopes or set a new expiry (counted from now, and never past the key's creation "+
				"plus the operator's maximum lifetime), in place. Narrowing scopes is always allowed; widening only within "+
				"the operator's ceiling. Where a platform cannot change a setting in place, the answer says so and "+
				"reissue_key does it by replacement. Never revokes anything. An expired key cannot be changed.",
			writeTool("Update key", false, false),
			[]mcp.ToolOption{
				providerArg(providers), keyIDArg(),
				nameArg(false, "New name."),
				scopesArg("The complete new set of scopes (replaces the current ones)."),
				expiresInArg("New lifetime from now: " + providers.lifetimes() + "; the key's whole life stays within " + providers.MaxTTL + " of its creation."),
				dryRunArg(), outputOrPlan[secretJSON](),
			}),
		false, func(ctx context.Context, m *manager.Manager, a changeArgs) (any, string, error) {
			res, err := m.UpdateKey(ctx, a.manager())
			if a.DryRun {
				return answerDry(res.Plan, err)
			}
			if err != nil {
				return nil, "", err
			}
			out := secretOut(res)
			return out, secretText("Updated", out), nil
		})
}
