package tools_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// modern sends one 2026-07-28 request (no session: everything rides in
// _meta) to keyward in-process and returns the JSON-RPC result or error.
func modern(t *testing.T, h *harness, method string, params map[string]any, canElicit bool) map[string]any {
	t.Helper()
	caps := map[string]any{}
	if canElicit {
		caps["elicitation"] = map[string]any{}
	}
	params["_meta"] = map[string]any{
		mcp.MetaKeyProtocolVersion:    "2026-07-28",
		mcp.MetaKeyClientInfo:         map[string]any{"name": "modern-client", "version": "2.0"},
		mcp.MetaKeyClientCapabilities: caps,
	}
	msg, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	require.NoError(t, err)
	out, err := json.Marshal(h.app.MCP.HandleMessage(context.Background(), msg))
	require.NoError(t, err)
	var resp map[string]any
	require.NoError(t, json.Unmarshal(out, &resp))
	return resp
}

func callModern(t *testing.T, h *harness, tool string, args map[string]any, responses map[string]any, state string) map[string]any {
	t.Helper()
	params := map[string]any{"name": tool, "arguments": args}
	if responses != nil {
		params["inputResponses"] = responses
	}
	if state != "" {
		params["requestState"] = state
	}
	resp := modern(t, h, "tools/call", params, true)
	require.Nil(t, resp["error"], "protocol error: %v", resp["error"])
	return resp["result"].(map[string]any)
}

func answer(action string, field string, yes bool) map[string]any {
	r := map[string]any{"action": action}
	if action == "accept" {
		r["content"] = map[string]any{field: yes}
	}
	return map[string]any{"answer": r}
}

// question is the state and the elicitation of an input_required result.
func question(t *testing.T, res map[string]any) (string, string) {
	t.Helper()
	require.Equal(t, "input_required", res["resultType"], "the call ends with a question: %v", res)
	reqs := res["inputRequests"].(map[string]any)
	params := reqs["answer"].(map[string]any)["params"].(map[string]any)
	return res["requestState"].(string), params["message"].(string)
}

func isError(res map[string]any) bool { b, _ := res["isError"].(bool); return b }

func resultText(res map[string]any) string {
	var out string
	for _, c := range res["content"].([]any) {
		out += c.(map[string]any)["text"].(string)
	}
	return out
}

// Confirmations by multi round-trip (protocol 2026-07-28): accepted,
// declined and cancelled answers, and forged, edited, replayed and
// misdirected states, which do nothing.
func TestConfirmByMultiRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_CONFIRM", "true"))
	mk := func(name string) string { return h.ok("create_key", map[string]any{"name": name})["key_id"].(string) }
	alive := func(id string) bool { return strings.Contains(strings.Join(keyIDs(h.ok("list_keys", nil)), ","), id) }

	// Accept.
	a := mk("a")
	state, msg := question(t, callModern(t, h, "revoke_key", map[string]any{"key_id": a}, nil, ""))
	assert.Contains(t, msg, a, "the question names the key")
	assert.True(t, alive(a), "asking changes nothing")
	res := callModern(t, h, "revoke_key", map[string]any{"key_id": a}, answer("accept", "confirm", true), state)
	assert.False(t, isError(res), resultText(res))
	assert.False(t, alive(a))
	assert.Equal(t, "confirmed", lastAudit(t, h)["confirmation"])
	assert.Equal(t, "modern-client", lastAudit(t, h)["client_name"])

	// Replayed: the same answer again does nothing.
	b := mk("b")
	res = callModern(t, h, "revoke_key", map[string]any{"key_id": b}, answer("accept", "confirm", true), state)
	assert.True(t, isError(res))
	assert.True(t, alive(b), "an answer for another call (another key) does nothing")

	// Declined, cancelled, and accepted without ticking the box.
	for _, ans := range []map[string]any{answer("decline", "", false), answer("cancel", "", false), answer("accept", "confirm", false)} {
		state, _ = question(t, callModern(t, h, "revoke_key", map[string]any{"key_id": b}, nil, ""))
		res = callModern(t, h, "revoke_key", map[string]any{"key_id": b}, ans, state)
		assert.True(t, isError(res))
		assert.Contains(t, resultText(res), "nothing was changed")
		assert.True(t, alive(b))
		assert.Equal(t, "declined", lastAudit(t, h)["outcome"])
	}

	// Forged and edited states.
	state, _ = question(t, callModern(t, h, "revoke_key", map[string]any{"key_id": b}, nil, ""))
	payload, sig, _ := strings.Cut(state, ".")
	body, _ := base64.RawURLEncoding.DecodeString(payload)
	var st map[string]any
	require.NoError(t, json.Unmarshal(body, &st))
	st["e"] = st["e"].(float64) + 86400*365 // a year more to answer
	longer, _ := json.Marshal(st)
	for name, bad := range map[string]string{
		"edited expiry":  base64.RawURLEncoding.EncodeToString(longer) + "." + sig,
		"forged":         "eyJ2IjoxfQ.AAAA",
		"another tool":   state, // sent to rotate_key below
		"garbage":        "not a state at all",
		"huge":           strings.Repeat("A", 100000),
		"other argument": state, // sent with another key below
	} {
		tool, args := "revoke_key", map[string]any{"key_id": b}
		switch name {
		case "another tool":
			tool = "rotate_key"
		case "other argument":
			args = map[string]any{"key_id": mk("c")}
		}
		res = callModern(t, h, tool, args, answer("accept", "confirm", true), bad)
		assert.True(t, isError(res), name)
		assert.Contains(t, resultText(res), "nothing was done", name)
		assert.Less(t, len(resultText(res)), 600, "%s: the state is not echoed", name)
	}
	assert.True(t, alive(b), "no forged or misdirected answer revoked anything")
	assert.Equal(t, "refused", lastAudit(t, h)["outcome"], "a forged state is audited as refused")

	// The genuine state still works once.
	res = callModern(t, h, "revoke_key", map[string]any{"key_id": b}, answer("accept", "confirm", true), state)
	assert.False(t, isError(res), resultText(res))
	assert.False(t, alive(b))

	// Stale: an answer after StateTTL does nothing.
	d := mk("d")
	state, _ = question(t, callModern(t, h, "revoke_key", map[string]any{"key_id": d}, nil, ""))
	h.clock.Advance(11 * 60 * 1e9)
	res = callModern(t, h, "revoke_key", map[string]any{"key_id": d}, answer("accept", "confirm", true), state)
	assert.True(t, isError(res))
	assert.Contains(t, resultText(res), "after the question")
	assert.True(t, alive(d))
}

