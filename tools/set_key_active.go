package tools

import (
	"context"
	"errors"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

func setKeyActive(providers []string) definition {
	return definition{
		tool: newTool("set_key_active",
			"Enable (active: true) or disable (active: false) a key without deleting it. A disabled key is rejected "+
				"at once and can be enabled again later. Platforms without this ability say so; revoke_key is the "+
				"alternative there.",
			writeTool("Enable or disable key", false, true),
			[]mcp.ToolOption{
				providerArg(providers), keyIDArg(),
				mcp.WithBoolean("active", mcp.Required(), mcp.Description("true to enable, false to disable.")),
				mcp.WithOutputSchema[manager.KeyView](),
			}),
		run: func(ctx context.Context, m *manager.Manager, a *args) (any, string, error) {
			active := a.boolPtr("active")
			if err := a.err(); err != nil {
				return nil, "", err
			}
			if active == nil {
				return nil, "", errors.New("active is required: true to enable the key, false to disable it")
			}
			res, err := m.SetKeyActive(ctx, a.str("provider"), a.str("key_id"), *active)
			if err != nil {
				return nil, "", err
			}
			return res.KeyView, keyLine(res.KeyView), nil
		},
	}
}
