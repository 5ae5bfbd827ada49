package tools

import (
	"context"

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

// enrich attaches who is calling.
func enrich(ctx context.Context) context.Context {
	return caller.With(ctx, callerOf(ctx))
}
