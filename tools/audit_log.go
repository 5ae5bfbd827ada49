package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/manager"
)

func auditLog(providers []string) definition {
	return definition{
		readOnly: true,
		tool: newTool("audit_log",
			"Show what was done through keyward, newest first: when, which tool and client, which key, the scopes "+
				"before and after, and the outcome (ok, error, refused by policy, declined by the human). Filter by "+
				"provider, key, outcome and time; page with limit and cursor.",
			readOnlyTool("Audit log"),
			[]mcp.ToolOption{
				mcp.WithString("provider", mcp.Enum(providers...), mcp.Description("Only this provider's records.")),
				mcp.WithString("key_id", mcp.MaxLength(200), mcp.Description("Only this key's records.")),
				mcp.WithString("outcome", mcp.Enum(manager.Outcomes...), mcp.Description("Only records with this outcome.")),
				mcp.WithString("since", mcp.Description("Only records newer than this: a duration back from now (24h, 7d) or an RFC 3339 time.")),
				mcp.WithInteger("limit", mcp.Min(1), mcp.Max(audit.MaxLimit), mcp.DefaultNumber(50), mcp.Description("Records per page.")),
				mcp.WithString("cursor", mcp.Description("next_cursor from the previous page.")),
				mcp.WithOutputSchema[manager.AuditResult](),
			}),
		run: func(ctx context.Context, m *manager.Manager, a *args) (any, string, error) {
			aa := manager.AuditArgs{Provider: a.str("provider"), KeyID: a.str("key_id"), Outcome: a.str("outcome"),
				Since: a.str("since"), Limit: a.integer("limit", 1, audit.MaxLimit), Cursor: a.str("cursor")}
			if err := a.err(); err != nil {
				return nil, "", err
			}
			res, err := m.AuditLog(ctx, aa)
			if err != nil {
				return nil, "", err
			}
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
		},
	}
}
