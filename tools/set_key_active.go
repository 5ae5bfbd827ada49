package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

type setActiveArgs struct {
	Provider string `json:"provider,omitempty"`
	KeyID    string `json:"key_id"`
	Active   bool   `json:"active"`
	dryRunArgs
}

func setKeyActive(providers Surface) definition {
	return define(
		newTool("set_key_active",
			"Enable (active: true) or disable (active: false) a key without deleting it. A disabled key is rejected "+
				"at once and can be enabled again later. Platforms without this ability say so; revoke_key is the "+
				"alternative there.",
			writeTool("Enable or disable key", false, true),
			[]mcp.ToolOption{
				providerArg(providers), keyIDArg(),
				mcp.WithBoolean("active", mcp.Required(), mcp.Description("true to enable, false to disable.")),
				dryRunArg(), outputOrPlan[keyJSON](),
			}),
		false, func(ctx context.Context, m *manager.Manager, a setActiveArgs) (any, string, error) {
			res, err := m.SetKeyActive(ctx, manager.SetActiveArgs{Provider: a.Provider, KeyID: a.KeyID, Active: a.Active, DryRun: a.DryRun})
			if a.DryRun {
				return answerDry(res.Plan, err)
			}
			if err != nil {
				return nil, "", err
			}
			out := keyOut(res.Key)
			return out, keyLine(out), nil
		})
}
