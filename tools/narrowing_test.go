package tools_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider/vast/vastfake"
)

// An agent can ask for a key narrower than a whole scope (one instance, one
// address) through create_key; keyward shows it faithfully, and replacing the
// key — rotation by re-issue or reissue_key — never widens it.
func TestNarrowKeysStayNarrow(t *testing.T) {
	t.Parallel()
	h, fk := vastPlatform(t).harness(t, "KEYWARD_CONFIRM", "false")
	f := fk.(*vastfake.Fake)
	on := func(kv ...any) map[string]any {
		m := map[string]any{"provider": "vast"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	one := []any{map[string]any{"scope": "instance_write", "resource": "api.instance.destroy", "param": "id", "op": "eq", "value": 1227}}
	k := h.ok("create_key", on("name", "kill-1227", "scopes", []any{"instance_read", "instance_write"}, "constraints", one, "allowed_ips", []any{"203.0.113.7"}))
	id := k["key_id"].(string)
	assert.Contains(t, string(f.Permissions(id)), "1227", "the constraint reached Vast.ai")
	assert.Contains(t, string(f.KeyParams(id)), "203.0.113.7", "the allow-list reached Vast.ai")

	got := h.ok("get_key", on("key_id", id))
	cs := got["constraints"].([]any)
	require.Len(t, cs, 1)
	assert.Equal(t, "instance_write: api.instance.destroy id eq 1227", cs[0].(map[string]any)["text"])
	assert.Equal(t, []string{"203.0.113.7"}, strs(got["allowed_ips"]))
	assert.Equal(t, true, got["allowed_ips_as_created"], "Vast.ai does not list allow-lists: keyward shows what it created")
	assert.Contains(t, lastAudit(t, h)["detail"], "api.instance.destroy id eq 1227")

	// Rotation by re-issue carries both.
	rot := h.ok("rotate_key", on("key_id", id))
	nid := rot["key_id"].(string)
	assert.NotEqual(t, id, nid)
	assert.JSONEq(t, string(f.Permissions(id)), string(f.Permissions(nid)), "the replacement is as narrow as the old key")
	assert.JSONEq(t, string(f.KeyParams(id)), string(f.KeyParams(nid)))

	// A re-issue that drops a scope drops its constraints; it can narrow the
	// allow-list but never widen it.
	msg := h.fail("reissue_key", on("key_id", nid, "allowed_ips", []any{"198.51.100.1"}))
	assert.Contains(t, msg, "only narrow")
	re := h.ok("reissue_key", on("key_id", nid, "scopes", []any{"instance_read"}))
	assert.NotContains(t, string(f.Permissions(re["key_id"].(string))), "destroy")
	assert.Contains(t, string(f.KeyParams(re["key_id"].(string))), "203.0.113.7")

	// A key made elsewhere: Vast.ai does not show its allow-list, so a
	// replacement needs it stated.
	oid, _ := f.AddKey("dashboard-key", []string{"instance_read"})
	msg = h.fail("reissue_key", on("key_id", oid, "name", "renamed"))
	assert.Contains(t, msg, "allowed_ips")
	assert.Contains(t, h.fail("rotate_key", on("key_id", oid)), "allowed_ips")
	h.ok("reissue_key", on("key_id", oid, "name", "renamed", "allowed_ips", []any{"192.0.2.4"}))

	// A restriction keyward cannot restate is never replaced by a broader key.
	wid, _ := f.AddConstrainedKey("wild", json.RawMessage(`{"api": {"instance_write": {"api.instance.destroy": {"params": {"id": "$ID"}}}}}`))
	assert.Contains(t, h.fail("reissue_key", on("key_id", wid, "allowed_ips", []any{"192.0.2.4"})), "cannot restate")
	assert.True(t, f.Exists(wid), "nothing was done")

	// Providers that cannot narrow say so.
	assert.Contains(t, h.fail("create_key", map[string]any{"name": "x", "constraints": one}), "cannot narrow")
	assert.Contains(t, h.fail("create_key", map[string]any{"name": "x", "allowed_ips": []any{"192.0.2.4"}}), "cannot limit")
	// A constraint can only narrow a scope the key holds.
	assert.Contains(t, h.fail("create_key", on("name", "x", "scopes", []any{"instance_read"}, "constraints", one)), "does not hold")
}
