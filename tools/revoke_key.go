package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

type revokeArgs struct {
	keyArgs
	dryRunArgs
}

func revokeKey(providers Surface) definition {
	return define(
		newTool("revoke_key",
			"Revoke (delete) a key for good: it stops working at once and cannot be restored. The secret file "+
				"keyward wrote for it is removed. The human may be asked to confirm. To pause a key instead, use "+
				"set_key_active.",
			writeTool("Revoke key", true, true),
			[]mcp.ToolOption{providerArg(providers), keyIDArg(), dryRunArg(), outputOrPlan[revokeJSON]()}),
		false, func(ctx context.Context, m *manager.Manager, a revokeArgs) (any, string, error) {
			res, err := m.RevokeKey(ctx, manager.RevokeArgs{Provider: a.Provider, KeyID: a.KeyID, DryRun: a.DryRun})
			if a.DryRun {
				return answerDry(res.Plan, err)
			}
			if err != nil {
				return nil, "", err
			}
			out := revokeOut(res)
			text := fmt.Sprintf("Revoked %s key %s %q.", out.Provider, out.KeyID, out.Name)
			for _, n := range out.Notes {
				text += " Note: " + strings.TrimSuffix(n, ".") + "."
			}
			return out, text, nil
		})
}
