package tools

import (
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/policy"
)

// Every tool that changes anything takes dry_run: the call runs every check
// the real one would (arguments, policy, the key's state, whether the human
// would be asked) and stops where the first change would be made.

// dryRunArgs is the dry_run argument, embedded in each mutating tool's arguments.
type dryRunArgs struct {
	DryRun bool `json:"dry_run,omitempty"`
}

func dryRunArg() mcp.ToolOption {
	return mcp.WithBoolean("dry_run", mcp.Description(
		"true: answer what this call would do — the policy's decision, the scopes and expiry that would apply, "+
			"whether the human would be asked — and change nothing. Audited as a dry run."))
}

// planJSON answers a dry run that the policy allows. Nothing was changed.
type planJSON struct {
	DryRun       bool       `json:"dry_run"` // always true: tells a plan from a done act
	Action       string     `json:"action"`  // create, update, replace, rotate, rotate_by_replace, revoke, enable, disable
	Provider     string     `json:"provider"`
	KeyID        string     `json:"key_id,omitempty"` // the key acted on; absent for a create
	Name         string     `json:"name"`
	ScopesBefore []string   `json:"scopes_before,omitempty"`
	Scopes       []string   `json:"scopes"` // after the act
	ExpiresAt    *time.Time `json:"expires_at"`
	Narrowing    string     `json:"narrowing,omitempty"`
	Grace        string     `json:"grace,omitempty"` // how long the old secret would keep working
	// Human: would_ask, would_wait_for_operator (the operator approves in the
	// console), not_asked (confirmations are off), could_not_ask (the
	// client cannot ask; the act would go ahead unasked) or not_needed.
	Human    string   `json:"human"`
	Question string   `json:"question,omitempty"`
	Changed  string   `json:"changed"` // always "no"
	Notes    []string `json:"notes,omitempty"`
}

func planOut(p *manager.Plan) planJSON {
	out := planJSON{DryRun: true, Action: string(p.Action), Provider: p.Provider, KeyID: p.KeyID, Name: p.Name,
		ScopesBefore: p.ScopesBefore, Scopes: nonNil(p.Scopes), ExpiresAt: p.ExpiresAt, Narrowing: p.Narrowing,
		Human: string(p.Human), Question: p.Question, Changed: "no", Notes: notesOut(p.Notes)}
	if p.Grace > 0 {
		out.Grace = policy.FormatDuration(p.Grace)
	}
	if out.Human == "" {
		out.Human = "not_needed"
	}
	if p.Action == manager.ActionRevoke {
		out.Scopes = []string{}
	}
	return out
}

// planText says a plan in a sentence or three.
func planText(p planJSON) string {
	var b strings.Builder
	b.WriteString("Dry run, nothing was changed. This call would ")
	scopes := strings.Join(p.Scopes, ", ")
	if scopes == "" {
		scopes = "no scopes"
	}
	key := fmt.Sprintf("%s key %s %q", p.Provider, p.KeyID, p.Name)
	switch manager.Action(p.Action) {
	case manager.ActionCreate:
		fmt.Fprintf(&b, "create %s key %q with %s, expiring %s", p.Provider, p.Name, scopes, when(p.ExpiresAt))
	case manager.ActionUpdate:
		fmt.Fprintf(&b, "change %s in place: %s, expiring %s", key, scopes, when(p.ExpiresAt))
	case manager.ActionReplace:
		fmt.Fprintf(&b, "replace %s with a new key (new id and secret) with %s, expiring %s, and revoke the old one", key, scopes, when(p.ExpiresAt))
	case manager.ActionRotate:
		fmt.Fprintf(&b, "issue a new secret for %s, keeping %s and its expiry (%s)", key, scopes, when(p.ExpiresAt))
	case manager.ActionRotateByReplace:
		fmt.Fprintf(&b, "replace %s with a key with the same settings (%s, expiring %s), then revoke the old one", key, scopes, when(p.ExpiresAt))
	case manager.ActionRevoke:
		fmt.Fprintf(&b, "revoke %s for good", key)
	case manager.ActionEnable:
		fmt.Fprintf(&b, "enable %s", key)
	case manager.ActionDisable:
		fmt.Fprintf(&b, "disable %s", key)
	default:
		fmt.Fprintf(&b, "%s %s", p.Action, key)
	}
	if p.Narrowing != "" {
		fmt.Fprintf(&b, " (narrowed: %s)", p.Narrowing)
	}
	if p.Grace != "" {
		fmt.Fprintf(&b, "; the old secret would keep working for %s", p.Grace)
	}
	b.WriteString(".")
	switch manager.Confirmation(p.Human) {
	case manager.WouldAsk:
		fmt.Fprintf(&b, "\nThe human would be asked: %s", p.Question)
	case manager.WouldWaitForOperator:
		fmt.Fprintf(&b, "\nIt would wait for the operator's approval in keyward's console, asking: %s", p.Question)
	case manager.NotAsked:
		b.WriteString("\nNobody would be asked: the operator turned confirmations off.")
	case manager.CouldNotAsk:
		b.WriteString("\nThis needs the human's confirmation, but this client cannot ask them, so it would go ahead unasked.")
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "\nNote: %s.", strings.TrimSuffix(n, "."))
	}
	b.WriteString("\nCall again without dry_run to do it.")
	return b.String()
}

// dryRunRefusal marks the error of a dry run: the same refusal or failure the
// real call would meet, said as such.
type dryRunRefusal struct{ err error }

func (e *dryRunRefusal) Error() string {
	return "Dry run, nothing was changed; the call would fail: " + e.err.Error()
}
func (e *dryRunRefusal) Unwrap() error { return e.err }

// answerDry turns a dry run's outcome into the tool's answer.
func answerDry(plan *manager.Plan, err error) (any, string, error) {
	if err != nil {
		return nil, "", &dryRunRefusal{err}
	}
	out := planOut(plan)
	return out, planText(out), nil
}
