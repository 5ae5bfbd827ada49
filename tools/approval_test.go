package tools_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/manager"
)

const operatorToken = "operator-token-0123456789abcdefghijklmnop"

// operator decides like the console does: as the operator.
func operator(t *testing.T, h *harness, id string, approve bool) {
	t.Helper()
	ctx := caller.With(context.Background(), caller.Identity{ClientName: "keyward console", Principal: "operator", Transport: "http"})
	_, err := h.app.Manager.DecideApproval(ctx, id, approve)
	require.NoError(t, err)
}

// awaiting checks a result is an act waiting for the operator and returns
// the request's id.
func awaiting(t *testing.T, res *mcp.CallToolResult) (string, map[string]any) {
	t.Helper()
	require.True(t, res.IsError, "the act must wait, not happen: %s", text(res))
	raw, _ := json.Marshal(res.StructuredContent)
	var out struct {
		Error map[string]any `json:"error"`
	}
	require.NoError(t, json.Unmarshal(raw, &out))
	e := out.Error
	require.Equal(t, "awaiting_approval", e["kind"], text(res))
	assert.Equal(t, "no", e["changed"])
	assert.EqualValues(t, 30, e["retry_after_seconds"])
	ap := e["approval"].(map[string]any)
	id := ap["id"].(string)
	assert.Contains(t, text(res), id)
	assert.Contains(t, text(res), "call revoke_key again with exactly the same arguments")
	return id, ap
}

