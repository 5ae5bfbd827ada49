package tools_test

import (
	"os"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every tool that changes anything takes dry_run and answers, in the shape
// its output schema declares, what the call would do; nothing changes,
// nobody is asked, and the audit log records a dry run.
func TestEveryMutatingToolHasADryRun(t *testing.T) {
	t.Parallel()
	hu := &human{action: mcp.ElicitationResponseActionAccept, content: map[string]any{"confirm": true}}
	h := newHarness(t, withHuman(hu))
	created := h.ok("create_key", map[string]any{"name": "svc", "expires_in": "2d"})
	id := created["key_id"].(string)
	file := created["secret_file"].(string)
	before, err := os.ReadFile(file)
	require.NoError(t, err)

	for _, tc := range []struct {
		tool   string
		args   map[string]any
		action string
		human  string
	}{
		{"create_key", map[string]any{"name": "deployer", "scopes": []any{"write"}, "expires_in": "1h"}, "create", "would_ask"},
		{"create_key", map[string]any{"name": "reader"}, "create", "not_needed"},
		{"update_key", map[string]any{"key_id": id, "name": "svc-renamed", "expires_in": "1d"}, "update", "not_needed"},
		{"update_key", map[string]any{"key_id": id, "scopes": []any{"read", "write"}}, "update", "would_ask"},
		{"reissue_key", map[string]any{"key_id": id, "scopes": []any{"read"}}, "replace", "would_ask"},
		{"rotate_key", map[string]any{"key_id": id, "grace": "10m"}, "rotate", "would_ask"},
		{"set_key_active", map[string]any{"key_id": id, "active": false}, "disable", "not_needed"},
		{"revoke_key", map[string]any{"key_id": id}, "revoke", "would_ask"},
	} {
		t.Run(tc.tool+"/"+tc.action+"/"+tc.human, func(t *testing.T) {
			tc.args["dry_run"] = true
			res := h.call(tc.tool, tc.args)
			require.False(t, res.IsError, text(res))
			h.checkOutput(tc.tool, res.StructuredContent)
			out := res.StructuredContent.(map[string]any)
			assert.Equal(t, true, out["dry_run"])
			assert.Equal(t, "no", out["changed"])
			assert.Equal(t, tc.action, out["action"])
			assert.Equal(t, tc.human, out["human"])
			assert.Contains(t, text(res), "Dry run, nothing was changed.")
			assert.Contains(t, text(res), "Call again without dry_run to do it.")
			if tc.human == "would_ask" {
				assert.NotEmpty(t, out["question"])
				assert.Contains(t, text(res), "The human would be asked: ")
			}
			assert.Equal(t, "dry_run", lastAudit(t, h)["outcome"])
		})
	}
	assert.Empty(t, hu.seen(), "a dry run asks nobody")
	keys := h.ok("list_keys", nil)["keys"].([]any)
	require.Len(t, keys, 1, "nothing was created or revoked")
	k := keys[0].(map[string]any)
	assert.Equal(t, "svc", k["name"])
	assert.Equal(t, []string{"read"}, strs(k["scopes"]))
	assert.Equal(t, true, k["active"])
	assert.Equal(t, created["expires_at"], k["expires_at"])
	after, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, before, after, "the secret was not rotated")

	// The answer of a dry run is typed: a plan is not a created key, and a
	// created key is not a plan.
	assert.Error(t, h.outputErr("create_key", map[string]any{"dry_run": true}))
	assert.Error(t, h.outputErr("revoke_key", map[string]any{"provider": "local", "key_id": "k", "name": "n"}))
}

// A dry run meets what the real call would meet, says so, and records it.
func TestDryRunOfARefusedCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_DEFAULT_TTL", "7d", "KEYWARD_MAX_TTL", "14d"))
	res := h.call("create_key", map[string]any{"name": "long", "expires_in": "30d", "dry_run": true})
	require.True(t, res.IsError)
	assert.Contains(t, text(res), "Dry run, nothing was changed; the call would fail: ")
	assert.Contains(t, text(res), "KEYWARD_MAX_TTL")
	e := res.StructuredContent.(map[string]any)["error"].(map[string]any)
	assert.Equal(t, "refused", e["kind"])
	assert.Equal(t, true, e["dry_run"])
	rec := lastAudit(t, h)
	assert.Equal(t, "dry_run", rec["outcome"])
	assert.Contains(t, rec["error"], "KEYWARD_MAX_TTL")

	res = h.call("revoke_key", map[string]any{"key_id": "key_doesnotexist", "dry_run": true})
	require.True(t, res.IsError)
	assert.Contains(t, text(res), "list_keys", "the next step is named as for the real call")
	assert.Empty(t, h.ok("list_keys", nil)["keys"])
}
