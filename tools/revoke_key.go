package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

func revokeKey(providers Providers) definition {
	return define(
		newTool("revoke_key",
			"Revoke (delete) a key for good: it stops working at once and cannot be restored. The secret file "+
				"keyward wrote for it is removed. The human may be asked to confirm. To pause a key instead, use "+
				"set_key_active.",
			writeTool("Revoke key", true, true),
			[]mcp.ToolOption{providerArg(providers), keyIDArg(), mcp.WithOutputSchema[manager.RevokeResult]()}),
		false, func(ctx context.Context, m *manager.Manager, a keyArgs) (any, string, error) {
			res, err := m.RevokeKey(ctx, a.Provider, a.KeyID)
			if err != nil {
				return nil, "", err
			}
			text := fmt.Sprintf("Revoked %s key %s %q.", res.Provider, res.KeyID, res.Name)
			for _, n := range res.Notes {
				text += " Note: " + strings.TrimSuffix(n, ".") + "."
			}
			return res, text, nil
		})
}
