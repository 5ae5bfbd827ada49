package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

func getKey(providers Surface) definition {
	return define(
		newTool("get_key",
			"Show one key's metadata by id: name, scopes, active, created, expiry, last use and its masked form. "+
				"Never returns the secret.",
			readOnlyTool("Get key"),
			[]mcp.ToolOption{providerArg(providers), keyIDArg(), output[keyJSON]()}),
		true, func(ctx context.Context, m *manager.Manager, a keyArgs) (any, string, error) {
			k, err := m.GetKey(ctx, a.Provider, a.KeyID)
			if err != nil {
				return nil, "", err
			}
			out := keyOut(k)
			return out, keyLine(out), nil
		})
}
