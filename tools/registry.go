// Package tools exposes the manager as MCP tools: one file per tool, plus
// this registry (toolsets, read-only mode, allowlist) and the argument reader.
package tools

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/keyward/keyward/internal/manager"
)

// handler is what a tool does: typed arguments in, a structured result and a
// short text out. Errors are sentences for the model.
type handler func(ctx context.Context, m *manager.Manager, a *args) (structured any, text string, err error)

// definition is one tool: its MCP description and what it does.
type definition struct {
	tool     mcp.Tool
	readOnly bool
	run      handler
}

// Options choose which tools are registered.
type Options struct {
	ReadOnly bool     // only read-only tools
	Allow    []string // only these tools (empty: all)
	Logger   *slog.Logger
}

// all builds every tool for the configured providers, in display order.
func all(providers []string) []definition {
	return []definition{
		listProviders(), listScopes(providers), listKeys(providers), getKey(providers),
		createKey(providers), updateKey(providers), setKeyActive(providers),
		rotateKey(providers), revokeKey(providers), validateKey(providers), auditLog(providers),
	}
}

// Names lists every tool name, for help text and validation.
func Names() []string {
	var out []string
	for _, d := range all([]string{manager.DefaultProvider}) {
		out = append(out, d.tool.Name)
	}
	return out
}

// Register adds the selected tools to s. An unknown name in Allow is an error
// that lists the valid names, so a typo in KEYWARD_TOOLS stops start-up.
func Register(s *server.MCPServer, m *manager.Manager, o Options) ([]string, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	defs := all(m.ProviderNames())
	known := map[string]bool{}
	for _, d := range defs {
		known[d.tool.Name] = true
	}
	for _, name := range o.Allow {
		if !known[name] {
			return nil, fmt.Errorf("KEYWARD_TOOLS names %q, which is not a tool; valid tools are %s", name, strings.Join(Names(), ", "))
		}
	}
	if o.ReadOnly {
		// Both settings filter, and read-only wins; the operator asked for these
		// by name, so say they are left out. (Only these: an error, below.)
		var dropped []string
		for _, d := range defs {
			if !d.readOnly && slices.Contains(o.Allow, d.tool.Name) {
				dropped = append(dropped, d.tool.Name)
			}
		}
		if len(dropped) > 0 && len(dropped) < len(o.Allow) {
			o.Logger.Warn(fmt.Sprintf("KEYWARD_TOOLS names %s, which KEYWARD_READ_ONLY=true leaves out; they are not served", strings.Join(dropped, ", ")))
		}
	}
	var registered []string
	for _, d := range defs {
		if o.ReadOnly && !d.readOnly {
			continue
		}
		if len(o.Allow) > 0 && !slices.Contains(o.Allow, d.tool.Name) {
			continue
		}
		s.AddTool(d.tool, wrap(d, m, s, o.Logger))
		registered = append(registered, d.tool.Name)
	}
	if len(registered) == 0 {
		return nil, fmt.Errorf("no tools left to serve: KEYWARD_TOOLS (%s) names only tools that KEYWARD_READ_ONLY=true leaves out", strings.Join(o.Allow, ","))
	}
	return registered, nil
}

// wrap turns a handler into an MCP handler: argument checks, caller identity
// for the audit log, the human (elicitation), and panic containment.
func wrap(d definition, m *manager.Manager, s *server.MCPServer, log *slog.Logger) server.ToolHandlerFunc {
	props := make([]string, 0, len(d.tool.InputSchema.Properties))
	for p := range d.tool.InputSchema.Properties {
		props = append(props, p)
	}
	sort.Strings(props)
	return func(ctx context.Context, req mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
		defer func() {
			if r := recover(); r != nil {
				// The panic value may hold anything, so only the tool name and stack go to the log.
				log.Error("tool handler panicked", "tool", d.tool.Name, "stack", string(debug.Stack()))
				res, err = mcp.NewToolResultError(fmt.Sprintf("keyward hit an internal error in %s and recovered; the call may not have completed, so check with list_keys or audit_log before retrying", d.tool.Name)), nil
			}
		}()
		a, aerr := newArgs(req.GetRawArguments(), props)
		if aerr != nil {
			return mcp.NewToolResultError(aerr.Error()), nil
		}
		ctx = enrich(ctx, s)
		structured, text, herr := d.run(ctx, m, a)
		if herr == nil {
			herr = a.err()
		}
		if herr != nil {
			log.Debug("tool call failed", "tool", d.tool.Name, "err", herr)
			return mcp.NewToolResultError(herr.Error()), nil
		}
		return mcp.NewToolResultStructured(structured, text), nil
	}
}

// Annotations shared by tools, by kind.
func readOnlyTool(title string) []mcp.ToolOption {
	return []mcp.ToolOption{
		mcp.WithTitleAnnotation(title), mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithDestructiveHintAnnotation(false), mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(true),
	}
}

func writeTool(title string, destructive, idempotent bool) []mcp.ToolOption {
	return []mcp.ToolOption{
		mcp.WithTitleAnnotation(title), mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(destructive), mcp.WithIdempotentHintAnnotation(idempotent),
		mcp.WithOpenWorldHintAnnotation(true),
	}
}

func newTool(name, description string, opts ...[]mcp.ToolOption) mcp.Tool {
	all := []mcp.ToolOption{mcp.WithDescription(description)}
	for _, o := range opts {
		all = append(all, o...)
	}
	return mcp.NewTool(name, all...)
}
