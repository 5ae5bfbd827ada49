package tools_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/manager"
)

// Was a hole (review of session 4), now closed: the action of a confirmation
// answer is the client's own text, and an unknown one ended in an error that
// repeated it and was stored in the audit record unmasked (the answer itself
// was masked): a secret pasted there reached the state, every agent's
// audit_log and the console. Breaks "secrets never appear in audit records".
// On 2026-07-28 the action arrives in inputResponses; the harness's leak scan
// of logs, audit and state runs at cleanup too.
func TestAttackUnknownConfirmActionReachesAudit(t *testing.T) {
	h := newHarness(t, withEnv("KEYWARD_CONFIRM", "true", "KEYWARD_REVEAL", "inline"))
	secret := h.ok("create_key", map[string]any{"name": "leak"})["secret"].(string)
	h.secrets = append(h.secrets, secret)
	id := h.ok("create_key", map[string]any{"name": "target"})["key_id"].(string)

	state, _ := question(t, callModern(t, h, "revoke_key", map[string]any{"key_id": id}, nil, ""))
	res := callModern(t, h, "revoke_key", map[string]any{"key_id": id},
		map[string]any{"answer": map[string]any{"action": "pasted " + secret}}, state)
	require.True(t, isError(res))
	assert.NotContains(t, resultText(res), secret)
	assert.Contains(t, resultText(res), "accept, decline and cancel", "the answer says what the actions are")

	page, err := h.app.Manager.AuditLog(context.Background(), manager.AuditArgs{Limit: 1})
	require.NoError(t, err)
	assert.NotContains(t, page.Records[0].Error, secret, "the audit record holds the secret")
	ans, _ := json.Marshal(h.ok("audit_log", map[string]any{"limit": 1}))
	assert.NotContains(t, string(ans), secret, "audit_log's answer holds the secret")
}

// The same over a session-based (2025-11-25) client, whose elicitation/create
// result mcp-go passes on with its action unchecked.
func TestAttackUnknownConfirmActionReachesAuditLegacy(t *testing.T) {
	hum := &human{action: "accept"}
	h := newHarness(t, withHuman(hum), withEnv("KEYWARD_CONFIRM", "true", "KEYWARD_REVEAL", "inline"))
	secret := h.ok("create_key", map[string]any{"name": "leak"})["secret"].(string)
	h.secrets = append(h.secrets, secret)
	id := h.ok("create_key", map[string]any{"name": "target"})["key_id"].(string)
	hum.mu.Lock()
	hum.action = mcp.ElicitationResponseAction("pasted " + secret)
	hum.mu.Unlock()
	require.True(t, h.call("revoke_key", map[string]any{"key_id": id}).IsError)
	page, err := h.app.Manager.AuditLog(context.Background(), manager.AuditArgs{Limit: 1})
	require.NoError(t, err)
	assert.NotContains(t, page.Records[0].Error, secret, "the audit record holds the secret")
}
