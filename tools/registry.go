// Package tools exposes the manager as MCP tools: one file per tool, plus
// this registry (read-only mode, allowlist), the shared argument schemas and
// the checks that run before any tool does.
package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/seal"
)

// definition is one tool: its MCP description, the struct its arguments bind
// to, and what it does. The schema in tool is the check the server runs
// (mcp-go validates every call against it before the handler is reached);
// the struct is only how the handler reads what passed.
type definition struct {
	tool     mcp.Tool
	readOnly bool
	args     reflect.Type
	run      func(ctx context.Context, m *manager.Manager, req mcp.CallToolRequest) (any, string, error)
}

// define builds a definition whose handler receives typed arguments.
func define[A any](tool mcp.Tool, readOnly bool, run func(ctx context.Context, m *manager.Manager, a A) (any, string, error)) definition {
	return definition{tool: tool, readOnly: readOnly, args: reflect.TypeFor[A](),
		run: func(ctx context.Context, m *manager.Manager, req mcp.CallToolRequest) (any, string, error) {
			var a A
			if err := req.BindArguments(&a); err != nil {
				// Unreachable after schema validation; kept so a schema and struct
				// that drift apart fail closed.
				return nil, "", fmt.Errorf("the arguments do not match %s's input schema; nothing was done", tool.Name)
			}
			return run(ctx, m, a)
		}}
}

// Options choose which tools are registered.
type Options struct {
	ReadOnly bool     // only read-only tools
	Allow    []string // only these tools (empty: all)
	Logger   *slog.Logger
	// Rounds carries questions to the human over the rounds of a call; nil:
	// a sealer with a random key and nonces remembered in memory.
	Rounds *Rounds
	// Refusals, whose ServerOptions the server was built with, are armed
	// with the tools registered (nil: refusals are not explained).
	Refusals *Refusals
}

// Surface is what the tools' schemas and descriptions are made from: the
// providers an argument may name, and the lifetimes the policy allows, which
// descriptions quote so they never promise what the operator changed.
type Surface struct {
	Configured    []string // enum of provider arguments
	Known         []string // every provider keyward knows, configured or not (audit_log's filter)
	DefaultTTL    string   // e.g. 30d
	MaxTTL        string   // e.g. 90d
	AllowNoExpiry bool
}

// all builds every tool for the given providers, in display order.
func all(p Surface) []definition {
	return []definition{
		listProviders(), listScopes(p), listKeys(p), getKey(p),
		createKey(p), updateKey(p), reissueKey(p), setKeyActive(p),
		rotateKey(p), revokeKey(p), validateKey(p), auditLog(p),
	}
}

// Names lists every tool name, for help text and validation.
func Names() []string {
	var out []string
	for _, d := range all(Surface{Configured: []string{manager.DefaultProvider}, Known: []string{manager.DefaultProvider}, DefaultTTL: "30d", MaxTTL: "90d"}) {
		out = append(out, d.tool.Name)
	}
	return out
}

func surfaceOf(m *manager.Manager) Surface {
	rules := m.ListProviders().Policy.Rules
	p := Surface{Configured: m.ProviderNames(), DefaultTTL: policy.FormatDuration(rules.DefaultTTL),
		MaxTTL: policy.FormatDuration(rules.MaxTTL), AllowNoExpiry: rules.AllowNoExpiry}
	p.Known = append(slices.Clone(p.Configured), m.UnconfiguredNames()...)
	return p
}

// Refusals are the mcp-go options the tools rely on: every call is
// validated against its tool's input schema (strict: unknown arguments are
// refused) before anything runs, and a refusal is explained in sentences,
// made safe to echo and audited. Its ServerOptions go to
// server.NewMCPServer; Register arms it with the tools and the manager, which
// may come later than the server (stdio answers initialize while the state
// opens; no call reaches a tool before Register).
type Refusals struct {
	log   *slog.Logger
	admit Gate
	armed atomic.Pointer[armedRefusals]
}

type armedRefusals struct {
	m      *manager.Manager
	checks map[string]refusal
}

// NewRefusals makes the refusals for one server; admit is the transport's
// gate for calls refused for their arguments (nil: none).
func NewRefusals(log *slog.Logger, admit Gate) *Refusals {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Refusals{log: log, admit: admit}
}

