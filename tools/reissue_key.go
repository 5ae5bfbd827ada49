package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

func reissueKey(providers Surface) definition {
	return define(
		newTool("reissue_key",
			"Replace a key with a new one (new id and new secret) that has the given name, scopes or expiry, then "+
				"revoke the old key. Use it where update_key says a platform cannot change a setting in place. Settings "+
				"left out are kept; the replacement keeps the old key's deadline unless a shorter one is asked for, and "+
				"its life is still bounded by the original key's creation. The replacement keeps the old key's constraints "+
				"and allow-list, so replacing never widens a key. The human may be asked to confirm.",
			writeTool("Re-issue key", true, false),
			[]mcp.ToolOption{
				providerArg(providers), keyIDArg(),
				nameArg(false, "Name of the replacement (default: the old key's)."),
				scopesArg("The complete set of scopes of the replacement (default: the old key's)."),
				expiresInArg("Lifetime of the replacement from now: " + providers.lifetimes() + " (default: the old key's deadline)."),
				allowedIPsArg("Source addresses the replacement works from: only to narrow the old key's allow-list, or to state it where the platform does not show it. Default: the old key's."),
				dryRunArg(), outputOrPlan[secretJSON](),
			}),
		false, func(ctx context.Context, m *manager.Manager, a reissueArgs) (any, string, error) {
			res, err := m.ReissueKey(ctx, manager.ReissueArgs{UpdateArgs: a.manager(), AllowedIPs: a.AllowedIPs})
			if a.DryRun {
				return answerDry(res.Plan, err)
			}
			if err != nil {
				return nil, "", err
			}
			out := secretOut(res)
			return out, secretText("Re-issued as", out), nil
		})
}
