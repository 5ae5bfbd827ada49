package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

type rotateArgs struct {
	Provider string `json:"provider,omitempty"`
	KeyID    string `json:"key_id"`
	Grace    string `json:"grace,omitempty"`
	dryRunArgs
}

func rotateKey(providers Surface) definition {
	return define(
		newTool("rotate_key",
			"Issue a new secret for a key, keeping its scopes and its original expiry (a rotated key never lives "+
				"longer). The old secret stops working at once, or after grace (at most 7d) so running programs can "+
				"switch over. Platforms without rotation get a replacement key with the same settings. A secret file "+
				"keeps its path: the new secret replaces its content, and during the grace the old one stays readable in "+
				"previous_secret_file beside it. The human may be asked to confirm.",
			writeTool("Rotate key", true, false),
			[]mcp.ToolOption{
				providerArg(providers), keyIDArg(),
				mcp.WithString("grace", mcp.MaxLength(maxDurationLen), mcp.Pattern(gracePattern), mcp.Description("How long the old secret keeps working, e.g. 10m or 1h. Default: stops at once.")),
				dryRunArg(), outputOrPlan[secretJSON](),
			}),
		false, func(ctx context.Context, m *manager.Manager, a rotateArgs) (any, string, error) {
			res, err := m.RotateKey(ctx, manager.RotateArgs{Provider: a.Provider, KeyID: a.KeyID, Grace: a.Grace, DryRun: a.DryRun})
			if a.DryRun {
				return answerDry(res.Plan, err)
			}
			if err != nil {
				return nil, "", err
			}
			out := secretOut(res)
			return out, secretText("Rotated", out), nil
		})
}
