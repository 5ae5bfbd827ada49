package tools_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider/fakeserver"
)

// errorOf is the structured part of an error result.
func errorOf(t *testing.T, h *harness, tool string, args map[string]any) (map[string]any, string) {
	t.Helper()
	res := h.call(tool, args)
	require.True(t, res.IsError, "%s should fail: %s", tool, text(res))
	raw, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	var out struct {
		Error map[string]any `json:"error"`
	}
	require.NoError(t, json.Unmarshal(raw, &out))
	require.NotNil(t, out.Error, "%s: the error result carries its structure", tool)
	return out.Error, text(res)
}

// Error results carry their structure — kind, whether anything changed, when
// to retry, what to do next — besides the sentence; the audit log keeps the
// core's sentence, in no interface's words.
func TestErrorResultsAreStructured(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_CONFIRM", "false"))
	e, msg := errorOf(t, h, "revoke_key", map[string]any{"key_id": "key_missing"})
	assert.Equal(t, "not_found", e["kind"])
	assert.Equal(t, "no", e["changed"])
	assert.Equal(t, "find_key", e["next"])
	assert.Contains(t, msg, "call list_keys", "the model is told the next step in tool words")
	rec := lastAudit(t, h)
	assert.Contains(t, rec["error"], "no key with id")
	assert.NotContains(t, rec["error"], "list_keys", "the audit log (and keyward audit) speaks no MCP")

	e, _ = errorOf(t, h, "create_key", map[string]any{"name": "w", "expires_in": "400d"})
	assert.Equal(t, "refused", e["kind"])
	assert.Equal(t, "KEYWARD_MAX_TTL", e["setting"])

	hv, f := vastPlatform(t).harness(t)
	f.Faults().Set(fakeserver.Fault{Status: 429, Body: `{}`, Header: http.Header{"Retry-After": {"120"}}})
	e, msg = errorOf(t, hv, "list_keys", map[string]any{"provider": "vast"})
	assert.Equal(t, "rate_limited", e["kind"])
	assert.Equal(t, float64(120), e["retry_after_seconds"])
	assert.Equal(t, "vast", e["provider"])
	assert.Contains(t, msg, "rate limit")
}
