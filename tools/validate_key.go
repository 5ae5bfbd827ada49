package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

type validateArgs struct {
	Provider string `json:"provider,omitempty"`
	Key      string `json:"key,omitempty"`
}

func validateKey(providers Surface) definition {
	return define(
		newTool("validate_key",
			"Check whether a key works: answers valid, or why not (invalid_format, not_found, disabled, expired, "+
				"revoked), with its id, name, owner, scopes and expiry. The secret is never repeated back. With no key, "+
				"answers \"who am I\" for the credential keyward itself uses on that provider.",
			readOnlyTool("Validate key"),
			[]mcp.ToolOption{
				providerArg(providers),
				mcp.WithString("key", mcp.MaxLength(manager.MaxKeyLen), mcp.Description("The secret to check. Leave out to check keyward's own credential.")),
				mcp.WithOutputSchema[validateJSON](),
			}),
		true, func(ctx context.Context, m *manager.Manager, a validateArgs) (any, string, error) {
			v, err := m.ValidateKey(ctx, a.Provider, a.Key)
			if err != nil {
				return nil, "", err
			}
			res := validateOut(v)
			if res.Whoami != nil {
				return res, fmt.Sprintf("%s credential belongs to %s. %s", res.Provider, res.Whoami.Account, res.Whoami.Detail), nil
			}
			if !res.Valid {
				return res, fmt.Sprintf("Not valid on %s: %s. %s", res.Provider, res.Status, res.Reason), nil
			}
			text := fmt.Sprintf("Valid %s key %s %q, scopes [%s], expires %s.", res.Provider, res.KeyID, res.Name, strings.Join(res.Scopes, ","), when(res.ExpiresAt))
			if res.Reason != "" {
				text += " " + res.Reason + "."
			}
			return res, text, nil
		})
}
