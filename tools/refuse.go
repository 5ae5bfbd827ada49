package tools

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

// mcp-go's words for a call whose arguments fail the tool's input schema.
const schemaFailure = "input schema validation failed:"

// refusal turns mcp-go's answer to arguments that fail a tool's schema into
// a bounded sentence that names each problem and never repeats a value, and
// audits a mutating tool's refusal like any other.
type refusal struct {
	d definition
	e *explainer
}

func (r refusal) rewrite(ctx context.Context, m *manager.Manager, log *slog.Logger, admit Gate, req *mcp.CallToolRequest, res *mcp.CallToolResult) {
	if res == nil || !res.IsError || len(res.Content) == 0 {
		return
	}
	tc, ok := res.Content[0].(mcp.TextContent)
	if !ok || !strings.HasPrefix(tc.Text, schemaFailure) {
		return
	}
	if admit != nil {
		if reason, record := admit(ctx, *req); reason != "" {
			// Refused for the transport's own reasons first (a rate limit):
			// such calls cost no explaining, and the gate says which to record.
			res.Content = []mcp.Content{mcp.NewTextContent(reason)}
			if record && !r.d.readOnly {
				AuditRefused(ctx, m, *req, reason)
			}
			return
		}
	}
	problems := r.e.problems(req.Params.Arguments)
	if len(problems) == 0 {
		// mcp-go saw a problem the explainer did not: say so without its words.
		problems = []string{"they do not match its input schema"}
	}
	name := r.d.tool.Name
	msg := scrub(fmt.Sprintf("invalid arguments for %s, so nothing was done: %s. %s", name, strings.Join(problems, "; "), takes(r.d.tool)), maxErrorEcho)
	res.Content = []mcp.Content{mcp.NewTextContent(msg)}
	log.Debug("tool call refused: arguments fail the schema", "tool", name, "err", msg)
	if !r.d.readOnly {
		AuditRefused(ctx, m, *req, msg)
	}
}

// takes describes a tool's arguments in one sentence.
func takes(t mcp.Tool) string {
	if len(t.InputSchema.Properties) == 0 {
		return t.Name + " takes no arguments."
	}
	names := make([]string, 0, len(t.InputSchema.Properties))
	for n := range t.InputSchema.Properties {
		if slices.Contains(t.InputSchema.Required, n) {
			n += " (required)"
		}
		names = append(names, n)
	}
	slices.Sort(names)
	return fmt.Sprintf("%s takes %s; its input schema gives each one's type and form.", t.Name, strings.Join(names, ", "))
}
