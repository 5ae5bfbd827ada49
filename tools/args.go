package tools

import (
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/jsonvalue"
	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/provider"
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
	dryRunArgs
}

func (a changeArgs) manager() manager.UpdateArgs {
	return manager.UpdateArgs{Provider: a.Provider, KeyID: a.KeyID, Name: a.Name, Scopes: a.Scopes, ExpiresIn: a.ExpiresIn, DryRun: a.DryRun}
}

type reissueArgs struct {
	changeArgs
	AllowedIPs []string `json:"allowed_ips,omitempty"`
}

func providerArg(p Surface) mcp.ToolOption {
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

// lifetimes says, in the operator's numbers, what expires_in accepts.
func (s Surface) lifetimes() string {
	never := `"never" is not allowed`
	if s.AllowNoExpiry {
		never = `or "never"`
	}
	return fmt.Sprintf("a duration such as 12h or 7d, at least 1m and at most %s (%s)", s.MaxTTL, never)
}

// constraintArg is one narrowing of create_key: an operation within a scope,
// optionally with one parameter bounded.
type constraintArg struct {
	Scope    string                   `json:"scope"`
	Resource string                   `json:"resource"`
	Param    string                   `json:"param,omitempty"`
	Op       string                   `json:"op,omitempty"`
	Value    jsonvalue.StringOrNumber `json:"value,omitempty"`
}

func constraintsOf(in []constraintArg) []provider.Constraint {
	var out []provider.Constraint
	for _, c := range in {
		out = append(out, provider.Constraint{Scope: c.Scope, Resource: c.Resource, Param: c.Param, Op: provider.ConstraintOp(c.Op), Value: string(c.Value)})
	}
	return out
}

const (
	maxConstraints = 16
	maxAllowedIPs  = 32
	ipPattern      = `^[0-9A-Fa-f:.]{2,39}(/[0-9]{1,3})?$`
)

func constraintsArg() mcp.ToolOption {
	str := func(max int, desc string) map[string]any {
		return map[string]any{"type": "string", "minLength": 1, "maxLength": max, "pattern": printablePattern, "description": desc}
	}
	return mcp.WithArray("constraints",
		mcp.Items(map[string]any{
			"type": "object", "additionalProperties": false, "required": []string{"scope", "resource"},
			"properties": map[string]any{
				"scope":    str(maxScopeLen, "The scope narrowed; the key must hold it."),
				"resource": str(128, "The operation within the scope, e.g. api.instance.destroy."),
				"param":    str(maxScopeLen, "The parameter bounded, e.g. id; leave out to allow the operation with any values."),
				"op":       map[string]any{"type": "string", "enum": []string{string(provider.OpEq), string(provider.OpLTE), string(provider.OpGTE)}, "description": "How the parameter is bounded."},
				"value":    map[string]any{"type": []string{"string", "integer"}, "maxLength": 128, "description": "The bound, e.g. an instance id."},
			},
		}),
		mcp.MaxItems(maxConstraints),
		mcp.Description("Narrow the key below whole scopes, where the provider can (list_providers shows its constraint targets): "+
			"with constraints on a scope, the key holds only the operations (and values) listed for it. Same shape on every provider."))
}

func allowedIPsArg(what string) mcp.ToolOption {
	return mcp.WithArray("allowed_ips",
		mcp.Items(map[string]any{"type": "string", "maxLength": 43, "pattern": ipPattern}),
		mcp.UniqueItems(true), mcp.MinItems(1), mcp.MaxItems(maxAllowedIPs), mcp.Description(what))
}