// A client that does not declare elicitation is not asked: the act goes
// ahead as could_not_ask (or is refused with KEYWARD_CONFIRM=required).
func TestModernClientWithoutElicitationIsNotAsked(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_CONFIRM", "required"))
	id := h.ok("create_key", map[string]any{"name": "x"})["key_id"].(string)
	resp := modern(t, h, "tools/call", map[string]any{"name": "revoke_key", "arguments": map[string]any{"key_id": id}}, false)
	res := resp["result"].(map[string]any)
	assert.True(t, isError(res))
	assert.Contains(t, resultText(res), "KEYWARD_CONFIRM")
	assert.Equal(t, "could_not_ask", lastAudit(t, h)["confirmation"])
}

// A new secret is shown to the human by multi round-trip in elicit mode:
// it waits in its file until the answer; acknowledged, the file goes.
func TestRevealByMultiRoundTrip(t *testing.T) {
	t.Parallel()
	for _, ack := range []bool{true, false} {
		h := newHarness(t, withEnv("KEYWARD_REVEAL", "elicit", "KEYWARD_CONFIRM", "false"))
		res := callModern(t, h, "create_key", map[string]any{"name": "shown"}, nil, "")
		state, msg := question(t, res)
		require.Contains(t, msg, "kw_", "the question carries the secret to the human")
		secretStart := msg[strings.Index(msg, "kw_"):]
		secretVal := strings.Fields(secretStart)[0]
		h.secrets = append(h.secrets, secretVal)
		assert.True(t, h.valid("local", secretVal))

		ans := answer("accept", "copied", ack)
		res = callModern(t, h, "create_key", map[string]any{"name": "shown"}, ans, state)
		require.False(t, isError(res), resultText(res))
		sc := res["structuredContent"].(map[string]any)
		assert.Equal(t, ack, sc["acknowledged"])
		assert.NotContains(t, resultText(res), secretVal, "the model never sees the secret")
		keys := keyIDs(h.ok("list_keys", nil))
		assert.Len(t, keys, 1, "one key, whatever the rounds")
		files, _ := os.ReadDir(h.app.Config.SecretsDir)
		if ack {
			assert.Empty(t, files, "acknowledged: the human alone has it")
		} else {
			require.Len(t, files, 1, "not acknowledged: it stays in its file")
			assert.Equal(t, sc["secret_file"], h.app.Config.SecretsDir+"/"+files[0].Name())
		}
		// The round that settled it cannot be played again.
		res = callModern(t, h, "create_key", map[string]any{"name": "shown"}, ans, state)
		assert.True(t, isError(res))
		assert.Len(t, keyIDs(h.ok("list_keys", nil)), 1)
	}
}

// An answer used on one replica cannot be used again on another: replicas
// share the sealing key and the record of spent answers (the database).
func TestAnAnswerIsUsedOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	db := t.TempDir() + "/keyward.db"
	key := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	a := newHarness(t, withEnv("KEYWARD_DB", db, "KEYWARD_STATE_KEY", key, "KEYWARD_CONFIRM", "true"))
	b := newHarness(t, withEnv("KEYWARD_DB", db, "KEYWARD_STATE_KEY", key, "KEYWARD_CONFIRM", "true"))
	id := a.ok("create_key", map[string]any{"name": "svc"})["key_id"].(string)
	args := map[string]any{"key_id": id}

	state, _ := question(t, callModern(t, a, "rotate_key", args, nil, ""))
	res := callModern(t, a, "rotate_key", args, answer("accept", "confirm", true), state)
	require.False(t, isError(res), resultText(res))
	before := b.ok("get_key", args)["masked"]

	res = callModern(t, b, "rotate_key", args, answer("accept", "confirm", true), state)
	assert.True(t, isError(res), "the same answer on another replica: %s", resultText(res))
	assert.Contains(t, resultText(res), "already used")
	assert.Equal(t, before, b.ok("get_key", args)["masked"], "the key was not rotated again")
}