func auditOf(t *testing.T, h *harness, n int) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range h.ok("audit_log", map[string]any{"limit": n})["records"].([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

// KEYWARD_CONFIRM=console: a revoke waits for the operator; the identical
// retry after the approval revokes, once; the audit log tells the story.
func TestApprovalFromRequestToAct(t *testing.T) {
	h := newHarness(t, withEnv("KEYWARD_CONFIRM", "console", "KEYWARD_OPERATOR_TOKEN", operatorToken))
	id := h.ok("create_key", map[string]any{"name": "svc"})["key_id"].(string)

	plan := h.ok("revoke_key", map[string]any{"key_id": id, "dry_run": true})
	assert.Equal(t, "would_wait_for_operator", plan["human"], "a dry run says it would wait, and files nothing")
	pending, _, err := h.app.Manager.Approvals(context.Background(), 10)
	require.NoError(t, err)
	assert.Empty(t, pending)

	req, ap := awaiting(t, h.call("revoke_key", map[string]any{"key_id": id}))
	assert.Contains(t, ap["question"], id)
	assert.Len(t, h.ok("list_keys", nil)["keys"], 1, "nothing happens before the operator decides")
	again, _ := awaiting(t, h.call("revoke_key", map[string]any{"key_id": id}))
	assert.Equal(t, req, again, "a retry before the decision waits on the same request")

	operator(t, h, req, true)
	// Other arguments are another act: the approval does not apply.
	other, _ := awaiting(t, h.call("revoke_key", map[string]any{"key_id": id, "provider": "local"}))
	assert.NotEqual(t, req, other)

	out := h.ok("revoke_key", map[string]any{"key_id": id})
	assert.Equal(t, "approved_by_operator", out["confirmation"])
	assert.Empty(t, h.ok("list_keys", nil)["keys"])

	recs := auditOf(t, h, 10)
	act := recs[0] // reads (audit_log, list_keys) are not audited
	require.Equal(t, "revoke_key", act["tool"])
	assert.Equal(t, "ok", act["outcome"])
	assert.Equal(t, "approved_by_operator", act["confirmation"])
	assert.Contains(t, act["detail"], req)
	var decision, request map[string]any
	for _, r := range recs {
		if r["tool"] == "console" && decision == nil {
			decision = r
		}
		if r["outcome"] == "awaiting_approval" && strings.Contains(r["detail"].(string), "waits") && request == nil && r["key_id"] == id {
			request = r
		}
	}
	require.NotNil(t, decision, "the decision is audited")
	assert.Equal(t, "operator", decision["principal"])
	assert.Equal(t, "keyward console", decision["client_name"])
	assert.Contains(t, decision["detail"], "approved request "+req)
	require.NotNil(t, request, "the request is audited")
	assert.Equal(t, "awaiting_operator", request["confirmation"])
}

func TestApprovalDenied(t *testing.T) {
	h := newHarness(t, withEnv("KEYWARD_CONFIRM", "console", "KEYWARD_OPERATOR_TOKEN", operatorToken))
	id := h.ok("create_key", map[string]any{"name": "svc"})["key_id"].(string)
	req, _ := awaiting(t, h.call("revoke_key", map[string]any{"key_id": id}))
	operator(t, h, req, false)
	res := h.call("revoke_key", map[string]any{"key_id": id})
	require.True(t, res.IsError)
	assert.Contains(t, text(res), "the operator denied this")
	assert.Contains(t, text(res), "Do not retry unless the human asks you to")
	assert.Equal(t, "declined", res.StructuredContent.(map[string]any)["error"].(map[string]any)["kind"])
	assert.Len(t, h.ok("list_keys", nil)["keys"], 1, "a denied act changes nothing")
	rec := lastAudit(t, h)
	assert.Equal(t, "declined", rec["outcome"])
	assert.Equal(t, "denied_by_operator", rec["confirmation"])
}

func TestApprovalExpires(t *testing.T) {
	h := newHarness(t, withEnv("KEYWARD_CONFIRM", "console", "KEYWARD_OPERATOR_TOKEN", operatorToken, "KEYWARD_APPROVAL_TTL", "5m"))
	id := h.ok("create_key", map[string]any{"name": "svc"})["key_id"].(string)
	req, _ := awaiting(t, h.call("revoke_key", map[string]any{"key_id": id}))
	h.clock.Advance(6 * time.Minute)
	_, err := h.app.Manager.DecideApproval(context.Background(), req, true)
	assert.ErrorContains(t, err, "expired")
	res := h.call("revoke_key", map[string]any{"key_id": id})
	next, _ := awaiting(t, res)
	assert.NotEqual(t, req, next)
	assert.Contains(t, text(res), "The earlier request "+req+" expired")
}

// A create with write scopes is bound to its lifetime, not to the deadline
// the clock makes of it: the retry minutes later matches.
func TestApprovalOfCreateSurvivesTheClock(t *testing.T) {
	h := newHarness(t, withEnv("KEYWARD_CONFIRM", "console", "KEYWARD_OPERATOR_TOKEN", operatorToken))
	args := map[string]any{"name": "deployer", "scopes": []any{"write"}, "expires_in": "7d"}
	res := h.call("create_key", args)
	require.True(t, res.IsError)
	req := res.StructuredContent.(map[string]any)["error"].(map[string]any)["approval"].(map[string]any)["id"].(string)
	h.clock.Advance(3 * time.Minute)
	operator(t, h, req, true)
	out := h.ok("create_key", map[string]any{"expires_in": "7d", "scopes": []any{"write"}, "name": "deployer"}) // same arguments, other order
	assert.Equal(t, "approved_by_operator", out["confirmation"])
}

// KEYWARD_CONFIRM=true in keyward serve with a console: a client that cannot
// ask its human waits for the operator instead of going ahead unasked.
func TestConsoleStandsInForAClientThatCannotAsk(t *testing.T) {
	h := newHarness(t, serving(), withEnv("KEYWARD_OPERATOR_TOKEN", operatorToken, "KEYWARD_REVEAL", "file"))
	id := h.ok("create_key", map[string]any{"name": "svc"})["key_id"].(string)
	awaiting(t, h.call("revoke_key", map[string]any{"key_id": id}))
	plan := h.ok("revoke_key", map[string]any{"key_id": id, "dry_run": true})
	assert.Equal(t, "would_wait_for_operator", plan["human"])

	// A client that can ask still asks its own human.
	hu := &human{action: mcp.ElicitationResponseActionAccept, content: map[string]any{"confirm": true}}
	h2 := newHarness(t, serving(), withHuman(hu), withEnv("KEYWARD_OPERATOR_TOKEN", operatorToken, "KEYWARD_REVEAL", "file"))
	id2 := h2.ok("create_key", map[string]any{"name": "svc"})["key_id"].(string)
	assert.Equal(t, "confirmed", h2.ok("revoke_key", map[string]any{"key_id": id2})["confirmation"])

	// Without a console, as before: unasked.
	h3 := newHarness(t, serving())
	id3 := h3.ok("create_key", map[string]any{"name": "svc"})["key_id"].(string)
	assert.Equal(t, "could_not_ask", h3.ok("revoke_key", map[string]any{"key_id": id3})["confirmation"])
}

func TestOperatorRevokeIsItsOwnConfirmation(t *testing.T) {
	h := newHarness(t, withEnv("KEYWARD_CONFIRM", "console", "KEYWARD_OPERATOR_TOKEN", operatorToken))
	id := h.ok("create_key", map[string]any{"name": "svc"})["key_id"].(string)
	ctx := caller.With(context.Background(), caller.Identity{ClientName: "keyward console", Principal: "operator"})
	res, err := h.app.Manager.RevokeKey(ctx, manager.RevokeArgs{KeyID: id, ByOperator: true, Detail: "emergency"})
	require.NoError(t, err)
	assert.Equal(t, manager.ConfirmedByOperator, res.Confirmation)
	rec := lastAudit(t, h)
	assert.Equal(t, "confirmed_by_operator", rec["confirmation"])
	assert.Equal(t, "operator", rec["principal"])
	assert.Equal(t, "emergency", rec["detail"])
}

// Was a bug: the question of a write-scoped create names its deadline, now +
// its lifetime, to the second; a human who took longer than a second to
// answer (over mcp-go's bridge for older clients) was asked again and
// again, and the call failed after ten questions.
func TestSlowHumanIsAskedOnce(t *testing.T) {
	sh := &slowHuman{human: human{action: mcp.ElicitationResponseActionAccept, content: map[string]any{"confirm": true}}}
	var h *harness
	sh.advance = func(d time.Duration) { h.clock.Advance(d) }
	h = newHarnessWithElicitor(t, sh)
	res := h.call("create_key", map[string]any{"name": "w", "scopes": []any{"write"}})
	require.False(t, res.IsError, text(res))
	assert.Len(t, sh.seen(), 1)
}

type slowHuman struct {
	human
	advance func(time.Duration)
}

func (s *slowHuman) Elicit(ctx context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	s.advance(3 * time.Second)
	return s.human.Elicit(ctx, req)
}