// ServerOptions are what to pass to server.NewMCPServer.
func (r *Refusals) ServerOptions() []server.ServerOption {
	hooks := &server.Hooks{}
	hooks.AddAfterCallTool(func(ctx context.Context, _ any, req *mcp.CallToolRequest, result any) {
		res, ok := result.(*mcp.CallToolResult)
		armed := r.armed.Load()
		if !ok || req == nil || armed == nil {
			return
		}
		if c, known := armed.checks[req.Params.Name]; known {
			c.rewrite(ctx, armed.m, r.log, r.admit, req, res)
		}
	})
	return []server.ServerOption{
		server.WithInputSchemaValidation(),
		server.WithStrictInputSchemaDefault(),
		server.WithHooks(hooks),
	}
}

// arm makes the refusals explain defs' arguments, with m's providers named
// in hints.
func (r *Refusals) arm(m *manager.Manager, defs []definition) {
	hint := func(arg string, v any) string {
		name, _ := v.(string)
		if env := m.EnableWith(name); arg == "provider" && env != "" {
			return fmt.Sprintf("provider %q is not configured: set %s in keyward's environment (the env block of your MCP client config) and restart keyward", name, env)
		}
		return ""
	}
	checks := map[string]refusal{}
	for _, d := range defs {
		checks[d.tool.Name] = refusal{d: d, e: newExplainer(d.tool, hint)}
	}
	r.armed.Store(&armedRefusals{m: m, checks: checks})
}

// Gate admits a tool call or says why not ("" admits): the transport's own
// checks, such as a rate limit, which must count calls refused for their
// arguments too (mcp-go refuses those before any tool middleware runs).
type Gate func(ctx context.Context, req mcp.CallToolRequest) (refused string, audit bool)

// Register adds the selected tools to s. An unknown name in Allow is an error
// that lists the valid names, so a typo in KEYWARD_TOOLS stops start-up.
func Register(s *server.MCPServer, m *manager.Manager, o Options) ([]string, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Rounds == nil {
		o.Rounds = &Rounds{Sealer: seal.Random(), Spent: &MemorySpent{}}
	}
	defs := all(surfaceOf(m))
	if o.Refusals != nil {
		o.Refusals.arm(m, defs)
	}
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
		tool, err := onWire(d.tool)
		if err != nil {
			return nil, err
		}
		s.AddTool(tool, wrap(d, m, o.Rounds, o.Logger))
		registered = append(registered, d.tool.Name)
	}
	if len(registered) == 0 {
		return nil, fmt.Errorf("no tools left to serve: KEYWARD_TOOLS (%s) names only tools that KEYWARD_READ_ONLY=true leaves out", strings.Join(o.Allow, ","))
	}
	return registered, nil
}

// onWire is t as registered with mcp-go: its input schema marshalled once
// (RawInputSchema), where mcp-go would marshal the structured schema again
// on every call, to validate the arguments and to look for header bindings.
// Strict as WithStrictInputSchemaDefault makes structured schemas (it skips
// raw ones): no argument the schema does not name.
func onWire(t mcp.Tool) (mcp.Tool, error) {
	in := t.InputSchema
	if in.AdditionalProperties == nil {
		in.AdditionalProperties = false
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return t, fmt.Errorf("tool %s: its input schema does not marshal: %w", t.Name, err)
	}
	t.InputSchema, t.RawInputSchema = mcp.ToolInputSchema{}, raw
	return t, nil
}

