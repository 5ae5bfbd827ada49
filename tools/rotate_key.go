package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

func rotateKey(providers []string) definition {
	return definition{
		tool: newTool("rotate_key",
			"Issue a new secret for a key, keeping its scopes and its original expiry (a rotated key never lives "+
				"longer). The old secret stops working at once, or after grace (at most 7d) so running programs can "+
				"switch over. Platforms without rotation get a replacement key with the same settings. The human may "+
				"be asked to confirm.",
			writeTool("Rotate key", true, false),
			[]mcp.ToolOption{
				providerArg(providers), keyIDArg(),
				mcp.WithString("grace", mcp.Pattern(`^([0-9]+[smhdwy])+$`), mcp.Description("How long the old secret keeps working, e.g. 10m or 1h. Default: stops at once.")),
				mcp.WithOutputSchema[manager.SecretResult](),
			}),
		run: func(ctx context.Context, m *manager.Manager, a *args) (any, string, error) {
			ra := manager.RotateArgs{Provider: a.str("provider"), KeyID: a.str("key_id"), Grace: a.str("grace")}
			if err := a.err(); err != nil {
				return nil, "", err
			}
			res, err := m.RotateKey(ctx, ra)
			if err != nil {
				return nil, "", err
			}
			return res, secretText("Rotated", res), nil
		},
	}
}
