package tools

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/manager"
)

type transportKey struct{}

// WithTransport records which transport a request came over (stdio, http, sse);
// the server sets it so audit records can say.
func WithTransport(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, transportKey{}, name)
}

// AuditRefused records a tool call that keyward refused before running it
// (arguments that fail the schema, a secret where none belongs, a rate limit,
// shutdown), with the caller's identity. What the caller passed is masked and
// cut short: a refused call must not be a way to store anything.
func AuditRefused(ctx context.Context, m *manager.Manager, req mcp.CallToolRequest, reason string) {
	ctx = caller.With(ctx, callerOf(ctx))
	args := req.GetArguments()
	m.RecordRefused(ctx, scrub(req.Params.Name, 64), boundedArg(args, "provider"), boundedArg(args, "key_id"), scrub(reason, maxErrorEcho))
}

// callerOf is who is calling: what the transport put in ctx (its name, the
// authenticated principal), then the client as it declared itself — in the
// request's _meta on the stateless 2026-07-28 revision (no session), or at
// initialize on the session-based ones.
func callerOf(ctx context.Context) caller.Identity {
	c := caller.From(ctx)
	if t, ok := ctx.Value(transportKey{}).(string); ok {
		c.Transport = t
	}
	// Streamable HTTP on 2026-07-28 has no session (its id is empty); SSE and
	// stdio keep theirs whatever the revision.
	session := server.ClientSessionFromContext(ctx)
	if session != nil {
		c.SessionID = session.SessionID()
	}
	var ci mcp.Implementation
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		if info.ClientInfo != nil {
			ci = *info.ClientInfo
		}
	} else if s, ok := session.(server.SessionWithClientInfo); ok {
		ci = s.GetClientInfo()
	}
	// Whoever connects chooses these: masked and bounded before they reach
	// the audit log, the state file or a log line.
	c.ClientName, c.ClientVersion = scrub(ci.Name, 200), scrub(ci.Version, 100)
	return c
}

// enrich attaches who is calling and, when the client can ask its human, a
// way to do so.
func enrich(ctx context.Context, s *server.MCPServer) context.Context {
	if info, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		if info.GetClientCapabilities().Elicitation != nil && canAskDuringCall(ctx) {
			ctx = caller.WithHuman(ctx, elicitor{s: s})
		}
	}
	return caller.With(ctx, callerOf(ctx))
}

// elicitor asks the human through MCP elicitation (form mode).
type elicitor struct{ s *server.MCPServer }

func (e elicitor) ask(ctx context.Context, message, field, title string) (*mcp.ElicitationResult, error) {
	return e.s.RequestElicitation(ctx, mcp.ElicitationRequest{Params: mcp.ElicitationParams{
		Message: message,
		RequestedSchema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				field: map[string]any{"type": "boolean", "title": title, "default": false},
			},
			"required": []string{field},
		},
	}})
}

func (e elicitor) Confirm(ctx context.Context, message string) (caller.Decision, error) {
	res, err := e.ask(ctx, message, "confirm", "Yes, do it")
	if err != nil {
		return "", err
	}
	switch res.Action {
	case mcp.ElicitationResponseActionAccept:
		if fieldTrue(res.Content, "confirm") {
			return caller.Accept, nil
		}
		return caller.Decline, nil
	case mcp.ElicitationResponseActionCancel:
		return caller.Cancel, nil
	case mcp.ElicitationResponseActionDecline:
		return caller.Decline, nil
	}
	return "", fmt.Errorf("the client answered with an unknown action %q", res.Action)
}

func (e elicitor) ShowSecret(ctx context.Context, message string) (bool, error) {
	res, err := e.ask(ctx, message, "copied", "I have copied the secret")
	if err != nil {
		return false, err
	}
	return res.Action == mcp.ElicitationResponseActionAccept && fieldTrue(res.Content, "copied"), nil
}

func fieldTrue(content any, field string) bool {
	m, ok := content.(map[string]any)
	if !ok {
		return false
	}
	b, _ := m[field].(bool)
	return b
}

// canAskDuringCall: from protocol 2026-07-28 on, a server may not send
// requests in the middle of a tool call (input comes by multi round-trip
// instead), so such clients are treated as unable to ask their human.
func canAskDuringCall(ctx context.Context) bool {
	return !mcp.IsModernProtocol(server.RequestProtocolVersion(ctx))
}