// wrap turns a handler into an MCP handler: secrets where none belong are
// refused, the caller's identity and the human (elicitation) are attached,
// errors are made safe to echo, and a panic is contained.
func wrap(d definition, m *manager.Manager, rounds *Rounds, log *slog.Logger) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
		defer func() {
			if r := recover(); r != nil {
				// The panic value may hold anything, so only the tool name and stack go to the log.
				log.Error("tool handler panicked", "tool", d.tool.Name, "stack", string(debug.Stack()))
				res, err = mcp.NewToolResultError(fmt.Sprintf("keyward hit an internal error in %s and recovered; the call may not have completed, so check with list_keys or audit_log before retrying", d.tool.Name)), nil
			}
		}()
		if !d.readOnly && caller.From(ctx).ReadOnly {
			msg := fmt.Sprintf("refused: %s changes keys, and the token this call came with grants the read-only tools only; "+
				"the human can get a token with the write scope, or use the read-only tools (list_keys, get_key, validate_key, audit_log)", d.tool.Name)
			AuditRefused(ctx, m, req, msg)
			return errorResult(msg, errorJSON{Kind: "refused", Changed: "no", Setting: "KEYWARD_OAUTH_WRITE_SCOPE"}), nil
		}
		if msg := secretWhereNoneBelongs(d, req); msg != "" {
			if !d.readOnly {
				AuditRefused(ctx, m, req, msg)
			}
			return mcp.NewToolResultError(msg), nil
		}
		call := caller.Call{Tool: d.tool.Name}
		if !d.readOnly {
			// Only acts that change keys wait for an operator's approval,
			// which binds these arguments.
			call.ArgsHash = canonicalArgs(req)
		}
		ctx = caller.WithCall(enrich(ctx), call)
		fail := func(herr error) *mcp.CallToolResult {
			msg := scrub(say(herr), maxErrorEcho)
			log.Debug("tool call failed", "tool", d.tool.Name, "err", msg)
			return errorResult(msg, errorOut(herr))
		}
		args := argsHash(req)
		st, serr := rounds.open(ctx, req, args)
		if serr != nil {
			if !d.readOnly {
				AuditRefused(ctx, m, req, serr.Error())
			}
			return fail(serr), nil
		}
		if st != nil && st.Kind == kindReveal {
			return finishReveal(ctx, m, rounds, req, st, fail), nil
		}
		if st != nil && st.Kind == kindLink {
			return finishLink(ctx, m, rounds, req, st, fail), nil
		}
		var rt *roundTrip
		if canAsk(ctx) {
			rt = &roundTrip{r: rounds, req: req, args: args, state: st}
			ctx = caller.WithHuman(ctx, rt)
			if canOpenURL(ctx) {
				ctx = caller.WithLinkOpener(ctx, rt)
			}
		}
		structured, text, herr := d.run(ctx, m, req)
		if rt != nil && rt.asked != nil && (herr == nil || errors.Is(herr, caller.ErrInputRequired)) {
			// The call ends with a question; its answer comes with the next round.
			return rt.inputRequired(), nil
		}
		if herr != nil {
			return fail(herr), nil
		}
		return mcp.NewToolResultStructured(structured, text), nil
	}
}

// finishReveal is the round after a new secret was put to the human: it
// settles the secret's file by the answer, and answers as the call would have.
func finishReveal(ctx context.Context, m *manager.Manager, rounds *Rounds, req mcp.CallToolRequest, st *roundState, fail func(error) *mcp.CallToolResult) *mcp.CallToolResult {
	if err := rounds.spend(ctx, st); err != nil {
		return fail(err)
	}
	answer := server.ElicitationResponse(req.Params.InputResponses, answerKey)
	ack := answer != nil && answer.Action == mcp.ElicitationResponseActionAccept && fieldTrue(answer.Content, "copied")
	res, err := m.FinishReveal(ctx, req.Params.Name, st.Provider, st.KeyID, st.File, ack)
	if err != nil {
		return fail(err)
	}
	out := secretOut(res)
	return mcp.NewToolResultStructured(out, secretText("Created", out))
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
	// additionalProperties: false is set here, not left to the server's
	// default, so the schema the explainer compiles is the one clients see.
	all := []mcp.ToolOption{mcp.WithDescription(description), mcp.WithSchemaAdditionalProperties(false)}
	for _, o := range opts {
		all = append(all, o...)
	}
	return mcp.NewTool(name, all...)
}

// errorResult is a tool error: the sentence as text, and its structure (kind,
// whether anything changed, when to retry, what to do next) as structured
// content, so a client can act on it without parsing prose.
func errorResult(msg string, e errorJSON) *mcp.CallToolResult {
	res := mcp.NewToolResultError(msg)
	res.StructuredContent = map[string]any{"error": e}
	return res
}
