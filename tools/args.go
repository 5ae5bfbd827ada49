package tools

import (
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

// Shared argument definitions: one name, one meaning, one bound, across all
// tools. Every string has a maxLength and, where its form is known, a
// pattern; mcp-go enforces them on every call before a handler runs.

// Patterns. Key ids and scope names are printable ASCII without spaces on
// every platform keyward knows; names may be any text a person can see.
const (
	printablePattern = `^[!-~]+$`
	namePattern      = `^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}]+$`
	durationPattern  = `^(never|([0-9]{1,9}[smhdwy]){1,4})$`
	gracePattern     = `^(0|([0-9]{1,9}[smhdwy]){1,4})$`
	listCursor       = `^after:[!-~]{1,200}$`
	auditCursor      = `^a[0-9]{1,19}$`
	sincePattern     = `^(([0-9]{1,9}[smhdwy]){1,4}|[0-9]{4}-[0-9]{2}-[0-9]{2}T[!-~]{1,30})$`
)

// Bounds.
const (
	maxKeyIDLen    = 200
	maxScopeLen    = 64
	maxScopes      = 64
	maxDurationLen = 32
)

// Argument structs. Each tool binds its arguments to one of these; a test
// checks that their JSON names are exactly the tool schema's properties.

type providerArgs struct {
	Provider string `json:"provider,omitempty"`
}

type keyArgs struct {
	Provider string `json:"provider,omitempty"`
	KeyID    string `json:"key_id"`
}

// changeArgs are update_key's and reissue_key's.
type changeArgs struct {
	Provider  string   `json:"provider,omitempty"`
	KeyID     string   `json:"key_id"`
	Name      *string  `json:"name,omitempty"`
	Scopes    []string `json:"scopes,omitempty"`
	ExpiresIn string   `json:"expires_in,omitempty"`
}

func (a changeArgs) manager() manager.UpdateArgs {
	return manager.UpdateArgs{Provider: a.Provider, KeyID: a.KeyID, Name: a.Name, Scopes: a.Scopes, ExpiresIn: a.ExpiresIn}
}

func providerArg(p Providers) mcp.ToolOption {
	return mcp.WithString("provider",
		mcp.Description("Where the key lives. Default \"local\", keyward's own key authority. list_providers shows what each provider can do."),
		mcp.Enum(p.Configured...), mcp.DefaultString("local"))
}

func keyIDArg() mcp.ToolOption {
	return mcp.WithString("key_id", mcp.Required(), mcp.MinLength(1), mcp.MaxLength(maxKeyIDLen), mcp.Pattern(printablePattern),
		mcp.Description("The key's id as list_keys shows it (not the secret)."))
}

func nameArg(required bool, what string) mcp.ToolOption {
	opts := []mcp.PropertyOption{mcp.MinLength(1), mcp.MaxLength(manager.MaxNameLen), mcp.Pattern(namePattern), mcp.Description(what)}
	if required {
		opts = append(opts, mcp.Required())
	}
	return mcp.WithString("name", opts...)
}

func scopesArg(what string) mcp.ToolOption {
	return mcp.WithArray("scopes",
		mcp.Items(map[string]any{"type": "string", "minLength": 1, "maxLength": maxScopeLen, "pattern": printablePattern}),
		mcp.UniqueItems(true), mcp.MinItems(1), mcp.MaxItems(maxScopes), mcp.Description(what))
}

func expiresInArg(what string) mcp.ToolOption {
	return mcp.WithString("expires_in", mcp.MaxLength(maxDurationLen), mcp.Pattern(durationPattern), mcp.Description(what))
}
