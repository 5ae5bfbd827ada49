package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

type validateArgs struct {
	Provider   string `json:"provider,omitempty"`
	Key        string `json:"key,omitempty"`
	SecretFile string `json:"secret_file,omitempty"`
}

// secretFilePattern accepts the names keyward gives secret files (a key's
// file, or the previous secret beside it) and no control characters; where
// the file is, and what it is, the manager checks.
const (
	secretFilePattern = `^[^\p{Cc}]+\.key(\.previous)?$`
	maxSecretFileLen  = 4096
)

func validateKey(providers Surface) definition {
	return define(
		newTool("validate_key",
			"Check whether a key works: answers valid, or why not (invalid_format, not_found, disabled, expired, "+
				"revoked), with its id, name, owner, scopes and expiry. The secret is never repeated back. To check a "+
				"secret keyward wrote to a file, give secret_file instead of key: keyward reads it, so the secret never "+
				"enters the conversation. With neither, answers \"who am I\" for the credential keyward itself uses on "+
				"that provider.",
			readOnlyTool("Validate key"),
			[]mcp.ToolOption{
				providerArg(providers),
				mcp.WithString("key", mcp.MaxLength(manager.MaxKeyLen), mcp.Description("The secret to check. Leave out to check keyward's own credential.")),
				mcp.WithString("secret_file", mcp.MaxLength(maxSecretFileLen), mcp.Pattern(secretFilePattern),
					mcp.Description("Instead of key: the absolute path of a secret file keyward wrote, inside KEYWARD_SECRETS_DIR "+
						"(secret_file or previous_secret_file of a create_key, rotate_key or reissue_key answer). Anything else is refused.")),
				output[validateJSON](),
			}),
		true, func(ctx context.Context, m *manager.Manager, a validateArgs) (any, string, error) {
			var v manager.Validation
			var err error
			switch {
			case a.SecretFile != "" && a.Key != "":
				return nil, "", errors.New("give key or secret_file, not both: secret_file checks the secret in a file keyward wrote without it entering the conversation; nothing was checked")
			case a.SecretFile != "":
				v, err = m.ValidateSecretFile(ctx, a.Provider, a.SecretFile)
			default:
				v, err = m.ValidateKey(ctx, a.Provider, a.Key)
			}
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
