package keyward

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A 2026-07-28 client that declares URL-mode elicitation gets the link as an
// input request (multi round-trip), and the result once it answers.
func TestOneTimeLinkByInputRequest(t *testing.T) {
	ts := startConsole(t, map[string]string{"KEYWARD_REVEAL": ""})
	call := func(params map[string]any) map[string]any {
		params["_meta"] = map[string]any{
			mcp.MetaKeyProtocolVersion:    "2026-07-28",
			mcp.MetaKeyClientInfo:         map[string]any{"name": "modern-client", "version": "2.0"},
			mcp.MetaKeyClientCapabilities: map[string]any{"elicitation": map[string]any{"url": map[string]any{}}},
		}
		msg, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
		require.NoError(t, err)
		out, err := json.Marshal(ts.app.MCP.HandleMessage(context.Background(), msg))
		require.NoError(t, err)
		var resp map[string]any
		require.NoError(t, json.Unmarshal(out, &resp))
		require.Nil(t, resp["error"], "protocol error: %v", resp["error"])
		return resp["result"].(map[string]any)
	}
	first := call(map[string]any{"name": "create_key", "arguments": map[string]any{"name": "svc"}})
	require.Equal(t, "input_required", first["resultType"], "%v", first)
	q := first["inputRequests"].(map[string]any)["answer"].(map[string]any)["params"].(map[string]any)
	assert.Equal(t, "url", q["mode"])
	link := q["url"].(string)
	assert.Contains(t, link, ts.url+"/reveal/")
	assert.NotContains(t, q["message"], "kw_")

	final := call(map[string]any{"name": "create_key", "arguments": map[string]any{"name": "svc"},
		"inputResponses": map[string]any{"answer": map[string]any{"action": "accept"}}, "requestState": first["requestState"]})
	sc := final["structuredContent"].(map[string]any)
	assert.Equal(t, "url", sc["delivery"])
	assert.Equal(t, link, sc["link"])
	assert.Equal(t, true, sc["link_shown"])
	keys := ts.ok(t, ts.connect(t, "http", "agent"), "list_keys", nil)["keys"].([]any)
	assert.Len(t, keys, 1, "the retry made no second key")
}
