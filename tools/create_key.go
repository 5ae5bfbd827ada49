package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

type createArgs struct {
	Provider  string   `json:"provider,omitempty"`
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes,omitempty"`
	ExpiresIn string   `json:"expires_in,omitempty"`

	Constraints []constraintArg `json:"constraints,omitempty"`
	AllowedIPs  []string        `json:"allowed_ips,omitempty"`
	dryRunArgs
}

func createKey(providers Surface) definition {
	return define(
		newTool("create_key",
			"Create a new API key with the least privilege that does the job. With no scopes the provider's "+
				"minimal read-only default is applied; with no expires_in the key expires after "+providers.DefaultTTL+
				" (at most "+providers.MaxTTL+"). Refused: scopes above the operator's ceiling, expiry above the maximum, "+
				"\"never\" unless allowed, and on platforms without scopes (full-access keys) unless allowed. "+
				"The secret goes where the operator chose (a 0600 file whose path is returned, or a one-time link for the human), not into "+
				"this conversation. The human may be asked to confirm write scopes.",
			writeTool("Create key", false, false),
			[]mcp.ToolOption{
				providerArg(providers),
				nameArg(true, "What the key is for, e.g. \"ci-deploy-read\". Shown in list_keys and the audit log."),
				scopesArg("Scopes the key needs (see list_scopes). Leave out for the minimal read-only default."),
				expiresInArg("How long the key lives: " + providers.lifetimes() + ". Default " + providers.DefaultTTL + "."),
				constraintsArg(),
				allowedIPsArg("Source addresses the key works from, where the provider can limit it (list_providers says); leave out for anywhere."),
				dryRunArg(), outputOrPlan[secretJSON](),
			}),
		false, func(ctx context.Context, m *manager.Manager, a createArgs) (any, string, error) {
			res, err := m.CreateKey(ctx, manager.CreateArgs{Provider: a.Provider, Name: a.Name, Scopes: a.Scopes, ExpiresIn: a.ExpiresIn,
				Constraints: constraintsOf(a.Constraints), AllowedIPs: a.AllowedIPs, DryRun: a.DryRun})
			if a.DryRun {
				return answerDry(res.Plan, err)
			}
			if err != nil {
				return nil, "", err
			}
			out := secretOut(res)
			return out, secretText("Created", out), nil
		})
}
