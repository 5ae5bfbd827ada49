package tools_test

import (
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func lastAudit(t *testing.T, h *harness) map[string]any {
	t.Helper()
	recs := h.ok("audit_log", map[string]any{"limit": 1})["records"].([]any)
	require.NotEmpty(t, recs)
	return recs[0].(map[string]any)
}

func TestConfirmationPaths(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		action  mcp.ElicitationResponseAction
		content map[string]any
		revoked bool
		outcome string
	}{
		{"accept", mcp.ElicitationResponseActionAccept, map[string]any{"confirm": true}, true, "ok"},
		{"accept-unticked", mcp.ElicitationResponseActionAccept, map[string]any{"confirm": false}, false, "declined"},
		{"decline", mcp.ElicitationResponseActionDecline, nil, false, "declined"},
		{"cancel", mcp.ElicitationResponseActionCancel, nil, false, "declined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hu := &human{action: tc.action, content: tc.content}
			h := newHarness(t, withHuman(hu))
			// A read-only create needs no confirmation.
			id := h.ok("create_key", map[string]any{"name": "svc"})["key_id"].(string)
			require.Empty(t, hu.seen())

			res := h.call("revoke_key", map[string]any{"key_id": id})
			require.Len(t, hu.seen(), 1)
			msg := hu.seen()[0]
			for _, part := range []string{"svc", id, "the local authority", "read"} {
				assert.Contains(t, msg, part, "the confirmation names provider, key name, id and scopes")
			}
			assert.Equal(t, !tc.revoked, res.IsError, text(res))
			keys := h.ok("list_keys", nil)["keys"].([]any)
			assert.Equal(t, tc.revoked, len(keys) == 0)
			rec := lastAudit(t, h)
			assert.Equal(t, "revoke_key", rec["tool"])
			assert.Equal(t, tc.outcome, rec["outcome"])
			if !tc.revoked {
				assert.Contains(t, text(res), "nothing was changed")
			}
		})
	}
}

func TestWriteScopesNeedConfirmation(t *testing.T) {
	t.Parallel()
	hu := &human{action: mcp.ElicitationResponseActionDecline}
	h := newHarness(t, withHuman(hu))
	msg := h.fail("create_key", map[string]any{"name": "deployer", "scopes": []any{"write"}})
	assert.Contains(t, msg, "declined")
	require.Len(t, hu.seen(), 1)
	assert.Contains(t, hu.seen()[0], "write")
	assert.Empty(t, h.ok("list_keys", nil)["keys"], "a declined create creates nothing")
	assert.Equal(t, "declined", lastAudit(t, h)["outcome"])

	id := h.ok("create_key", map[string]any{"name": "reader"})["key_id"].(string)
	h.fail("update_key", map[string]any{"key_id": id, "scopes": []any{"read", "write"}})
	assert.Equal(t, []string{"read"}, strs(h.ok("get_key", map[string]any{"key_id": id})["scopes"]), "a declined widening changes nothing")
	h.ok("update_key", map[string]any{"key_id": id, "name": "renamed"}) // no new write scope: no question
	assert.Len(t, hu.seen(), 2)
}

func TestNoElicitationClientProceeds(t *testing.T) {
	t.Parallel()
	h := newHarness(t) // declares no elicitation capability
	id := h.ok("create_key", map[string]any{"name": "x", "scopes": []any{"write"}})["key_id"].(string)
	h.ok("revoke_key", map[string]any{"key_id": id})
}

func TestConfirmOffSkipsQuestions(t *testing.T) {
	t.Parallel()
	hu := &human{action: mcp.ElicitationResponseActionDecline}
	h := newHarness(t, withHuman(hu), withEnv("KEYWARD_CONFIRM", "false"))
	id := h.ok("create_key", map[string]any{"name": "x", "scopes": []any{"write"}})["key_id"].(string)
	h.ok("revoke_key", map[string]any{"key_id": id})
	assert.Empty(t, hu.seen())
}

func TestElicitRevealShowsSecretToHumanOnly(t *testing.T) {
	t.Parallel()
	hu := &human{action: mcp.ElicitationResponseActionAccept, content: map[string]any{"copied": true}}
	h := newHarness(t, withHuman(hu), withEnv("KEYWARD_REVEAL", "elicit", "KEYWARD_CONFIRM", "false"))
	res := h.call("create_key", map[string]any{"name": "shown"})
	require.False(t, res.IsError, text(res))
	require.Len(t, hu.seen(), 1)
	shown := hu.seen()[0]
	out := h.ok("create_key", map[string]any{"name": "shown2"})
	assert.Equal(t, "elicit", out["delivery"])
	assert.Equal(t, true, out["acknowledged"])
	assert.Nil(t, out["secret"])
	assert.Nil(t, out["secret_file"])
	// The secret the human saw is not in what the model got.
	secret := extractSecret(t, shown)
	h.secrets = append(h.secrets, secret)
	assert.NotContains(t, text(res), secret)
	assert.Equal(t, true, h.ok("validate_key", map[string]any{"key": secret})["valid"])
}

func TestElicitRevealFallsBackToFile(t *testing.T) {
	t.Parallel()
	// Declined by the human: the secret must not be lost.
	hu := &human{action: mcp.ElicitationResponseActionDecline}
	h := newHarness(t, withHuman(hu), withEnv("KEYWARD_REVEAL", "elicit", "KEYWARD_CONFIRM", "false"))
	out := h.ok("create_key", map[string]any{"name": "x"})
	assert.Equal(t, "file", out["delivery"])
	assert.Equal(t, false, out["acknowledged"])
	secret := readSecret(t, out["secret_file"].(string))
	assert.Equal(t, true, h.ok("validate_key", map[string]any{"key": secret})["valid"])

	// A client without elicitation: file, and the result says why.
	h = newHarness(t, withEnv("KEYWARD_REVEAL", "elicit"))
	res := h.call("create_key", map[string]any{"name": "y"})
	require.False(t, res.IsError)
	assert.Contains(t, text(res), "no elicitation support")
	assert.NotEmpty(t, h.ok("list_keys", nil)["keys"])
}

func extractSecret(t *testing.T, msg string) string {
	t.Helper()
	for _, field := range strings.Fields(msg) {
		if strings.HasPrefix(field, "kw_") {
			return field
		}
	}
	t.Fatalf("no secret in the elicitation message")
	return ""
}
