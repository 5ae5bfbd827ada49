package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/manager"
)

type auditArgs struct {
	Provider string `json:"provider,omitempty"`
	KeyID    string `json:"key_id,omitempty"`
	Outcome  string `json:"outcome,omitempty"`
	Since    string `json:"since,omitempty"`
	Limit    int    `json:"limit,omitempty"`
	Cursor   string `json:"cursor,omitempty"`
}

func auditLog(providers Surface) definition {
	return define(
		newTool("audit_log",
			"Show what was done through keyward, newest first: when, which tool and client, which key, the scopes "+
				"before and after, and the outcome (ok, error, refused by policy, declined by the human). Filter by "+
				"provider, key, outcome and time; page with limit and cursor.",
			readOnlyTool("Audit log"),
			[]mcp.ToolOption{
				mcp.WithString("provider", mcp.Enum(providers.Known...), mcp.Description("Only this provider's records (configured or not).")),
				mcp.WithString("key_id", mcp.MaxLength(maxKeyIDLen), mcp.Pattern(printablePattern), mcp.Description("Only this key's records.")),
				mcp.WithString("outcome", mcp.Enum(manager.Outcomes...), mcp.Description("Only records with this outcome.")),
				mcp.WithString("since", mcp.MaxLength(40), mcp.Pattern(sincePattern), mcp.Description("Only records newer than this: a duration back from now (24h, 7d) or an RFC 3339 time.")),
				mcp.WithInteger("limit", mcp.Min(1), mcp.Max(audit.MaxLimit), mcp.DefaultNumber(50), mcp.Description("Records per page.")),
				mcp.WithString("cursor", mcp.MaxLength(24), mcp.Pattern(auditCursor), mcp.Description("next_cursor from the previous page.")),
				output[auditJSON](),
			}),
		true, func(ctx context.Context, m *manager.Manager, a auditArgs) (any, string, error) {
			page, err := m.AuditLog(ctx, manager.AuditArgs{Provider: a.Provider, KeyID: a.KeyID, Outcome: a.Outcome, Since: a.Since, Limit: a.Limit, Cursor: a.Cursor})
			if err != nil {
				return nil, "", err
			}
			res := auditOut(page)
			var b strings.Builder
			fmt.Fprintf(&b, "%d audit records", len(res.Records))
			for i, r := range res.Records {
				if i == maxTextLines {
					fmt.Fprintf(&b, "\n… %d more in the structured result", len(res.Records)-i)
					break
				}
				fmt.Fprintf(&b, "\n- %s %s %s %s %q: %s", r.At.Format("2006-01-02T15:04:05Z"), r.Tool, r.Provider, r.KeyID, r.KeyName, r.Outcome)
				if r.Error != "" {
					b.WriteString(" (" + r.Error + ")")
				}
			}
			if res.NextCursor != "" {
				fmt.Fprintf(&b, "\nMore: pass cursor %q.", res.NextCursor)
			}
			return res, b.String(), nil
		})
}
